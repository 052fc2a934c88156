using NUnit.Framework;
using TorchSharp;

namespace Functional.Tests;

public class NativeTests
{
    [Test]
    public void LibTorchLoads()
    {
        Native.EnsureLoaded();
        using var t = torch.ones(2, 3);
        Assert.That(t.sum().item<float>(), Is.EqualTo(6f));
    }
}
