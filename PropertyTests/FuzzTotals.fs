namespace Functional.PropertyTests

open NUnit.Framework

/// Prints the fuzz run's totals once every test of the assembly has run: "fuzz: N inputs, M crashes".
[<SetUpFixture>]
type FuzzTotals() =
    [<OneTimeTearDown>]
    member _.PrintTotals() =
        if FuzzHarness.totalInputs > 0 then
            TestContext.Progress.WriteLine
                $"fuzz: {FuzzHarness.totalInputs} inputs, {FuzzHarness.totalViolations} crashes or other breaches of the contract, {FuzzHarness.totalTime.TotalSeconds:F1} s in the readers (FUNCTIONAL_FUZZ_SEED={FuzzHarness.seed})"
