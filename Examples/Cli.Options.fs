/// A small parser for the command line's `--name value` options and `--flag`s, with errors that
/// name the option and what was expected.
module Functional.Examples.Cli.Options

open System
open System.Globalization
open Functional

/// A mistake in the command line (an unknown option, a bad value, paths that clash): the program prints the
/// message and exits 2. Everything that goes wrong after the command line was understood exits 1.
exception UsageError of string

/// Raises a UsageError with `message` (one line naming the option and what it expects).
let usage (message: string) : 'T = raise (UsageError message)

/// Parsed options: values by name (without the dashes) and the flags present.
type Parsed = { Values: Map<string, string>; Flags: Set<string> }

/// Parses `args` given the names that take a value and the names that are flags. Unknown names,
/// a missing value or a stray word raise ArgumentException saying what the command takes.
let parse (command: string) (valued: string list) (flags: string list) (args: string[]) =
    let takes () =
        (valued |> List.map (fun v -> $"--{v} <value>")) @ (flags |> List.map (fun f -> $"--{f}")) |> String.concat " "
    let rec go i (values: Map<string, string>) (present: Set<string>) =
        if i >= args.Length then { Values = values; Flags = present }
        else
            let a = args[i]
            if not (a.StartsWith "--") then usage $"{command}: unexpected '{a}'. It takes: {takes ()}"
            let name = a.Substring 2
            if List.contains name flags then go (i + 1) values (present.Add name)
            elif List.contains name valued then
                if i + 1 >= args.Length then usage $"{command}: --{name} needs a value."
                go (i + 2) (values.Add(name, args[i + 1])) present
            else usage $"{command}: unknown option '{a}'. It takes: {takes ()}"
    go 0 Map.empty Set.empty

let private convert (command: string) name (value: string) (expected: string) (tryParse: string -> bool * 'T) =
    match tryParse value with
    | true, v -> v
    | _ -> usage $"{command}: --{name} expects {expected}, got '{value}'."

/// An integer option, with a default.
let int (command: string) name fallback (p: Parsed) =
    match p.Values.TryFind name with
    | None -> fallback
    | Some v -> convert command name v "an integer" (fun s -> Int32.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture))

/// A floating-point option, with a default.
let float (command: string) name fallback (p: Parsed) =
    match p.Values.TryFind name with
    | None -> fallback
    | Some v -> convert command name v "a number (e.g. 1e-3)" (fun s -> Double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture))

/// An optional string option.
let string name (p: Parsed) = p.Values.TryFind name

/// True when the flag was given.
let flag name (p: Parsed) = p.Flags.Contains name

/// An optional folder option that must name an existing folder: a mistyped `--data` fails here
/// instead of silently falling back to another copy of the data.
let folder (command: string) name (p: Parsed) =
    match p.Values.TryFind name with
    | Some v when not (IO.Directory.Exists v) -> usage $"{command}: --{name} expects an existing folder, got '{v}' (no such folder)."
    | value -> value

/// The `--device` option (default auto), resolved: a misspelt device fails naming the option.
/// Asking for CUDA on a machine without it stays Devices.Check's InvalidOperationException.
let device (command: string) (p: Parsed) =
    let text = defaultArg (p.Values.TryFind "device") "auto"
    let parsed =
        try Devices.Parse text
        with :? ArgumentException -> usage $"{command}: --device expects auto, cpu, cuda or cuda:N, got '{text}'."
    Devices.Check parsed

/// Checks that a number lies in [low, high] (NaN never does): `--name must be <what>, got <value>.` otherwise.
/// Plain functions over values, so that they outlive the parser.
let inRange (command: string) (name: string) (low: 'T) (high: 'T) (what: string) (value: 'T) =
    if not (value >= low && value <= high) then usage $"{command}: --{name} must be {what}, got {value}."

/// Checks output paths before any work is done, so that a finished run is never lost to a bad path: two options
/// naming the same file, or a folder where a file should go, are usage errors; each folder is created, and a
/// file is created and removed in it to see that it is writable (an IOException or UnauthorizedAccessException
/// naming the option and the path otherwise). Returns the full paths.
let outputs (command: string) (paths: (string * string option) list) =
    let given = paths |> List.choose (fun (name, path) -> path |> Option.map (fun p -> name, IO.Path.GetFullPath p))
    for (a, pa), (b, pb) in List.allPairs given given do
        if a < b && pa = pb then usage $"{command}: --{a} and --{b} both name {pa}; give them different files."
    for name, full in given do
        if IO.Directory.Exists full then usage $"{command}: --{name} names the folder {full}; give a file name."
        match IO.Path.GetDirectoryName full with
        | null | "" -> ()
        | folder ->
            let fail (reason: string) = raise (IO.IOException $"{command}: cannot write --{name} {full}: {reason}; choose another path.")
            try
                IO.Directory.CreateDirectory folder |> ignore
                let probe = IO.Path.Combine(folder, $".{IO.Path.GetFileName full}.{Environment.ProcessId}-probe.tmp")
                use _ = new IO.FileStream(probe, IO.FileMode.CreateNew, IO.FileAccess.Write, IO.FileShare.None, 1, IO.FileOptions.DeleteOnClose)
                ()
            with
            | :? UnauthorizedAccessException -> fail $"the folder {folder} is not writable"
            | :? IO.IOException as e -> fail e.Message
    given |> Map.ofList
