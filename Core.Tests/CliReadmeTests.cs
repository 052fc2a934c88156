using System.Text;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Functional.Tests;

/// <summary>
/// The README's command-line section against the program itself, so that the two cannot drift apart: the section's
/// help block is the live <c>--help</c> of the program and of every command (rewritten by
/// <c>FUNCTIONAL_UPDATE_README=1 dotnet test Core.Tests -c Release --filter "FullyQualifiedName~CliReadme"</c>),
/// every option its prose names exists, and every command line the README shows parses (through the program's
/// <c>[diagram]</c> directive, which parses without running) or fails with the very error line it shows.
/// </summary>
[NonParallelizable]
public class CliReadmeTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>How the README writes a command line of the program.</summary>
    const string Program = "dotnet run --project Examples -c Release --";

    const string Begin = "<!-- begin: the --help of the program and of each command -->";
    const string End = "<!-- end: the --help of the program and of each command -->";
    const string Update = "FUNCTIONAL_UPDATE_README";

    static string ReadmePath() => Path.Combine(ExamplesCli.RepositoryRoot(), "README.md");

    static string Readme() => File.ReadAllText(ReadmePath()).Replace("\r\n", "\n");

    static ExamplesCli.Result Cli(params string[] args) => ExamplesCli.Run(ExamplesCli.Dll(), args, Timeout);

    /// <summary>The README's "The command line" section: from its heading to the next heading of its level or above.</summary>
    static string Section(string readme)
    {
        var start = readme.IndexOf("\n### The command line\n", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "README.md has a section '### The command line'");
        var next = Regex.Match(readme[(start + 1)..], @"\n#{2,3} ");
        Assert.That(next.Success, Is.True, "the section ends at the next heading");
        return readme.Substring(start + 1, next.Index);
    }

    static string TrimLineEnds(string text) =>
        string.Join('\n', text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd())).Trim('\n');

    /// <summary>The commands the program's --help lists.</summary>
    static string[] Commands(string rootHelp)
    {
        var block = rootHelp.Replace("\r\n", "\n").Split("\nCommands:\n")[1];
        return block.Split('\n').TakeWhile(l => l.StartsWith("  ")).Select(l => l.Trim().Split(' ')[0]).ToArray();
    }

    /// <summary>The help block as it must read: the program's --help, then each command's, as terminal sessions.</summary>
    static string LiveHelpBlock()
    {
        var root = Cli("--help");
        Assert.That(root.ExitCode, Is.EqualTo(0), root.ToString());
        var text = new StringBuilder();
        foreach (var command in new[] { "" }.Concat(Commands(root.Output)))
        {
            var help = command == "" ? root : Cli(command, "--help");
            Assert.That(help.ExitCode, Is.EqualTo(0), help.ToString());
            var line = command == "" ? $"{Program} --help" : $"{Program} {command} --help";
            text.Append("```text\n$ ").Append(line).Append('\n').Append(TrimLineEnds(help.Output)).Append("\n```\n\n");
        }
        return text.ToString().TrimEnd('\n');
    }

    /// <summary>The block between the markers, or null without them.</summary>
    static string? ReadmeHelpBlock(string readme)
    {
        var start = readme.IndexOf(Begin, StringComparison.Ordinal);
        var end = readme.IndexOf(End, StringComparison.Ordinal);
        if (start < 0 || end < start) return null;
        return readme[(start + Begin.Length)..end].Trim('\n');
    }

    [Test]
    public void TheReadmesHelpBlockIsTheLiveHelpOfTheProgramAndEveryCommand()
    {
        var readme = Readme();
        var live = LiveHelpBlock();
        var block = ReadmeHelpBlock(readme);
        Assert.That(block, Is.Not.Null, $"README.md lacks the markers {Begin} and {End}");
        Assert.That(Section(readme), Does.Contain(Begin).And.Contain(End), "the help block lies in the command-line section");
        if (block != live && Environment.GetEnvironmentVariable(Update) == "1")
        {
            var original = File.ReadAllText(ReadmePath());
            var newline = original.Contains("\r\n") ? "\r\n" : "\n";
            var start = readme.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length;
            var end = readme.IndexOf(End, StringComparison.Ordinal);
            var rewritten = readme[..start] + "\n" + live + "\n" + readme[end..];
            File.WriteAllText(ReadmePath(), rewritten.Replace("\n", newline));
            TestContext.Out.WriteLine($"{Update}=1: rewrote the help block of {ReadmePath()}; commit it.");
            return;
        }
        Assert.That(block, Is.EqualTo(live),
            $"README.md's help block differs from the program's --help. If the program is right, rerun this test with {Update}=1 " +
            "(dotnet test Core.Tests -c Release --filter \"FullyQualifiedName~CliReadme\") and commit README.md.");
    }

    [Test]
    public void EveryOptionTheSectionNamesIsAnOptionOfTheProgram()
    {
        var readme = Readme();
        var section = Section(readme);
        var block = ReadmeHelpBlock(readme) ?? "";
        var prose = block.Length == 0 ? section : section.Replace(block, "");
        // The mistake the section shows on purpose (a command line followed by its error line) names no option of ours.
        foreach (var (line, next) in Examples(section).Where(e => e.Next.StartsWith("error: ")))
            prose = prose.Replace(line, "").Replace(next, "");
        // The options of every command, from the live help ("  --name <value>  description" rows).
        var root = Cli("--help");
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var command in new[] { "" }.Concat(Commands(root.Output)))
        {
            var help = command == "" ? root : Cli(command, "--help");
            foreach (Match m in Regex.Matches(help.Output, @"(?m)^  (?:-\S+, )*(--[a-z][a-z-]*)")) known.Add(m.Groups[1].Value);
        }
        Assert.That(known, Does.Contain("--epochs").And.Contain("--checkpoint-every").And.Contain("--version"), "the help was read");
        var named = Regex.Matches(prose, @"(?<![\w-])--[a-z][a-z-]*[a-z]").Select(m => m.Value).Distinct().ToArray();
        Assert.That(named, Is.Not.Empty);
        // Other programs' options that the section quotes: `dotnet run --project`, `dotnet test --filter`, `tensorboard --logdir`.
        string[] others = ["--project", "--filter", "--logdir"];
        var unknown = named.Where(n => !known.Contains(n) && !others.Contains(n)).ToArray();
        Assert.That(unknown, Is.Empty, "options the README's command-line section names that no command has");
    }

    /// <summary>A command line as a POSIX shell would split it (quotes, no expansions), without a trailing comment.</summary>
    static string[] ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        foreach (var c in line)
        {
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else word.Append(c);
            }
            else if (c is '\'' or '"') { quote = c; inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
            }
            else if (c == '#' && !inWord) break;
            else { word.Append(c); inWord = true; }
        }
        if (inWord) words.Add(word.ToString());
        return words.ToArray();
    }

    /// <summary>Every command line of the program in the README's code blocks, with the line after it.</summary>
    static List<(string Line, string Next)> Examples(string readme)
    {
        var lines = readme.Split('\n');
        var found = new List<(string, string)>();
        bool inCode = false;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("```")) { inCode = !inCode; continue; }
            var line = lines[i].StartsWith("$ ") ? lines[i][2..] : lines[i];
            if (inCode && line.StartsWith(Program + " ", StringComparison.Ordinal))
                found.Add((line, i + 1 < lines.Length ? lines[i + 1] : ""));
        }
        return found;
    }

    [Test]
    public void EveryCommandLineTheReadmeShowsParsesOrFailsWithTheErrorItShows()
    {
        var examples = Examples(Readme());
        Assert.That(examples, Has.Count.GreaterThanOrEqualTo(8), "the README's examples were found");
        Assert.Multiple(() =>
        {
            foreach (var (line, next) in examples)
            {
                var args = ShellWords(line[Program.Length..]);
                if (next.StartsWith("error: "))
                {
                    // An example of a mistake: the program says exactly what the README shows.
                    var result = Cli(args);
                    Assert.That(result.ExitCode, Is.EqualTo(2), $"{line}\n{result}");
                    Assert.That(result.Error.TrimEnd('\n'), Is.EqualTo(next), line);
                }
                else
                {
                    // [diagram] parses the line and prints how, without running the command.
                    var result = Cli(["[diagram]", .. args]);
                    Assert.That(result.ExitCode, Is.EqualTo(0), $"{line}\n{result}");
                    Assert.That(result.Error, Is.Empty, line);
                    Assert.That(result.Output, Does.StartWith("[ "), $"{line}: a parse diagram, nothing run");
                }
            }
        });
    }

    [Test]
    public void TheDiagramDirectiveRunsNothingAndReportsAUsageErrorAsTheProgramDoes()
    {
        var ok = Cli("[diagram]", "train", "--epochs", "3");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.ToString());
        Assert.That(ok.Output, Does.Contain("[ train [ --epochs <3> ]").And.Not.Contain("Epoch 1"));
        var bad = Cli("[diagram]", "train", "--epoch", "3");
        Assert.That(bad.ExitCode, Is.EqualTo(2), bad.ToString());
        Assert.That(bad.Error.TrimEnd('\n'), Is.EqualTo("error: train: unknown option '--epoch'; did you mean --epochs? (see train --help)"));
    }
}
