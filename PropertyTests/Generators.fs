/// Reusable FsCheck generators for tensor tests: shapes (sizes 0 and 1 included), dtypes, and values
/// (boundary values such as 0, ±1 and the extremes of a dtype included). Tests build tensors from
/// the generated data themselves, so that every native tensor has an owner that disposes it.
module Functional.PropertyTests.Generators

open FsCheck
open FsCheck.FSharp
open TorchSharp

/// The live tensor count after a full garbage collection. Tensors that earlier tests left to the
/// finalizer are freed first, so that a later comparison counts only what the code under test did
/// (a finalizer running in the middle would otherwise lower the count at a random moment).
let settledTensorCount () =
    System.GC.Collect()
    System.GC.WaitForPendingFinalizers()
    System.GC.Collect()
    torch.Tensor.TotalCount

/// Shapes of rank 0..maxRank with sizes 0..maxSize; sizes 0 and 1 come up often.
let shapeWith (maxRank: int) (maxSize: int) : Gen<int64[]> =
    gen {
        let! rank = Gen.choose (0, maxRank)
        let size = Gen.frequency [ 1, Gen.constant 0; 2, Gen.constant 1; 5, Gen.choose (0, maxSize) ]
        let! dims = Gen.arrayOfLength rank size
        return dims |> Array.map int64
    }

/// Shapes of rank 1..maxRank with sizes 1..maxSize (no empty tensors, no scalars).
let nonEmptyShapeWith (maxRank: int) (maxSize: int) : Gen<int64[]> =
    gen {
        let! rank = Gen.choose (1, maxRank)
        let! dims = Gen.arrayOfLength rank (Gen.frequency [ 1, Gen.constant 1; 3, Gen.choose (1, maxSize) ])
        return dims |> Array.map int64
    }

/// Shapes of rank 0..4 with sizes 0..4.
let shapes : Gen<int64[]> = shapeWith 4 4

/// The dtypes the library creates and prints.
let dtypes : Gen<torch.ScalarType> =
    Gen.elements [ torch.ScalarType.Float32; torch.ScalarType.Float64; torch.ScalarType.Int64
                   torch.ScalarType.Int32; torch.ScalarType.Int16; torch.ScalarType.Byte; torch.ScalarType.Bool ]

/// The floating dtypes autograd works with.
let floatDtypes : Gen<torch.ScalarType> = Gen.elements [ torch.ScalarType.Float32; torch.ScalarType.Float64 ]

/// Values a tensor of the dtype can hold exactly, boundary values included.
let valuesOf (dtype: torch.ScalarType) : Gen<float> =
    let boundary, range =
        match dtype with
        | torch.ScalarType.Bool -> [ 0.0; 1.0 ], Gen.elements [ 0.0; 1.0 ]
        | torch.ScalarType.Byte -> [ 0.0; 1.0; 255.0 ], Gen.choose (0, 255) |> Gen.map float
        | torch.ScalarType.Int16 -> [ 0.0; 1.0; -1.0; 32767.0; -32768.0 ], Gen.choose (-1000, 1000) |> Gen.map float
        | torch.ScalarType.Int32 | torch.ScalarType.Int64 ->
            [ 0.0; 1.0; -1.0; 2147483647.0; -2147483648.0 ], Gen.choose (-100000, 100000) |> Gen.map float
        | _ ->
            // Multiples of 1/64 are exact in float32 and float64.
            [ 0.0; 1.0; -1.0; 0.5; -0.015625 ], Gen.choose (-64000, 64000) |> Gen.map (fun i -> float i / 64.0)
    Gen.frequency [ 1, Gen.elements boundary; 4, range ]

/// Smooth-function inputs: finite values in [-2, 2], 0 included.
let smallValues : Gen<float> =
    Gen.frequency [ 1, Gen.elements [ 0.0; 1.0; -1.0 ]; 6, Gen.choose (-2000, 2000) |> Gen.map (fun i -> float i / 1000.0) ]

/// The data of a tensor: shape, dtype and row-major values.
type TensorData =
    { Shape: int64[]; DType: torch.ScalarType; Values: float[] }

    /// A new CPU tensor holding the data.
    member d.ToTensor() : torch.Tensor =
        Functional.Native.EnsureLoaded()
        use flat = torch.tensor(d.Values: float[])
        use t = flat.reshape(d.Shape)
        t.``to``(d.DType, copy = true)

    override d.ToString() =
        sprintf "%A %A %A" d.DType d.Shape (if d.Values.Length > 12 then Array.append d.Values.[.. 11] [| nan |] else d.Values)

/// Tensor data of a shape and dtype from the generators above.
let tensorDataWith (shape: Gen<int64[]>) (dtype: Gen<torch.ScalarType>) : Gen<TensorData> =
    gen {
        let! s = shape
        let! dt = dtype
        let! values = Gen.arrayOfLength (int (Array.fold (*) 1L s)) (valuesOf dt)
        return { Shape = s; DType = dt; Values = values }
    }

/// Float64 tensor data with smooth-function inputs, of non-empty shapes of rank 1..2 and size 1..3.
let smoothData : Gen<TensorData> =
    gen {
        let! s = nonEmptyShapeWith 2 3
        let! values = Gen.arrayOfLength (int (Array.fold (*) 1L s)) smallValues
        return { Shape = s; DType = torch.ScalarType.Float64; Values = values }
    }

/// Arbitrary instances for `[<Property(Arbitrary = [| typeof<Arbitraries> |])>]`.
type Arbitraries =
    /// Any dtype, any small shape, boundary values included.
    static member TensorData() : Arbitrary<TensorData> = Arb.fromGen (tensorDataWith shapes dtypes)
    /// A dtype.
    static member DType() : Arbitrary<torch.ScalarType> = Arb.fromGen dtypes
