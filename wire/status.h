// Status and Result: errors as values, shared by every folder.
//
// A Status is Ok or carries a Code, the errno saved where the failure happened (0 when none), and a
// one-line message naming what was wrong. Status is a plain value type: copyable,
// thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace pairfs {

// One code per kind of failure a caller may act on differently. Stable: the numbers travel in
// control replies (wire/protocol.md), so append only.
enum class Code : uint8_t {
  kOk = 0,
  kNotFound = 1,         // no such volume, file or key
  kAlreadyExists = 2,    // a volume with that name exists
  kInvalidArgument = 3,  // bad name, size, option or request
  kCorruption = 4,       // bytes that fail a check: checksum, magic, version, decoding
  kIoError = 5,          // a system call failed; errno() says which
  kConflict = 6,         // reservation held by another site (EBADE, exit 3)
  kReadOnly = 7,         // the copy refuses writes by role or status (EROFS)
  kBusy = 8,             // in use (an open volume cannot be deleted)
  kTimeout = 9,          // a wait ran out (exit 5)
  kUnreachable = 10,     // the node or the peer did not answer (exit 4)
  kNoSpace = 11,         // past the end of a volume, or the disk is full
  kNotPermitted = 12,    // an operation the mount never allows (EPERM)
  kUnsupported = 13,     // a request this version does not implement
};

// Returns the lower-case name of a code ("not found", "reservation conflict", ...).
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // Ok
  Status(Code code, std::string message, int error_number = 0)
      : code_(code), error_number_(error_number), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  // `error_number` is the errno saved at the failing call; the message gets its text appended.
  static Status IoError(std::string m, int error_number);
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {Code::kReadOnly, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status Unreachable(std::string m) { return {Code::kUnreachable, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status NotPermitted(std::string m) { return {Code::kNotPermitted, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int error_number() const { return error_number_; }
  const std::string& message() const { return message_; }
  // "ok", or the message alone (it already names what was wrong).
  std::string ToString() const { return ok() ? "ok" : message_; }

 private:
  Code code_ = Code::kOk;
  int error_number_ = 0;
  std::string message_;
};

// A value or the Status that explains its absence. `value()` on a failed Result is a bug.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::optional
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Maps a Status to the one errno the kernel (FUSE) gets: ENOENT, EEXIST, EINVAL, EIO, EBADE,
// EROFS, EBUSY, ETIMEDOUT, EIO, ENOSPC, EPERM, EOPNOTSUPP; an IoError keeps its own errno.
int ErrnoFor(const Status& status);

}  // namespace pairfs
