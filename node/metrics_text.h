// The Prometheus text exposition format 0.0.4 (what `GET /metrics` answers, pairfs(8) METRICS),
// written from plain values, and the `[site] metrics` address it is served on. Pure: no I/O, no
// state beyond the text being written.
//
// MetricsText: one exposition being written. Family() opens a metric family (its HELP and TYPE
// lines); Sample() and Histogram() add its samples, which the format requires to follow their
// family's lines without another family in between. Label values are escaped (a group or holder
// name is user text: quotes, backslashes and newlines must not break the line). Not thread-safe
// (one per scrape).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wire/status.h"

namespace pairfs::node {

// `Content-Type` of the exposition format written here.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4";

// Where `[site] metrics` serves: "HOST:PORT", HOST an IPv4 address or host name, or an IPv6
// address in brackets ("[::1]:9750"); PORT 1..65535.
struct MetricsAddress {
  std::string host;  // without brackets: what bind() takes
  uint16_t port = 0;
};
// The address in `text`, or InvalidArgument saying what is wrong (the config loader prefixes the
// file, line and key).
Result<MetricsAddress> ParseMetricsAddress(std::string_view text);

// Label name and value pairs, in the order written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// `value` escaped for a label value between double quotes: \ as \\, " as \", newline as \n.
std::string EscapeLabelValue(std::string_view value);
// A sample value: the shortest text that reads back as `value`; +Inf, -Inf, NaN as the format
// spells them.
std::string FormatMetricValue(double value);

class MetricsText {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Opens the family `name` (a valid metric name, [a-zA-Z_:][a-zA-Z0-9_:]*, each once per
  // exposition; the caller's constants) with its HELP text (escaped here).
  void Family(std::string_view name, Type type, std::string_view help);
  // One sample of the open family (a counter or gauge).
  void Sample(const MetricLabels& labels, double value);
  void Sample(const MetricLabels& labels, uint64_t value);
  // One histogram of the open family: `upper_bounds` (ascending, the last one may be +Inf) and
  // each bucket's own count (not cumulative); writes the cumulative _bucket lines with a last
  // le="+Inf" one, _sum = `sum` and _count = the +Inf bucket's count (so the two always agree,
  // even when the counts were read while writes were being recorded).
  void Histogram(const MetricLabels& labels, const std::vector<double>& upper_bounds,
                 const std::vector<uint64_t>& counts, double sum);

  const std::string& text() const { return text_; }

 private:
  void Line(std::string_view suffix, const MetricLabels& labels, const std::string& value,
            const std::pair<std::string, std::string>* extra = nullptr);
  std::string family_;
  std::string text_;
};

}  // namespace pairfs::node
