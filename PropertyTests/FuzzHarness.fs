/// The contract every reader keeps under hostile input, and the bookkeeping of a fuzz run.
///
/// Each generated input must give either a correct result or a clear refusal:
/// - a refusal is the reader's documented exception (InvalidDataException for files; a usage line for the command
///   line) whose message is one line, without raw control characters, that starts with the input's name;
/// - never another exception type (NullReference, IndexOutOfRange, Overflow, OutOfMemory, an unwrapped LibTorch
///   error...), never a crash of the process, and never a hang: each input is given `PerInput` at most;
/// - memory stays in proportion to the input: the managed bytes allocated for one input, and the rise of the
///   process's peak resident memory while it is read (Linux: VmHWM, reset before each input through
///   /proc/self/clear_refs, so native LibTorch and SkiaSharp buffers count too), stay under
///   `Budget + Factor x (input + result)` bytes.
/// Inputs come from FsCheck generators sampled with a seed that is printed (FUNCTIONAL_FUZZ_SEED repeats a run);
/// every violation is saved under the test's output folder with the input, to replay it.
module Functional.PropertyTests.FuzzHarness

open System
open System.Diagnostics
open System.IO
open FsCheck
open FsCheck.FSharp
open NUnit.Framework

/// The longest one input may take before it counts as a hang.
let PerInput = TimeSpan.FromSeconds 5.0

/// Memory any input may use, whatever its size (buffers of the readers, LibTorch's first allocations).
let Budget = 96L <<< 20

/// Memory per byte of input and of result beyond Budget.
let Factor = 64L

/// The peak resident memory of this process, and a way to reset it (Linux only; elsewhere None).
module Peak =
    let private canReset =
        lazy
            (OperatingSystem.IsLinux()
             && (try
                     File.WriteAllText("/proc/self/clear_refs", "5")
                     true
                 with _ -> false))

    let private field (name: string) =
        File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith name)
        |> Option.map (fun l -> int64 (l.Substring(name.Length).Trim().Split(' ')[0]) * 1024L)

    /// Resets the peak to the current resident memory; returns that, or None where the peak cannot be followed.
    let reset () =
        if canReset.Value then
            File.WriteAllText("/proc/self/clear_refs", "5")
            field "VmRSS:"
        else None

    /// The peak resident memory since the last reset.
    let read () = if canReset.Value then field "VmHWM:" else None

/// What a reader did with one input.
type Outcome =
    /// A result, and its honest size in bytes (what it holds).
    | Accepted of size: int64
    /// The documented refusal.
    | Refused of message: string

/// One violation of the contract.
type Violation = { Format: string; Case: int; What: string; Input: byte[]; Note: string }

/// The tally of a fuzz run over one format.
type Tally(format: string, seed: uint64) =
    let mutable inputs = 0
    let mutable accepted = 0
    let mutable refused = 0
    let mutable slowest = TimeSpan.Zero
    let mutable mostMemory = 0L
    let violations = Collections.Generic.List<Violation>()
    let clock = Stopwatch()

    member _.Format = format
    member _.Inputs = inputs
    member _.Accepted = accepted
    member _.Refused = refused
    member _.Violations = violations
    member _.Elapsed = clock.Elapsed

    /// Runs one input through `read` and checks the contract. `name` is what the message must start with;
    /// `isRefusal` tells the documented refusal from any other exception.
    member _.Check(input: byte[], note: string, name: string, isRefusal: exn -> bool, read: unit -> Outcome) =
        clock.Start()
        inputs <- inputs + 1
        let case = inputs
        let fail what = violations.Add { Format = format; Case = case; What = what; Input = input; Note = note }
        let rssBefore = Peak.reset ()
        let managedBefore = GC.GetAllocatedBytesForCurrentThread()
        let watch = Stopwatch.StartNew()
        let outcome =
            try
                Ok(read ())
            with e -> Error e
        watch.Stop()
        let managed = GC.GetAllocatedBytesForCurrentThread() - managedBefore
        let native =
            match rssBefore, Peak.read () with
            | Some before, Some peak -> peak - before
            | _ -> 0L
        if watch.Elapsed > slowest then slowest <- watch.Elapsed
        let resultSize =
            match outcome with
            | Ok(Accepted size) -> size
            | _ -> 0L
        let bound = Budget + Factor * (int64 input.Length + resultSize)
        mostMemory <- max mostMemory (max managed native)
        let refusal (message: string) =
            refused <- refused + 1
            if message.Contains '\n' || message.Contains '\r' then fail $"a message of several lines: {message}"
            elif message |> Seq.exists Char.IsControl then fail $"a raw control character in: {message}"
            elif not (message.StartsWith name) then fail $"a message that does not start with '{name}': {message}"
        match outcome with
        | Ok(Accepted _) -> accepted <- accepted + 1
        | Ok(Refused message) -> refusal message
        | Error e when isRefusal e -> refusal e.Message
        | Error e -> fail $"{e.GetType().FullName}: {e.Message}\n{e.StackTrace}"
        if watch.Elapsed > PerInput then fail $"took {watch.Elapsed.TotalSeconds:F1} s (more than {PerInput.TotalSeconds} s)"
        if managed > bound then fail $"allocated {managed} managed bytes for {input.Length} bytes of input and {resultSize} of result (bound {bound})"
        if native > bound then fail $"raised the peak resident memory by {native} bytes for {input.Length} bytes of input and {resultSize} of result (bound {bound})"
        clock.Stop()

    /// One line for the test output.
    member t.Summary =
        $"{format}: {inputs} inputs ({accepted} accepted, {refused} refused), {violations.Count} violations, {clock.Elapsed.TotalSeconds:F1} s, slowest {slowest.TotalMilliseconds:F0} ms, most memory for one input {mostMemory / 1024L / 1024L} MiB"

/// The seed of this run: FUNCTIONAL_FUZZ_SEED, or a new one (printed, so that a failing run can be repeated).
let seed =
    match Environment.GetEnvironmentVariable "FUNCTIONAL_FUZZ_SEED" with
    | null | "" -> uint64 (Random.Shared.NextInt64(1L, Int64.MaxValue))
    | s -> UInt64.Parse s

/// `count` samples of `gen` drawn with this run's seed (and a salt per format, so that formats draw apart).
let sample (salt: uint64) (count: int) (gen: Gen<'T>) : 'T[] =
    Gen.sampleWithSeed (Rnd(seed + salt)) 50 count gen

/// The inputs and violations of every fuzz test of this run (printed at the end by RunTotals).
let mutable totalInputs = 0
let mutable totalViolations = 0
let mutable totalTime = TimeSpan.Zero

/// Prints the tally and fails the test with the first violations (each input saved for replay).
let report (tally: Tally) =
    totalInputs <- totalInputs + tally.Inputs
    totalViolations <- totalViolations + tally.Violations.Count
    totalTime <- totalTime + tally.Elapsed
    TestContext.Progress.WriteLine $"fuzz: {tally.Summary} (FUNCTIONAL_FUZZ_SEED={seed})"
    TestContext.Out.WriteLine $"fuzz: {tally.Summary} (FUNCTIONAL_FUZZ_SEED={seed})"
    if tally.Violations.Count > 0 then
        let folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "fuzz-failures", tally.Format)
        Directory.CreateDirectory folder |> ignore
        for v in tally.Violations |> Seq.truncate 50 do
            File.WriteAllBytes(Path.Combine(folder, $"case-{v.Case}.bin"), v.Input)
        let first =
            tally.Violations
            |> Seq.distinctBy (fun v -> Text.RegularExpressions.Regex.Replace(v.What.Split('\n')[0], @"/\S+: ", "") |> Seq.truncate 60 |> String.Concat)
            |> Seq.truncate 8
            |> Seq.map (fun v -> $"case {v.Case} ({v.Note}, {v.Input.Length} bytes): {v.What}")
        Assert.Fail($"{tally.Violations.Count} of {tally.Inputs} {tally.Format} inputs broke the contract (seed {seed}; inputs saved in {folder}):\n" + String.Join("\n\n", first))

// ------------------------------------------------------------------ mutations shared by the binary formats

/// Values that break sizes and counts: zero, one, the edges of 16, 31, 32 and 63 bits, and sizes just above the limits.
let hostileInts : int64 list =
    [ 0L; 1L; 2L; 255L; 256L; 65535L; 65536L; 50000L; 16385L; 1L <<< 28; (1L <<< 28) + 1L; int64 Int32.MaxValue; 0x80000000L
      0xFFFFFFFFL; 0x100000000L; Int64.MaxValue; -1L; -2L; int64 Int32.MinValue; Int64.MinValue ]

/// A byte array with `value` written big- or little-endian over `width` bytes at `at` (clipped to the array).
let writeInt (bytes: byte[]) (at: int) (width: int) (bigEndian: bool) (value: int64) =
    let copy = Array.copy bytes
    for i in 0 .. width - 1 do
        let shift = if bigEndian then 8 * (width - 1 - i) else 8 * i
        if at + i >= 0 && at + i < copy.Length then copy[at + i] <- byte ((value >>> shift) &&& 0xFFL)
    copy

/// One blind mutation of a byte array: a cut, bit flips, special bytes, a hostile integer, an insertion, a deletion,
/// or a duplicated stretch.
let mutation (bytes: byte[]) : Gen<byte[] * string> =
    let n = bytes.Length
    let position = if n = 0 then Gen.constant 0 else Gen.choose (0, n - 1)
    Gen.oneof [
        gen {
            let! cut = Gen.choose (0, max 0 (n - 1))
            return bytes[.. cut - 1], $"cut at {cut}"
        }
        gen {
            let! flips = Gen.choose (1, 8)
            let! at = Gen.listOfLength flips (Gen.zip position (Gen.choose (0, 7)))
            let copy = Array.copy bytes
            for p, bit in at do
                if p < copy.Length then copy[p] <- copy[p] ^^^ (1uy <<< bit)
            return copy, $"{flips} bit flips"
        }
        gen {
            let! k = Gen.choose (1, 4)
            let! at = Gen.listOfLength k (Gen.zip position (Gen.elements [ 0uy; 1uy; 0x7Fuy; 0x80uy; 0xFEuy; 0xFFuy; 0x0Auy; 0x00uy ]))
            let copy = Array.copy bytes
            for p, b in at do
                if p < copy.Length then copy[p] <- b
            return copy, $"{k} special bytes"
        }
        gen {
            let! p = position
            let! width = Gen.elements [ 2; 4; 8 ]
            let! big = Gen.elements [ true; false ]
            let! value = Gen.elements hostileInts
            return writeInt bytes p width big value, $"int {value} at {p}"
        }
        gen {
            let! p = position
            let! extra = Gen.arrayOfLength 16 (Gen.choose (0, 255) |> Gen.map byte) |> Gen.map (fun a -> a[.. (abs (int a[0]) % 16)])
            return Array.concat [ bytes[.. p - 1]; extra; bytes[p..] ], $"{extra.Length} bytes inserted at {p}"
        }
        gen {
            let! p = position
            let! length = Gen.choose (1, 64)
            return Array.append bytes[.. p - 1] bytes[min n (p + length) ..], $"{length} bytes deleted at {p}"
        }
        gen {
            let! p = position
            let! length = Gen.choose (1, 256)
            let stretch = bytes[p .. min (n - 1) (p + length - 1)]
            return Array.concat [ bytes[.. p - 1]; stretch; stretch; bytes[p..] ], $"{stretch.Length} bytes repeated at {p}"
        }
    ]

/// One to three blind mutations in a row.
let mutated (bytes: byte[]) : Gen<byte[] * string> =
    gen {
        let! times = Gen.frequency [ 6, Gen.constant 1; 3, Gen.constant 2; 1, Gen.constant 3 ]
        let mutable current = Gen.constant (bytes, "")
        for _ in 1 .. times do
            current <- current |> Gen.bind (fun (b, note) -> mutation b |> Gen.map (fun (b2, n2) -> b2, (if note = "" then n2 else note + "; " + n2)))
        return! current
    }

/// A folder for the run's files, removed at the end.
type Scratch(prefix: string) =
    let folder = tempFolder prefix
    let mutable counter = 0
    member _.Folder = folder
    /// A fresh file with the bytes, named `<stem>-<n><extension>`.
    member _.File(stem: string, extension: string, bytes: byte[]) =
        counter <- counter + 1
        let path = Path.Combine(folder, $"{stem}-{counter}{extension}")
        File.WriteAllBytes(path, bytes)
        path
    interface IDisposable with
        member _.Dispose() =
            try Directory.Delete(folder, true) with _ -> ()
