// readbench: the load generator behind bench/run.sh.
//
// Every measurement is one open+read-to-EOF+close of a file (64 KiB buffer), timed with
// clock_gettime(CLOCK_MONOTONIC) around the three calls. Readers run inside their own cgroup v1
// directories (memory + cpu + cpuacct), which this program creates under --cgroot with a unique
// --name prefix; bench/run.sh removes them at exit (a cgroup can only be removed once empty, and
// the children that sit in them are only gone after this program exits).
//
//   readbench lat   --cg NAME --iters N [--warmup W] [--batch B] FILE...
//       median/p99/mean ns per file; files take turns in batches of B reads (interleaved)
//   readbench show  --cg NAME FILE                             file content as NAME sees it
//   readbench tput  --cg PREFIX --procs N --secs S FILE        N children, child i in PREFIX-i
//   readbench scale --cg PREFIX --procs N --period-ms P --file F --once G
//       N sleepers, each in PREFIX-i: read G once, then F every P ms (random phase). Prints
//       "ready OK ERR" once all did their first reads. Commands on stdin: "quiet" (stop
//       reading, stay alive as attached-but-idle readers), EOF (kill all, remove their cgroups,
//       exit).
//
// Cgroup limits: memory.limit_in_bytes 256 MiB and cpu quota 1 CPU (100000/100000). One CPU of
// quota never throttles a single reader thread, so latency is not distorted by CFS throttling,
// yet both lxcfs (--enable-cfs) and vprocd show a 1-CPU, 256 MiB machine.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr size_t kBufSize = 64 * 1024;
constexpr const char* kMemLimit = "268435456";
constexpr const char* kCpuQuota = "100000";
constexpr const char* kCpuPeriod = "100000";

std::string g_cgroot = "/sys/fs/cgroup";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "readbench: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

bool write_file(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = write(fd, value.data(), value.size());
  int saved = errno;
  close(fd);
  errno = saved;
  return n == static_cast<ssize_t>(value.size());
}

// The v1 controllers a reader is placed in. cpu and cpuacct are separate hierarchies on some
// hosts and co-mounted on others; joining a co-mounted one twice is harmless.
const std::vector<std::string> kControllers = {"memory", "cpu", "cpuacct"};

void make_cgroup(const std::string& name) {
  for (const auto& c : kControllers) {
    std::string dir = g_cgroot + "/" + c + "/" + name;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir " + dir);
  }
  std::string mem = g_cgroot + "/memory/" + name;
  if (!write_file(mem + "/memory.limit_in_bytes", kMemLimit)) die("limit " + mem);
  std::string cpu = g_cgroot + "/cpu/" + name;
  if (!write_file(cpu + "/cpu.cfs_period_us", kCpuPeriod)) die("period " + cpu);
  if (!write_file(cpu + "/cpu.cfs_quota_us", kCpuQuota)) die("quota " + cpu);
}

void join_cgroup(const std::string& name) {
  std::string pid = std::to_string(getpid());
  for (const auto& c : kControllers) {
    std::string procs = g_cgroot + "/" + c + "/" + name + "/cgroup.procs";
    if (!write_file(procs, pid)) die("join " + procs);
  }
}

void enter_cgroup(const std::string& name) {
  make_cgroup(name);
  join_cgroup(name);
}

// One open+read-to-EOF+close. Returns bytes read, or -1 (errno set).
ssize_t read_once(const char* path, char* buf) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, kBufSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

struct Args {
  std::string cg;
  long iters = 1000;
  long warmup = 100;
  long batch = 50;
  long procs = 1;
  double secs = 3;
  long period_ms = 2000;
  std::string file;
  std::string once;
  std::vector<std::string> files;
};

Args parse(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "readbench: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--cg")
      a.cg = val();
    else if (k == "--cgroot")
      g_cgroot = val();
    else if (k == "--iters")
      a.iters = std::stol(val());
    else if (k == "--warmup")
      a.warmup = std::stol(val());
    else if (k == "--batch")
      a.batch = std::stol(val());
    else if (k == "--procs")
      a.procs = std::stol(val());
    else if (k == "--secs")
      a.secs = std::stod(val());
    else if (k == "--period-ms")
      a.period_ms = std::stol(val());
    else if (k == "--file")
      a.file = val();
    else if (k == "--once")
      a.once = val();
    else
      a.files.push_back(k);
  }
  return a;
}

int cmd_lat(const Args& a) {
  if (!a.cg.empty()) enter_cgroup(a.cg);
  std::vector<char> buf(kBufSize);
  // Interleaved: the files (typically the same file under /proc, lxcfs and vprocd) take turns in
  // batches of --batch reads, so load from elsewhere on a noisy host hits all of them alike.
  const size_t nf = a.files.size();
  std::vector<std::vector<int64_t>> t(nf);
  std::vector<long> errors(nf, 0);
  std::vector<ssize_t> bytes(nf, 0);
  for (size_t f = 0; f < nf; ++f)
    for (long i = 0; i < a.warmup; ++i) bytes[f] = read_once(a.files[f].c_str(), buf.data());
  const long batch = std::max(1L, a.batch);
  for (long done = 0; done < a.iters; done += batch) {
    for (size_t f = 0; f < nf; ++f) {
      const char* path = a.files[f].c_str();
      for (long i = 0; i < batch && done + i < a.iters; ++i) {
        int64_t t0 = now_ns();
        if (read_once(path, buf.data()) < 0) ++errors[f];
        t[f].push_back(now_ns() - t0);
      }
    }
  }
  for (size_t f = 0; f < nf; ++f) {
    auto& v = t[f];
    std::sort(v.begin(), v.end());
    double mean = 0;
    for (auto x : v) mean += static_cast<double>(x);
    mean /= static_cast<double>(v.size());
    std::printf("%s median_ns=%lld p99_ns=%lld mean_ns=%.0f bytes=%zd errors=%ld\n",
                a.files[f].c_str(), static_cast<long long>(v[v.size() / 2]),
                static_cast<long long>(v[v.size() * 99 / 100]), mean, bytes[f], errors[f]);
  }
  return 0;
}

int cmd_show(const Args& a) {
  if (!a.cg.empty()) enter_cgroup(a.cg);
  std::vector<char> buf(kBufSize);
  for (const auto& f : a.files) {
    int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open " + f);
    ssize_t n;
    while ((n = read(fd, buf.data(), buf.size())) > 0) fwrite(buf.data(), 1, size_t(n), stdout);
    close(fd);
  }
  return 0;
}

int cmd_tput(const Args& a) {
  if (a.files.size() != 1) {
    std::fprintf(stderr, "readbench tput: one FILE\n");
    return 2;
  }
  const char* path = a.files[0].c_str();
  int go[2], res[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(res, O_CLOEXEC) != 0) die("pipe");
  std::vector<pid_t> kids;
  for (long i = 0; i < a.procs; ++i) {
    std::string name = a.cg + "-" + std::to_string(i);
    make_cgroup(name);
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) {
      close(go[1]);
      join_cgroup(name);
      std::vector<char> buf(kBufSize);
      char c;
      (void)!read(go[0], &c, 1);  // barrier: returns 0 when the parent closes go[1]
      int64_t end = now_ns() + static_cast<int64_t>(a.secs * 1e9);
      int64_t counts[2] = {0, 0};  // reads, errors
      while (now_ns() < end) {     // clock_gettime is a vDSO call: checking every read is free
        if (read_once(path, buf.data()) < 0)
          ++counts[1];
        else
          ++counts[0];
      }
      (void)!write(res[1], counts, sizeof counts);
      _exit(0);
    }
    kids.push_back(p);
  }
  close(go[0]);
  close(res[1]);
  usleep(200000);  // let every child reach the barrier
  close(go[1]);
  int64_t reads = 0, errors = 0, c[2];
  while (read(res[0], c, sizeof c) == sizeof c) {
    reads += c[0];
    errors += c[1];
  }
  for (pid_t p : kids) waitpid(p, nullptr, 0);
  std::printf("%s procs=%ld reads_per_s=%.0f errors=%lld\n", path, a.procs,
              static_cast<double>(reads) / a.secs, static_cast<long long>(errors));
  return 0;
}

volatile sig_atomic_t g_quiet = 0;
void on_usr1(int) { g_quiet = 1; }

int cmd_scale(const Args& a) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) die("pipe");
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);  // inherited by the children; handler, not flag, so
                                     // nanosleep returns early with EINTR
  std::vector<pid_t> kids;
  for (long i = 0; i < a.procs; ++i) {
    std::string name = a.cg + "-" + std::to_string(i);
    make_cgroup(name);
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) {
      join_cgroup(name);
      std::vector<char> buf(kBufSize);
      bool ok = a.once.empty() || read_once(a.once.c_str(), buf.data()) >= 0;
      ok = read_once(a.file.c_str(), buf.data()) >= 0 && ok;
      char c = ok ? 'o' : 'e';
      (void)!write(ready[1], &c, 1);
      close(ready[1]);
      std::mt19937 rng(static_cast<unsigned>(getpid()));
      std::uniform_int_distribution<long> phase(0, a.period_ms * 1000000 - 1);
      long wait_ns = phase(rng);
      while (!g_quiet) {
        timespec ts{wait_ns / 1000000000, wait_ns % 1000000000};
        if (nanosleep(&ts, nullptr) != 0 || g_quiet) break;
        read_once(a.file.c_str(), buf.data());
        wait_ns = a.period_ms * 1000000;
      }
      for (;;) pause();  // attached but idle, until SIGKILL
    }
    kids.push_back(p);
  }
  close(ready[1]);
  long ok = 0, err = 0;
  char c;
  while (ok + err < a.procs && read(ready[0], &c, 1) == 1) (c == 'o' ? ok : err)++;
  std::printf("ready %ld %ld\n", ok, err);
  std::fflush(stdout);
  char line[64];
  while (std::fgets(line, sizeof line, stdin)) {
    if (std::strncmp(line, "quiet", 5) == 0) {
      for (pid_t p : kids) kill(p, SIGUSR1);
      std::printf("quiet\n");
      std::fflush(stdout);
    }
  }
  for (pid_t p : kids) kill(p, SIGKILL);
  for (pid_t p : kids) waitpid(p, nullptr, 0);
  // Remove the now empty cgroups here: one rmdir(2) each is much faster than the shell's
  // rmdir(1) per directory. A memory cgroup can stay busy for a moment after its last task
  // exits, so retry for a while; bench/run.sh removes whatever is left.
  std::vector<std::string> left;
  for (long i = 0; i < a.procs; ++i)
    for (const auto& ctl : kControllers)
      left.push_back(g_cgroot + "/" + ctl + "/" + a.cg + "-" + std::to_string(i));
  for (int round = 0; round < 100 && !left.empty(); ++round) {
    std::vector<std::string> busy;
    for (const auto& d : left)
      if (rmdir(d.c_str()) != 0 && errno != ENOENT) busy.push_back(d);
    left.swap(busy);
    if (!left.empty()) usleep(100000);
  }
  std::printf("done %zu cgroups left\n", left.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: readbench lat|show|tput|scale [options] FILE...\n");
    return 2;
  }
  std::string cmd = argv[1];
  Args a = parse(argc, argv, 2);
  if (cmd == "lat") return cmd_lat(a);
  if (cmd == "show") return cmd_show(a);
  if (cmd == "tput") return cmd_tput(a);
  if (cmd == "scale") return cmd_scale(a);
  std::fprintf(stderr, "readbench: unknown command %s\n", cmd.c_str());
  return 2;
}
