using TorchSharp;

namespace Functional;

/// <summary>
/// LibTorch's intra-op thread count. By default it is the number of physical cores this process may
/// use: a hyperthread sibling shares its core's floating-point units, and a GEMM-bound loop gains
/// nothing from it but contention. OpenMP's own variables win: with <c>OMP_NUM_THREADS</c> (or
/// <c>MKL_NUM_THREADS</c>) set, the count is left as LibTorch read it.
/// </summary>
/// <remarks>
/// The oversubscription trap: every LibTorch process starts that many busy-waiting OpenMP threads.
/// Two training processes at once on a 2-core machine each spin 2 threads on 2 cores, and were
/// measured 35–70× slower than one alone. Run one at a time, or give each
/// <c>OMP_NUM_THREADS=cores/processes</c>.
/// </remarks>
static class Threads
{
    /// <summary>Sets LibTorch's intra-op threads to <see cref="PhysicalCores"/> unless OpenMP's
    /// variables say otherwise. Called once, when the library loads LibTorch.</summary>
    internal static void ApplyDefault()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")) ||
            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MKL_NUM_THREADS")))
            return;
        int cores = PhysicalCores();
        if (cores >= 1 && torch.get_num_threads() != cores) torch.set_num_threads(cores);
    }

    /// <summary>Physical cores among the CPUs this process may run on, bounded by <see cref="Environment.ProcessorCount"/>
    /// (which honours CPU affinity and a container's CPU quota). Where the topology cannot be read
    /// (not Linux, or no sysfs), the logical count.</summary>
    internal static int PhysicalCores()
    {
        int logical = Environment.ProcessorCount;
        try
        {
            const string root = "/sys/devices/system/cpu";
            if (!Directory.Exists(root)) return logical;
            var allowed = AllowedCpus();
            var cores = new HashSet<(string Package, string Core)>();
            foreach (var cpu in Directory.EnumerateDirectories(root, "cpu*"))
            {
                var name = Path.GetFileName(cpu);
                if (name.Length <= 3 || !name[3..].All(char.IsAsciiDigit)) continue;
                if (allowed is not null && !allowed.Contains(int.Parse(name[3..], System.Globalization.CultureInfo.InvariantCulture))) continue;
                var topology = Path.Combine(cpu, "topology");
                var online = Path.Combine(cpu, "online");
                if (File.Exists(online) && File.ReadAllText(online).Trim() == "0") continue;
                if (!File.Exists(Path.Combine(topology, "core_id"))) continue;
                var package = File.Exists(Path.Combine(topology, "physical_package_id"))
                    ? File.ReadAllText(Path.Combine(topology, "physical_package_id")).Trim() : "0";
                cores.Add((package, File.ReadAllText(Path.Combine(topology, "core_id")).Trim()));
            }
            return cores.Count == 0 ? logical : Math.Clamp(cores.Count, 1, logical);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return logical;
        }
    }

    /// <summary>The CPUs this process may run on (<c>Cpus_allowed_list</c> of <c>/proc/self/status</c>,
    /// e.g. <c>0-3,8</c>), or null when it cannot be read.</summary>
    static HashSet<int>? AllowedCpus()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
        if (line is null) return null;
        var set = new HashSet<int>();
        foreach (var part in line["Cpus_allowed_list:".Length..].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            int first = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
            int last = range.Length > 1 ? int.Parse(range[1], System.Globalization.CultureInfo.InvariantCulture) : first;
            for (int i = first; i <= last && set.Count < 65536; i++) set.Add(i);
        }
        return set;
    }
}
