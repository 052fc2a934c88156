using System.Text.Json.Serialization;
using Functional.Training;

namespace Functional.Serialization;

/// <summary>The library's JSON types, serialised by generated code: file-based apps, trimmed and
/// native-AOT applications turn reflection-based System.Text.Json off, and the library must work there.</summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(long[]))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<EpochMetrics>))]
internal sealed partial class JsonContext : JsonSerializerContext;
