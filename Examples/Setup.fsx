// One line at the top of every example script, `#load "Setup.fsx"`, makes the library usable:
// it references the assemblies of the Examples build output and loads LibTorch (with the
// Debian 12 / Ubuntu 22.04 fix the build applied to that output).
//
// The build writes bin/Release/net10.0/Functional.References.fsx; before the first build the
// fallback in NotBuilt/ is found instead, and it says what to run.
#I "bin/Release/net10.0"
#I "NotBuilt"
#load "Functional.References.fsx"

Functional.Native.EnsureLoaded()
