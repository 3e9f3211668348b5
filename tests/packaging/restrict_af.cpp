// vproc_restrict_af FAMILY... -- CMD [ARGS...]: runs CMD with socket() and
// socketpair() refused (EAFNOSUPPORT) for every address family but the
// FAMILYs (AF_UNIX, AF_NETLINK, AF_INET, AF_INET6, AF_PACKET), as systemd's
// RestrictAddressFamilies= does (a seccomp filter on the first argument).
// The packaging test runs vprocd under the unit's list with it, there being
// no systemd as PID 1 to do so.
#include <seccomp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int family(const std::string& name) {
  static const struct {
    const char* name;
    int af;
  } kFamilies[] = {{"AF_UNIX", AF_UNIX},
                   {"AF_NETLINK", AF_NETLINK},
                   {"AF_INET", AF_INET},
                   {"AF_INET6", AF_INET6},
                   {"AF_PACKET", AF_PACKET}};
  for (const auto& f : kFamilies) {
    if (name == f.name) return f.af;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> allowed;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    int af = family(argv[i]);
    if (af < 0) {
      std::fprintf(stderr, "vproc_restrict_af: unknown family %s\n", argv[i]);
      return 2;
    }
    allowed.push_back(af);
  }
  if (i + 1 >= argc) {
    std::fprintf(stderr, "usage: vproc_restrict_af FAMILY... -- CMD [ARGS...]\n");
    return 2;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return 1;
  // One rule per family we refuse would need the complement; instead refuse
  // each family number below AF_MAX that is not allowed.
  for (int af = 0; af < AF_MAX; ++af) {
    bool ok = false;
    for (int a : allowed) ok = ok || a == af;
    if (ok) continue;
    for (const char* sc : {"socket", "socketpair"}) {
      int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), seccomp_syscall_resolve_name(sc),
                                1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(af)));
      if (rc < 0) {
        std::fprintf(stderr, "vproc_restrict_af: seccomp_rule_add: %s\n", std::strerror(-rc));
        return 1;
      }
    }
  }
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc < 0) {
    std::fprintf(stderr, "vproc_restrict_af: seccomp_load: %s\n", std::strerror(-rc));
    return 1;
  }
  execvp(argv[i + 1], argv + i + 1);
  std::fprintf(stderr, "vproc_restrict_af: %s: %s\n", argv[i + 1], std::strerror(errno));
  return 127;
}
