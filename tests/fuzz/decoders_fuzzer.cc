// `make fuzz`: coverage-guided fuzzing of every decoder with clang's libFuzzer, under ASan and
// UBSan, for longer runs than `make check`'s mutation fuzz tests (tests/unit/fuzz). The first
// input byte picks the decoder, the rest is its input. A decoder that crashes, throws or accepts
// what its checks refuse stops the run with the input saved (libFuzzer's crash-* file).
// PAIRFS_FUZZ_CORPUS=DIR: seeds (valid encodings of each decoder) are written there at start.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "node/config.h"
#include "node/metadata.h"
#include "node/witness_store.h"
#include "wire/envelope.h"
#include "wire/peer_messages.h"

using namespace pairfs;
using namespace pairfs::wire;

namespace {

template <class T>
void Command(std::string_view input) {
  T command;
  if (DecodePeerMessage(input, &command).ok() && !command.Check().ok()) __builtin_trap();
}

void Decode(uint8_t which, std::string_view input) {
  switch (which % 24) {
    case 0: (void)DecodeFrame(input); return;
    case 1: {
      WriteMessage write;
      std::string_view data;
      if (DecodeWriteBody(input, &write, &data).ok() && CheckWrite(write, data.size()).ok() &&
          (write.length == 0 || (write.kind == 0 && data.size() != write.length))) {
        __builtin_trap();
      }
      return;
    }
    case 2: {
      WriteReplyMessage m;
      if (DecodeBody(input, &m).ok()) (void)CheckWriteReply(m);
      return;
    }
    case 3: {
      FlushMessage m;
      if (DecodeBody(input, &m).ok()) (void)CheckFlush(m);
      return;
    }
    case 4: {
      PeerStatusMessage m;
      if (DecodeBody(input, &m).ok()) (void)CheckPeerStatus(m);
      return;
    }
    case 5: return Command<PeerCreateCommand>(input);
    case 6: return Command<PeerForwardSplitCommand>(input);
    case 7: return Command<PeerForwardResyncCommand>(input);
    case 8: return Command<PeerReserveAskCommand>(input);
    case 9: return Command<PeerReserveMirrorCommand>(input);
    case 10: return Command<PeerVoteCommand>(input);
    case 11: return Command<PeerStatusAskCommand>(input);
    case 12: return Command<PeerVerifyCommand>(input);
    case 13: return Command<PeerSplitCommand>(input);
    case 14: return Command<PeerResyncCommand>(input);
    case 15: return Command<PeerDemoteCommand>(input);
    case 16: return Command<PeerCopyDoneCommand>(input);
    case 17: return Command<PeerBitmapCommand>(input);
    case 18: return Command<PeerAnswerMessage>(input);
    case 19: {
      Reply m;
      if (DecodeBody(input, &m).ok()) (void)m.ToStatus();
      return;
    }
    case 20: {
      Result<node::VolumeMetadata> m = node::DecodeMetadata(std::string(input));
      if (m.ok() && !node::CheckMetadata(m.value()).ok()) __builtin_trap();
      return;
    }
    case 21: (void)node::DecodeWitnessRecord(std::string(input)); return;
    case 22: (void)node::ParseConfig(input, "/etc/pairfs/fuzz.toml"); return;
    default: {
      PairCreateRequest m;
      if (DecodeBody(input, &m).ok()) (void)CheckTextField("group", m.group, 64);
      return;
    }
  }
}

void WriteSeed(const std::string& dir, int which, const std::string& body) {
  std::ofstream(dir + "/seed-" + std::to_string(which), std::ios::binary)
      << static_cast<char>(which) << body;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("PAIRFS_FUZZ_CORPUS");
  if (dir == nullptr) return 0;
  const Generation g{3, "a"};
  WriteSeed(
      dir, 0,
      EncodeFrame(MessageType::kPeerSplit, 1, "a", EncodeBody(PeerSplitCommand{"vm1", g})).value());
  WriteSeed(dir, 1,
            EncodeBody(WriteMessage{"vm1", g, 1, "a", 0, 4096, 8, std::vector<char>(8, 'x')}));
  WriteSeed(dir, 2, EncodeBody(WriteReplyMessage{"vm1", g, 1, 0}));
  WriteSeed(dir, 3, EncodeBody(FlushMessage{"vm1", g, 1, 0}));
  WriteSeed(dir, 4, EncodeBody(PeerStatusMessage{"vm1", g, "primary", "PAIR", true, false, 100}));
  WriteSeed(dir, 5,
            EncodeBody(PeerCreateCommand{"vm1", g, "vm1", 1 << 20, "sync", "never", "g", 65536}));
  WriteSeed(dir, 6, EncodeBody(PeerForwardSplitCommand{"vm1", true}));
  WriteSeed(dir, 7, EncodeBody(PeerForwardResyncCommand{"vm1"}));
  WriteSeed(dir, 8, EncodeBody(PeerReserveAskCommand{"vm1", "a", false, false, false, ""}));
  WriteSeed(dir, 9, EncodeBody(PeerReserveMirrorCommand{"vm1", {2, "a", ""}}));
  WriteSeed(dir, 10, EncodeBody(PeerVoteCommand{"q", "a", "b", false, false}));
  WriteSeed(dir, 11, EncodeBody(PeerStatusAskCommand{"vm1"}));
  WriteSeed(dir, 12, EncodeBody(PeerVerifyCommand{"vm1", 0, 16}));
  WriteSeed(dir, 13, EncodeBody(PeerSplitCommand{"vm1", g, true}));
  WriteSeed(dir, 14, EncodeBody(PeerResyncCommand{"vm1", g, true}));
  WriteSeed(dir, 15, EncodeBody(PeerDemoteCommand{"vm1", g}));
  WriteSeed(dir, 16, EncodeBody(PeerCopyDoneCommand{"vm1", g}));
  WriteSeed(dir, 17, EncodeBody(PeerBitmapCommand{"vm1", g, 0, 64}));
  WriteSeed(dir, 18, EncodeBody(PeerAnswerMessage{}));
  WriteSeed(dir, 19, EncodeBody(Reply{}));
  node::VolumeMetadata metadata;
  metadata.name = "vm1";
  metadata.size_bytes = 1 << 20;
  WriteSeed(dir, 20, node::EncodeMetadata(metadata));
  WriteSeed(dir, 21, node::EncodeWitnessRecord({3, "a", "b"}));
  WriteSeed(dir, 22, "[site]\nname = \"a\"\ndata_dir = \"/d/a\"\n");
  WriteSeed(dir, 23, EncodeBody(PairCreateRequest{"vm1", "sync", "", "never", "g"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    Decode(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  } catch (...) {
    __builtin_trap();  // a decoder must never throw
  }
  return 0;
}
