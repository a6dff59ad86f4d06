// pairctl's client side: the parsed options, and how one request goes to the node and its
// answer is printed (pairctl/main.cc parses the command line; pairctl/long_commands.cc has the
// commands that ask more than once). Not thread-safe: pairctl has one thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "node/config.h"
#include "pairctl/format.h"
#include "pairctl/site_option.h"
#include "wire/limits.h"
#include "wire/link.h"
#include "wire/messages.h"
#include "wire/paging.h"
#include "wire/status.h"

namespace pairfs::pairctl {

using node::Config;

constexpr int kExitUsage = 2;

struct Options {
  std::string config_flag;
  bool json = false;
  std::string name;
  std::string size;
  std::string holder;
  std::string mode;
  std::string peer_volume;
  std::string fence;
  std::string group;
  bool read_write = false;
  bool swap = false;
  bool force = false;
  std::string status;
  double timeout_s = 0;
  bool progress = false;
  std::string key_dir = ".";
  std::string site;  // --site: the site whose node runs the command
};

// The site every node request is for (pairctl --site), set once in Main before any request: empty
// or this site's name asks the local node; another site's request is carried there by the local
// node (wire::CarryRequest, seed 001 claims 42-47). Not thread-safe: pairctl has one thread.
void SetCarrySite(const std::string& site);
const std::string& CarrySite();

// Prints why `status` failed on stderr and returns pairctl(8)'s exit code for it.
int Fail(const Status& status);

// Sends `request` to the node and returns its reply, or the Status explaining why there is none.
// `program` names who serves `endpoint` in messages.
// `timeout_ms`: how long the answer may take (a cluster takeover waits for on_start).
template <class T>
Result<wire::Reply> Ask(const Config& config, const T& request, const std::string& endpoint,
                        const std::string& program = "pairfs",
                        int timeout_ms = wire::kDefaultControlTimeoutMs) {
  Status listening = wire::ProbeEndpoint(endpoint);
  if (!listening.ok()) {
    return Status::Unreachable(program + " for site " + config.site.name +
                               " is not running: " + listening.message());
  }
  wire::Context context;
  Result<std::unique_ptr<wire::Client>> client =
      wire::Client::Connect(context, endpoint, config.site.name);
  if (!client.ok()) return client.status();
  Result<wire::Reply> reply = client.value()->Call(request, timeout_ms);
  if (!reply.ok() && reply.status().code() == Code::kUnreachable) {
    return Status::Unreachable(program + " for site " + config.site.name + " did not answer at " +
                               endpoint + ": " + reply.status().message());
  }
  return reply;
}

template <class T>
Result<wire::Reply> Ask(const Config& config, const T& request) {
  if (CarrySite().empty()) return Ask(config, request, config.site.control);
  return Ask(config, CarryRequestFor(CarrySite(), request), config.site.control);
}

// clusterd's control socket at this site.
std::string ClusterdEndpoint(const Config& config);

// ops (issue 15): how long `cluster takeover --force` waits for clusterd's answer, which comes
// once the race after the takeovers is decided and on_start ran: the usual control wait, plus
// hook_timeout_ms, plus one node call (peer_timeout_ms and the usual wait) for each step (the
// determining volume's takeover and release, each managed volume's takeover, the race's reserve
// and each managed volume's reserve). Generous: it only catches a clusterd that hangs.
int ClusterTakeoverTimeoutMs(const Config& config);

// Runs one request and prints its outcome with `print` (called only on success).
// A display or volume list of every volume asks page after page (wire/paging.h).
template <class T, class Print>
int Run(const Config& config, const T& request, Print print) {
  Result<wire::Reply> reply = [&] {
    if constexpr (requires { request.after; }) {
      if (request.name.empty()) {
        return wire::CallEveryPage(request, [&](const T& page) { return Ask(config, page); });
      }
    }
    return Ask(config, request);
  }();
  if (!reply.ok()) return Fail(reply.status());
  Status status = reply->ToStatus();
  if (!status.ok()) return Fail(status);
  print(reply.value());
  return 0;
}

// Prints `document` on stdout; invalid UTF-8 (a name in an old metadata file) is printed as
// U+FFFD, never an abort.
void PrintJson(const nlohmann::ordered_json& document);

// A pair command's outcome: the node's note (if any) and the volume's new status.
void PrintPairOutcome(const wire::Reply& reply, bool json, const std::string& what);

// wait: polls the node until the volume (with --group: every pair of the group) shows
// options.status. Exit 5 at the timeout; exit 1 at once when waiting for PAIR and a copy was
// interrupted (PSUE), since it cannot get there alone.
int Wait(const Config& config, const Options& options);
// verify: asks the node for one slice of regions at a time; exit 1 when the copies differ.
int Verify(const Config& config, const Options& options);
// keygen: a CURVE key pair for [security], needing no config and no daemon.
int Keygen(const Options& options);

}  // namespace pairfs::pairctl
