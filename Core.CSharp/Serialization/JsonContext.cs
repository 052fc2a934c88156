using System.Text.Json.Serialization;
using Functional.Training;

namespace Functional.Serialization;

/// <summary>The library's JSON types, serialised by generated code: file-based apps, trimmed and
/// native-AOT applications turn reflection-based System.Text.Json off, and the library must work there.</summary>
/// <remarks>One codec for everything the library stores as JSON (checkpoint records, histories, model
/// input shapes): doubles round-trip bit for bit, NaN and infinities as named literals, and reading is
/// strict (a missing, unknown or null field is an error, not a default).</remarks>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(Checkpoint.CheckpointRecord))]
[JsonSerializable(typeof(Checkpoint.EpochOnlyRecord))]
[JsonSerializable(typeof(long[]))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<EpochMetrics>))]
internal sealed partial class JsonContext : JsonSerializerContext;
