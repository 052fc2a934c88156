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

/// A mistake in the command line (an unknown option, a bad value, paths that clash): the program prints
/// `error: <command>: <message>` on one line and exits 2. Everything that goes wrong after the command line
/// was understood exits 1.
exception UsageError of string

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

/// A usage or parse error fit to print on its one line: `printable`, with line breaks escaped too (they can only
/// come from what was typed, such as an argument with a newline in it).
let oneLine (message: string) = (printable message).Replace("\n", "\\n")

/// Raises a UsageError with `message` (one line naming the option and what it expects).
let usageError (message: string) : 'T = raise (UsageError message)

/// An error on one rank of a distributed run: the program prints it (naming the rank), then ends every rank of the
/// job through the synchronisation (MPI_Abort), so that no other rank waits for this one.
exception RankFailed of Functional.Training.GradientSync * exn

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

/// Checks that a number lies in [low, high] (NaN never does): `--name must be <what>, got <value>.` otherwise.
let inRange (name: string) (low: 'T) (high: 'T) (what: string) (value: 'T) =
    if not (value >= low && value <= high) then usageError $"{name} must be {what}, got {value}."

/// A device as `Devices.Parse` reads it; CUDA asked for on a machine without it is checked when the command runs (exit 1).
let checkDevice (value: string) =
    if not (Regex.IsMatch(value, @"^(auto|cpu|cuda(:\d+)?)$", RegexOptions.IgnoreCase)) then
        usageError $"--device expects auto, cpu, cuda or cuda:N, got '{value}'."

/// A required option.
let required (name: string) (what: string) (value: string option) =
    match value with
    | Some v -> v
    | None -> usageError $"{name} <file> is required ({what})."

/// Checks output files before any work is done, so that a finished run is never lost to a bad path: two options
/// naming the same file, a folder, a device, a FIFO or a socket where a file should go (the library's rule,
/// `AtomicFile.CheckDestination`: only a regular file is ever replaced, a symbolic link is followed) are usage
/// errors; each folder is created, and a file is created and removed in it to see that it is writable (an
/// IOException naming the option and the path otherwise). Returns the full paths, by option name (with its dashes).
let outputs (command: string) (paths: (string * string option) list) =
    let given = paths |> List.choose (fun (name, path) -> path |> Option.map (fun p -> name, IO.Path.GetFullPath p))
    for (a, pa), (b, pb) in List.allPairs given given do
        if a < b && pa = pb then usageError $"{a} and {b} both name {pa}; give them different files."
    let destination (name: string) (full: string) =
        try Functional.Serialization.AtomicFile.CheckDestination full
        with
        | :? IO.DirectoryNotFoundException -> full
        | :? IO.IOException as e -> usageError $"{name}: {Char.ToLowerInvariant e.Message[0]}{e.Message.Substring 1}"
    for name, full in given do
        if IO.Directory.Exists full then usageError $"{name} names the folder {full}; give a file name."
        let target = destination name full
        match IO.Path.GetDirectoryName target with
        | null | "" -> ()
        | folder ->
            let fail (reason: string) = raise (IO.IOException $"{command}: cannot write {name} {full}: {reason}; choose another path.")
            try
                IO.Directory.CreateDirectory folder |> ignore
                let probe = IO.Path.Combine(folder, $".{IO.Path.GetFileName target}.{Environment.ProcessId}-probe.tmp")
                use _ = new IO.FileStream(probe, IO.FileMode.CreateNew, IO.FileAccess.Write, IO.FileShare.None, 1, IO.FileOptions.DeleteOnClose)
                ()
            with
            | :? UnauthorizedAccessException -> fail $"the folder {folder} is not writable"
            | :? IO.IOException as e -> fail e.Message
    given |> Map.ofList

/// One output file, checked as `outputs` does.
let outputFile (command: string) (name: string) (path: string) = (outputs command [ name, Some path ])[name]

/// Each command's read-and-validate step, kept apart from its run (see validateOnly).
let private validators = Collections.Generic.Dictionary<Command, ParseResult -> unit>(HashIdentity.Reference)

/// The command's action: reads the parse result into the command's record, validates it, runs it.
let setAction (read: ParseResult -> 'Args) (validate: 'Args -> unit) (run: 'Args -> int) (command: Command) =
    validators[command] <- (fun result -> validate (read result))
    command.SetAction(Func<ParseResult, int>(fun result ->
        let args = read result
        validate args
        run args))
    command

/// Reads and validates the parse result of `command` as its action would, without running it: raises what the
/// action would raise before any work (a UsageError, mostly).
let validateOnly (command: Command) (result: ParseResult) =
    match validators.TryGetValue command with
    | true, validate -> validate result
    | _ -> ()
