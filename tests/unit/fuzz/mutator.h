// A small structure-aware mutator for the fuzz tests (tests/unit/fuzz/*_fuzz_test.cc) and for
// wire_send's hostile mode: it turns a valid encoding into a near-valid one by bit flips, byte
// changes, truncations, extensions, swaps of two pieces, and, inside msgpack, integers replaced by
// boundary values (0, 1, each width's max and max+1, 2^63, 2^64-1, negatives) and strings by
// empty, long, over-limit or invalid UTF-8 ones. Seeded: the same seed gives the same inputs.
// Header-only (the tools link no test objects). Not thread-safe: one per thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace pairfs::fuzz {

// Where a msgpack value sits in an encoding.
struct MsgpackSpot {
  size_t offset = 0;
  size_t length = 0;  // the whole value: header and payload
  bool integer = false;
  bool text = false;  // str or bin
};

// Walks the msgpack values of `bytes` from `offset` (depth-first), recording each scalar's spot;
// stops quietly at anything malformed. Returns the offset after the value.
inline size_t WalkMsgpack(const std::string& bytes, size_t offset, std::vector<MsgpackSpot>* spots,
                          int depth = 0) {
  if (offset >= bytes.size() || depth > 16) return bytes.size();
  const auto byte = static_cast<unsigned char>(bytes[offset]);
  auto be = [&](size_t at, size_t width) -> uint64_t {
    uint64_t value = 0;
    for (size_t i = 0; i < width && at + i < bytes.size(); ++i)
      value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
    return value;
  };
  auto scalar = [&](size_t length, bool integer, bool text) {
    spots->push_back({offset, length, integer, text});
    return offset + length;
  };
  auto container = [&](size_t header, uint64_t count, bool map) {
    size_t at = offset + header;
    for (uint64_t i = 0; i < count * (map ? 2 : 1) && at < bytes.size(); ++i)
      at = WalkMsgpack(bytes, at, spots, depth + 1);
    return at;
  };
  if (byte <= 0x7f || byte >= 0xe0) return scalar(1, true, false);
  if ((byte & 0xf0) == 0x80) return container(1, byte & 0x0f, true);
  if ((byte & 0xf0) == 0x90) return container(1, byte & 0x0f, false);
  if ((byte & 0xe0) == 0xa0) return scalar(1 + (byte & 0x1f), false, true);
  switch (byte) {
    case 0xcc:
    case 0xd0: return scalar(2, true, false);
    case 0xcd:
    case 0xd1: return scalar(3, true, false);
    case 0xce:
    case 0xd2: return scalar(5, true, false);
    case 0xcf:
    case 0xd3: return scalar(9, true, false);
    case 0xc4:
    case 0xd9: return scalar(2 + be(offset + 1, 1), false, true);
    case 0xc5:
    case 0xda: return scalar(3 + be(offset + 1, 2), false, true);
    case 0xc6:
    case 0xdb: return scalar(5 + be(offset + 1, 4), false, true);
    case 0xdc: return container(3, be(offset + 1, 2), false);
    case 0xdd: return container(5, be(offset + 1, 4), false);
    case 0xde: return container(3, be(offset + 1, 2), true);
    case 0xdf: return container(5, be(offset + 1, 4), true);
    case 0xca: return scalar(5, false, false);
    case 0xcb: return scalar(9, false, false);
    default: return scalar(1, false, false);  // nil, bools, and what we do not follow
  }
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : random_(seed) {}

  uint64_t Next() { return random_(); }
  size_t Below(size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(random_() % bound); }

  // One to three mutations of `valid`.
  std::string Mutate(const std::string& valid) {
    std::string bytes = valid;
    const size_t rounds = 1 + Below(3);
    for (size_t i = 0; i < rounds; ++i) MutateOnce(&bytes);
    return bytes;
  }

  // A msgpack integer encoding of a boundary value.
  std::string BoundaryInteger() {
    static const uint64_t kValues[] = {
        0,          1,      2,       0x7f,          0x80,           0xff,
        0x100,      0xffff, 0x10000, 0xffffffffull, 0x100000000ull, (1ull << 63) - 1,
        1ull << 63, ~0ull,  4095,    4096,          65536};
    const uint64_t value = kValues[Below(sizeof kValues / sizeof kValues[0])];
    if (Below(8) == 0) {  // a negative one
      static const std::string kNegatives[] = {
          std::string("\xff", 1), std::string("\xd0\x80", 2),
          std::string("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9)};
      return kNegatives[Below(3)];
    }
    std::string out;
    if (value <= 0x7f) return std::string(1, static_cast<char>(value));
    const int width = value <= 0xff ? 1 : value <= 0xffff ? 2 : value <= 0xffffffffull ? 4 : 8;
    out.push_back(static_cast<char>(width == 1   ? 0xcc
                                    : width == 2 ? 0xcd
                                    : width == 4 ? 0xce
                                                 : 0xcf));
    for (int i = width - 1; i >= 0; --i)
      out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    return out;
  }

  // A msgpack string that breaks some rule: empty, "." , one over a limit, long, invalid UTF-8.
  std::string HostileString() {
    std::string text;
    switch (Below(8)) {
      case 0: break;
      case 1: text = ".."; break;
      case 2: text = std::string(32, 'a'); break;
      case 3: text = std::string(65, 'v'); break;
      case 4: text = std::string(70 * 1024, 'g'); break;
      case 5: text = "\xff\xfe"; break;
      case 6: text = "a/b\n"; break;
      default: text = std::string(1 + Below(300), 'x');
    }
    std::string out;
    if (text.size() < 32) {
      out.push_back(static_cast<char>(0xa0 | text.size()));
    } else if (text.size() <= 0xff) {
      out = {static_cast<char>(0xd9), static_cast<char>(text.size())};
    } else if (text.size() <= 0xffff) {
      out = {static_cast<char>(0xda), static_cast<char>(text.size() >> 8),
             static_cast<char>(text.size() & 0xff)};
    } else {
      out = {static_cast<char>(0xdb), 0, static_cast<char>(text.size() >> 16),
             static_cast<char>((text.size() >> 8) & 0xff), static_cast<char>(text.size() & 0xff)};
    }
    return out + text;
  }

 private:
  void MutateOnce(std::string* bytes) {
    std::string& b = *bytes;
    switch (Below(9)) {
      case 0:  // bit flip
        if (!b.empty()) b[Below(b.size())] ^= static_cast<char>(1 << Below(8));
        return;
      case 1: {  // byte change, often to a msgpack type marker
        static const unsigned char kBytes[] = {0x00, 0xff, 0x7f, 0x80, 0xc0, 0xc2,
                                               0xc3, 0xcf, 0xd3, 0xd9, 0xdb, 0xdc,
                                               0xdd, 0xde, 0xdf, 0xc4, 0xc6, 0x90};
        if (!b.empty())
          b[Below(b.size())] = static_cast<char>(Below(2) ? kBytes[Below(sizeof kBytes)] : Next());
        return;
      }
      case 2:  // truncation
        b.resize(Below(b.size() + 1));
        return;
      case 3: {  // extension: random bytes or a repeat of a piece
        const size_t add = 1 + Below(64);
        if (Below(2) && !b.empty()) {
          const size_t from = Below(b.size());
          b += b.substr(from, add);
        } else {
          for (size_t i = 0; i < add; ++i) b.push_back(static_cast<char>(Next()));
        }
        return;
      }
      case 4: {  // swap two msgpack values (field swap), or two byte pieces
        std::vector<MsgpackSpot> spots;
        WalkMsgpack(b, 0, &spots);
        if (spots.size() >= 2) {
          MsgpackSpot x = spots[Below(spots.size())], y = spots[Below(spots.size())];
          if (x.offset > y.offset) std::swap(x, y);
          if (x.offset + x.length <= y.offset && y.offset + y.length <= b.size()) {
            b = b.substr(0, x.offset) + b.substr(y.offset, y.length) +
                b.substr(x.offset + x.length, y.offset - x.offset - x.length) +
                b.substr(x.offset, x.length) + b.substr(y.offset + y.length);
          }
        }
        return;
      }
      case 5:
      case 6:
      case 7: {  // a msgpack integer or string replaced by a boundary value or hostile text
        std::vector<MsgpackSpot> spots;
        WalkMsgpack(b, 0, &spots);
        if (spots.empty()) return;
        const MsgpackSpot spot = spots[Below(spots.size())];
        if (spot.offset + spot.length > b.size()) return;
        const std::string replacement =
            spot.text || (!spot.integer && Below(2)) ? HostileString() : BoundaryInteger();
        b = b.substr(0, spot.offset) + replacement + b.substr(spot.offset + spot.length);
        return;
      }
      default:  // random bytes overwritten in place
        for (size_t i = 0, n = 1 + Below(8); i < n && !b.empty(); ++i)
          b[Below(b.size())] = static_cast<char>(Next());
        return;
    }
  }

  std::mt19937_64 random_;
};

}  // namespace pairfs::fuzz
