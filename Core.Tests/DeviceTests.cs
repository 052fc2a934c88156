using NUnit.Framework;
using TorchSharp;

namespace Functional.Tests;

public class DeviceTests
{
    [TestCase("cpu", "cpu")]
    [TestCase("CPU", "cpu")]
    [TestCase("auto", "auto")]
    [TestCase("cuda", "cuda:0")]
    [TestCase(" cuda:3 ", "cuda:3")]
    public void ParsesWhatTheCommandLineTakes(string text, string expected) =>
        Assert.That(Device.Parse(text).ToString(), Is.EqualTo(expected));

    [TestCase("gpu")]
    [TestCase("cuda:-1")]
    [TestCase("cuda:x")]
    public void RefusesOtherText(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => Device.Parse(text))!;
        Assert.That(e.Message, Does.Contain(text).And.Contain("cpu, cuda, cuda:N or auto"));
    }

    [Test]
    public void AutoIsCudaExactlyWhenCudaIsAvailable()
    {
        var resolved = Device.Auto.Resolve();
        Assert.That(resolved, Is.EqualTo(CudaInfo.IsAvailable ? Device.Cuda(0) : Device.Cpu));
        using var t = torch.zeros(2, device: Device.Auto.ToTorch());
        Assert.That(Device.Of(t), Is.EqualTo(resolved));
    }

    [Test]
    public void AskingForMissingCudaSaysWhatToDo()
    {
        if (CudaInfo.IsAvailable) Assert.Ignore("this machine has CUDA; the message for its absence cannot be produced here.");
        var e = Assert.Throws<InvalidOperationException>(() => Device.Cuda(0).ToTorch())!;
        Assert.That(e.Message, Does.Contain("cuda:0").And.Contain("CUDA is not available").And.Contain("Device.Cpu"));
        Assert.That(CudaInfo.DeviceCount, Is.EqualTo(0));
        Assert.That(CudaInfo.Describe(), Does.StartWith("CUDA: not available"));
    }
}
