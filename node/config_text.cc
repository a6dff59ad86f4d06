#include "node/config_text.h"

#include <string>

namespace pairfs::node {
namespace {

Status Refuse(size_t line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

}  // namespace

Status CheckConfigText(std::string_view text) {
  size_t line = 1;
  size_t i = 0;
  auto starts = [&](std::string_view token) { return text.substr(i, token.size()) == token; };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '#') {  // a comment, to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (starts("\"\"\"") || starts("'''")) {  // a multi-line string
      const std::string close(text.substr(i, 3));
      i += 3;
      while (i < text.size() && !starts(close)) {
        if (text[i] == '\n') ++line;
        if (close[0] == '"' && text[i] == '\\') ++i;  // an escaped character
        ++i;
      }
      if (i >= text.size()) return Refuse(line, "a multi-line string is not closed");
      i += 3;
    } else if (c == '"' || c == '\'') {  // a one-line string
      ++i;
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        if (c == '"' && text[i] == '\\') ++i;
        ++i;
      }
      if (i >= text.size() || text[i] != c) return Refuse(line, "a string is not closed on its line");
      ++i;
    } else if (static_cast<unsigned char>(c) > 0x7f) {
      return Refuse(line, "a non-ASCII character outside a quoted string or a comment");
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\r') {
      return Refuse(line, "a control character");
    } else {
      ++i;
    }
  }
  return Status::Ok();
}

}  // namespace pairfs::node
