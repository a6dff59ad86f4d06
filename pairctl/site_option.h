// pairctl --site SITE (pairctl(8), seed 001 claims 42-47): which site's node runs a command, and
// the carry request that asks this site's node to take a request there. Pure functions,
// thread-safe.
#pragma once

#include <string>

#include "wire/messages.h"
#include "wire/status.h"

namespace pairfs::pairctl {

// What a command given `--site site` at site `own_site` is carried to: "" to run here (site is
// this site's own name), else `site` (this site's node refuses a site that is not its peer).
// `command` names the command for the message; `carriable` is false for the commands that ask
// this site's clusterd (cluster status/unfence), which carries nothing. InvalidArgument (a usage
// error) for a bad site name, or another site for a command that is not carriable.
Result<std::string> CarrySiteFor(const std::string& site, const std::string& own_site,
                                 const std::string& command, bool carriable);

// The carry request that asks this site's node to have `site`'s node answer `request`.
template <class T>
wire::CarryRequest CarryRequestFor(const std::string& site, const T& request) {
  const std::string body = wire::EncodeBody(request);
  return {site, static_cast<uint16_t>(T::kType), std::vector<char>(body.begin(), body.end())};
}

}  // namespace pairfs::pairctl
