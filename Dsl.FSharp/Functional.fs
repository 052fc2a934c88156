namespace Functional.FSharp

open System
open System.Runtime.InteropServices
open TorchSharp
open Functional
open Functional.Training

/// A convolution's padding, PyTorch's `padding` argument of `F.conv2d`: zeros on every side, or its
/// strings `'same'` and `'valid'`.
[<RequireQualifiedAccess>]
type ConvPadding =
    /// This many zeros on every side (PyTorch's `padding=1`).
    | Pixels of int
    /// Pads so that the output keeps the input's height and width (stride 1 only), PyTorch's
    /// `padding='same'`: when the kernel's span is even, the extra zero goes to the right and the bottom.
    | Same
    /// No padding, PyTorch's `padding='valid'` (the same as `Pixels 0`).
    | Valid

/// The settings of `F.conv2dWith`, PyTorch's arguments of `F.conv2d` with its defaults (`F.conv2dDefaults`);
/// each applies to both dimensions, as in `Layer.conv2d`.
type Conv2dOptions =
    { /// The step between kernel positions (`stride`, default 1).
      Stride: int
      /// Zeros added on every side, or 'same' / 'valid' (`padding`, default 0).
      Padding: ConvPadding
      /// The spacing between kernel elements (`dilation`, default 1).
      Dilation: int
      /// Blocked connections: input and output channels split into this many groups (`groups`, default 1).
      Groups: int }

/// The settings of `F.maxPool2dWith`, PyTorch's arguments of `F.max_pool2d` with its defaults (`F.maxPool2dDefaults`).
type MaxPool2dOptions =
    { /// The step between windows; `None` is the kernel size (`stride=None`).
      Stride: int option
      /// Negative-infinity padding on every side, at most half the window (`padding`, default 0).
      Padding: int
      /// The spacing between window elements (`dilation`, default 1).
      Dilation: int
      /// Rounds the output size up instead of down (`ceil_mode`, default false).
      CeilMode: bool }

/// The functional forms of the layers, PyTorch's `torch.nn.functional` (imported there as `F`): the same
/// computations as the layers, with the weights passed in rather than held, for a model's `forward`
/// written by hand:
///
///     override _.forward x =
///         x |> F.conv2d w1 (Some b1) |> F.relu |> F.maxPool2d 2
///           |> Tensor.reshape [ -1; 1440 ] |> F.linear w2 (Some b2) |> F.logSoftmax 1
///
/// Each is LibTorch's kernel (so values and gradients are PyTorch's), subject last so that it pipes, with
/// the shapes checked first: a mismatch is an `ArgumentException` that names the function, the shapes and
/// the fix. Every result is a new tensor; the inputs are never changed or disposed.
[<RequireQualifiedAccess>]
module F =
    let private shapeText (shape: int64[]) = Tensors.ShapeText shape

    let private fail (name: string) (argument: string) (message: string) : 'T =
        invalidArg argument (String.Format("F.{0}: {1}", name, message))

    /// Runs a LibTorch call; an error it reports (a dtype or device mismatch, say) becomes an ArgumentException in one line.
    let private native (name: string) (input: torch.Tensor) (op: unit -> torch.Tensor) =
        try op ()
        with :? ExternalException as e ->
            fail name (nameof input) (String.Format("LibTorch refused an input of shape {0} ({1}): {2}", shapeText input.shape,
                                                     Tensors.DTypeName input.dtype, e.Message.Split('\n').[0]))

    let private notNull (name: string) (argument: string) (t: torch.Tensor) =
        if isNull t then fail name argument "the tensor is null."

    // ---- activations -------------------------------------------------------------------------

    /// max(0, x) element-wise, PyTorch's `F.relu(x)`.
    let relu (input: torch.Tensor) : torch.Tensor =
        notNull "relu" (nameof input) input
        Tensor.relu input

    let private checkDim (name: string) (dim: int) (input: torch.Tensor) =
        let rank = int (input.dim())
        if dim < -(max rank 1) || dim >= max rank 1 then
            fail name (nameof dim) (String.Format("dim {0} is out of range for an input of shape {1}; use 0 to {2} (or -1 for the last).", dim, shapeText input.shape, max rank 1 - 1))

    /// The softmax along `dim` (the values along it are positive and sum to 1), PyTorch's `F.softmax(x, dim)`.
    let softmax (dim: int) (input: torch.Tensor) : torch.Tensor =
        notNull "softmax" (nameof input) input
        checkDim "softmax" dim input
        native "softmax" input (fun () -> Tensor.softmax dim input)

    /// The log of the softmax along `dim`, computed stably, PyTorch's `F.log_softmax(x, dim)`.
    let logSoftmax (dim: int) (input: torch.Tensor) : torch.Tensor =
        notNull "logSoftmax" (nameof input) input
        checkDim "logSoftmax" dim input
        native "logSoftmax" input (fun () -> Tensor.logSoftmax dim input)

    // ---- loss ---------------------------------------------------------------------------------

    /// Cross-entropy of logits `input` ([N, C] or [N, C, d1, ...]) against class indices or class
    /// probabilities, mean over the samples, PyTorch's `F.cross_entropy(input, target)`; the same function as
    /// `Loss.crossEntropy`.
    let crossEntropy (input: torch.Tensor) (target: torch.Tensor) : torch.Tensor =
        Losses.CrossEntropy().Invoke(input, target)

    /// Cross-entropy with PyTorch's options (`weight`, `ignore_index`, `label_smoothing`, `reduction`):
    /// `F.crossEntropyWith { Loss.crossEntropyDefaults with LabelSmoothing = 0.1 } logits target`.
    let crossEntropyWith (options: CrossEntropyOptions) (input: torch.Tensor) (target: torch.Tensor) : torch.Tensor =
        (Loss.crossEntropyWithOptions options).Invoke(input, target)

    // ---- dropout ------------------------------------------------------------------------------

    let private checkProbability (name: string) (p: float) =
        if not (p >= 0.0 && p <= 1.0) then
            fail name (nameof p) (String.Format("the probability p must be in [0, 1], found {0}.", p))

    /// While `training`, zeroes each element with probability `p` and scales the others by 1/(1 − p); otherwise
    /// passes the input through (a new tensor sharing its values). PyTorch's `F.dropout(x, p, training)`: unlike
    /// the layer, the function does not follow the model's mode, so pass `this.training` from a `forward`.
    /// The zeros are drawn from LibTorch's global generator (seed it with `torch.manual_seed`).
    let dropout (p: float) (training: bool) (input: torch.Tensor) : torch.Tensor =
        notNull "dropout" (nameof input) input
        checkProbability "dropout" p
        if not training then input.alias()
        else native "dropout" input (fun () -> torch.nn.functional.dropout(input, p, true))

    /// `dropout` drawing its zeros from `generator`: the same seed gives the same zeros. On the CPU it draws
    /// exactly as `dropout` does from a global generator in the same state (one Bernoulli(1 − p) per element).
    let dropoutFrom (generator: torch.Generator) (p: float) (training: bool) (input: torch.Tensor) : torch.Tensor =
        notNull "dropoutFrom" (nameof input) input
        if isNull generator then nullArg (nameof generator)
        checkProbability "dropoutFrom" p
        if not training || p = 0.0 then input.alias()
        elif p = 1.0 then
            use zero = (0.0).ToScalar()      // kept through the call (see Tensor.addInPlace)
            input.mul(zero)
        else
            // LibTorch's CPU dropout: noise = empty_like(x).bernoulli_(1 - p).div_(1 - p); x * noise.
            use noise = torch.empty_like(input)
            use keep = (1.0 - p).ToScalar()
            noise.bernoulli_(1.0 - p, generator).div_(keep) |> ignore
            native "dropoutFrom" input (fun () -> input * noise)

    // ---- linear -------------------------------------------------------------------------------

    /// x·Wᵀ + b over the last dimension, PyTorch's `F.linear(x, weight, bias)`: `weight` is [out, in] (as a
    /// Linear layer's), `bias` is `Some` [out] or `None`, and the input's last dimension is `in`.
    let linear (weight: torch.Tensor) (bias: torch.Tensor option) (input: torch.Tensor) : torch.Tensor =
        notNull "linear" (nameof input) input
        notNull "linear" (nameof weight) weight
        if weight.dim() <> 2L then
            fail "linear" (nameof weight) (String.Format("the weight must be 2-D [out_features, in_features], found {0}.", shapeText weight.shape))
        if input.dim() < 1L || input.shape.[input.shape.Length - 1] <> weight.shape.[1] then
            fail "linear" (nameof input) (String.Format("an input of shape {0} does not fit a weight of shape {1}: the last dimension must be {2} (in_features).",
                                                         shapeText input.shape, shapeText weight.shape, weight.shape.[1]))
        match bias with
        | Some b when isNull b -> fail "linear" (nameof bias) "the bias is Some null; pass None for no bias."
        | Some b when not (b.dim() = 0L || (b.dim() = 1L && b.shape.[0] = weight.shape.[0])) ->
            fail "linear" (nameof bias) (String.Format("the bias must be [{0}] (out_features), found {1}.", weight.shape.[0], shapeText b.shape))
        | _ -> ()
        native "linear" input (fun () -> torch.nn.functional.linear(input, weight, Option.toObj bias))

    // ---- convolution and pooling --------------------------------------------------------------

    /// PyTorch's defaults: stride 1, no padding, dilation 1, one group.
    let conv2dDefaults : Conv2dOptions = { Stride = 1; Padding = ConvPadding.Pixels 0; Dilation = 1; Groups = 1 }

    /// A 2-d convolution with `options`, PyTorch's `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`:
    /// `input` is [N, C, H, W] (or [C, H, W]), `weight` is [out, C / groups, kH, kW] (as a Conv2d layer's), `bias`
    /// is `Some` [out] or `None`.
    let conv2dWith (options: Conv2dOptions) (weight: torch.Tensor) (bias: torch.Tensor option) (input: torch.Tensor) : torch.Tensor =
        let name = "conv2d"
        notNull name (nameof input) input
        notNull name (nameof weight) weight
        let o = options
        if o.Stride < 1 || o.Dilation < 1 || o.Groups < 1 then
            fail name (nameof options) (String.Format("stride, dilation and groups must be 1 or more, found stride {0}, dilation {1}, groups {2}.", o.Stride, o.Dilation, o.Groups))
        let pixels =
            match o.Padding with
            | ConvPadding.Pixels p when p < 0 -> fail name (nameof options) (String.Format("padding must be 0 or more, found {0}.", p))
            | ConvPadding.Pixels p -> Some p
            | ConvPadding.Valid -> Some 0
            | ConvPadding.Same when o.Stride <> 1 -> fail name (nameof options) (String.Format("padding 'same' needs stride 1, as in PyTorch (found stride {0}); give the padding in pixels instead.", o.Stride))
            | ConvPadding.Same -> None
        if weight.dim() <> 4L then
            fail name (nameof weight) (String.Format("the weight must be 4-D [out_channels, in_channels / groups, kH, kW], found {0}.", shapeText weight.shape))
        let rank = input.dim()
        if rank <> 3L && rank <> 4L then
            fail name (nameof input) (String.Format("the input must be [N, C, H, W] or [C, H, W], found {0}; add the channel dimension (unsqueeze 1) for gray images.", shapeText input.shape))
        let s = input.shape
        let channels, height, width = s.[s.Length - 3], s.[s.Length - 2], s.[s.Length - 1]
        let w = weight.shape
        let groups = int64 o.Groups
        if channels % groups <> 0L || w.[0] % groups <> 0L then
            fail name (nameof options) (String.Format("groups {0} must divide both the {1} input channels and the {2} output channels.", groups, channels, w.[0]))
        if channels / groups <> w.[1] then
            fail name (nameof input) (String.Format("an input with {0} channels in {1} group(s) needs a weight of [*, {2}, kH, kW], found {3}.", channels, groups, channels / groups, shapeText w))
        match bias with
        | Some b when isNull b -> fail name (nameof bias) "the bias is Some null; pass None for no bias."
        | Some b when not (b.dim() = 1L && b.shape.[0] = w.[0]) ->
            fail name (nameof bias) (String.Format("the bias must be [{0}] (out_channels), found {1}.", w.[0], shapeText b.shape))
        | _ -> ()
        let dilation = int64 o.Dilation
        let spanH, spanW = dilation * (w.[2] - 1L) + 1L, dilation * (w.[3] - 1L) + 1L
        let pad = defaultArg pixels 0 |> int64
        if pixels.IsSome && (height + 2L * pad < spanH || width + 2L * pad < spanW) then
            fail name (nameof input) (String.Format("the kernel spans {0}x{1} pixels (dilation {2}), more than the padded image of {3}x{4}.", spanH, spanW, dilation, height + 2L * pad, width + 2L * pad))
        let b = Option.toObj bias
        let stride = [| int64 o.Stride |]
        let dilations = [| dilation |]
        match pixels with
        | Some p -> native name input (fun () -> torch.nn.functional.conv2d(input, weight, b, stride, [| int64 p |], dilations, groups))
        | None ->
            // PyTorch's 'same': total padding dilation·(k − 1) per dimension, left = total / 2, the rest right;
            // symmetric padding goes to the kernel, an odd total pads the input first (as ATen does).
            let totalH, totalW = spanH - 1L, spanW - 1L
            if totalH % 2L = 0L && totalW % 2L = 0L then
                native name input (fun () -> torch.nn.functional.conv2d(input, weight, b, stride, [| totalH / 2L; totalW / 2L |], dilations, groups))
            else
                use padded = torch.nn.functional.pad(input, [| totalW / 2L; totalW - totalW / 2L; totalH / 2L; totalH - totalH / 2L |])
                native name input (fun () -> torch.nn.functional.conv2d(padded, weight, b, stride, [| 0L |], dilations, groups))

    /// A 2-d convolution with PyTorch's defaults (stride 1, no padding), `F.conv2d(x, weight, bias)`.
    let conv2d (weight: torch.Tensor) (bias: torch.Tensor option) (input: torch.Tensor) : torch.Tensor =
        conv2dWith conv2dDefaults weight bias input

    /// PyTorch's defaults: stride = kernel size, no padding, dilation 1, floor.
    let maxPool2dDefaults : MaxPool2dOptions = { Stride = None; Padding = 0; Dilation = 1; CeilMode = false }

    /// 2-d max pooling over `kernelSize` × `kernelSize` windows of an [N, C, H, W] (or [C, H, W]) input, with
    /// `options`, PyTorch's `F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)`.
    let maxPool2dWith (options: MaxPool2dOptions) (kernelSize: int) (input: torch.Tensor) : torch.Tensor =
        let name = "maxPool2d"
        notNull name (nameof input) input
        let o = options
        let stride = defaultArg o.Stride kernelSize
        if kernelSize < 1 || stride < 1 || o.Dilation < 1 then
            fail name (nameof options) (String.Format("kernel size, stride and dilation must be 1 or more, found {0}, {1} and {2}.", kernelSize, stride, o.Dilation))
        let span = int64 o.Dilation * int64 (kernelSize - 1) + 1L
        if o.Padding < 0 || int64 o.Padding * 2L > span then
            fail name (nameof options) (String.Format("padding must be between 0 and half the window's span ({0}), found {1}.", span / 2L, o.Padding))
        let rank = input.dim()
        if rank <> 3L && rank <> 4L then
            fail name (nameof input) (String.Format("the input must be [N, C, H, W] or [C, H, W], found {0}.", shapeText input.shape))
        let s = input.shape
        let height, width = s.[s.Length - 2], s.[s.Length - 1]
        let pad = int64 o.Padding
        if height + 2L * pad < span || width + 2L * pad < span then
            fail name (nameof input) (String.Format("the window spans {0} pixels, more than the padded image of {1}x{2}.", span, height + 2L * pad, width + 2L * pad))
        native name input (fun () ->
            torch.nn.functional.max_pool2d(input, [| int64 kernelSize |], [| int64 stride |], [| pad |], [| int64 o.Dilation |], o.CeilMode))

    /// 2-d max pooling with PyTorch's defaults (stride = kernel size), `F.max_pool2d(x, kernel_size)`.
    let maxPool2d (kernelSize: int) (input: torch.Tensor) : torch.Tensor =
        maxPool2dWith maxPool2dDefaults kernelSize input
