#include "node/names.h"

#include <cctype>
#include <cstdio>

#include "node/limits.h"
#include "wire/limits.h"

namespace pairfs::node {
namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

Status CheckName(std::string_view what, std::string_view name, size_t max_bytes) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name is empty");
  if (name.size() > max_bytes) {
    return Status::InvalidArgument(std::string(what) + " name '" + std::string(name) +
                                   "' is longer than " + std::to_string(max_bytes) + " characters");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument(std::string(what) + " name '" + std::string(name) +
                                     "' has a character outside [A-Za-z0-9._-]");
    }
  }
  if (name == "." || name == "..") {
    return Status::InvalidArgument(std::string(what) + " name cannot be '" + std::string(name) +
                                   "'");
  }
  return Status::Ok();
}

}  // namespace

Status CheckVolumeName(std::string_view name) {
  return CheckName("volume", name, kMaxVolumeNameBytes);
}

Status CheckSiteName(std::string_view name) {
  return CheckName("site", name, wire::kMaxSiteNameBytes);
}

Result<uint64_t> ParseSize(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0)
    return Status::InvalidArgument("size " + quoted + " does not start with a number");
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10)
      return Status::InvalidArgument("size " + quoted + " is too large");
    value = value * 10 + digit;
  }
  std::string suffix;
  for (char c : text.substr(digits))
    suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = 0;
  if (!suffix.empty()) {
    switch (suffix[0]) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      case 'B': shift = 0; break;
      default:
        return Status::InvalidArgument("size " + quoted +
                                       " has an unknown unit (use K, M, G or T)");
    }
    const std::string rest = suffix.substr(1);
    const bool unit_only =
        suffix[0] == 'B' ? rest.empty() : (rest.empty() || rest == "B" || rest == "IB");
    if (!unit_only)
      return Status::InvalidArgument("size " + quoted + " has an unknown unit (use K, M, G or T)");
  }
  if (shift > 0 && value > (UINT64_MAX >> shift))
    return Status::InvalidArgument("size " + quoted + " is too large");
  value <<= shift;
  if (value == 0) return Status::InvalidArgument("size " + quoted + " is zero");
  return value;
}

Status CheckVolumeSize(uint64_t size_bytes, std::string_view as_written) {
  const std::string quoted = "'" + std::string(as_written) + "'";
  if (size_bytes == 0) return Status::InvalidArgument("size " + quoted + " is zero");
  if (size_bytes % kVolumeAlignBytes != 0) {
    return Status::InvalidArgument("size " + quoted + " is not a multiple of 4 KiB");
  }
  if (size_bytes > kMaxVolumeBytes) {
    return Status::InvalidArgument("size " + quoted + " is larger than the 256 TiB limit");
  }
  return Status::Ok();
}

Result<uint64_t> ParseVolumeSize(std::string_view text) {
  Result<uint64_t> size = ParseSize(text);
  if (!size.ok()) return size;
  Status valid = CheckVolumeSize(size.value(), text);
  if (!valid.ok()) return valid;
  return size;
}

std::string FormatSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  uint64_t whole = bytes;
  while (unit < 4 && whole >= 1024 && whole % 1024 == 0) {
    whole /= 1024;
    ++unit;
  }
  if (whole < 1024 || unit == 4) return std::to_string(whole) + " " + kUnits[unit];
  double value = static_cast<double>(bytes);
  unit = 0;
  while (unit < 4 && value >= 1024) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace pairfs::node
