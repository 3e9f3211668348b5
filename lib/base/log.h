// Logging to stderr (and, for the hook, syslog). log_limited() drops lines
// beyond a per-second budget so that a container cannot flood the host log.
#pragma once

#include <string>

namespace vproc {

void log_line(const std::string& line);
// At most kBurst lines per second through this call; the number dropped is
// reported with the next line that gets through.
void log_limited(const std::string& line);
// Also send every log_line() to syslog under `ident` (the hook uses this).
void log_to_syslog(const char* ident);

}  // namespace vproc
