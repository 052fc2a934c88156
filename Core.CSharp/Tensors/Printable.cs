using System.Globalization;
using System.Text;

namespace Functional;

/// <summary>Text from files (tensor names, file names, CSV fields) made safe to print in a one-line message:
/// control characters and the invisible formatting ones (such as a right-to-left override) become escapes.</summary>
internal static class Printable
{
    /// <summary><paramref name="text"/> with each control or format character written as <c>\n</c>, <c>\r</c>,
    /// <c>\t</c> or <c>\uXXXX</c>; ordinary text is returned as it is.</summary>
    internal static string Escape(string? text)
    {
        if (text is null) return "";
        if (!text.Any(NeedsEscape)) return text;
        var result = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (!NeedsEscape(c)) { result.Append(c); continue; }
            result.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }
        return result.ToString();
    }

    /// <summary>The first line of an exception's message, for a one-line error: LibTorch's messages (which TorchSharp
    /// raises as <see cref="System.Runtime.InteropServices.ExternalException"/>) go on with "Exception raised from"
    /// and C++ frames, which mean nothing to a user of this library.</summary>
    internal static string OneLine(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var message = e.Message ?? "";
        var cut = message.IndexOf("Exception raised from", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        var newline = message.IndexOfAny(['\r', '\n']);
        if (newline >= 0) message = message[..newline];
        message = message.Trim();
        return Escape(message.Length == 0 ? e.GetType().Name : message);
    }

    static bool NeedsEscape(char c) =>
        char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
