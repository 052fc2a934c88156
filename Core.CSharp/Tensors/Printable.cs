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

    static bool NeedsEscape(char c) =>
        char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
