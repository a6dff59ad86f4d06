// The text of a config file made safe for toml++ before it parses it. Pure function, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "wire/status.h"

namespace pairfs::node {

// Returns `text` in pure ASCII with the same meaning and the same lines: comments emptied, and
// every non-ASCII character of a "basic string" written as a \uXXXX or \UXXXXXXXX escape.
// toml++ (Debian's 3.x) classifies non-ASCII characters with tables that reach
// __builtin_unreachable for some of them (undefined behaviour, found by `make fuzz`), also inside
// malformed values; it never sees one now. InvalidArgument "LINE: reason" for a non-ASCII
// character outside a basic string or a comment (a 'literal string' cannot escape it), invalid
// UTF-8, a string that is not closed, or a control character other than tab, CR and LF.
Result<std::string> AsciiConfigText(std::string_view text);

}  // namespace pairfs::node
