/// Small assertion helpers shared by the test files.
[<AutoOpen>]
module Functional.PropertyTests.Assertions

open System
open System.IO
open NUnit.Framework
open TorchSharp

/// Asserts that `f` throws `'E` (not a subtype's sibling, not nothing) and returns the exception.
let throws<'E when 'E :> exn> (f: unit -> unit) : 'E = Assert.Throws<'E>(Action f)

/// NUnit's equality constraint, for values of any type (F# values need boxing).
let equalTo (expected: obj) = Is.EqualTo expected

/// Asserts that `actual` equals `expected`.
let equal (expected: obj) (actual: obj) = Assert.That(actual, Is.EqualTo(expected))

/// Asserts that `text` contains `part`.
let contains (part: string) (text: string) = Assert.That(text, Does.Contain(part))

/// Same shape, same dtype, same values (exactly).
let same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && a.dtype = b.dtype && (use e = a.eq b in use all = e.all() in all.item<bool>())

/// A new empty folder under the temporary folder, named after `prefix`.
let tempFolder (prefix: string) =
    let dir = Path.Combine(Path.GetTempPath(), $"functional-{prefix}-{Guid.NewGuid():N}")
    Directory.CreateDirectory dir |> ignore
    dir
