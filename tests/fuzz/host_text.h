// Fixed host /proc text for targets that fuzz the cgroup side of a renderer.
// Kernel formats as in tests/fixtures (a 4-CPU host, 8 GiB, 2 GiB swap).
#pragma once

namespace vproc::fuzz {

inline constexpr const char* kHostMeminfo =
    "MemTotal:        8388608 kB\n"
    "MemFree:         4194304 kB\n"
    "MemAvailable:    6291456 kB\n"
    "Buffers:          102400 kB\n"
    "Cached:          2097152 kB\n"
    "SwapCached:            0 kB\n"
    "Active:          1048576 kB\n"
    "Inactive:        1048576 kB\n"
    "Active(anon):     524288 kB\n"
    "Inactive(anon):   524288 kB\n"
    "Active(file):     524288 kB\n"
    "Inactive(file):   524288 kB\n"
    "Unevictable:           0 kB\n"
    "Mlocked:               0 kB\n"
    "SwapTotal:       2097152 kB\n"
    "SwapFree:        2097152 kB\n"
    "Dirty:               128 kB\n"
    "Writeback:             0 kB\n"
    "AnonPages:       1048576 kB\n"
    "Mapped:           262144 kB\n"
    "Shmem:             65536 kB\n"
    "KReclaimable:     131072 kB\n"
    "Slab:             196608 kB\n"
    "SReclaimable:     131072 kB\n"
    "SUnreclaim:        65536 kB\n"
    "KernelStack:        8192 kB\n"
    "PageTables:        16384 kB\n"
    "CommitLimit:     6291456 kB\n"
    "Committed_AS:    3145728 kB\n"
    "VmallocTotal:   34359738367 kB\n"
    "HugePages_Total:       0\n"
    "HugePages_Free:        0\n"
    "Hugepagesize:       2048 kB\n";

inline constexpr const char* kHostSwaps =
    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    "/swapfile                               file\t\t2097148\t\t0\t\t-2\n";

inline constexpr const char* kHostStat =
    "cpu  40000 100 12000 800000 500 0 200 0 0 0\n"
    "cpu0 10000 25 3000 200000 125 0 50 0 0 0\n"
    "cpu1 10000 25 3000 200000 125 0 50 0 0 0\n"
    "cpu2 10000 25 3000 200000 125 0 50 0 0 0\n"
    "cpu3 10000 25 3000 200000 125 0 50 0 0 0\n"
    "intr 313551 0 0 0 0\n"
    "ctxt 3525213\n"
    "btime 1764201600\n"
    "processes 12931\n"
    "procs_running 3\n"
    "procs_blocked 0\n"
    "softirq 250000 0 1000 2 3000 4000 0 5000 6000 0 7000\n";

inline constexpr const char* kHostDiskstats =
    "   7       0 loop0 10 0 20 1 0 0 0 0 0 4 1 0 0 0 0 0 0\n"
    "   8       0 sda 5000 100 400000 2000 3000 200 80000 1500 0 3000 3500 10 0 4096 5 100 20\n"
    "   8       1 sda1 4900 100 390000 1900 2990 200 79000 1490 0 2900 3400 10 0 4096 5 0 0\n"
    " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11\n";

}  // namespace vproc::fuzz
