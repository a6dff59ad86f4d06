#include "node/metrics_text.h"

#include <charconv>
#include <cmath>

namespace pairfs::node {
namespace {

// HELP text escaping: \ as \\ and newline as \n (quotes stay as they are there).
std::string EscapeMetricHelp(std::string_view help) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

const char* MetricTypeName(MetricsText::Type type) {
  switch (type) {
    case MetricsText::Type::kCounter: return "counter";
    case MetricsText::Type::kGauge: return "gauge";
    case MetricsText::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

bool IsHostText(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!allowed) return false;
  }
  return true;
}

bool IsIpv6Text(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    const bool allowed = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                         (c >= '0' && c <= '9') || c == ':' || c == '.';
    if (!allowed) return false;
  }
  return true;
}

}  // namespace

Result<MetricsAddress> ParseMetricsAddress(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return Status::InvalidArgument(quoted + " must be HOST:PORT, e.g. \"127.0.0.1:9750\"");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  MetricsAddress address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!IsIpv6Text(host)) return Status::InvalidArgument(quoted + ": not an IPv6 address");
  } else if (!IsHostText(host)) {
    return Status::InvalidArgument(quoted + ": HOST must be an address or host name (an IPv6 " +
                                   "address in brackets: \"[::1]:9750\")");
  }
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return Status::InvalidArgument(quoted + ": PORT must be a number from 1 to 65535");
  }
  address.host = std::string(host);
  address.port = static_cast<uint16_t>(port);
  return address;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) return "NaN";  // cannot happen: 64 bytes hold any double
  return std::string(buffer, end);
}

void MetricsText::Family(std::string_view name, Type type, std::string_view help) {
  family_ = std::string(name);
  text_ += "# HELP " + family_ + " " + EscapeMetricHelp(help) + "\n";
  text_ += "# TYPE " + family_ + " " + MetricTypeName(type) + "\n";
}

void MetricsText::Sample(const MetricLabels& labels, double value) {
  Line("", labels, FormatMetricValue(value));
}

void MetricsText::Sample(const MetricLabels& labels, uint64_t value) {
  Line("", labels, std::to_string(value));
}

void MetricsText::Histogram(const MetricLabels& labels, const std::vector<double>& upper_bounds,
                            const std::vector<uint64_t>& counts, double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    if (std::isinf(upper_bounds[i])) continue;  // written once, below
    const std::pair<std::string, std::string> le{"le", FormatMetricValue(upper_bounds[i])};
    Line("_bucket", labels, std::to_string(cumulative), &le);
  }
  for (size_t i = upper_bounds.size(); i < counts.size(); ++i) cumulative += counts[i];
  const std::pair<std::string, std::string> infinity{"le", "+Inf"};
  Line("_bucket", labels, std::to_string(cumulative), &infinity);
  Line("_sum", labels, FormatMetricValue(sum));
  Line("_count", labels, std::to_string(cumulative));
}

void MetricsText::Line(std::string_view suffix, const MetricLabels& labels,
                       const std::string& value, const std::pair<std::string, std::string>* extra) {
  text_ += family_;
  text_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    text_ += '{';
    bool first = true;
    auto add = [&](const std::pair<std::string, std::string>& label) {
      if (!first) text_ += ',';
      first = false;
      text_ += label.first + "=\"" + EscapeLabelValue(label.second) + "\"";
    };
    for (const auto& label : labels) add(label);
    if (extra != nullptr) add(*extra);
    text_ += '}';
  }
  text_ += ' ';
  text_ += value;
  text_ += '\n';
}

}  // namespace pairfs::node
