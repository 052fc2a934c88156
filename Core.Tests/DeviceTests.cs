using NUnit.Framework;
using TorchSharp;

namespace Functional.Tests;

public class DeviceTests
{
    [TestCase("cpu", "cpu")]
    [TestCase("CPU", "cpu")]
    [TestCase("cuda", "cuda:0")]
    [TestCase(" cuda:3 ", "cuda:3")]
    public void ParsesWhatTheCommandLineTakes(string text, string expected) =>
        Assert.That(Devices.Parse(text).ToString(), Is.EqualTo(expected));

    [TestCase("gpu")]
    [TestCase("cuda:-1")]
    [TestCase("cuda:x")]
    public void RefusesOtherText(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse(text))!;
        Assert.That(e.Message, Does.Contain(text).And.Contain("cpu, cuda, cuda:N or auto"));
    }

    [Test]
    public void AutoIsCudaExactlyWhenCudaIsAvailable()
    {
        var expected = Devices.IsCudaAvailable ? "cuda:0" : "cpu";
        Assert.That(Devices.Auto.ToString(), Is.EqualTo(expected));
        Assert.That(Devices.Parse("auto").ToString(), Is.EqualTo(expected), "the command line's auto is Devices.Auto");
        using var t = torch.zeros(2, device: Devices.Auto);
        Assert.That(t.device.ToString(), Is.EqualTo(expected));
    }

    [Test]
    public void AskingForMissingCudaSaysWhatToDo()
    {
        if (Devices.IsCudaAvailable) Assert.Ignore("this machine has CUDA; the message for its absence cannot be produced here.");
        var e = Assert.Throws<InvalidOperationException>(() => Devices.Check(Devices.Cuda(0)))!;
        Assert.That(e.Message, Does.Contain("cuda:0").And.Contain("CUDA is not available").And.Contain("Devices.Cpu"));
        Assert.That(Devices.CudaDeviceCount, Is.EqualTo(0));
        Assert.That(Devices.Describe(), Does.StartWith("CUDA: not available"));
    }
}
