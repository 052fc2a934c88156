/// `eval` and `predict`: use a model file written by `train --save`, without the model's code.
module Functional.Examples.Cli.Evaluate

open System
open TorchSharp
open Functional
open Functional.Data
open Functional.Serialization
open Functional.Training
open Functional.Transforms

let private load (command: string) (o: Options.Parsed) =
    let path =
        match Options.string "model" o with
        | Some p -> p
        | None -> Options.usage $"{command}: --model <file> is required (a file written by train --save)."
    if not (IO.File.Exists path) then Options.usage $"{command}: the model file '{path}' does not exist; write one with: train --save {path}"
    let device = Options.device command o
    ModelFile.Load(path, device), device

/// `eval --model <file> [--data <root>] [--batch-size 64] [--device auto]`: the tutorial's test figures.
let runEval (args: string[]) =
    let o = Options.parse "eval" [ "model"; "data"; "batch-size"; "device" ] [] args
    let batchSize = Options.int "eval" "batch-size" 64 o
    Options.inRange "eval" "batch-size" (fst Train.Bounds.batchSize) (snd Train.Bounds.batchSize) $"1 or more (at most {snd Train.Bounds.batchSize})" batchSize
    let data = Options.folder "eval" "data" o
    let model, device = load "eval" o
    use model = model
    let test = Train.loadSplit data false
    printfn "%s" (Train.describeTestSource test)
    let loader = DataLoader(test, batchSize, device = device).Map(Transform.ToTensor())
    let result = Trainer.Evaluate(model, Losses.CrossEntropy(), loader, device)
    printfn "Test Error: "
    printfn " Accuracy: %s%%, Avg loss: %8s " ((100.0 * result.Accuracy).ToString("F1", Globalization.CultureInfo.InvariantCulture))
        (result.AverageLoss.ToString("F6", Globalization.CultureInfo.InvariantCulture))
    0

/// `predict --model <file> --index N [--data <root>] [--device auto]`: the class of test image N.
let runPredict (args: string[]) =
    let o = Options.parse "predict" [ "model"; "index"; "data"; "device" ] [] args
    let data = Options.folder "predict" "data" o
    let index = Options.int "predict" "index" 0 o
    let model, device = load "predict" o
    use model = model
    let test = Train.loadSplit data false
    Options.inRange "predict" "index" 0 (test.Count - 1) $"in 0..{test.Count - 1}" index
    use sample = test[index]
    use image = sample.Features.unsqueeze(0L).``to``(torch.ScalarType.Float32).div(torch.tensor(255.0f))
    use prediction = Trainer.Predict(model, image, device)
    let predicted = int (prediction.Classes.ToInt64())
    let actual = int (sample.Label.ToInt64())
    printfn "Test image %d: Predicted: \"%s\", Actual: \"%s\"" index FashionMnist.Classes[predicted] FashionMnist.Classes[actual]
    let probabilities = prediction.Probabilities.squeeze(0L).data<float32>().ToArray()
    for c in 0 .. FashionMnist.Classes.Count - 1 do
        printfn "  %-11s %6.2f%%%s" FashionMnist.Classes[c] (100.0f * probabilities[c]) (if c = predicted then "  <-" else "")
    0
