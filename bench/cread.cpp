// cread: the reader inside each container of bench/containers.sh. Built static (g++ -O2 -static)
// so it runs in a busybox rootfs with no libc of its own.
//
//   cread FILE SECS GO
//
// First it reads FILE once and prints one line describing what the container sees:
//
//   ready memtotal_kb=K mount_root=R mount_fs=T bytes=B
//
// K is MemTotal from FILE (kB; "-" when absent), R and T are the root and filesystem type of the
// top mount on FILE in /proc/self/mountinfo ("-" when FILE is no mount point: the kernel's own
// procfs file). Then it waits (polling every millisecond, at most 120 s) until the path GO exists,
// so that the containers of one batch start reading together, and loops open+read-to-EOF+close
// of FILE for SECS seconds, each iteration timed with clock_gettime(CLOCK_MONOTONIC). The first
// kMaxSamples latencies are kept and sorted. Last line:
//
//   result reads=N secs=S median_ns=M p99_ns=P errors=E
//
// N counts completed iterations (failed ones too, also counted in E); S is the loop's own elapsed
// time, so reads/s = N / S.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr size_t kBufSize = 64 * 1024;
constexpr size_t kMaxSamples = 1000000;
constexpr int kGoTimeoutMs = 120000;

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// open+read-to-EOF+close; the bytes read, or -1 on any failure.
long read_once(const char* path, char* buf) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, kBufSize);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      total = -1;
      break;
    }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

std::string slurp(const char* path) {
  std::string text;
  std::vector<char> buf(kBufSize);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0)
    text.append(buf.data(), static_cast<size_t>(n));
  close(fd);
  return text;
}

std::string memtotal_kb(const std::string& text) {
  std::istringstream in(text);
  std::string key, value;
  while (in >> key >> value) {
    if (key == "MemTotal:") return value;
    std::getline(in, key);
  }
  return "-";
}

// The top mount on `path` (the last mountinfo line naming it): "root fstype", or "- -".
std::string mount_of(const std::string& path) {
  std::istringstream in(slurp("/proc/self/mountinfo"));
  std::string line, found = "- -";
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, field;
    f >> id >> parent >> dev >> root >> point;
    if (point != path) continue;
    while (f >> field && field != "-") {
    }
    std::string fstype;
    f >> fstype;
    found = root + " " + fstype;
  }
  return found;
}

bool wait_for(const char* path) {
  struct stat st {};
  for (int i = 0; i < kGoTimeoutMs; ++i) {
    if (stat(path, &st) == 0) return true;
    usleep(1000);
  }
  return false;
}

int64_t percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cread FILE SECS GO\n");
    return 2;
  }
  const char* file = argv[1];
  const double secs = std::atof(argv[2]);
  const char* go = argv[3];
  std::vector<char> buf(kBufSize);

  std::string text = slurp(file);
  std::istringstream m(mount_of(file));
  std::string root, fstype;
  m >> root >> fstype;
  std::printf("ready memtotal_kb=%s mount_root=%s mount_fs=%s bytes=%zu\n",
              memtotal_kb(text).c_str(), root.c_str(), fstype.c_str(), text.size());
  std::fflush(stdout);
  if (!wait_for(go)) {
    std::fprintf(stderr, "cread: %s did not appear\n", go);
    return 1;
  }

  std::vector<int64_t> samples;
  samples.reserve(kMaxSamples);
  uint64_t reads = 0, errors = 0;
  const int64_t start = now_ns();
  const int64_t end = start + static_cast<int64_t>(secs * 1e9);
  int64_t t1 = start;
  while (t1 < end) {
    const int64_t t0 = now_ns();
    if (read_once(file, buf.data()) < 0) ++errors;
    t1 = now_ns();
    ++reads;
    if (samples.size() < kMaxSamples) samples.push_back(t1 - t0);
  }
  const double elapsed = static_cast<double>(t1 - start) / 1e9;
  const int64_t median = percentile(samples, 0.5);
  const int64_t p99 = percentile(samples, 0.99);
  std::printf("result reads=%llu secs=%.4f median_ns=%lld p99_ns=%lld errors=%llu\n",
              static_cast<unsigned long long>(reads), elapsed, static_cast<long long>(median),
              static_cast<long long>(p99), static_cast<unsigned long long>(errors));
  return errors == 0 ? 0 : 1;
}
