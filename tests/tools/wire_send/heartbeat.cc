// wire_send's heartbeat mode: well-formed heartbeats as a site's clusterd sends them.
#include "tests/tools/wire_send/wire_send.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace pairfs::wire_send {

// The heartbeat mode: argv[3..] = SITE STATE LINK COUNT.
int SendHeartbeats(wire::Context& context, const std::string& endpoint, int, char** argv) {
  wire::HeartbeatMessage beat;
  beat.site = argv[3];
  beat.state = argv[4];
  beat.link = static_cast<uint32_t>(std::strtoul(argv[5], nullptr, 10));
  beat.incarnation = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  const uint64_t count = std::strtoull(argv[6], nullptr, 10);
  auto client = Connect(context, endpoint, beat.site);
  if (!client.ok()) return 1;
  for (beat.counter = 1; beat.counter <= count; ++beat.counter) {
    Result<std::string> frame = wire::EncodeFrame(wire::MessageType::kHeartbeat, beat.counter,
                                                  beat.site, wire::EncodeBody(beat));
    if (!frame.ok()) return 1;
    (void)client.value()->SendBytes(frame.value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("heartbeat: sent %llu beats as %s announcing %s\n",
              static_cast<unsigned long long>(count), beat.site.c_str(), beat.state.c_str());
  return 0;
}

}  // namespace pairfs::wire_send
