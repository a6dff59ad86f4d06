// libfuse low-level operations over a VolumeStore: one regular file per volume in one directory.
//
// Every open is direct_io (no page cache at this site, so a write replicated from the other site
// can never be shadowed by stale pages, doc/design.md pitfalls) and there is no writeback cache.
// The operations are called from libfuse's worker threads; the store is thread-safe.
#pragma once

#include <fuse_lowlevel.h>

#include <string>

#include "node/replicator.h"
#include "node/store.h"

namespace pairfs::fuse {

struct MountContext {
  node::VolumeStore* store = nullptr;
  node::Replicator* replicator = nullptr;  // every write, discard and fsync goes through it
  std::string site_name;                   // the origin of every write made through this mount
};

// The operation table; each callback finds its MountContext through fuse_req_userdata().
const fuse_lowlevel_ops& Operations();

}  // namespace pairfs::fuse
