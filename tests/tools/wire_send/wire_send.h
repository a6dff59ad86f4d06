// wire_send (tests/tools/wire_send/): what its modes share: the connection to the endpoint and
// one entry point per mode. Each mode takes the whole command line (argv[1] is ENDPOINT,
// argv[2] the mode, argv[3..] its arguments, as main.cc's usage says), sends, prints one line and
// returns the tool's exit code. Single-threaded.
#pragma once

#include <memory>
#include <string>

#include "wire/link.h"
#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::wire_send {

// The site of --server-key ("" without keys): Connect() makes CURVE clients trusting its key.
void SetServerSite(std::string site);

// A client of `endpoint` sending as `site`.
Result<std::unique_ptr<wire::Client>> Connect(wire::Context& context, const std::string& endpoint,
                                              const std::string& site);

// A write frame of `type` claiming to come from `site`: `data_bytes` of data (a data write) or
// none (kind 1 or 2: a discard). hostile.cc; the write mode uses it too.
std::string WriteFrame(wire::MessageType type, uint64_t id, const std::string& site,
                       const std::string& volume, const wire::Generation& generation,
                       uint64_t offset, uint64_t length, size_t data_bytes, uint8_t kind);

// The modes, by file: garbage.cc (garbage, peer-garbage), hostile.cc (hostile),
// pair_frames.cc (peer-command, write, replica-write), journal_hostile.cc, heartbeat.cc,
// vote.cc, carry.cc (peer-carry, control-carry), main.cc (ping).
int SendGarbage(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendPeerGarbage(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendHostile(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendPeerCommand(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendWrite(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendReplicaWrite(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendHostileJournalBatches(wire::Context& context, const std::string& endpoint, int argc,
                              char** argv);
int SendHeartbeats(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendVote(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendPeerCarry(wire::Context& context, const std::string& endpoint, int argc, char** argv);
int SendControlCarry(wire::Context& context, const std::string& endpoint, int argc, char** argv);

}  // namespace pairfs::wire_send
