/// The public surface of both packages, checked against the listings in `api/`: a public type or
/// member added, changed or removed fails this test until the listing is updated, so that growing
/// the promise is a visible decision in review. To accept a change, run the tests with
/// FUNCTIONAL_UPDATE_API=1 and commit the rewritten `api/*.txt`.
module Functional.Tests.PublicApiTests

open System
open System.IO
open System.Reflection
open NUnit.Framework

let rec private typeName (t: Type) : string =
    if t.IsGenericParameter then t.Name
    elif t.IsArray then typeName (t.GetElementType()) + "[" + String(',', t.GetArrayRank() - 1) + "]"
    elif t.IsByRef then typeName (t.GetElementType()) + "&"
    elif t.IsGenericType then
        let name = t.Name
        let tick = name.IndexOf '`'
        let bare = if tick < 0 then name else name.Substring(0, tick)
        let outer = if t.IsNested then typeName t.DeclaringType + "." else ""
        outer + bare + "<" + String.Join(", ", t.GetGenericArguments() |> Array.map typeName) + ">"
    elif t.IsNested then typeName t.DeclaringType + "." + t.Name
    else t.Name

let private parameters (ps: ParameterInfo[]) =
    String.Join(", ", ps |> Array.map (fun p -> typeName p.ParameterType + (if p.IsOptional then "?" else "")))

let private kind (t: Type) =
    if t.IsEnum then "enum"
    elif t.IsInterface then "interface"
    elif t.IsValueType then "struct"
    elif typeof<Delegate>.IsAssignableFrom t then "delegate"
    elif t.IsAbstract && t.IsSealed then "static class"
    elif t.IsAbstract then "abstract class"
    else "class"

/// One line per public type and per public member declared on it, sorted.
let listing (assembly: Assembly) : string list =
    let flags = BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
    [ for t in assembly.GetExportedTypes() do
        let owner = (if isNull t.Namespace then "" else t.Namespace + ".") + typeName t
        yield sprintf "%s %s" (kind t) owner
        if not t.IsEnum && not (typeof<Delegate>.IsAssignableFrom t) then
            for m in t.GetMembers flags do
                match m with
                | :? ConstructorInfo as c -> yield sprintf "%s: new(%s)" owner (parameters (c.GetParameters()))
                | :? MethodInfo as mi when not mi.IsSpecialName || mi.Name.StartsWith "op_" ->
                    let generic = if mi.IsGenericMethod then "<" + String.Join(", ", mi.GetGenericArguments() |> Array.map typeName) + ">" else ""
                    let isStatic = if mi.IsStatic then "static " else ""
                    yield sprintf "%s: %s%s %s%s(%s)" owner isStatic (typeName mi.ReturnType) mi.Name generic (parameters (mi.GetParameters()))
                | :? PropertyInfo as p ->
                    let accessors = [ if p.GetMethod <> null && p.GetMethod.IsPublic then "get"
                                      if p.SetMethod <> null && p.SetMethod.IsPublic then (if p.SetMethod.ReturnParameter.GetRequiredCustomModifiers() |> Array.exists (fun m -> m.Name = "IsExternalInit") then "init" else "set") ]
                    let indexer = match p.GetIndexParameters() with [||] -> "" | ps -> "[" + parameters ps + "]"
                    yield sprintf "%s: %s %s%s { %s }" owner (typeName p.PropertyType) p.Name indexer (String.Join("; ", accessors))
                | :? FieldInfo as f -> yield sprintf "%s: field %s %s" owner (typeName f.FieldType) f.Name
                | :? EventInfo as e -> yield sprintf "%s: event %s %s" owner (typeName e.EventHandlerType) e.Name
                | _ -> () ]
    |> List.distinct
    |> List.sort

let private repositoryRoot () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "Functional.sln not found above the test folder"
        elif File.Exists(Path.Combine(dir.FullName, "Functional.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo TestContext.CurrentContext.TestDirectory)

let private check (assembly: Assembly) =
    let name = assembly.GetName().Name
    let file = Path.Combine(repositoryRoot (), "api", name + ".txt")
    let actual = listing assembly
    if Environment.GetEnvironmentVariable "FUNCTIONAL_UPDATE_API" = "1" then
        Directory.CreateDirectory(Path.GetDirectoryName file) |> ignore
        File.WriteAllLines(file, actual)
    let expected = if File.Exists file then File.ReadAllLines file |> List.ofArray else []
    let added = actual |> List.except expected
    let removed = expected |> List.except actual
    if not (List.isEmpty added && List.isEmpty removed) then
        Assert.Fail(
            sprintf "The public API of %s differs from %s (%d added, %d removed). If intended, rerun the tests with FUNCTIONAL_UPDATE_API=1 and commit the listing.\n%s"
                name file added.Length removed.Length
                (String.Join("\n", (added |> List.map ((+) "+ ")) @ (removed |> List.map ((+) "- ")))))

[<Test>]
let ``Functional.Core's public API is the checked-in listing`` () = check typeof<Functional.Native>.Assembly

[<Test>]
let ``Functional.FSharp's public API is the checked-in listing`` () = check typeof<Functional.FSharp.Train.Options>.Assembly
