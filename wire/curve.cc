#include "wire/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include <cerrno>
#include <set>

#include "wire/limits.h"

namespace pairfs::wire {
namespace {

// Reads a key file (at most kMaxKeyFileBytes); a secret one must be closed to group and others.
Result<std::string> ReadKeyFile(const std::string& path, bool secret) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int saved = errno;
    if (saved == ENOENT) return Status::NotFound("key file " + path + " does not exist");
    return Status::IoError("cannot read key file " + path, saved);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    return Status::IoError("cannot stat key file " + path, saved);
  }
  if (secret && (info.st_mode & 077) != 0) {
    ::close(fd);
    return Status::NotPermitted("secret key file " + path + " is open to group or others (mode " +
                                std::to_string((info.st_mode >> 6) & 7) +
                                std::to_string((info.st_mode >> 3) & 7) +
                                std::to_string(info.st_mode & 7) + "): chmod 600 " + path);
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t got = ::read(fd, text.data() + filled, text.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int saved = errno;
      ::close(fd);
      return Status::IoError("cannot read key file " + path, saved);
    }
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  ::close(fd);
  if (filled > kMaxKeyFileBytes)
    return Status::InvalidArgument("key file " + path + " is too large to hold one key");
  text.resize(filled);
  Result<std::string> key = ParseKeyText(text);
  if (!key.ok()) return Status::InvalidArgument("key file " + path + ": " + key.status().message());
  return key;
}

// Writes `text` to a new file (never an existing one) with `mode`. AlreadyExists or IoError.
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int saved = errno;
    if (saved == EEXIST)
      return Status::AlreadyExists(path + " exists (remove it first to make a new key)");
    return Status::IoError("cannot create " + path, saved);
  }
  // The mode given to open() passes through the umask; the file must have exactly `mode`.
  bool written = ::fchmod(fd, mode) == 0 &&
                 ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return Status::IoError("cannot write " + path, saved);
  }
  return Status::Ok();
}

}  // namespace

std::string SiteOfPublicKeyFile(const std::string& path) {
  const std::string suffix = ".pub";
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return name.substr(0, name.size() - suffix.size());
}

Result<std::string> ParseKeyText(const std::string& text) {
  const char* kSpace = " \t\r\n";
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string::npos)
    return Status::InvalidArgument("empty (expected one 40-character Z85 key)");
  const std::string key = text.substr(first, text.find_last_not_of(kSpace) - first + 1);
  if (key.size() != kCurveKeyTextBytes) {
    return Status::InvalidArgument("holds " + std::to_string(key.size()) +
                                   " characters, not one 40-character Z85 key");
  }
  uint8_t decoded[32];
  if (zmq_z85_decode(decoded, key.c_str()) == nullptr) {
    return Status::InvalidArgument("is not Z85 text (expected one 40-character Z85 key)");
  }
  return key;
}

Result<std::string> ReadPublicKeyFile(const std::string& path) { return ReadKeyFile(path, false); }

Result<std::string> ReadSecretKeyFile(const std::string& path) { return ReadKeyFile(path, true); }

Result<CurveKeys> LoadCurveKeys(const std::string& secret_key_path,
                                const std::vector<std::string>& public_key_paths) {
  CurveKeys keys;
  Result<std::string> secret = ReadSecretKeyFile(secret_key_path);
  if (!secret.ok()) return secret.status();
  keys.secret_key = secret.value();
  char derived[kCurveKeyTextBytes + 1];
  if (zmq_curve_public(derived, keys.secret_key.c_str()) != 0) {
    return Status::IoError(
        "cannot derive the public key of " + secret_key_path + " (libzmq without CURVE?)", errno);
  }
  keys.public_key = derived;
  for (const std::string& path : public_key_paths) {
    const std::string site = SiteOfPublicKeyFile(path);
    if (site.empty())
      return Status::InvalidArgument("public key file " + path + " must be named SITE.pub");
    Result<std::string> key = ReadPublicKeyFile(path);
    if (!key.ok()) return key.status();
    if (key.value() == keys.public_key) {
      return Status::InvalidArgument("public key file " + path + " holds this site's own key (" +
                                     secret_key_path + ")");
    }
    if (!keys.peer_public_keys.emplace(site, key.value()).second) {
      return Status::InvalidArgument("two public key files are for site " + site + " (" + path +
                                     ")");
    }
  }
  return keys;
}

Result<KeyPair> GenerateKeyPair() {
  char public_key[kCurveKeyTextBytes + 1];
  char secret_key[kCurveKeyTextBytes + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Status::IoError("cannot make a CURVE key pair (libzmq without CURVE?)", errno);
  }
  return KeyPair{public_key, secret_key};
}

Status WriteKeyFiles(const std::string& dir, const std::string& site, const KeyPair& keys) {
  const std::string secret_path = dir + "/" + site + ".key";
  const std::string public_path = dir + "/" + site + ".pub";
  for (const std::string& path : {secret_path, public_path}) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) == 0)
      return Status::AlreadyExists(path + " exists (remove it first to make a new key)");
  }
  Status written = WriteNewFile(secret_path, keys.secret_key + "\n", 0600);
  if (!written.ok()) return written;
  written = WriteNewFile(public_path, keys.public_key + "\n", 0644);
  if (!written.ok()) ::unlink(secret_path.c_str());
  return written;
}

}  // namespace pairfs::wire
