/// The command line under hostile input (issue 13): generated argument lists (known and mistyped commands and options,
/// repeated options, `--name=value`, hostile numbers, control characters, long and odd paths) go through the real
/// parser and each command's validation in-process (`Program.check`, what `main` does before any work), and a few of
/// them through the real program in a child process, which must print the same line and exit with the same code.
module Functional.PropertyTests.FuzzCliTests

open System
open System.Diagnostics
open System.IO
open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open Functional.PropertyTests.FuzzHarness

let private commands = [ "train"; "eval"; "predict"; "show-samples"; "info" ]

let private options =
    [ "--epochs"; "--batch-size"; "--lr"; "--optimizer"; "--seed"; "--device"; "--data"; "--extra-relu"; "--save"; "--plot"
      "--checkpoint-dir"; "--resume"; "--tensorboard"; "--log"; "--model"; "--index"; "--out"; "--test" ]

let private values =
    Gen.frequency [
        4, Gen.elements [ "1"; "3"; "64"; "0.001"; "sgd"; "adam"; "cpu"; "auto"; "cuda:0" ]
        4, Gen.elements [ "0"; "-1"; "-0"; "1e39"; "1e-39"; "NaN"; "-NaN"; "Infinity"; "∞"; "2147483647"; "2147483648"; "-2147483648"
                          "9223372036854775808"; "0x10"; "1_000"; "١٢"; "1e"; "."; ""; " "; "--"; "-"; "adamw "; "CUDA:99999999999"
                          "cuda:-1"; "gpu"; "1,5"; "+3" ]
        3, Gen.elements [ "/dev/full"; "/dev/null"; "/proc/x"; "/nonexistent/dir/m.safetensors"; "."; ".."; "/"; "~/m"; "m.safetensors"
                          "a\u0000b"; "a\nb"; "\u001b[31mred"; "\u202eevil"; String('x', 5000); "C:\\x"; "*"; "-m" ]
        1, Gen.choose (1, 40) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (1, 0xFFFF) |> Gen.map (fun c -> if c >= 0xD800 && c < 0xE000 then 'x' else char c))) |> Gen.map String
    ]

let private token =
    Gen.frequency [
        6, Gen.elements options
        1, Gen.elements [ "--epoch"; "--Epochs"; "-epochs"; "--lr="; "--help"; "-h"; "--version"; "-?"; "--"; "--data="; "---save" ]
        6, values
        1, Gen.map2 (fun o v -> o + "=" + v) (Gen.elements options) values
        1, Gen.map2 (fun o v -> o + ":" + v) (Gen.elements options) values
    ]

let private argv =
    gen {
        let! command = Gen.frequency [ 8, Gen.elements commands; 1, Gen.elements [ "trian"; "Train"; ""; "--epochs"; "help" ]; 1, values ]
        let! rest = Gen.choose (0, 8) |> Gen.bind (fun n -> Gen.listOfLength n token)
        let! repeat = Gen.frequency [ 4, Gen.constant []; 1, Gen.elements options |> Gen.map (fun o -> [ o; "2"; o; "3" ]) ]
        return Array.ofList ((if command = "" then [] else [ command ]) @ rest @ repeat)
    }

/// No command line may start real work here: an argument list that would run is recorded and not run.
[<Test>]
let ``fuzz the command line: every argument list is understood or refused in one line with exit code 2`` () =
    let tally = Tally("command line", seed)
    let cases = sample 8UL 2500 argv
    let refused = Collections.Generic.List<string[] * string * int>()
    for args in cases do
        let input = Text.Encoding.UTF8.GetBytes(String.Join("\u0001", args))
        tally.Check(input, String.Join(" ", args |> Array.map (fun a -> if a.Length > 40 then a.Substring(0, 40) + "..." else a)), "error: ",
                    (fun _ -> false), fun () ->
            match Functional.Examples.Program.check args with
            | None -> Accepted 0L
            | Some(line, code) ->
                if code <> 2 && code <> 1 then failwith $"exit code {code} for a usage check: {line}"
                refused.Add((args, line, code))
                Refused line)
    report tally

    // The real program, in a child process, for some of the refused lines: the same line on standard error, the
    // same exit code, nothing on standard output.
    // The program as built (with its runtimeconfig), not the copy of its assembly beside these tests.
    let root =
        let rec up (d: DirectoryInfo) = if isNull d || File.Exists(Path.Combine(d.FullName, "Functional.sln")) then d else up d.Parent
        up (DirectoryInfo AppContext.BaseDirectory)
    let configuration = DirectoryInfo(AppContext.BaseDirectory).Parent.Name
    let dll = Path.Combine(root.FullName, "Examples", "bin", configuration, "net10.0", "Functional.Examples.dll")
    Assert.That(File.Exists dll, Is.True, $"{dll} is absent: build Examples first")
    let host = match Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" with null | "" -> "dotnet" | h -> h
    let spawned = refused |> Seq.filter (fun (a, _, _) -> a |> Array.forall (fun s -> not (s.Contains '\u0000'))) |> Seq.truncate 16 |> Array.ofSeq
    for args, line, code in spawned do
        let info = ProcessStartInfo(host, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false)
        info.ArgumentList.Add dll
        for a in args do info.ArgumentList.Add a
        info.Environment["OMP_NUM_THREADS"] <- "1"
        use p = Process.Start info
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()
        if not (p.WaitForExit 60000) then
            p.Kill true
            Assert.Fail $"`{String.Join(' ', args)}` did not finish in 60 s"
        p.WaitForExit()
        let shown = String.Join(" ", args)
        Assert.That(p.ExitCode, Is.EqualTo code, shown)
        Assert.That(err.Result, Is.EqualTo(line + "\n"), shown)
        Assert.That(out.Result, Is.Empty, shown)
    TestContext.Progress.WriteLine $"fuzz: command line: {spawned.Length} of the refused argument lists also run as a child process, with the same line and exit code"
