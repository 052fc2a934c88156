// Reads and edits the symbol-version sections of ELF shared libraries.
//
// This one file is compiled twice: into Functional.Core (FUNCTIONAL_CORE is defined), where the
// native loader and the tests use it, and by MSBuild's RoslynCodeTaskFactory, where the build
// uses the task at the end of the file to patch libLibTorchSharp.so in each build output. It is
// therefore written against netstandard2.0 only (no records, spans or newer file APIs).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace Functional
{
    /// <summary>One version requirement (a <c>Vernaux</c> entry of <c>.gnu.version_r</c>): the
    /// library <see cref="File"/> must define <see cref="Version"/>, unless the entry is weak.</summary>
    internal sealed class ElfVersionNeed
    {
        internal ElfVersionNeed(string file, string version, ushort flags, long flagsOffset)
        {
            File = file; Version = version; Flags = flags; FlagsOffset = flagsOffset;
        }

        /// <summary>The needed library, e.g. <c>libstdc++.so.6</c>.</summary>
        public string File { get; }

        /// <summary>The needed version, e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string Version { get; }

        /// <summary>The entry's <c>vna_flags</c>.</summary>
        public ushort Flags { get; }

        /// <summary>Byte offset of <c>vna_flags</c> in the file.</summary>
        public long FlagsOffset { get; }

        /// <summary>True when <c>VER_FLG_WEAK</c> is set: the dynamic loader then accepts a library
        /// that lacks the version instead of refusing to load.</summary>
        public bool IsWeak => (Flags & ElfVersions.WeakFlag) != 0;

        /// <inheritdoc />
        public override string ToString() => $"{File} {Version}{(IsWeak ? " (weak)" : "")}";
    }

    /// <summary>
    /// Reads the version needs (<c>.gnu.version_r</c>) and version definitions (<c>.gnu.version_d</c>)
    /// of ELF files, and marks a needed version weak. Used to make TorchSharp's native shim, which asks
    /// libstdc++ for GLIBCXX_3.4.32 for one unused symbol, load on Debian 12 and Ubuntu 22.04.
    /// </summary>
    /// <remarks>Every offset is checked against the file: a truncated or foreign file raises
    /// <see cref="InvalidDataException"/> naming the file, the byte offset and what was expected.</remarks>
    internal static class ElfVersions
    {
        /// <summary><c>VER_FLG_WEAK</c>.</summary>
        public const ushort WeakFlag = 0x2;

        /// <summary>The version TorchSharp 0.107's libLibTorchSharp.so needs and Debian 12 lacks.</summary>
        public const string LibTorchSharpVersion = "GLIBCXX_3.4.32";

        const uint ShtGnuVerdef = 0x6ffffffd;
        const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>Lists every version requirement of an ELF image.</summary>
        /// <param name="image">The whole file's bytes.</param>
        /// <param name="fileName">Named in error messages.</param>
        public static IReadOnlyList<ElfVersionNeed> ReadNeeds(byte[] image, string fileName)
        {
            var elf = new ElfImage(image, fileName);
            var result = new List<ElfVersionNeed>();
            foreach (var section in elf.Sections)
            {
                if (section.Type != ShtGnuVerneed) continue;
                var strings = elf.Section(section.Link, "string table linked from .gnu.version_r");
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    elf.CheckInside(section, entry, 16, "Verneed entry");
                    ushort count = elf.U16(entry + 2);
                    string file = elf.String(strings, elf.U32(entry + 4));
                    long aux = entry + elf.U32(entry + 8);
                    for (ushort j = 0; j < count; j++)
                    {
                        elf.CheckInside(section, aux, 16, "Vernaux entry");
                        ushort flags = elf.U16(aux + 4);
                        string version = elf.String(strings, elf.U32(aux + 8));
                        result.Add(new ElfVersionNeed(file, version, flags, aux + 4));
                        uint nextAux = elf.U32(aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = elf.U32(entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Lists the version names an ELF image defines (e.g. <c>GLIBCXX_3.4.30</c> for libstdc++).</summary>
        public static IReadOnlyList<string> ReadDefinitions(byte[] image, string fileName)
        {
            var elf = new ElfImage(image, fileName);
            var result = new List<string>();
            foreach (var section in elf.Sections)
            {
                if (section.Type != ShtGnuVerdef) continue;
                var strings = elf.Section(section.Link, "string table linked from .gnu.version_d");
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    elf.CheckInside(section, entry, 20, "Verdef entry");
                    ushort count = elf.U16(entry + 6);
                    if (count > 0)
                    {
                        long aux = entry + elf.U32(entry + 12);
                        elf.CheckInside(section, aux, 8, "Verdaux entry");
                        result.Add(elf.String(strings, elf.U32(aux)));
                    }
                    uint next = elf.U32(entry + 16);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Sets <c>VER_FLG_WEAK</c> on every requirement of <paramref name="version"/> in the image,
        /// in place. Returns how many entries changed (0 when there is none or all are weak already:
        /// the image is then untouched).</summary>
        public static int MarkWeak(byte[] image, string version, string fileName)
        {
            int changed = 0;
            bool littleEndian = image.Length > 5 && image[5] == 1;
            foreach (var need in ReadNeeds(image, fileName))
            {
                if (need.Version != version || need.IsWeak) continue;
                ushort flags = (ushort)(need.Flags | WeakFlag);
                long at = need.FlagsOffset;
                image[at] = (byte)(littleEndian ? flags & 0xff : flags >> 8);
                image[at + 1] = (byte)(littleEndian ? flags >> 8 : flags & 0xff);
                changed++;
            }
            return changed;
        }

        /// <summary>Marks <paramref name="version"/> weak in the file at <paramref name="path"/>: the patched
        /// bytes go to a temporary file beside it, which then replaces the original in one rename, so a
        /// reader never sees a half-written library. Returns how many entries changed (0: file untouched).</summary>
        public static int PatchFile(string path, string version)
        {
            var image = File.ReadAllBytes(path);
            int changed = MarkWeak(image, version, path);
            if (changed == 0) return 0;
            string temporary = path + ".patching-" + System.Diagnostics.Process.GetCurrentProcess().Id;
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(image, 0, image.Length);
                stream.Flush(true);
            }
            if (File.Exists(path)) File.Replace(temporary, path, null);
            else File.Move(temporary, path);
            return changed;
        }

        /// <summary>The libstdc++ the dynamic loader would pick on this Linux system, or null elsewhere
        /// or when none is found in the usual library folders.</summary>
        public static string? FindSystemLibStdCxx()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
            var folders = new List<string>();
            var fromEnvironment = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(fromEnvironment)) folders.AddRange(fromEnvironment!.Split(':'));
            string arch = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "aarch64" : "x86_64";
            folders.AddRange(new[] {
                "/usr/lib/" + arch + "-linux-gnu", "/lib/" + arch + "-linux-gnu",
                "/usr/lib64", "/lib64", "/usr/lib", "/lib" });
            foreach (var folder in folders)
            {
                if (folder.Length == 0) continue;
                var candidate = Path.Combine(folder, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>True when the system's libstdc++ defines <paramref name="version"/>; false when it
        /// lacks it; null when there is no libstdc++ to ask (not Linux, or not found).</summary>
        public static bool? SystemLibStdCxxDefines(string version)
        {
            var library = FindSystemLibStdCxx();
            if (library == null) return null;
            return ReadDefinitions(File.ReadAllBytes(library), library).Contains(version);
        }

        sealed class SectionHeader
        {
            public uint Type; public long Offset; public long Size; public uint Link; public uint Info; public long HeaderOffset;
        }

        /// <summary>A bounds-checked view of an ELF file's bytes.</summary>
        sealed class ElfImage
        {
            readonly byte[] bytes;
            readonly string file;
            readonly bool is64;
            readonly bool littleEndian;
            public readonly List<SectionHeader> Sections = new List<SectionHeader>();

            public ElfImage(byte[] bytes, string file)
            {
                this.bytes = bytes;
                this.file = file;
                byte[] magic = { 0x7f, (byte)'E', (byte)'L', (byte)'F' };
                bool startsLikeElf = true;
                for (int k = 0; k < Math.Min(4, bytes.Length); k++) startsLikeElf &= bytes[k] == magic[k];
                if (bytes.Length < 16 && startsLikeElf)
                    throw Invalid(bytes.Length, "the 16-byte ELF identification, but the file ends there; it is truncated");
                if (bytes.Length < 16 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                    throw Invalid(0, "the ELF magic number 7F 45 4C 46 (this is not an ELF file)");
                if (bytes[4] != 1 && bytes[4] != 2) throw Invalid(4, "ELF class 1 (32-bit) or 2 (64-bit), found " + bytes[4]);
                if (bytes[5] != 1 && bytes[5] != 2) throw Invalid(5, "ELF data encoding 1 (little endian) or 2 (big endian), found " + bytes[5]);
                is64 = bytes[4] == 2;
                littleEndian = bytes[5] == 1;

                long sectionTable = is64 ? (long)U64(0x28) : U32(0x20);
                ushort entrySize = U16(is64 ? 0x3A : 0x2E);
                ushort count = U16(is64 ? 0x3C : 0x30);
                if (sectionTable == 0 || count == 0) return;
                int minimum = is64 ? 64 : 40;
                if (entrySize < minimum) throw Invalid(is64 ? 0x3A : 0x2E, "a section header size of at least " + minimum + ", found " + entrySize);
                for (int i = 0; i < count; i++)
                {
                    long h = sectionTable + (long)i * entrySize;
                    Need(h, minimum, "section header " + i);
                    var s = new SectionHeader { HeaderOffset = h, Type = U32(h + 4) };
                    if (is64)
                    {
                        s.Offset = (long)U64(h + 24); s.Size = (long)U64(h + 32); s.Link = U32(h + 40); s.Info = U32(h + 44);
                    }
                    else
                    {
                        s.Offset = U32(h + 16); s.Size = U32(h + 20); s.Link = U32(h + 24); s.Info = U32(h + 28);
                    }
                    // SHT_NOBITS (8) occupies no file space; every other section must lie inside the file.
                    // (Written so that a corrupt offset and size cannot overflow their sum past the check.)
                    if (s.Type != 8 && s.Type != 0 && (s.Offset < 0 || s.Size < 0 || s.Offset > bytes.Length || s.Size > bytes.Length - s.Offset))
                        throw Invalid(h, "section " + i + " (bytes " + s.Offset + ".." + (s.Offset + s.Size) + ") to lie inside the file of " + bytes.Length + " bytes; the file is truncated");
                    Sections.Add(s);
                }
            }

            public SectionHeader Section(uint index, string what)
            {
                if (index >= Sections.Count) throw Invalid(0, what + " at section index " + index + ", but the file has " + Sections.Count + " sections");
                return Sections[(int)index];
            }

            public void CheckInside(SectionHeader section, long at, int size, string what)
            {
                if (at < section.Offset || at + size > section.Offset + section.Size)
                    throw Invalid(at, "a " + what + " of " + size + " bytes inside its section (bytes " + section.Offset + ".." + (section.Offset + section.Size) + ")");
            }

            public string String(SectionHeader strings, uint index)
            {
                long start = strings.Offset + index;
                long end = strings.Offset + strings.Size;
                if (index >= strings.Size) throw Invalid(start, "a string inside the string table (bytes " + strings.Offset + ".." + end + ")");
                long stop = start;
                while (stop < end && bytes[stop] != 0) stop++;
                if (stop == end) throw Invalid(start, "a NUL-terminated string inside the string table");
                return Encoding.UTF8.GetString(bytes, (int)start, (int)(stop - start));
            }

            void Need(long at, int size, string what)
            {
                if (at < 0 || at + size > bytes.Length) throw Invalid(at, what + " (" + size + " bytes), but the file ends at byte " + bytes.Length + "; it is truncated");
            }

            public ushort U16(long at)
            {
                Need(at, 2, "a 16-bit field");
                return littleEndian ? (ushort)(bytes[at] | bytes[at + 1] << 8) : (ushort)(bytes[at] << 8 | bytes[at + 1]);
            }

            public uint U32(long at)
            {
                Need(at, 4, "a 32-bit field");
                uint value = 0;
                for (int k = 0; k < 4; k++) value |= (uint)bytes[at + (littleEndian ? k : 3 - k)] << (8 * k);
                return value;
            }

            public ulong U64(long at)
            {
                Need(at, 8, "a 64-bit field");
                ulong value = 0;
                for (int k = 0; k < 8; k++) value |= (ulong)bytes[at + (littleEndian ? k : 7 - k)] << (8 * k);
                return value;
            }

            InvalidDataException Invalid(long at, string expected) =>
                new InvalidDataException(file + ": at byte offset " + at + " expected " + expected + ".");
        }
    }

#if !FUNCTIONAL_CORE
    /// <summary>MSBuild task: marks GLIBCXX_3.4.32 weak in the libLibTorchSharp.so files of an output
    /// folder when this machine's libstdc++ lacks that version. The package cache is never touched:
    /// only the copies in the output folder are replaced.</summary>
    public class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>The build or publish output folder.</summary>
        [Microsoft.Build.Framework.Required]
        public string Folder { get; set; } = "";

        /// <inheritdoc />
        public override bool Execute()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || !Directory.Exists(Folder)) return true;
            var libraries = new List<string>();
            var direct = Path.Combine(Folder, "libLibTorchSharp.so");
            if (File.Exists(direct)) libraries.Add(direct);
            var runtimes = Path.Combine(Folder, "runtimes");
            if (Directory.Exists(runtimes))
                libraries.AddRange(Directory.GetFiles(runtimes, "libLibTorchSharp.so", SearchOption.AllDirectories));
            if (libraries.Count == 0) return true;

            var defines = ElfVersions.SystemLibStdCxxDefines(ElfVersions.LibTorchSharpVersion);
            if (defines != false)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                    "libstdc++ here " + (defines == true ? "defines " : "was not found, so nothing to compare with for ") + ElfVersions.LibTorchSharpVersion + ": libLibTorchSharp.so left as shipped.");
                return true;
            }
            foreach (var library in libraries)
            {
                int changed = ElfVersions.PatchFile(library, ElfVersions.LibTorchSharpVersion);
                if (changed > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                        "Marked " + ElfVersions.LibTorchSharpVersion + " weak in " + library + " (this system's libstdc++ lacks it).");
            }
            return true;
        }
    }
#endif
}
