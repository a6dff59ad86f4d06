#include "wire/status.h"

#include <cerrno>
#include <cstring>

namespace pairfs {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kCorruption: return "corruption";
    case Code::kIoError: return "I/O error";
    case Code::kConflict: return "reservation conflict";
    case Code::kReadOnly: return "read-only";
    case Code::kBusy: return "busy";
    case Code::kTimeout: return "timed out";
    case Code::kUnreachable: return "unreachable";
    case Code::kNoSpace: return "no space";
    case Code::kNotPermitted: return "not permitted";
    case Code::kUnsupported: return "unsupported";
  }
  return "unknown";
}

Status Status::IoError(std::string m, int error_number) {
  m += ": ";
  m += std::strerror(error_number);
  return Status(Code::kIoError, std::move(m), error_number);
}

int ErrnoFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kCorruption: return EIO;
    case Code::kIoError: return status.error_number() != 0 ? status.error_number() : EIO;
    case Code::kConflict: return EBADE;
    case Code::kReadOnly: return EROFS;
    case Code::kBusy: return EBUSY;
    case Code::kTimeout: return ETIMEDOUT;
    case Code::kUnreachable: return EIO;
    case Code::kNoSpace: return ENOSPC;
    case Code::kNotPermitted: return EPERM;
    case Code::kUnsupported: return EOPNOTSUPP;
  }
  return EIO;
}

}  // namespace pairfs
