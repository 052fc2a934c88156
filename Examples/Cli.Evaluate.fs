/// `eval` and `predict`: use a model file written by `train --save`, without the model's code.
module Functional.Examples.Cli.Evaluate

open System
open System.IO
open TorchSharp
open Functional
open Functional.Data
open Functional.Serialization
open Functional.Training
open Functional.Transforms

/// The options of `eval` and `predict`, as parsed.
type Args = { Model: string option; Data: string option; BatchSize: int; Device: string; Index: int }

/// Checks the options shared by both commands.
let private validateModel (a: Args) =
    let path = Options.required "--model" "a file written by train --save" a.Model
    if not (File.Exists path) then Options.usageError $"the model file '{path}' does not exist; write one with: train --save {path}"
    Options.checkDevice a.Device
    Options.checkFolder "--data" a.Data

let private load (a: Args) =
    let device = Devices.Check(Devices.Parse a.Device)
    ModelFile.Load(a.Model.Value, device), device

module private Eval =
    let model = Options.model ()
    let data = Options.data ()
    let batchSize = Options.batchSize ()
    let device = Options.device ()

    let read (r: System.CommandLine.ParseResult) =
        { Model = Options.tryValue model r; Data = Options.tryValue data r; BatchSize = r.GetValue batchSize; Device = r.GetValue device; Index = 0 }

    let validate (a: Args) =
        validateModel a
        Train.checkBatchSize a.BatchSize

    /// The tutorial's test figures.
    let run (a: Args) =
        let model, device = load a
        use model = model
        let test = Train.loadSplit a.Data false
        printfn "%s" (Train.describeTestSource test)
        let loader = DataLoader(test, a.BatchSize, device = device).Map(Transform.ToTensor())
        let result = Trainer.Evaluate(model, Losses.CrossEntropy(), loader, device)
        printfn "Test Error: "
        printfn " Accuracy: %s%%, Avg loss: %8s " ((100.0 * result.Accuracy).ToString("F1", Globalization.CultureInfo.InvariantCulture))
            (result.AverageLoss.ToString("F6", Globalization.CultureInfo.InvariantCulture))
        0

    let command =
        System.CommandLine.Command("eval", "Test accuracy and average loss of a saved model (the tutorial's test_loop)")
        |> Options.withOptions [ model; data; batchSize; device ]
        |> Options.setAction read validate run

module private Predict =
    let model = Options.model ()
    let index = Options.int "--index" "The test image to classify (0-based)" 0
    let data = Options.data ()
    let device = Options.device ()

    let read (r: System.CommandLine.ParseResult) =
        { Model = Options.tryValue model r; Data = Options.tryValue data r; BatchSize = 1; Device = r.GetValue device; Index = r.GetValue index }

    /// The class and probabilities of test image N.
    let run (a: Args) =
        let model, device = load a
        use model = model
        let test = Train.loadSplit a.Data false
        Options.inRange "--index" 0 (test.Count - 1) $"in 0..{test.Count - 1}" a.Index
        use sample = test[a.Index]
        use image = sample.Features.unsqueeze(0L).``to``(torch.ScalarType.Float32).div(torch.tensor(255.0f))
        use prediction = Trainer.Predict(model, image, device)
        let predicted = int (prediction.Classes.ToInt64())
        let actual = int (sample.Label.ToInt64())
        printfn "Test image %d: Predicted: \"%s\", Actual: \"%s\"" a.Index FashionMnist.Classes[predicted] FashionMnist.Classes[actual]
        let probabilities = prediction.Probabilities.squeeze(0L).data<float32>().ToArray()
        for c in 0 .. FashionMnist.Classes.Count - 1 do
            printfn "  %-11s %6.2f%%%s" FashionMnist.Classes[c] (100.0f * probabilities[c]) (if c = predicted then "  <-" else "")
        0

    let command =
        System.CommandLine.Command("predict", "Class and probabilities of one test image, from a saved model")
        |> Options.withOptions [ model; index; data; device ]
        |> Options.setAction read validateModel run

/// `eval --model FILE`.
let evalCommand = Eval.command

/// `predict --model FILE --index N`.
let predictCommand = Predict.command
