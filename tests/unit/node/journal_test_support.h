// What the journal's tests share: journals over memory files, writes of known bytes.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "node/block_file.h"
#include "node/journal.h"

namespace pairfs::testing {

// `length` bytes that depend on `seed` (so two entries differ and a mix-up shows).
// Eight bytes per draw: these files are built -O0 (Makefile), and a draw per byte was most of the
// journal tests' CPU time (they write and check hundreds of MiB). A shorter length is a prefix.
inline std::string BytesFor(uint64_t seed, size_t length) {
  std::mt19937_64 random(seed);
  std::string bytes(length, '\0');
  for (size_t at = 0; at < length; at += sizeof(uint64_t)) {
    const uint64_t word = random();
    std::memcpy(bytes.data() + at, &word, std::min(sizeof word, length - at));
  }
  return bytes;
}

inline node::JournalWrite DataWrite(std::string_view volume, uint64_t offset, std::string_view data,
                                    uint16_t flags = 0) {
  return node::JournalWrite{volume, wire::WriteKind::kData, offset, data.size(), data, flags};
}

// Formats `file` for group "app" and opens it; the test fails if either step does.
inline std::unique_ptr<node::Journal> FormatAndOpen(
    const std::shared_ptr<node::BlockFile>& file,
    node::JournalRole role = node::JournalRole::kMaster, uint64_t first_sequence = 1) {
  node::JournalSetup setup;
  setup.group = "app";
  setup.role = role;
  setup.first_sequence = first_sequence;
  REQUIRE(node::Journal::Format(*file, setup).ok());
  Result<std::unique_ptr<node::Journal>> journal = node::Journal::Open(file, "app");
  INFO(journal.status().message());
  REQUIRE(journal.ok());
  return std::move(journal.value());
}

inline uint64_t AppendOk(node::Journal& journal, const node::JournalWrite& write) {
  Result<uint64_t> sequence = journal.Append(write);
  INFO(sequence.status().message());
  REQUIRE(sequence.ok());
  return sequence.value();
}

// The slot holding the newer header (the one Open would pick).
inline uint64_t NewestSlot(node::BlockFile& file) {
  std::string slots(node::kJournalDataStart, '\0');
  REQUIRE(file.ReadAt(0, slots.size(), slots.data(), false).ok());
  Result<node::JournalHeader> first =
      node::DecodeJournalHeader(slots.substr(0, node::kJournalSlotEncodedBytes));
  Result<node::JournalHeader> second = node::DecodeJournalHeader(
      slots.substr(node::kJournalSlotBytes, node::kJournalSlotEncodedBytes));
  REQUIRE((first.ok() || second.ok()));
  if (!first.ok()) return 1;
  if (!second.ok()) return 0;
  return second->slot_counter > first->slot_counter ? 1 : 0;
}

// Opens `file` again, as a restarted node does.
inline std::unique_ptr<node::Journal> Reopen(const std::shared_ptr<node::BlockFile>& file) {
  Result<std::unique_ptr<node::Journal>> journal = node::Journal::Open(file, "app");
  INFO(journal.status().message());
  REQUIRE(journal.ok());
  return std::move(journal.value());
}

// A journal file in memory that forwards every call to a MemoryBlockFile (`inner_`): a test's
// file derives from it and overrides the calls it watches or changes.
class ForwardingFile : public node::BlockFile {
 public:
  explicit ForwardingFile(uint64_t size) : inner_(size) {}
  Result<size_t> ReadAt(uint64_t offset, size_t length, char* out, bool direct) override {
    return inner_.ReadAt(offset, length, out, direct);
  }
  Status WriteAt(uint64_t offset, const char* data, size_t length, bool direct) override {
    return inner_.WriteAt(offset, data, length, direct);
  }
  Status Deallocate(wire::WriteKind kind, uint64_t offset, uint64_t length) override {
    return inner_.Deallocate(kind, offset, length);
  }
  Status Sync() override { return inner_.Sync(); }
  Status Resize(uint64_t size_bytes) override { return inner_.Resize(size_bytes); }
  node::BlockFileStat Stat() const override { return inner_.Stat(); }
  Status SetTimes(const struct timespec times[2]) override { return inner_.SetTimes(times); }

 protected:
  node::MemoryBlockFile inner_;
};

// A journal file in memory, `size` bytes (the smallest ring that wraps soon by default).
inline std::shared_ptr<node::MemoryBlockFile> MemoryFile(uint64_t size = 64 * 1024) {
  return std::make_shared<node::MemoryBlockFile>(size);
}

// Damages one byte of `file` at `offset` (and syncs it).
inline void FlipByte(node::BlockFile& file, uint64_t offset) {
  char byte = 0;
  REQUIRE(file.ReadAt(offset, 1, &byte, false).ok());
  byte = static_cast<char>(byte ^ 0x5a);
  REQUIRE(file.WriteAt(offset, &byte, 1, false).ok());
  REQUIRE(file.Sync().ok());
}

// The entries from sequence `from` on, at most `max_bytes`; the test fails if the read does.
inline std::vector<node::JournalEntry> ReadOk(const node::Journal& journal, uint64_t from,
                                              size_t max_bytes = 1 << 30) {
  Result<std::vector<node::JournalEntry>> entries = journal.Read(from, max_bytes);
  INFO(entries.status().message());
  REQUIRE(entries.ok());
  return std::move(entries.value());
}

}  // namespace pairfs::testing
