#include "lib/base/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

namespace vproc {

namespace {
constexpr int kBurst = 20;
std::atomic<bool> g_syslog{false};
std::mutex g_mu;
long long g_window = 0;
int g_in_window = 0;
long long g_dropped = 0;
}  // namespace

void log_line(const std::string& line) {
  std::string s = line;
  s += '\n';
  // One write per line keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
  if (g_syslog.load()) ::syslog(LOG_WARNING, "%s", line.c_str());
}

void log_limited(const std::string& line) {
  long long now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
  long long dropped = 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (now != g_window) {
      g_window = now;
      g_in_window = 0;
    }
    if (++g_in_window > kBurst) {
      ++g_dropped;
      return;
    }
    dropped = g_dropped;
    g_dropped = 0;
  }
  if (dropped > 0) {
    // Built by appends: GCC 12 warns (-Wrestrict) on "(" + std::string at -O3.
    std::string note = "(";
    note += std::to_string(dropped);
    note += " log lines dropped)";
    log_line(note);
  }
  log_line(line);
}

void log_to_syslog(const char* ident) {
  ::openlog(ident, LOG_PID, LOG_DAEMON);
  g_syslog.store(true);
}

}  // namespace vproc
