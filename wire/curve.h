// CURVE keys for the site-to-site sockets (doc/design.md "Security: who may talk to a site").
//
// A key file holds one line of Z85 text, 40 characters (the format of libzmq's curve_keygen):
// SITE.key the secret key, SITE.pub the public key. A public key file's site is its file name
// without the directory and the ".pub" ending. Pure functions over files; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "wire/status.h"

namespace pairfs::wire {

// A CURVE key (32 bytes) in Z85 text.
inline constexpr size_t kCurveKeyTextBytes = 40;

// What a process needs to run CURVE on its site-to-site sockets: its own key pair, and the
// public key of every site it admits, by site name.
struct CurveKeys {
  std::string secret_key;                               // Z85
  std::string public_key;                               // Z85, derived from secret_key
  std::map<std::string, std::string> peer_public_keys;  // site -> Z85 public key
};

struct KeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

// "b" for "/etc/pairfs/b.pub"; "" when the file name does not end in ".pub" or is only ".pub".
std::string SiteOfPublicKeyFile(const std::string& path);

// Checks that `text` (surrounding whitespace ignored) is one 40-character Z85 key and returns it
// without the whitespace. InvalidArgument saying why otherwise.
Result<std::string> ParseKeyText(const std::string& text);

// Reads a public key file. NotFound or IoError naming the path if it cannot be read;
// InvalidArgument naming it if it does not hold one Z85 key.
Result<std::string> ReadPublicKeyFile(const std::string& path);

// Reads a secret key file and refuses it (NotPermitted naming the path and the fix) when
// group or others have any access to it: a secret others can read is no longer a secret.
// Otherwise the errors of ReadPublicKeyFile.
Result<std::string> ReadSecretKeyFile(const std::string& path);

// Loads the secret key and the public keys, deriving this site's public key. InvalidArgument if
// a public key file's name gives no site, two files give the same site, or a key is this site's
// own; the file errors of the readers above.
Result<CurveKeys> LoadCurveKeys(const std::string& secret_key_path,
                                const std::vector<std::string>& public_key_paths);

// A fresh key pair (zmq_curve_keypair). IoError if libzmq cannot make one (built without CURVE).
Result<KeyPair> GenerateKeyPair();

// Writes DIR/SITE.key (mode 0600) and DIR/SITE.pub (mode 0644), each one line of Z85. Never
// overwrites: AlreadyExists naming the file if either exists (nothing is written then); IoError
// naming the file for any other failure (a half-written pair is removed).
Status WriteKeyFiles(const std::string& dir, const std::string& site, const KeyPair& keys);

}  // namespace pairfs::wire
