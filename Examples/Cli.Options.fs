/// A small parser for the command line's `--name value` options and `--flag`s, with errors that
/// name the option and what was expected.
module Functional.Examples.Cli.Options

open System
open System.Globalization
open Functional

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
            if not (a.StartsWith "--") then invalidArg "args" $"{command}: unexpected '{a}'. It takes: {takes ()}"
            let name = a.Substring 2
            if List.contains name flags then go (i + 1) values (present.Add name)
            elif List.contains name valued then
                if i + 1 >= args.Length then invalidArg "args" $"{command}: --{name} needs a value."
                go (i + 2) (values.Add(name, args[i + 1])) present
            else invalidArg "args" $"{command}: unknown option '{a}'. It takes: {takes ()}"
    go 0 Map.empty Set.empty

let private convert (command: string) name (value: string) (expected: string) (tryParse: string -> bool * 'T) =
    match tryParse value with
    | true, v -> v
    | _ -> invalidArg name $"{command}: --{name} expects {expected}, got '{value}'."

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
    | Some v when not (IO.Directory.Exists v) -> invalidArg name $"{command}: --{name} expects an existing folder, got '{v}' (no such folder)."
    | value -> value

/// The `--device` option (default auto), resolved: a misspelt device fails naming the option.
/// Asking for CUDA on a machine without it stays Devices.Check's InvalidOperationException.
let device (command: string) (p: Parsed) =
    let text = defaultArg (p.Values.TryFind "device") "auto"
    let parsed =
        try Devices.Parse text
        with :? ArgumentException -> invalidArg "device" $"{command}: --device expects auto, cpu, cuda or cuda:N, got '{text}'."
    Devices.Check parsed
