// PyTorch "Learn the Basics", section "Automatic differentiation with torch.autograd"
// (autogradqs_tutorial), in F#, followed by the functional differentiation of the DSL.
//   dotnet build Examples -c Release && dotnet fsi Examples/05-autograd.fsx
#load "Setup.fsx"

open System
open TorchSharp
open Functional
open Functional.FSharp

fsi.AddPrinter<torch.Tensor>(Tensor.format)
let generator = new torch.Generator(0UL)

// ---- A one-layer network: z = x @ w + b, binary cross-entropy loss ---------------------------------
let x = Tensor.ones [ 5 ]                                           // input tensor
let y = Tensor.zeros [ 3 ]                                          // expected output
let w = Tensor.randn generator [ 5; 3 ] |> Tensor.setRequiresGrad true
let b = Tensor.randn generator [ 3 ] |> Tensor.setRequiresGrad true
let z = Tensor.add (Tensor.matmul x w) b
let loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

// PyTorch prints z.grad_fn as <AddBackward0 ...>. TorchSharp 0.107 does not expose the autograd
// node's name, so all we can say honestly is whether there is one.
printfn "z has a grad_fn: %b, loss has a grad_fn: %b, w (a leaf) has one: %b" (Tensor.hasGradFn z) (Tensor.hasGradFn loss) (Tensor.hasGradFn w)

// ---- Computing gradients ------------------------------------------------------------------------
Tensor.backward loss
let wGrad = (Tensor.grad w).Value
let bGrad = (Tensor.grad b).Value
Tensor.print wGrad
Tensor.print bGrad
// By hand: dloss/dz = (sigmoid(z) - y) / 3, so b.grad = that and w.grad = outer(x, that).
let expected = (Tensor.sigmoid (Tensor.detach z) - y) / 3.0
printfn "b.grad matches (sigmoid(z) - y) / 3: %b" (bGrad.allclose(expected))
printfn "w.grad matches outer(x, b.grad): %b\n" (wGrad.allclose(x.outer(expected)))

// A second backward through the same graph needs retainGraph on the first.
try Tensor.backward loss
with :? InvalidOperationException as e -> printfn "A second backward:\n  %s\n" e.Message

// ---- Disabling gradient tracking ----------------------------------------------------------------
let z2 = Tensor.add (Tensor.matmul x w) b
printfn "requires_grad: %b" (Tensor.requiresGrad z2)
do
    use _ = noGrad ()
    let z3 = Tensor.add (Tensor.matmul x w) b
    printfn "requires_grad under noGrad: %b" (Tensor.requiresGrad z3)
let zDet = Tensor.detach z2
printfn "requires_grad after detach: %b\n" (Tensor.requiresGrad zDet)

// ---- Optional reading: tensor gradients and Jacobian products ------------------------------------
let inp = torch.eye(4L, 5L) |> Tensor.setRequiresGrad true
let out = ((inp + 1.0).pow(torch.tensor(2.0f))).t()
Tensor.backwardWith (Tensor.onesLike out) true out
printfn "First call\n%s" (Tensor.format (Tensor.grad inp).Value)
Tensor.backwardWith (Tensor.onesLike out) true out
printfn "\nSecond call (gradients accumulate)\n%s" (Tensor.format (Tensor.grad inp).Value)
Tensor.zeroGrad [ inp ]
Tensor.backwardWith (Tensor.onesLike out) true out
printfn "\nCall after zeroing gradients\n%s\n" (Tensor.format (Tensor.grad inp).Value)

// ---- Functional differentiation (DiffSharp style) -------------------------------------------------
let f (t: torch.Tensor) = (t * t * t).sum()
let at = tensorOf torch.float64 [ 1.0; 2.0; 3.0 ]
printfn "grad (sum x^3) at [1, 2, 3]    = %s" (Tensor.format (grad f at))
printfn "hessian (sum x^3) at [1, 2, 3] =\n%s" (Tensor.format (hessian f at))
printfn "jacobian sin at [1, 2, 3]      =\n%s" (Tensor.format (jacobian Tensor.sin at))
let v = tensorOf torch.float64 [ 1.0; 0.0; -1.0 ]
printfn "jvp (x^2) along [1, 0, -1]      = %s" (Tensor.format (jvp (fun t -> t * t) at v))
printfn "vjp (x^2) with [1, 0, -1]       = %s" (Tensor.format (vjp (fun t -> t * t) at v))
// Nesting works: d/dx (x * d/dy (x + y)) = 1 (no perturbation confusion).
let x0 = tensorOf torch.float64 3.0
printfn "d/dx (x * d/dy (x + y)) at 3   = %s" (Tensor.format (diff (fun x -> x * diff (fun y -> x + y) x) x0))
// And every derivative can be checked against central differences.
printfn "%O" (gradcheck (fun t -> Tensor.tanh t * t) at)
printfn "%O" (gradgradcheck (fun t -> (Tensor.tanh t * t).sum()) at)
