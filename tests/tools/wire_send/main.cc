// wire_send: throws bad bytes at a pairfs endpoint for the integration tests. This file is its
// command line; each mode is in its own file (wire_send.h lists them).
//
//   wire_send ENDPOINT garbage COUNT SEED   random frames: raw noise, valid headers over random
//                                           bodies, wrong versions, bad checksums, oversized;
//                                           exits 0 once all are sent
//   wire_send ENDPOINT peer-garbage COUNT SEED SITE
//                                           frames that claim to come from SITE (the peer) with
//                                           site-to-site types: random bodies, writes that lie
//                                           about their length, point past the end, name unknown
//                                           volumes or kinds, stale generations; plus oversized
//   wire_send ENDPOINT ping                 a well-formed volume-list request; exit 0 if the
//                                           node answers it, 1 if not
//   wire_send ENDPOINT peer-command SITE COMMAND VOLUME COUNTER GEN_SITE
//                                           one well-formed pair command (split, split-rw, resync,
//                                           swap, demote, copy-done, trim, dissolve, status) that
//                                           claims to come from SITE, at generation
//                                           COUNTER/GEN_SITE; the node answers SITE's own node,
//                                           which asked nothing (a command whose answer is lost);
//                                           exits 0 once sent
//   wire_send ENDPOINT write SITE replica|forwarded VOLUME COUNTER GEN_SITE OFFSET LENGTH
//   DATA_BYTES [KIND]
//                                           one write frame as SITE at generation COUNTER/GEN_SITE
//                                           (e.g. LENGTH 0: refused, never an abort); exits 0 once
//                                           sent
//   wire_send ENDPOINT hostile COUNT SEED SITE VOLUME COUNTER GEN_SITE
//                                           COUNT frames as SITE: hostile values at the pair's real
//                                           generation that no node may act on, and mutated valid
//                                           frames of every site-to-site type (HostileFrame)
//   wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] [--outdated SITE] [--hold N]
//                                           one reserve vote sent as SITE (a witness's or a node's
//                                           copy of a reservation record), numbered N (default 0:
//                                           not numbered); prints `granted epoch=N holder=H
//                                           outdated=O` (and ` hold=N` for a record with a
//                                           number) and exits 0, or
//                                           `refused: REASON` and exits 1; exit 4 when no answer
//                                           comes within 2 s, 2 for bad arguments
//   wire_send ENDPOINT replica-write SITE VOLUME OFFSET COUNTER GEN_SITE
//                                           one well-formed 4 KiB replica write of bytes 0x5a at
//                                           OFFSET, as SITE at generation COUNTER/GEN_SITE (what
//                                           the primary SITE would send its secondary); prints the
//                                           answer's code or `no answer` (a node answers its
//                                           peer's node, not this sender); exits 0 once sent
//   wire_send ENDPOINT journal-hostile SITE GROUP VOLUME
//                                           async pairs: journal batches as SITE (the primary) for
//                                           GROUP that no restore side may store: a sequence gap,
//                                           a volume of no pair of the group, a range past the
//                                           volume's end, an unknown group, and malformed ones (too
//                                           many entries, a bad kind, data of the wrong length);
//                                           exits 0 once sent
//   wire_send ENDPOINT heartbeat SITE STATE LINK COUNT
//                                           COUNT well-formed heartbeats as SITE announcing STATE
//                                           on link LINK, 50 ms apart, a fresh incarnation; exits 0
//   wire_send ENDPOINT peer-carry SITE KIND
//                                           one hostile carried request (pairctl --site) as SITE's
//                                           node would send it: KIND nested (a carry inside the
//                                           carry), fence, cluster (cluster-unfence), clusterd (a
//                                           takeover with cluster and peer_lost set), oversized;
//                                           exits 0 once sent (the answer goes to SITE's node)
//   wire_send ENDPOINT control-carry SITE KIND
//                                           the same as a carry request to a node's control
//                                           endpoint, carried to SITE; prints `answer: CODE
//                                           MESSAGE` and exits 0 when answered, 1 if not
//
// Before ENDPOINT, `--key SECRET.key --server-key SERVER.pub` makes every connection a CURVE
// client proving SECRET.key and trusting SERVER.pub (the server's site is that file's name).
#include <cstdio>
#include <string>
#include <utility>

#include "tests/tools/wire_send/wire_send.h"
#include "wire/curve.h"

using namespace pairfs;

namespace pairfs::wire_send {
namespace {

std::string g_server_site;

// The ping mode: a volume-list request, answered or not.
int SendPing(wire::Context& context, const std::string& endpoint, int, char**) {
  auto client = Connect(context, endpoint, "fuzz");
  if (!client.ok()) return 1;
  Result<wire::Reply> reply = client.value()->Call(wire::VolumeListRequest{}, 5000);
  if (!reply.ok()) {
    std::fprintf(stderr, "ping: %s\n", reply.status().message().c_str());
    return 1;
  }
  std::printf("ping: %zu volume(s)\n", reply->volumes.size());
  return reply->ToStatus().ok() ? 0 : 1;
}

// A mode, the argument counts it takes (argc, all of the command line) and what runs it.
struct Mode {
  const char* name;
  int min_argc;
  int max_argc;
  int (*send)(wire::Context&, const std::string&, int, char**);
};

constexpr int kAny = 1 << 30;
constexpr Mode kModes[] = {
    {"ping", 3, kAny, SendPing},
    {"vote", 3, kAny, SendVote},  // checks its own arguments (usage, exit 2)
    {"replica-write", 8, 8, SendReplicaWrite},
    {"heartbeat", 7, 7, SendHeartbeats},
    {"journal-hostile", 6, 6, SendHostileJournalBatches},
    {"peer-carry", 5, 5, SendPeerCarry},
    {"control-carry", 5, 5, SendControlCarry},
    {"garbage", 5, 5, SendGarbage},
    {"peer-garbage", 6, 6, SendPeerGarbage},
    {"write", 11, 12, SendWrite},
    {"hostile", 9, 9, SendHostile},
    {"peer-command", 8, 8, SendPeerCommand},
};

}  // namespace

void SetServerSite(std::string site) { g_server_site = std::move(site); }

Result<std::unique_ptr<wire::Client>> Connect(wire::Context& context, const std::string& endpoint,
                                              const std::string& site) {
  return wire::Client::Connect(context, endpoint, site, g_server_site);
}

}  // namespace pairfs::wire_send

int main(int argc, char** argv) {
  std::string secret_key_file;
  std::string server_key_file;
  while (argc >= 3 && (std::string(argv[1]) == "--key" || std::string(argv[1]) == "--server-key")) {
    (std::string(argv[1]) == "--key" ? secret_key_file : server_key_file) = argv[2];
    argv += 2;
    argc -= 2;
  }
  wire::Context context;
  if (!secret_key_file.empty() || !server_key_file.empty()) {
    Result<wire::CurveKeys> keys = wire::LoadCurveKeys(secret_key_file, {server_key_file});
    if (!keys.ok()) {
      std::fprintf(stderr, "wire_send: %s\n", keys.status().message().c_str());
      return 2;
    }
    wire_send::SetServerSite(wire::SiteOfPublicKeyFile(server_key_file));
    context.UseCurve(keys.value());
  }
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: wire_send ENDPOINT garbage COUNT SEED | wire_send ENDPOINT ping | "
        "wire_send ENDPOINT vote SITE VOLUME HOLDER [--release] [--force] [--outdated SITE]\n");
    return 2;
  }
  const std::string endpoint = argv[1];
  const std::string mode = argv[2];
  for (const wire_send::Mode& known : wire_send::kModes) {
    if (mode == known.name && argc >= known.min_argc && argc <= known.max_argc)
      return known.send(context, endpoint, argc, argv);
  }
  std::fprintf(stderr, "wire_send: unknown mode %s\n", mode.c_str());
  return 2;
}
