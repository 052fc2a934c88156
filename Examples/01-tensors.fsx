// PyTorch "Learn the Basics", section "Tensors" (tensorqs_tutorial), in F#.
//   dotnet build Examples -c Release && dotnet fsi Examples/01-tensors.fsx
#load "Setup.fsx"

open System
open TorchSharp
open Functional
open Functional.FSharp

// F# Interactive echoes tensors the PyTorch way; `Tensor.print` prints like Python's print(t).
fsi.AddPrinter<torch.Tensor>(Tensor.format)
let show (title: string) (t: torch.Tensor) = printfn "%s\n%s\n" title (Tensor.format t)
let generator = new torch.Generator(0UL)    // randomness comes from an explicit, seeded generator

// ---- Initializing a tensor ----------------------------------------------------------------------
// Directly from data: the dtype is inferred (integers -> int64).
let data = [ [ 1; 2 ]; [ 3; 4 ] ]
let xData = tensor data
show "From data:" xData

// From a .NET array (the tutorial's NumPy array): a rectangular int[,] works the same way.
let xArray = tensor (array2D data)
show "From a .NET array:" xArray

// From another tensor: *Like keeps shape and dtype unless told otherwise.
let xOnes = Tensor.onesLike xData
show "Ones Tensor:" xOnes
let xRand = Tensor.randLikeAs torch.float32 generator xData   // overrides the dtype of xData
show "Random Tensor:" xRand
try Tensor.randLike generator xData |> ignore
with :? ArgumentException as e -> printfn "randLike on int64 data fails, as in PyTorch:\n  %s\n" e.Message

// With a shape.
let shape = [ 2; 3 ]
show "Random Tensor:" (Tensor.rand generator shape)
show "Ones Tensor:" (Tensor.ones shape)
show "Zeros Tensor:" (Tensor.zeros shape)

// ---- Attributes of a tensor -----------------------------------------------------------------------
let attributes = Tensor.rand generator [ 3; 4 ]
printfn "Shape of tensor: torch.Size([%s])" (String.Join(", ", Tensor.shape attributes))
printfn "Datatype of tensor: %s" (Tensors.DTypeName(Tensor.dtype attributes))
printfn "Device tensor is stored on: %O\n" (Tensor.device attributes)

// ---- Operations on tensors ----------------------------------------------------------------------
// Move to the accelerator when there is one (this build is CPU-only, so Auto resolves to the CPU).
let onDevice = attributes |> Tensor.toDevice Devices.Auto
printfn "Devices.Auto -> %O\n" (Tensor.device onDevice)

// Standard indexing and slicing (F# ranges are inclusive; -1 is the last element).
let t = Tensor.ones [ 4; 4 ]
show "First row:" t.[0]
show "First column:" t.[*, 0]
show "Last column:" t.[*, -1]
t.[*, 1] <- 0.0
show "After t[*, 1] <- 0.0:" t

// Joining tensors.
let t1 = Tensor.cat 1 [ t; t; t ]
show "cat along dim 1:" t1
for name, joined in [ "cat 0", Tensor.cat 0 [ t; t ]; "cat 1", Tensor.cat 1 [ t; t ]
                      "stack 0", Tensor.stack 0 [ t; t ]; "stack 1", Tensor.stack 1 [ t; t ]; "stack 2", Tensor.stack 2 [ t; t ] ] do
    printfn "%-8s of two [4, 4] -> [%s]" name (String.Join(", ", Tensor.shape joined))
printfn ""

// Arithmetic: matrix product (y1 = y2) and element-wise product (z1 = z2).
let y1 = Tensor.matmul t (Tensor.transpose 0 1 t)
let y2 = t.matmul(t.T)
show "Matrix product t @ t.T:" y1
printfn "y1 equals y2: %b\n" (y1.equal(y2).all().item<bool>())
let z1 = t * t
let z2 = Tensor.mul t t
show "Element-wise product t * t:" z1
printfn "z1 equals z2: %b\n" (z1.equal(z2).all().item<bool>())

// Single-element tensors: item gives an F# value.
let agg = Tensor.sum t
let aggItem = Tensor.item<float> agg
printfn "%.1f %O\n" aggItem (aggItem.GetType())

// In-place operations.
show "Before add_(5):" t
Tensor.addInPlace 5.0 t
show "After add_(5):" t
printfn "values now: %A\n" (Tensor.toArray<float32> t |> Array.distinct |> Array.sort)

// Shape mistakes say what was expected and found.
try Tensor.matmul (Tensor.ones [ 2; 3 ]) (Tensor.ones [ 2; 3 ]) |> ignore
with :? ArgumentException as e -> printfn "A shape mistake:\n  %s\n" e.Message

// ---- Bridge with .NET memory (the tutorial's "Bridge with NumPy") ---------------------------------
// Tensor to .NET: a span over the tensor's own memory (PyTorch's t.numpy()); valid while t lives.
let tensorToSpan () =
    use t = Tensor.ones [ 5 ]
    show "t:" t
    let n = Tensor.asSpan<float32> t
    printfn "n: %A" (n.ToArray())
    Tensor.addInPlace 1.0 t                    // a change in the tensor is seen in the span
    show "t:" t
    printfn "n: %A\n" (n.ToArray())
tensorToSpan ()

// .NET array to tensor without a copy (PyTorch's torch.from_numpy).
let n = Array.create 5 1.0
let shared = Tensor.share n
Array.iteri (fun i v -> n.[i] <- v + 1.0) n   // np.add(n, 1, out=n): a change in the array is seen in the tensor
show "t:" shared
printfn "n: %A\n" n

// Copies, when a copy is what you want: into a caller's array, or a MathNet matrix.
let copy = Array.zeroCreate<float> 5
Tensor.copyTo copy shared
let m = Tensor.toMatrix<float> (Tensor.reshape [ 1; 5 ] shared)
printfn "copy: %A, MathNet: %s" copy (m.ToMatrixString().Trim())
