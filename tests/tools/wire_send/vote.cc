// wire_send's vote mode: one reserve vote, as a node sends it to the witness or its peer.
#include "tests/tools/wire_send/wire_send.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace pairfs::wire_send {

// The vote mode: argv[3..] = SITE VOLUME HOLDER [--release] [--force] [--outdated SITE]
// [--hold N].
int SendVote(wire::Context& context, const std::string& endpoint, int argc, char** argv) {
  constexpr int kVoteTimeoutMs = 2000;
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] "
                 "[--outdated SITE] [--hold N]\n");
    return 2;
  }
  wire::ReserveVoteRequest request;
  request.volume = argv[4];
  request.holder = argv[5];
  for (int i = 6; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--release") {
      request.release = true;
    } else if (option == "--force") {
      request.force = true;
    } else if (option == "--outdated" && i + 1 < argc) {
      request.outdated = argv[++i];
    } else if (option == "--hold" && i + 1 < argc) {
      request.hold = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "vote: unknown option %s\n", option.c_str());
      return 2;
    }
  }
  auto client = Connect(context, endpoint, argv[3]);
  if (!client.ok()) {
    std::fprintf(stderr, "vote: %s\n", client.status().message().c_str());
    return 2;
  }
  Result<wire::Reply> reply = client.value()->Call(request, kVoteTimeoutMs);
  if (!reply.ok()) {
    std::printf("no answer: %s\n", reply.status().message().c_str());
    return reply.status().code() == Code::kUnreachable ? 4 : 1;
  }
  if (reply->code != 0) {
    std::printf("refused: %s\n", reply->message.c_str());
    return 1;
  }
  const wire::ReservationRecord& record = reply->reservation;
  std::printf("granted epoch=%llu holder=%s outdated=%s",
              static_cast<unsigned long long>(record.epoch), record.holder.c_str(),
              record.outdated.c_str());
  if (record.hold != 0) std::printf(" hold=%llu", static_cast<unsigned long long>(record.hold));
  std::printf("\n");
  return 0;
}

}  // namespace pairfs::wire_send
