// wire_send's journal-hostile mode (async pairs): journal batches no restore side may store.
#include "tests/tools/wire_send/wire_send.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "node/journal_format.h"
#include "wire/journal_messages.h"
#include "wire/limits.h"

namespace pairfs::wire_send {

// The journal-hostile mode: argv[3..] = SITE GROUP VOLUME.
int SendHostileJournalBatches(wire::Context& context, const std::string& endpoint, int,
                              char** argv) {
  const std::string site = argv[3], group = argv[4], volume = argv[5];
  auto entry = [&](uint64_t sequence) {
    wire::JournalEntryMessage message;
    const std::string data(4096, '\x66');
    message.sequence = sequence;
    message.volume = volume;
    message.offset = 0;
    message.length = data.size();
    message.data_checksum = node::JournalDataChecksum(data);
    message.data.assign(data.begin(), data.end());
    return message;
  };
  auto batch = [&](uint64_t first, std::vector<wire::JournalEntryMessage> entries) {
    wire::JournalBatchMessage message;
    message.group = group;
    message.first_sequence = first;
    message.entries = std::move(entries);
    return message;
  };
  constexpr uint64_t kFar = uint64_t{1} << 40;  // far past anything a test journal holds
  std::vector<wire::JournalBatchMessage> batches;
  batches.push_back(batch(kFar, {entry(kFar)}));  // a gap
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].volume = "no-such-volume";
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].offset = wire::kMaxVolumeBytes - 4096;  // past the volume's end
  batches.push_back(batch(1, {entry(1)}));
  batches.back().group = "no-such-group";
  std::vector<wire::JournalEntryMessage> many;
  for (uint64_t i = 0; i <= wire::kMaxJournalBatchEntries; ++i) many.push_back(entry(kFar + i));
  for (auto& e : many) e.data.clear(), e.kind = 1;  // discards: small, still too many
  batches.push_back(batch(kFar, many));
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].kind = 7;
  batches.push_back(batch(kFar, {entry(kFar)}));
  batches.back().entries[0].length = 8192;  // data of another length
  auto client = Connect(context, endpoint, site);
  if (!client.ok()) return 1;
  uint64_t id = std::random_device{}() | (uint64_t{1} << 61);
  for (const wire::JournalBatchMessage& message : batches) {
    Result<std::string> frame =
        wire::EncodeFrame(wire::MessageType::kJournalBatch, ++id, site, wire::EncodeBody(message));
    if (!frame.ok() || !client.value()->SendBytes(frame.value()).ok()) return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the frames leave
  std::printf("journal-hostile: sent %zu batches\n", batches.size());
  return 0;
}

}  // namespace pairfs::wire_send
