// libFuzzer target: the Prometheus text exposition parser (metrics/prometheus.hpp). Whatever the bytes, parse()
// returns without throwing; every name it accepts follows the format's grammar; every label name is unique within
// its sample; an error names a line that exists. What it accepts, written back by prometheus::write(), reads back to
// the same families with no error: the writer and the parser agree on escapes, NaN, infinities and timestamps.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <servebench/metrics/prometheus.hpp>

namespace {

namespace prom = servebench::prometheus;

bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;  // -0 and 0 differ too
}

bool same(const prom::Exposition& a, const prom::Exposition& b) {
  if (a.families.size() != b.families.size()) return false;
  for (std::size_t i = 0; i < a.families.size(); ++i) {
    const auto &f = a.families[i], &g = b.families[i];
    if (f.name != g.name || f.type != g.type || f.help != g.help || f.samples.size() != g.samples.size()) return false;
    for (std::size_t k = 0; k < f.samples.size(); ++k) {
      const auto &s = f.samples[k], &t = g.samples[k];
      if (s.name != t.name || s.labels != t.labels || !same_value(s.value, t.value) || s.timestamp_ms != t.timestamp_ms)
        return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = prom::parse(text);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  if (parsed.errors.size() > prom::Exposition::max_errors || parsed.error_count < parsed.errors.size()) std::abort();
  for (const auto& e : parsed.errors)
    if (e.line == 0 || e.line > lines || e.message.empty()) std::abort();
  for (const auto& f : parsed.families) {
    if (!prom::detail::valid_name(f.name, true) || !prom::detail::is_type_name(f.type)) std::abort();
    for (const auto& s : f.samples) {
      if (!prom::detail::valid_name(s.name, true) || !prom::detail::belongs(f.name, f.type, s.name)) std::abort();
      for (std::size_t i = 0; i < s.labels.size(); ++i) {
        if (!prom::detail::valid_name(s.labels[i].first, false)) std::abort();
        for (std::size_t k = 0; k < i; ++k)
          if (s.labels[k].first == s.labels[i].first) std::abort();
      }
    }
  }
  const auto again = prom::parse(prom::write(parsed.families));
  if (again.error_count != 0 || !same(parsed, again)) std::abort();
  return 0;
}
