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

/// The first option typed more than once, if any. Every option of the commands takes one value or is a flag, so a
/// second one is a mistake (which of the two was meant?) rather than a value to take silently: System.CommandLine
/// refuses a second value, and a repeated flag is refused here too, so that the rule is simply "each option once".
let repeated (result: ParseResult) =
    result.CommandResult.Children
    |> Seq.tryPick (function
        | :? Parsing.OptionResult as o when o.IdentifierTokenCount > 1 -> Some o
        | _ -> None)

/// A parse error in one line: the command, what is wrong, the closest names, where help is.
let parseError (argv: string[]) (result: ParseResult) =
    let command = result.CommandResult.Command
    let atRoot = command :? RootCommand
    let prefix = if atRoot then "error: " else $"error: {command.Name}: "
    let help = if atRoot then "--help" else $"{command.Name} --help"
    match repeated result with
    | Some o ->
        let values = if o.Tokens.Count = 0 then "" else " (" + String.Join(", ", o.Tokens |> Seq.map (fun t -> t.Value)) + ")"
        $"{prefix}{o.Option.Name} is given {o.IdentifierTokenCount} times{values}; give it once (see {help})"
    | None ->
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

/// A message fit to print (see Cli.Options.printable).
let printable = Cli.Options.printable

/// The error line and the exit code of what a command raised: 2 for a usage error (after `prefix`, which
/// names the command), 1 for everything that went wrong after the command line was understood (bad data, a
/// model that does not fit, a failed save, CUDA asked for without CUDA), 3 when LibTorch cannot be loaded.
let report (prefix: string) (e: exn) =
    match e with
    | Cli.Options.UsageError message -> $"{prefix}{Cli.Options.oneLine message}", 2
    | :? NativeLoadException as e -> printable e.Message, 3
    // LibTorch's own errors: their first line only.
    | :? Runtime.InteropServices.ExternalException as e ->
        let first = (printable e.Message).Split('\n')[0]
        $"error: {first}", 1
    | :? ArgumentException as e -> $"error: {printable (withoutParameterName e)}", 1
    // Its first line says what is missing where; the lines after it list every way to get the data.
    | :? Data.DatasetNotFoundException as e -> $"error: {(printable e.Message).Split('\n')[0]}", 1
    | e -> $"error: {printable e.Message}", 1

/// What the program answers to `argv` before doing any work: the error line and exit code of a parse or usage error,
/// or None when the command would run (or help or the version would be printed). The parser and each command's
/// validation run as in `main`; nothing else does, so the command line can be checked in-process (the fuzz tests).
let check (argv: string[]) : (string * int) option =
    let result = root.Parse argv
    let command = result.CommandResult.Command
    let prefix = if command :? RootCommand then "error: " else $"error: {command.Name}: "
    match result.Action with
    | :? HelpAction -> None
    | _ when result.Errors.Count > 0 || (repeated result).IsSome -> Some(Cli.Options.oneLine (parseError argv result), 2)
    | _ when (command :? RootCommand) -> None
    | _ ->
        try
            Cli.Options.validateOnly command result
            None
        with e -> Some(report prefix e)

[<EntryPoint>]
let main argv =
    let result = root.Parse argv
    let command = result.CommandResult.Command
    let prefix = if command :? RootCommand then "error: " else $"error: {command.Name}: "
    match result.Action with
    | :? HelpAction -> result.Invoke()
    | _ when result.Errors.Count > 0 || (repeated result).IsSome -> eprintfn "%s" (Cli.Options.oneLine (parseError argv result)); 2
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
