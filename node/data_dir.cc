#include "node/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace pairfs::node {

Status PrepareDataDir(const std::string& data_dir) {
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create data directory " + data_dir, errno);
  }
  struct stat info {};
  if (::stat(data_dir.c_str(), &info) != 0)
    return Status::IoError("cannot examine data directory " + data_dir, errno);
  if (!S_ISDIR(info.st_mode))
    return Status::IoError("data directory " + data_dir + " is not a directory", ENOTDIR);
  if (info.st_uid != ::geteuid()) {
    return Status::NotPermitted("data directory " + data_dir + " belongs to user " +
                                std::to_string(info.st_uid) + ", not to this daemon's user " +
                                std::to_string(::geteuid()) + " (chown it)");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(info.st_mode & 0777));
    return Status::NotPermitted("data directory " + data_dir +
                                " can be written by group or others (mode " + mode +
                                "): chmod 700 " + data_dir);
  }
  // mkdir's mode passes through the umask, and an existing directory may let others in: the
  // control sockets inside must be out of their reach whatever the umask was.
  if ((info.st_mode & 077) != 0 && ::chmod(data_dir.c_str(), info.st_mode & 0700) != 0) {
    return Status::IoError("cannot make data directory " + data_dir + " mode 0700", errno);
  }
  return Status::Ok();
}

}  // namespace pairfs::node
