// Who may talk to a site (doc/design.md "Security"): which CURVE keys the daemons run their
// site-to-site sockets with, and the secure-by-default rule. Pure functions over the config and
// the key files; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "node/config.h"
#include "wire/curve.h"
#include "wire/status.h"

namespace pairfs::node {

// True for an endpoint that cannot be reached from another machine: ipc://, or tcp:// on
// 127.0.0.0/8, [::1] or localhost. Anything else (0.0.0.0, *, an interface name, another
// address, a malformed endpoint) is not.
bool IsLoopbackEndpoint(const std::string& endpoint);

// The keys pairfs (node or witness) and clusterd run their site-to-site sockets with (listen,
// peer.endpoint, the heartbeat links, the witness endpoint).
//   - [security] with secret_key: the loaded keys. They must include the public key of the peer
//     (when [peer] is given) and of the two sites a witness serves (witness.sites).
//   - no keys: nullopt (plain sockets) when every such endpoint is loopback or ipc://, or when
//     `[security] insecure = true`.
// Fails with InvalidArgument reading "PATH: KEY = ENDPOINT is not a loopback address ..." naming
// the endpoint and the keys to add when there are no keys and an endpoint is reachable from
// elsewhere, or when site.control is (it never has keys), unless insecure = true; with the key
// file errors of wire::LoadCurveKeys ("PATH: security...: ...") else.
Result<std::optional<wire::CurveKeys>> SiteToSiteKeys(const Config& config);

// The witness's site for a data site with keys and a [witness] endpoint: the site of the one key
// in peer_public_keys that is not the peer's. InvalidArgument naming the config if there is no
// such key or more than one.
Result<std::string> WitnessSite(const Config& config, const wire::CurveKeys& keys);

}  // namespace pairfs::node
