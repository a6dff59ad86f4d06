// The steps a site node and a witness (`pairfs --witness`) take before the process detaches, so
// that the user sees a refusal on the terminal: the data directory made ready (and the log file
// in it for a daemon that will lose stderr), its lock taken, an endpoint checked to be free.
// Nothing here keeps a ZeroMQ context: ZeroMQ cannot cross the fork of daemonizing.
// Functions are thread-safe (no shared state); SetUpLogging's rule applies to LogToDataDir.
#pragma once

#include <memory>
#include <string>

#include "wire/status.h"

namespace pairfs::node {

// How the program runs a site or a witness (node/site.h, node/witness.h).
struct SiteOptions {
  bool log_to_data_dir =
      false;           // log to DATA_DIR/pairfs.log too: a daemon that detaches loses stderr
  bool debug = false;  // log at debug level
};

// Checks the data directory's permissions (node/data_dir.h: PrepareDataDir's failures); with
// `options.log_to_data_dir`, also logs to DATA_DIR/pairfs.log from now on, IoError if that file
// cannot be opened. Call before any thread starts.
Status PrepareDataDirAndLog(const std::string& data_dir, const SiteOptions& options);

// An exclusive lock on DATA_DIR/lock while this object lives, so that two nodes never serve one
// data directory. The descriptor survives the fork of daemonizing (flock belongs to the open
// file, so the child keeps the lock when the parent exits). Not copyable.
class DataDirLock {
 public:
  // The lock, or Busy "another pairfs is serving DATA_DIR" when another holder has it (another
  // process, or another DataDirLock of this one); IoError naming DATA_DIR/lock if it cannot be
  // opened or locked.
  static Result<std::unique_ptr<DataDirLock>> Take(const std::string& data_dir);
  ~DataDirLock();  // releases the lock
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  const int fd_;
};

// Checks that `endpoint` can be bound (`what` names it in messages: "control endpoint", ...):
// the bind error of wire::Server::Bind if not. An ipc:// bind would silently replace a live
// process's socket file (ZeroMQ unlinks it first), so a listener there is refused with Busy
// "WHAT ENDPOINT is in use by another process (another pairfs?)".
Status CheckEndpointFree(const std::string& endpoint, const std::string& what);

}  // namespace pairfs::node
