Functional.Native.EnsureLoaded();
Console.WriteLine("benchmarks");
