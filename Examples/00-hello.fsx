// The smallest example: make a tensor, print it, and say where it lives.
//   dotnet build Examples -c Release     (once)
//   dotnet fsi Examples/00-hello.fsx
#load "Setup.fsx"

open TorchSharp
open Functional

let x = torch.tensor([| 1.0f; 2.0f; 3.0f; 4.0f |]).reshape(2L, 2L)
printfn "%s" (x.Format())                               // as PyTorch prints it
printfn "device: %O" x.device
printfn "Devices.Auto resolves to: %O" (Devices.Auto)
printfn "%s" (Devices.Describe())
printfn "LibTorch loaded from %s" Native.LoadedFrom
