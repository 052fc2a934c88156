namespace Functional.PropertyTests

open NUnit.Framework

/// Prints the fuzz run's totals once every test of the assembly has run: "fuzz: N inputs, M crashes". Not named
/// after the fuzz tests: a filter on their name would match this fixture, and with it every test of the namespace.
[<SetUpFixture>]
type RunTotals() =
    [<OneTimeTearDown>]
    member _.PrintTotals() =
        if FuzzHarness.totalInputs > 0 then
            TestContext.Progress.WriteLine
                $"fuzz: {FuzzHarness.totalInputs} inputs, {FuzzHarness.totalViolations} crashes or other breaches of the contract, {FuzzHarness.totalTime.TotalSeconds:F1} s in the readers (FUNCTIONAL_FUZZ_SEED={FuzzHarness.seed})"
