#include "fuse/operations.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>

#include "node/latency_histogram.h"
#include "node/limits.h"
#include "wire/limits.h"

namespace pairfs::fuse {
namespace {

constexpr fuse_ino_t kRootInode = FUSE_ROOT_ID;

// A file handle: the open volume and whether the opener asked for O_DIRECT.
struct Handle {
  std::unique_ptr<node::OpenVolume> open;
  bool direct = false;
};

MountContext& Context(fuse_req_t request) {
  return *static_cast<MountContext*>(fuse_req_userdata(request));
}
Handle& HandleOf(fuse_file_info* info) { return *reinterpret_cast<Handle*>(info->fh); }

// Answers a failed operation with the one errno doc/design.md gives its Status. Refusals the user
// asked for are logged at debug; disk and internal errors at error.
void ReplyError(fuse_req_t request, const Status& status, const char* operation) {
  const int error = ErrnoFor(status);
  if (status.code() == Code::kIoError || status.code() == Code::kCorruption) {
    spdlog::error("{}: {}", operation, status.message());
  } else {
    spdlog::debug("{}: {}", operation, status.message());
  }
  fuse_reply_err(request, error);
}

void FillVolumeStat(const node::VolumeAttributes& attributes, struct stat* st) {
  *st = {};
  st->st_ino = attributes.inode;
  st->st_mode = S_IFREG | attributes.mode;
  st->st_nlink = 1;
  st->st_uid = attributes.uid;
  st->st_gid = attributes.gid;
  st->st_size = static_cast<off_t>(attributes.size_bytes);
  st->st_blocks = static_cast<blkcnt_t>(attributes.allocated_bytes / 512);
  st->st_blksize = node::kVolumeAlignBytes;
  st->st_atim = attributes.atime;
  st->st_mtim = attributes.mtime;
  st->st_ctim = attributes.ctime;
}

void FillRootStat(struct stat* st) {
  *st = {};
  st->st_ino = kRootInode;
  st->st_mode = S_IFDIR | 0755;
  st->st_nlink = 2;
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
}

// Attributes and entries are never cached by the kernel: a volume created, resized or deleted
// with pairctl shows at once, without a remount.
constexpr double kAttributeTimeoutS = 0.0;

// Requests the kernel keeps in flight to the daemon at once without waiting (asynchronous
// O_DIRECT, readahead). The kernel's default, 12, caps a client with 32 writes in flight (qemu
// aio=native, fio libaio iodepth 32) at 12: the replicated writes that could travel together
// queue in the kernel instead. 64 covers a queue depth of 32 with room for a second client; the
// worker threads (main.cc kMaxFuseThreads) bound what is served at once.
constexpr unsigned kMaxBackgroundRequests = 64;
// Past this many, the kernel marks the connection congested (writers of the page cache back off):
// three quarters, the kernel's own default ratio.
constexpr unsigned kCongestionThreshold = kMaxBackgroundRequests * 3 / 4;

void Init(void*, fuse_conn_info* connection) {
  node::TraceWritesFromEnvironment();
  connection->max_write = wire::kMaxDataBytes;
  connection->max_background = kMaxBackgroundRequests;
  connection->congestion_threshold = kCongestionThreshold;
  connection->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (connection->capable & FUSE_CAP_ASYNC_DIO) connection->want |= FUSE_CAP_ASYNC_DIO;
  if (connection->capable & FUSE_CAP_PARALLEL_DIROPS) connection->want |= FUSE_CAP_PARALLEL_DIROPS;
}

void Lookup(fuse_req_t request, fuse_ino_t parent, const char* name) {
  if (parent != kRootInode) return (void)fuse_reply_err(request, ENOENT);
  std::shared_ptr<node::Volume> volume = Context(request).store->Find(name);
  if (!volume) return (void)fuse_reply_err(request, ENOENT);
  fuse_entry_param entry{};
  entry.ino = volume->inode();
  entry.generation = 1;
  entry.attr_timeout = kAttributeTimeoutS;
  entry.entry_timeout = kAttributeTimeoutS;
  FillVolumeStat(volume->Attributes(), &entry.attr);
  fuse_reply_entry(request, &entry);
}

void GetAttr(fuse_req_t request, fuse_ino_t inode, fuse_file_info*) {
  struct stat st;
  if (inode == kRootInode) {
    FillRootStat(&st);
    return (void)fuse_reply_attr(request, &st, kAttributeTimeoutS);
  }
  std::shared_ptr<node::Volume> volume = Context(request).store->FindByInode(inode);
  if (!volume) return (void)fuse_reply_err(request, ENOENT);
  FillVolumeStat(volume->Attributes(), &st);
  fuse_reply_attr(request, &st, kAttributeTimeoutS);
}

void SetAttr(fuse_req_t request, fuse_ino_t inode, struct stat* wanted, int to_set,
             fuse_file_info*) {
  if (inode == kRootInode) return (void)fuse_reply_err(request, EPERM);
  std::shared_ptr<node::Volume> volume = Context(request).store->FindByInode(inode);
  if (!volume) return (void)fuse_reply_err(request, ENOENT);
  // A truncate to the volume's own size is a no-op (qemu-img create does one); any other is EPERM.
  if ((to_set & FUSE_SET_ATTR_SIZE) &&
      static_cast<uint64_t>(wanted->st_size) != volume->size_bytes()) {
    return ReplyError(
        request,
        Status::NotPermitted("volume " + volume->name() + " cannot change size through the mount"),
        "setattr");
  }
  std::optional<uint32_t> uid, gid, mode;
  if (to_set & FUSE_SET_ATTR_UID) uid = wanted->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) gid = wanted->st_gid;
  if (to_set & FUSE_SET_ATTR_MODE) mode = wanted->st_mode;
  if (uid || gid || mode) {
    Status changed = volume->SetOwnership(uid, gid, mode);
    if (!changed.ok()) return ReplyError(request, changed, "setattr");
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec times[2];
    times[0] = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? timespec{0, UTIME_NOW}
               : (to_set & FUSE_SET_ATTR_ATIME)   ? wanted->st_atim
                                                  : timespec{0, UTIME_OMIT};
    times[1] = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? timespec{0, UTIME_NOW}
               : (to_set & FUSE_SET_ATTR_MTIME)   ? wanted->st_mtim
                                                  : timespec{0, UTIME_OMIT};
    Status changed = volume->SetTimes(times);
    if (!changed.ok()) return ReplyError(request, changed, "setattr");
  }
  struct stat st;
  FillVolumeStat(volume->Attributes(), &st);
  fuse_reply_attr(request, &st, kAttributeTimeoutS);
}

void ReadDir(fuse_req_t request, fuse_ino_t inode, size_t size, off_t offset, fuse_file_info*) {
  if (inode != kRootInode) return (void)fuse_reply_err(request, ENOTDIR);
  // Entry offsets are stable under concurrent create and delete: "." is 1, ".." is 2, and a
  // volume's is its inode + 2 (inodes are unique and never reused while mounted).
  std::string buffer(size, '\0');
  size_t used = 0;
  auto add = [&](const char* name, fuse_ino_t entry_inode, mode_t mode, off_t next) {
    if (next <= offset) return true;
    struct stat st {};
    st.st_ino = entry_inode;
    st.st_mode = mode;
    const size_t need = fuse_add_direntry(request, nullptr, 0, name, nullptr, 0);
    if (used + need > size) return false;
    fuse_add_direntry(request, buffer.data() + used, size - used, name, &st, next);
    used += need;
    return true;
  };
  bool room = add(".", kRootInode, S_IFDIR, 1) && add("..", kRootInode, S_IFDIR, 2);
  std::vector<std::shared_ptr<node::Volume>> volumes = Context(request).store->List();
  std::sort(volumes.begin(), volumes.end(),
            [](const auto& a, const auto& b) { return a->inode() < b->inode(); });
  for (size_t i = 0; room && i < volumes.size(); ++i) {
    room = add(volumes[i]->name().c_str(), volumes[i]->inode(), S_IFREG,
               static_cast<off_t>(volumes[i]->inode() + 2));
  }
  fuse_reply_buf(request, buffer.data(), used);
}

void Open(fuse_req_t request, fuse_ino_t inode, fuse_file_info* info) {
  if (inode == kRootInode) return (void)fuse_reply_err(request, EISDIR);
  // libfuse asks for atomic O_TRUNC, so an open with O_TRUNC is the size-changing truncate
  // doc/design.md refuses: EPERM, rather than pretending the volume is now empty.
  if (info->flags & O_TRUNC) return (void)fuse_reply_err(request, EPERM);
  Result<std::unique_ptr<node::OpenVolume>> open = Context(request).store->OpenByInode(inode);
  if (!open.ok()) return ReplyError(request, open.status(), "open");
  auto* handle = new Handle{std::move(open.value()), (info->flags & O_DIRECT) != 0};
  info->fh = reinterpret_cast<uint64_t>(handle);
  info->direct_io = 1;
  info->keep_cache = 0;
  if (fuse_reply_open(request, info) != 0) delete handle;  // the open was interrupted
}

void Release(fuse_req_t request, fuse_ino_t, fuse_file_info* info) {
  delete &HandleOf(info);
  fuse_reply_err(request, 0);
}

void Read(fuse_req_t request, fuse_ino_t, size_t size, off_t offset, fuse_file_info* info) {
  Handle& handle = HandleOf(info);
  size = std::min(size, wire::kMaxDataBytes);
  // A page-aligned buffer per thread, so that O_DIRECT reads of the image land in it directly.
  thread_local std::unique_ptr<char, decltype(&std::free)> buffer(
      static_cast<char*>(std::aligned_alloc(node::kVolumeAlignBytes, wire::kMaxDataBytes)),
      &std::free);
  Result<size_t> done =
      handle.open->volume().Read(static_cast<uint64_t>(offset), size, buffer.get(), handle.direct);
  if (!done.ok()) return ReplyError(request, done.status(), "read");
  fuse_reply_buf(request, buffer.get(), done.value());
}

void Write(fuse_req_t request, fuse_ino_t, const char* data, size_t size, off_t offset,
           fuse_file_info* info) {
  Handle& handle = HandleOf(info);
  if ((info->flags & O_DSYNC) == 0) {
    // Answered where the write ends (speed, issue 14): a replicated write is answered by the
    // thread that receives the peer's answer, and this thread goes back for the next request
    // instead of waiting (a client with 32 writes in flight needed 32 threads). Timed up to the
    // reply, not past it: once replied, a release may drop the handle and a delete the volume
    // whose histogram the timer records into.
    auto timer = std::make_shared<node::StageTimer>(node::Stage::kFuseWrite,
                                                    &handle.open->volume().latencies().write);
    Context(request).replicator->WriteAsync(
        handle.open->volume(), Context(request).site_name, static_cast<uint64_t>(offset), data,
        size, handle.direct, [request, timer](Result<size_t> done) mutable {
          timer.reset();
          if (!done.ok()) return ReplyError(request, done.status(), "write");
          fuse_reply_write(request, done.value());
        });
    return;
  }
  // Timed up to the reply, not past it (as above).
  Result<size_t> done = [&] {
    node::StageTimer timer(node::Stage::kFuseWrite, &handle.open->volume().latencies().write);
    return Context(request).replicator->Write(handle.open->volume(), Context(request).site_name,
                                              static_cast<uint64_t>(offset), data, size,
                                              handle.direct);
  }();
  if (!done.ok()) return ReplyError(request, done.status(), "write");
  // An O_DSYNC or O_SYNC write (the open's flags, or pwritev2 RWF_DSYNC: the kernel passes them
  // with each write) is a write and an fsync: with direct_io the kernel sends no FUSE fsync after
  // it, so this does, before the reply (doc/design.md: fsync durable at both sites).
  node::Volume& volume = handle.open->volume();
  const Status flushed = [&] {
    node::StageTimer timer(node::Stage::kFuseFsync, &volume.latencies().fsync);  // as Fsync
    return Context(request).replicator->Flush(volume);
  }();
  if (!flushed.ok()) return ReplyError(request, flushed, "write (O_DSYNC)");
  fuse_reply_write(request, done.value());
}

void Flush(fuse_req_t request, fuse_ino_t, fuse_file_info*) { fuse_reply_err(request, 0); }

void Fsync(fuse_req_t request, fuse_ino_t, int, fuse_file_info* info) {
  node::Volume& volume = HandleOf(info).open->volume();
  const Status flushed = [&] {
    node::StageTimer timer(node::Stage::kFuseFsync, &volume.latencies().fsync);  // as in Write
    return Context(request).replicator->Flush(volume);
  }();
  if (!flushed.ok()) return ReplyError(request, flushed, "fsync");
  fuse_reply_err(request, 0);
}

void Fallocate(fuse_req_t request, fuse_ino_t, int mode, off_t offset, off_t length,
               fuse_file_info* info) {
  node::Volume& volume = HandleOf(info).open->volume();
  if (offset < 0 || length <= 0) return (void)fuse_reply_err(request, EINVAL);
  const uint64_t end = static_cast<uint64_t>(offset) + static_cast<uint64_t>(length);
  Status status;
  if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
    status = Context(request).replicator->Discard(volume, Context(request).site_name,
                                                  wire::WriteKind::kPunchHole, offset, length);
  } else if (mode == FALLOC_FL_ZERO_RANGE || mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
    status = Context(request).replicator->Discard(volume, Context(request).site_name,
                                                  wire::WriteKind::kZeroRange, offset, length);
  } else if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
    // Preallocation inside the volume changes nothing a reader sees; past the end it would grow it.
    if (end > volume.size_bytes())
      status = Status::NoSpace("fallocate past the end of volume " + volume.name());
  } else {
    status = Status::Unsupported("fallocate mode " + std::to_string(mode) + " is not supported");
  }
  if (!status.ok()) return ReplyError(request, status, "fallocate");
  fuse_reply_err(request, 0);
}

void StatFs(fuse_req_t request, fuse_ino_t) {
  struct statvfs st {};
  if (::statvfs(Context(request).store->data_dir().c_str(), &st) != 0) {
    return ReplyError(request, Status::IoError("statfs of the data directory", errno), "statfs");
  }
  st.f_files = Context(request).store->count();
  st.f_ffree = node::kMaxVolumes - std::min<uint64_t>(st.f_files, node::kMaxVolumes);
  st.f_favail = st.f_ffree;
  st.f_namemax = node::kMaxVolumeNameBytes;
  fuse_reply_statfs(request, &st);
}

// Volumes are created, renamed and deleted with pairctl only (doc/design.md): EPERM here.
void RefuseMknod(fuse_req_t request, fuse_ino_t, const char*, mode_t, dev_t) {
  fuse_reply_err(request, EPERM);
}
void RefuseMkdir(fuse_req_t request, fuse_ino_t, const char*, mode_t) {
  fuse_reply_err(request, EPERM);
}
void RefuseRemove(fuse_req_t request, fuse_ino_t, const char*) { fuse_reply_err(request, EPERM); }
void RefuseSymlink(fuse_req_t request, const char*, fuse_ino_t, const char*) {
  fuse_reply_err(request, EPERM);
}
void RefuseRename(fuse_req_t request, fuse_ino_t, const char*, fuse_ino_t, const char*,
                  unsigned int) {
  fuse_reply_err(request, EPERM);
}
void RefuseLink(fuse_req_t request, fuse_ino_t, fuse_ino_t, const char*) {
  fuse_reply_err(request, EPERM);
}
void RefuseCreate(fuse_req_t request, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(request, EPERM);
}

// At unmount: where the writes' and fsyncs' time went since the mount (node/latency_histogram.h).
void Destroy(void*) {
  const std::string stages = node::StageLatencies().Summary();
  if (!stages.empty()) spdlog::info("write path stage latencies since the mount: {}", stages);
}

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.destroy = Destroy;
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.release = Release;
  ops.read = Read;
  ops.write = Write;
  ops.flush = Flush;
  ops.fsync = Fsync;
  ops.fallocate = Fallocate;
  ops.statfs = StatFs;
  ops.mknod = RefuseMknod;
  ops.mkdir = RefuseMkdir;
  ops.unlink = RefuseRemove;
  ops.rmdir = RefuseRemove;
  ops.symlink = RefuseSymlink;
  ops.rename = RefuseRename;
  ops.link = RefuseLink;
  ops.create = RefuseCreate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

}  // namespace pairfs::fuse
