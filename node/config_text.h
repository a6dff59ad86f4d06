// A check of a config file's text before toml++ parses it. Pure function, thread-safe.
#pragma once

#include <string_view>

#include "wire/status.h"

namespace pairfs::node {

// Ok if every byte above 0x7f is inside a quoted string or a comment, every string is closed,
// and no control character other than tab, CR and LF stands outside strings and comments. toml++ (Debian's 3.x)
// classifies a non-ASCII character where whitespace may stand with a table that reaches
// __builtin_unreachable for U+00A1..U+0499 (undefined behaviour, found by `make fuzz`); outside
// strings and comments a pairfs config has no use for such characters. InvalidArgument naming
// the line otherwise.
Status CheckConfigText(std::string_view text);

}  // namespace pairfs::node
