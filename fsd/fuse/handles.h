// Open files: id (the FUSE file handle, fi->fh) -> the content rendered at
// open, the kind of file it is, and whether it was read yet (a read at offset
// 0 of a handle already read renders again: procps keeps /proc/meminfo and
// /proc/stat open and re-reads them from 0 for every refresh). Ids count up from 1 and are never
// given out twice, so a late READ or RELEASE of a closed handle finds nothing rather than another
// reader's file. Thread-safe: every FUSE worker thread uses it.
//
// Fair shares: every handle belongs to a tenant (the reader's cgroups, see
// cgroup::ReaderCgroups::tenant), and a tenant may hold only so many handles
// and so many bytes of content. The check comes before rendering: reserve()
// takes the slot, the caller renders and fills it with replace(). A tenant
// past its share is refused (EMFILE) long before all tenants together reach
// the global cap (ENFILE), so one container cannot lock the others out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "lib/files/files.h"

namespace vproc::fuse {

struct HandleQuota {
  static constexpr size_t kTenantBytes = 16u << 20;
  size_t max_open = 65536;             // all tenants together: ENFILE past it
  size_t tenant_open = 4096;           // one tenant: EMFILE past it
  size_t tenant_bytes = kTenantBytes;  // one tenant's content held: EMFILE past it
  // A tenant's share of `max_open` handles: an eighth, at least 64 (a small
  // cap is a test seam: the whole cap for one reader) and at most 4096.
  static HandleQuota for_max_open(size_t max_open);
};

class HandleTable {
 public:
  // A slot for `tenant`'s new handle, before its content is rendered: its id
  // (content empty until replace()), or id 0 and err ENFILE (q.max_open
  // handles open) or EMFILE (the tenant holds its share of handles or bytes).
  // first_refusal: the tenant's first refusal since it last held nothing
  // (log it once).
  struct Reserved {
    uint64_t id = 0;
    int err = 0;
    bool first_refusal = false;
  };
  Reserved reserve(const std::string& tenant, FileKind kind, const HandleQuota& q);
  // The content of handle `id`, or nullptr. A READ may still be replying from
  // it when the RELEASE of the same file arrives on another worker (the reader
  // was killed mid-read), so the caller holds a reference of its own.
  std::shared_ptr<const std::string> get(uint64_t id) const;
  // What a READ at `off` of handle `id` works from: its content (nullptr
  // when unknown) and kind, and whether that content is stale: off is 0 and
  // the handle was read before, so the caller renders again and calls
  // replace(). Marks the handle read.
  struct ForRead {
    std::shared_ptr<const std::string> data;
    FileKind kind{};
    bool stale = false;
  };
  ForRead for_read(uint64_t id, long off);
  // New content for handle `id` (still open); the content now held.
  std::shared_ptr<const std::string> replace(uint64_t id, std::string data);
  // Forgets `id`; an unknown id is ignored.
  void remove(uint64_t id);
  size_t size() const;
  // What `tenant` holds now: handles and bytes of content.
  struct Use {
    size_t open = 0;
    size_t bytes = 0;
    bool refused = false;  // refused since it last held nothing
  };
  Use use_of(const std::string& tenant) const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  struct OpenFile {
    std::shared_ptr<const std::string> data;
    FileKind kind;
    bool read = false;
    // An element of tenants_ (stable across rehashing); null: no tenant.
    std::pair<const std::string, Use>* tenant = nullptr;
  };
  std::unordered_map<uint64_t, OpenFile> open_;
  // Tenants holding at least one handle.
  std::unordered_map<std::string, Use> tenants_;
};

}  // namespace vproc::fuse
