/// How `train` shows its progress. On an interactive terminal: the tutorial's lines, with a Spectre.Console
/// bar under them (time left, samples per second, the running loss). When the output is redirected or
/// `CI=true`: exactly the tutorial's lines, from the library's `Callback.Progress`.
module Functional.Examples.Cli.Progress

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Text
open Spectre.Console
open Functional.Training

/// True when the bar is drawn: standard output is a terminal, CI is not set, and Spectre sees an interactive console.
let interactive () =
    not Console.IsOutputRedirected
    && not (String.Equals(Environment.GetEnvironmentVariable "CI", "true", StringComparison.OrdinalIgnoreCase))
    && AnsiConsole.Profile.Capabilities.Interactive

/// Passes whole lines to Spectre's console, so that they are printed above the live bar.
type private LinesToAnsiConsole() =
    inherit TextWriter()
    let line = StringBuilder()
    override _.Encoding = Encoding.UTF8
    override _.Write(c: char) =
        match c with
        | '\n' ->
            AnsiConsole.WriteLine(line.ToString())
            line.Clear() |> ignore
        | '\r' -> ()
        | c -> line.Append c |> ignore

/// The bar, as a callback: it forwards every event to the tutorial's printout, and moves the bar one batch
/// at a time. The running loss is read (a wait for the device) at most four times a second.
type private Bar(context: ProgressContext) =
    inherit Callback()
    let lines = Callback.Progress(new LinesToAnsiConsole(), 100, false)
    let epochClock = Stopwatch()
    let refresh = Stopwatch()
    let mutable task: ProgressTask = null
    let mutable samples = 0L
    let mutable loss = nan

    member private _.Describe(e: TrainingContext) =
        let rate = if epochClock.Elapsed.TotalSeconds > 0.0 then float samples / epochClock.Elapsed.TotalSeconds else 0.0
        let text = String.Format(CultureInfo.InvariantCulture, "epoch {0}/{1}  loss {2:F4}  {3:N0} samples/s", e.Epoch, e.Epochs, loss, rate)
        task.Description <- Markup.Escape text

    override _.OnFitBegin e =
        lines.OnFitBegin e
        // A run resumed inside an epoch has that epoch's first batches done already.
        task <- context.AddTask("training", true, float (max 1 ((e.Epochs - e.FirstEpoch + 1) * e.Batches - e.FirstBatch)))

    override this.OnEpochBegin e =
        lines.OnEpochBegin e
        samples <- 0L
        epochClock.Restart()
        refresh.Restart()
        this.Describe e

    override this.OnBatchEnd e =
        lines.OnBatchEnd e
        samples <- samples + int64 e.BatchSize
        task.Increment 1.0
        if e.Batch = 0 || refresh.ElapsedMilliseconds >= 250L then
            loss <- e.Loss
            refresh.Restart()
            this.Describe e

    override _.OnEpochEnd e = lines.OnEpochEnd e

    override _.OnFitEnd e =
        task.StopTask()
        lines.OnFitEnd e

/// Runs `fit` with the progress callback that suits the terminal, and returns its result.
let run (fit: Callback -> 'T) : 'T =
    if interactive () then
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(TaskDescriptionColumn(), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn(), SpinnerColumn())
            .Start(fun context -> fit (Bar context))
    else fit (Callback.Progress(progressBar = false))
