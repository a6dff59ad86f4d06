#include "node/site_startup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "node/data_dir.h"
#include "node/log.h"
#include "wire/link.h"

namespace pairfs::node {

Status PrepareDataDirAndLog(const std::string& data_dir, const SiteOptions& options) {
  Status prepared = PrepareDataDir(data_dir);
  if (!prepared.ok() || !options.log_to_data_dir) return prepared;
  return SetUpLogging("pairfs", data_dir + "/pairfs.log", options.debug);
}

Result<std::unique_ptr<DataDirLock>> DataDirLock::Take(const std::string& data_dir) {
  const std::string path = data_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) return Status::Busy("another pairfs is serving " + data_dir);
    return Status::IoError("cannot lock " + path, saved);
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

Status CheckEndpointFree(const std::string& endpoint, const std::string& what) {
  if (endpoint.rfind("ipc://", 0) == 0 && wire::ProbeEndpoint(endpoint).ok()) {
    return Status::Busy(what + " " + endpoint + " is in use by another process (another pairfs?)");
  }
  wire::Context context;
  Result<std::unique_ptr<wire::Server>> server = wire::Server::Bind(context, endpoint);
  return server.status();
}

}  // namespace pairfs::node
