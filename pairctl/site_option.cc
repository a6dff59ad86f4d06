#include "pairctl/site_option.h"

#include "node/names.h"

namespace pairfs::pairctl {

Result<std::string> CarrySiteFor(const std::string& site, const std::string& own_site,
                                 const std::string& command, bool carriable) {
  if (Status named = node::CheckSiteName(site); !named.ok()) {
    return Status::InvalidArgument("--site: " + named.message());
  }
  if (site == own_site) return std::string();
  if (!carriable) {
    return Status::InvalidArgument("--site: the " + command +
                                   " commands ask this site's clusterd, which carries nothing; "
                                   "run them at site " +
                                   site + " instead");
  }
  return site;
}

}  // namespace pairfs::pairctl
