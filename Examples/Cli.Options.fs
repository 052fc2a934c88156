/// The options the commands share, made with System.CommandLine, and the usage errors of the command line.
/// Each command reads its options into a record, checks that record in one plain `validate` function (a
/// usage error is an ArgumentException: exit 2, one line), then runs.
module Functional.Examples.Cli.Options

open System
open System.CommandLine
open System.CommandLine.Parsing
open System.Globalization
open System.Text.RegularExpressions

/// System.CommandLine's option types (F#'s `Option` is the option type).
type CliOption<'T> = System.CommandLine.Option<'T>
type CliOption = System.CommandLine.Option

/// A usage error: the program prints `error: <command>: <message>` on one line and exits with 2.
let usageError (message: string) : 'T = raise (ArgumentException message)

/// An option with a description and, when given, a default that --help shows.
let private make<'T> (name: string) (helpName: string) (description: string) (fallback: 'T option) =
    let o = CliOption<'T>(name)
    o.Description <- description
    if helpName <> "" then o.HelpName <- helpName
    fallback |> Option.iter (fun d -> o.DefaultValueFactory <- Func<ArgumentResult, 'T>(fun _ -> d))
    o

/// An option whose value is parsed by `tryParse`; a bad value is a parse error that names the option,
/// what it expects and what it got.
let private parsed<'T> (name: string) (description: string) (fallback: 'T) (expected: string) (tryParse: string -> bool * 'T) =
    let o = make<'T> name (if typeof<'T> = typeof<double> then "number" else "N") description (Some fallback)
    o.CustomParser <- Func<ArgumentResult, 'T>(fun result ->
        if result.Tokens.Count = 0 then fallback
        else
            let text = result.Tokens[0].Value
            match tryParse text with
            | true, value -> value
            | _ ->
                result.AddError $"{name} expects {expected}, got '{text}'."
                fallback)
    o

/// An integer option with a default.
let int (name: string) (description: string) (fallback: int) =
    parsed name description fallback "an integer" (fun s -> Int32.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture))

/// A floating-point option with a default.
let float (name: string) (description: string) (fallback: float) =
    parsed name description fallback "a number (e.g. 1e-3)" (fun s -> Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture))

/// An optional number option (no default; --help shows what happens without it, from the description).
let private optional<'T when 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> (name: string) (description: string) (tryParse: string -> bool * 'T) =
    let o = parsed<Nullable<'T>> name description (Nullable()) "an integer" (fun s ->
        match tryParse s with
        | true, v -> true, Nullable v
        | _ -> false, Nullable())
    o.DefaultValueFactory <- null
    o

/// An optional 64-bit integer option (no default).
let int64 (name: string) (description: string) =
    optional<int64> name description (fun s -> Int64.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture))

/// An optional integer option (no default).
let optionalInt (name: string) (description: string) =
    optional<int> name description (fun s -> Int32.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture))

/// An optional text option (a path, usually).
let text (name: string) (helpName: string) (description: string) = make<string> name helpName description None

/// A text option with a default.
let textOr (name: string) (helpName: string) (description: string) (fallback: string) = make<string> name helpName description (Some fallback)

/// A flag.
let flag (name: string) (description: string) = make<bool> name "" description None

/// Adds options to a command and returns it.
let withOptions (options: CliOption list) (command: Command) =
    for o in options do command.Options.Add o
    command

/// The value of an option, or None when it was neither given nor has a default.
let tryValue (o: CliOption<'T>) (result: ParseResult) = result.GetValue o |> Option.ofObj

/// True when the option was typed on the command line (not taken from its default).
let given (o: CliOption) (result: ParseResult) =
    match result.GetResult o with
    | null -> false
    | r -> not r.Implicit

// The shared options: one name means one thing in every command.

/// `--data DIR`: the Fashion-MNIST folder.
let data () =
    text "--data" "folder" "The Fashion-MNIST folder (IDX files, .gz or not) [default: the Debian package dataset-fashion-mnist, else the subset shipped with Functional]"

/// `--device auto|cpu|cuda[:N]`.
let device () = textOr "--device" "auto|cpu|cuda[:N]" "Where to compute: auto (CUDA when available), cpu, cuda or cuda:N" "auto"

/// `--batch-size N`.
let batchSize () = int "--batch-size" "Samples per batch" 64

/// `--model FILE`: a model file written by `train --save`.
let model () = text "--model" "file" "A model file written by train --save (spec and weights, safetensors)"

// Checks for the plain validate functions of the commands.

/// `--data` must name an existing folder: a mistyped folder fails instead of silently falling back to another copy.
let checkFolder (name: string) (value: string option) =
    match value with
    | Some v when not (IO.Directory.Exists v) -> usageError $"{name} expects an existing folder, got '{v}' (no such folder)."
    | _ -> ()

/// A count of 1 or more.
let checkPositive (name: string) (value: int) =
    if value < 1 then usageError $"{name} must be 1 or more, got {value}."

/// A device as `Devices.Parse` reads it; CUDA asked for on a machine without it is checked when the command runs (exit 1).
let checkDevice (value: string) =
    if not (Regex.IsMatch(value, @"^(auto|cpu|cuda(:\d+)?)$", RegexOptions.IgnoreCase)) then
        usageError $"--device expects auto, cpu, cuda or cuda:N, got '{value}'."

/// A required option.
let required (name: string) (what: string) (value: string option) =
    match value with
    | Some v -> v
    | None -> usageError $"{name} <file> is required ({what})."

/// Makes the folder of an output file (so a bad path fails before any work) and returns the full path.
let outputFile (path: string) =
    let full = IO.Path.GetFullPath path
    match IO.Path.GetDirectoryName full with
    | null | "" -> ()
    | folder -> IO.Directory.CreateDirectory folder |> ignore
    full

/// The command's action: reads the parse result into the command's record, validates it, runs it.
let setAction (read: ParseResult -> 'Args) (validate: 'Args -> unit) (run: 'Args -> int) (command: Command) =
    command.SetAction(Func<ParseResult, int>(fun result ->
        let args = read result
        validate args
        run args))
    command
