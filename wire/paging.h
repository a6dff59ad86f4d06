// Every volume of a display or volume list, page after page (DisplayRequest says how a page is
// chosen). Header-only; thread-safe as the `call` it is given.
#pragma once

#include <utility>

#include "wire/messages.h"

namespace pairfs::wire {

// Calls `call(request)` (returning Result<Reply>) for the first page and again, with `after` set
// to the last name received, while the reply says `more`; the replies' volumes in one Reply.
// The first failure (no answer, or a reply with a non-zero code) is returned as it is.
template <class Request, class Call>
Result<Reply> CallEveryPage(Request request, Call call) {
  Result<Reply> first = call(request);
  if (!first.ok() || first->code != 0) return first;
  Reply all = std::move(first.value());
  bool more = all.more;
  while (more && !all.volumes.empty()) {
    request.after = all.volumes.back().name;
    Result<Reply> page = call(request);
    if (!page.ok() || page->code != 0) return page;
    // A node never answers a page with names at or before `after`; one that did would loop.
    if (!page->volumes.empty() && page->volumes.front().name <= request.after) {
      return Status::Corruption("a display page repeats volumes");
    }
    for (VolumeInfo& volume : page->volumes) all.volumes.push_back(std::move(volume));
    more = page->more;
  }
  all.more = false;
  return all;
}

}  // namespace pairfs::wire
