using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Layers;

public abstract partial record LayerSpec
{
    /// <summary>A module of a class registered in <see cref="LayerRegistry"/> under <see cref="Type"/>, made by
    /// its factory from <see cref="Options"/>. Its output shape and state are found by building it: it has no formula here.</summary>
    internal sealed record Custom : LayerSpec
    {
        /// <summary>Creates the spec; <paramref name="options"/> must be a JSON object (kept in compact form, so
        /// that equal options give equal specs).</summary>
        /// <exception cref="ArgumentException">The type is empty, or the options are not a JSON object.</exception>
        public Custom(string type, string? options = null)
        {
            ArgumentNullException.ThrowIfNull(type);
            if (string.IsNullOrWhiteSpace(type))
                throw new ArgumentException("A custom layer needs the name its class is registered under (LayerRegistry.Register).", nameof(type));
            Type = type;
            if (options is not null)
            {
                JsonNode? node;
                try { node = JsonNode.Parse(options); }
                catch (JsonException e)
                {
                    throw new ArgumentException($"The options of the custom layer \"{type}\" are not valid JSON ({e.Message}); pass a JSON object such as {{\"factor\":2}}.", nameof(options), e);
                }
                if (node is not JsonObject o)
                    throw new ArgumentException($"The options of the custom layer \"{type}\" must be a JSON object such as {{\"factor\":2}}, found {options}.", nameof(options));
                Options = o.ToJsonString();
            }
        }

        /// <summary>The name the class is registered under.</summary>
        public string Type { get; }

        /// <summary>The options given to the factory, as compact JSON of an object; null for none.</summary>
        public string? Options { get; }

        /// <inheritdoc/>
        /// <remarks>Builds the module and runs one zero sample through it (in eval mode, without gradients), and
        /// leaves LibTorch's global generator as it found it, so that asking for a shape draws no random numbers.</remarks>
        public override long[] OutputShape(IReadOnlyList<long> inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            Native.EnsureLoaded();
            using var state = torch.get_rng_state();
            try
            {
                using var module = Create();
                return ShapeOf(module, inputShape);
            }
            finally
            {
                torch.set_rng_state(state);
            }
        }

        /// <remarks>With a generator, the factory runs with LibTorch's global generator seeded by one number drawn from
        /// it, and the global generator's state is put back afterwards: the module's own initialisation (which draws
        /// from the global generator, as PyTorch's modules do) is then reproducible from the build's seed, as the
        /// built-in layers are, and the caller's global random stream is left as it was.</remarks>
        internal override nn.Module<Tensor, Tensor> BuildModule(long[] inputShape, Generator? generator)
        {
            var module = generator is null ? Create() : CreateSeeded(generator);
            try
            {
                ShapeOf(module, inputShape);   // fails here, not at the first batch, when the module cannot take the shape
                return module;
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }

        internal override long[] OutputShapeOf(nn.Module<Tensor, Tensor> built, long[] inputShape) => ShapeOf(built, inputShape);

        nn.Module<Tensor, Tensor> CreateSeeded(Generator generator)
        {
            long seed;
            using (var draw = torch.randint(long.MaxValue, [1], ScalarType.Int64, generator.device, generator: generator)) seed = draw.ToInt64();
            using var state = torch.get_rng_state();
            torch.manual_seed(seed);
            try
            {
                return Create();
            }
            finally
            {
                torch.set_rng_state(state);
            }
        }

        nn.Module<Tensor, Tensor> Create()
        {
            try { return LayerRegistry.Create(Type, Options); }
            catch (ArgumentException e) when (e.ParamName == "type") { throw new ArgumentException(e.Message, "inputShape", e); }
        }

        /// <summary>The per-sample output shape of <paramref name="module"/> for a zero sample of <paramref name="inputShape"/>.</summary>
        long[] ShapeOf(nn.Module<Tensor, Tensor> module, IReadOnlyList<long> inputShape)
        {
            var training = module.training;
            try
            {
                module.eval();
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var first = module.parameters().FirstOrDefault();
                var dtype = first is not null && first.is_floating_point() ? first.dtype : ScalarType.Float32;
                var input = zeros(new long[] { 1 }.Concat(inputShape).ToArray(), dtype, first?.device ?? CPU);
                var shape = module.call(input).shape;
                if (shape.Length == 0 || shape[0] != 1)
                    throw ShapeError(Type, inputShape, $"its output for a batch of one has shape {Shapes.Text(shape)}, not a batch of one");
                return shape[1..];
            }
            catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or InvalidOperationException or (ArgumentException and not ArgumentNullException) && e is not ArgumentException { ParamName: "inputShape" })
            {
                throw ShapeError(Type, inputShape, $"its forward pass failed: {Printable.OneLine(e)}");
            }
            finally
            {
                module.train(training);
            }
        }

        /// <summary>The type and options, e.g. <c>Custom { Type = Scale, Options = {"factor":2} }</c>.</summary>
        public override string ToString() => $"Custom {{ Type = {Type}, Options = {Options ?? "{}"} }}";
    }
}
