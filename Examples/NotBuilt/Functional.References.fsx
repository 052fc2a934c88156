// Setup.fsx loads Functional.References.fsx from the Examples build output (bin/Release/net10.0),
// which the build writes. Only when that file does not exist yet does F# Interactive fall back to
// this one, whose single line stops the script with an error that says what to do.
``Functional is not built yet: run 'dotnet build Examples -c Release' in the repository root, then run this script again``
