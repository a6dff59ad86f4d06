// PeerLink::SendShared (wire/peer_link.h): a frame the sender keeps goes out without a copy, and
// ZeroMQ's reference keeps its bytes alive after the sender has dropped its own.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/unit/temp_dir.h"
#include "wire/envelope.h"
#include "wire/limits.h"
#include "wire/link.h"
#include "wire/peer_link.h"

namespace {

// What a PeerLink's handler received, for the test thread to wait on.
class SharedSendInbox {
 public:
  void Put(pairfs::wire::Frame frame) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!frame_) frame_ = std::move(frame);
    arrived_.notify_all();
  }
  // The first frame; nullopt if none came within `wait` (a deadline that only catches a hang).
  std::optional<pairfs::wire::Frame> Wait(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    arrived_.wait_for(lock, wait, [&] { return frame_.has_value(); });
    return frame_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::optional<pairfs::wire::Frame> frame_;
};

// The ipc endpoint of site `site` in `dir`.
std::string SharedSendEndpoint(const pairfs::testing::TempDir& dir, const std::string& site) {
  return "ipc://" + dir.path() + "/" + site + ".sock";
}

}  // namespace

TEST_CASE("a shared frame reaches the peer intact after its sender dropped it, then is released",
          "[link][peer_link]") {
  using namespace pairfs::wire;
  pairfs::testing::TempDir dir;
  Context context;
  const std::string endpoint_a = SharedSendEndpoint(dir, "a");
  const std::string endpoint_b = SharedSendEndpoint(dir, "b");
  SharedSendInbox inbox;
  auto b = PeerLink::Start(context, endpoint_b, endpoint_a, "b", "a",
                           [&](Frame frame) { inbox.Put(std::move(frame)); });
  REQUIRE(b.ok());
  auto a = PeerLink::Start(context, endpoint_a, endpoint_b, "a", "b", [](Frame) {});
  REQUIRE(a.ok());

  // A body as large as a write's, with a pattern a freed or reused buffer would not keep.
  std::string body(kMaxDataBytes, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 + 7);
  Result<std::string> encoded = EncodeFrame(MessageType::kPeerStatus, 42, "a", body);
  REQUIRE(encoded.ok());

  // Frames sent before the connection is up are dropped (ZMQ_IMMEDIATE): send a fresh frame each
  // round, dropping this side's reference at once, until one arrives.
  std::weak_ptr<const std::string> last_sent;
  std::optional<Frame> received;
  for (int round = 0; round < 200 && !received; ++round) {
    auto frame = std::make_shared<const std::string>(encoded.value());
    last_sent = frame;
    REQUIRE(a.value()->SendShared(std::move(frame)).ok());
    received = inbox.Wait(std::chrono::milliseconds(50));
  }
  REQUIRE(received.has_value());
  CHECK(received->request_id == 42);
  CHECK(received->sender_site == "a");
  CHECK(received->body == body);  // the checksum passed too: DecodeFrame refuses a mismatch

  // ZeroMQ drops its reference once the frame is written: nothing is kept per frame sent.
  for (int wait = 0; wait < 500 && !last_sent.expired(); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(last_sent.expired());
}

TEST_CASE("a shared frame waiting in ZeroMQ's pipe is referenced, not copied, until it is written",
          "[link][peer_link]") {
  using namespace pairfs::wire;
  pairfs::testing::TempDir dir;
  Context context;
  const std::string endpoint_a = SharedSendEndpoint(dir, "a");
  const std::string endpoint_b = SharedSendEndpoint(dir, "b");
  // b's handler holds its link thread on the first frame until the test lets go: b stops reading,
  // its pipe and the socket fill, and a's frames wait in a's pipe.
  std::mutex gate_mutex;
  std::condition_variable gate_opened;
  bool gate_open = false;
  SharedSendInbox inbox;
  auto b = PeerLink::Start(context, endpoint_b, endpoint_a, "b", "a", [&](Frame frame) {
    inbox.Put(std::move(frame));
    std::unique_lock<std::mutex> lock(gate_mutex);
    gate_opened.wait(lock, [&] { return gate_open; });
  });
  REQUIRE(b.ok());
  auto a = PeerLink::Start(context, endpoint_a, endpoint_b, "a", "b", [](Frame) {});
  REQUIRE(a.ok());
  auto open_gate = [&] {
    {
      std::lock_guard<std::mutex> lock(gate_mutex);
      gate_open = true;
    }
    gate_opened.notify_all();
  };
  // Opens the gate on every way out (a failed REQUIRE too), before the links are stopped: b's
  // thread must not stay held while b joins it.
  struct GateOpener {
    std::function<void()> open;
    ~GateOpener() { open(); }
  } gate_opener{open_gate};
  Result<std::string> encoded =
      EncodeFrame(MessageType::kPeerStatus, 7, "a", std::string(64 * 1024, 'x'));
  REQUIRE(encoded.ok());
  for (int round = 0; round < 200 && !inbox.Wait(std::chrono::milliseconds(0)); ++round) {
    REQUIRE(a.value()->SendShared(std::make_shared<const std::string>(encoded.value())).ok());
    (void)inbox.Wait(std::chrono::milliseconds(50));
  }
  REQUIRE(inbox.Wait(std::chrono::milliseconds(0)).has_value());

  // More frames than b's pipe, the socket and a's pipe hold together (kPeerQueueMessages each):
  // some are still in a's pipe, held by reference only (this side dropped its own).
  std::vector<std::weak_ptr<const std::string>> sent;
  for (int i = 0; i < 3 * kPeerQueueMessages; ++i) {
    auto frame = std::make_shared<const std::string>(encoded.value());
    sent.push_back(frame);
    REQUIRE(a.value()->SendShared(std::move(frame)).ok());
  }
  size_t held = 0;
  for (const auto& frame : sent) held += frame.expired() ? 0 : 1;
  CHECK(held > 0);
  open_gate();
  // Once b reads again every frame is written and released (a deadline that only catches a hang).
  auto all_released = [&] {
    for (const auto& frame : sent)
      if (!frame.expired()) return false;
    return true;
  };
  for (int wait = 0; wait < 1000 && !all_released(); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(all_released());
}
