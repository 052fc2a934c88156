/// The command line of the examples: `dotnet run --project Examples -c Release -- <command> [options]`.
/// Parsing, help, --version and typo suggestions are System.CommandLine's; each command lives in its own
/// file (Cli.*.fs). `[diagram]` before a command prints how System.CommandLine parsed it, without running it
/// (the README's examples are checked that way). Exit codes: 0 done, 1 the run failed (a file, the data, the model, the device), 2 a usage
/// error, 3 LibTorch could not be loaded. Every error is one line on standard error.
module Functional.Examples.Program

open System
open System.CommandLine
open System.CommandLine.Help
open System.IO
open Functional

let root =
    let root = RootCommand("Functional's command line: the PyTorch tutorial's Fashion-MNIST job, and tools around its model files")
    for command in [ Cli.Train.command; Cli.Evaluate.evalCommand; Cli.Evaluate.predictCommand; Cli.ShowSamples.command; Cli.Info.command ] do
        root.Subcommands.Add command
    // `[diagram] train --epochs 3`: how the line parses (exit 0), or its usage error (exit 2); nothing runs.
    root.Directives.Add(DiagramDirective())
    root

/// What the parser suggests for a mistyped word (System.CommandLine's typo corrections), if anything.
let suggestions (argv: string[]) (token: string) =
    use text = new StringWriter()
    // The parser's own error report (corrections, errors, help), captured: only the corrections are kept.
    // (Without a [diagram] directive, which would print its diagram instead.)
    let words = argv |> Array.filter (fun a -> not (a.StartsWith "[diagram]"))
    root.Parse(words).Invoke(InvocationConfiguration(Output = text, Error = text)) |> ignore
    text.ToString().Replace("\r\n", "\n").Split('\n')
    |> Seq.skipWhile (fun line -> not (line.StartsWith $"'{token}' was not matched"))
    |> Seq.skip 1
    |> Seq.takeWhile (fun line -> line.Trim() <> "")
    |> List.ofSeq

/// A parse error in one line: the command, what is wrong, the closest names, where help is.
let parseError (argv: string[]) (result: ParseResult) =
    let command = result.CommandResult.Command
    let atRoot = command :? RootCommand
    let prefix = if atRoot then "error: " else $"error: {command.Name}: "
    let help = if atRoot then "--help" else $"{command.Name} --help"
    match List.ofSeq result.UnmatchedTokens with
    | token :: _ ->
        let what =
            if token.StartsWith "-" then "unknown option"
            elif atRoot then "unknown command"
            else "unexpected argument"
        let close =
            match (try suggestions argv token with _ -> []) with
            | [] -> ""
            | names ->
                let alternatives = String.Join(" or ", names)
                $"; did you mean {alternatives}?"
        $"{prefix}{what} '{token}'{close} (see {help})"
    | [] when atRoot && result.Errors.Count > 0 && (result.Tokens.Count = 0) ->
        let names = String.Join(", ", root.Subcommands |> Seq.map (fun c -> c.Name))
        $"error: no command given; the commands are {names} (see --help)"
    | [] ->
        match result.Errors[0] with
        | e when (e.SymbolResult :? Parsing.OptionResult) && e.Message.StartsWith "Required argument missing" ->
            let name = (e.SymbolResult :?> Parsing.OptionResult).Option.Name
            $"{prefix}{name} needs a value (see {help})"
        | e -> $"{prefix}{e.Message}"

/// An ArgumentException's message without .NET's " (Parameter 'x')" suffix: the messages already name the option.
let withoutParameterName (e: ArgumentException) =
    match e.ParamName with
    | null -> e.Message
    | name -> e.Message.Replace($" (Parameter '{name}')", "")

/// A message fit to print: LibTorch's C++ frames ("Exception raised from ..." and what follows, TorchSharp's
/// ExternalException) cut off, and control characters (from file or tensor names) escaped; line breaks of a
/// message written with several lines stay.
let printable (message: string) =
    let cut = message.IndexOf("Exception raised from", StringComparison.Ordinal)
    let message = (if cut >= 0 then message.Substring(0, cut) else message).TrimEnd()
    message
    |> String.collect (fun c ->
        if c = '\n' then "\n"
        elif Char.IsControl c then sprintf "\\u%04x" (int c)
        else string c)

/// The error line and the exit code of what a command raised: 2 for a usage error (after `prefix`, which
/// names the command), 1 for everything that went wrong after the command line was understood (bad data, a
/// model that does not fit, a failed save, CUDA asked for without CUDA), 3 when LibTorch cannot be loaded.
let report (prefix: string) (e: exn) =
    match e with
    | Cli.Options.UsageError message -> $"{prefix}{printable message}", 2
    | :? NativeLoadException as e -> printable e.Message, 3
    // LibTorch's own errors: their first line only.
    | :? Runtime.InteropServices.ExternalException as e ->
        let first = (printable e.Message).Split('\n')[0]
        $"error: {first}", 1
    | :? ArgumentException as e -> $"error: {printable (withoutParameterName e)}", 1
    // Its first line says what is missing where; the lines after it list every way to get the data.
    | :? Data.DatasetNotFoundException as e -> $"error: {(printable e.Message).Split('\n')[0]}", 1
    | e -> $"error: {printable e.Message}", 1

[<EntryPoint>]
let main argv =
    let result = root.Parse argv
    let command = result.CommandResult.Command
    let prefix = if command :? RootCommand then "error: " else $"error: {command.Name}: "
    match result.Action with
    | :? HelpAction -> result.Invoke()
    | _ when result.Errors.Count > 0 -> eprintfn "%s" (printable (parseError argv result)); 2
    | _ ->
        try result.Invoke(InvocationConfiguration(EnableDefaultExceptionHandler = false))
        with
        | Cli.Options.RankFailed (sync, e) ->
            let message, code = report prefix e
            let message = if message.StartsWith "error: " then message.Substring "error: ".Length else message
            eprintfn "error: rank %d of %d: %s" sync.Rank sync.WorldSize message
            sync.Abort code
            code
        | e ->
            let message, code = report prefix e
            eprintfn "%s" message
            code
