#include "node/config_text.h"

#include <cstdio>

namespace pairfs::node {
namespace {

Status Refuse(size_t line, const std::string& what) {
  return Status::InvalidArgument(std::to_string(line) + ": " + what);
}

// Decodes the UTF-8 sequence at text[*i] (a lead byte above 0x7f) and appends its escape; false
// for invalid UTF-8.
bool AppendEscape(std::string_view text, size_t* i, std::string* out) {
  const auto lead = static_cast<unsigned char>(text[*i]);
  const size_t extra = (lead & 0xe0) == 0xc0   ? 1
                       : (lead & 0xf0) == 0xe0 ? 2
                       : (lead & 0xf8) == 0xf0 ? 3
                                               : 0;
  if (extra == 0 || text.size() - *i <= extra) return false;
  uint32_t point = lead & (0x3f >> extra);
  for (size_t k = 1; k <= extra; ++k) {
    const auto next = static_cast<unsigned char>(text[*i + k]);
    if ((next & 0xc0) != 0x80) return false;
    point = (point << 6) | (next & 0x3f);
  }
  static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
  if (point < kSmallest[extra] || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
    return false;
  char escape[16];
  std::snprintf(escape, sizeof escape, point > 0xffff ? "\\U%08X" : "\\u%04X",
                static_cast<unsigned>(point));
  *out += escape;
  *i += extra + 1;
  return true;
}

bool IsControl(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && c != '\t' && c != '\r' && c != '\n') || byte == 0x7f;
}

}  // namespace

Result<std::string> AsciiConfigText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t line = 1;
  size_t i = 0;
  auto starts = [&](std::string_view token) { return text.substr(i, token.size()) == token; };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '#') {  // a comment: emptied to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    const bool multi = starts("\"\"\"") || starts("'''");
    if (!multi && c != '"' && c != '\'') {
      if (static_cast<unsigned char>(c) > 0x7f)
        return Refuse(line, "a non-ASCII character outside a quoted string");
      if (IsControl(c)) return Refuse(line, "a control character");
      if (c == '\n') ++line;
      out += c;
      ++i;
      continue;
    }
    // A string: copied up to its closing quote(s), non-ASCII escaped in basic ("...") strings.
    const std::string close(multi ? text.substr(i, 3) : text.substr(i, 1));
    const bool basic = close[0] == '"';
    out += close;
    i += close.size();
    for (;;) {
      if (i >= text.size() || (!multi && text[i] == '\n'))
        return Refuse(line, "a string is not closed");
      if (starts(close)) break;
      const char s = text[i];
      if (static_cast<unsigned char>(s) > 0x7f) {
        if (!basic)
          return Refuse(line, "a non-ASCII character in a 'literal' string (use a \"quoted\" one)");
        if (!AppendEscape(text, &i, &out)) return Refuse(line, "a string that is not valid UTF-8");
        continue;
      }
      if (IsControl(s)) return Refuse(line, "a control character");
      if (s == '\n') ++line;
      out += s;
      ++i;
      if (basic && s == '\\' && i < text.size() && static_cast<unsigned char>(text[i]) <= 0x7f &&
          text[i] != '\n') {
        out += text[i];  // an escaped character, copied whole (\" does not close the string)
        ++i;
      }
    }
    out += close;
    i += close.size();
  }
  return out;
}

}  // namespace pairfs::node
