// Tests of report.hpp: the text and markdown tables, the relative column (each target's throughput over the
// baseline's at the same level), the failure and warning lines, the markdown report and the charts built from
// results grouped by target label. Expected ratios are computed by hand from the summaries given.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <servebench/report.hpp>

using servebench::LevelResult;
using servebench::Table;

namespace {

LevelResult level(const std::string& label, std::size_t concurrency, double req_per_s, std::size_t ok = 10,
                  std::size_t failed = 0) {
  LevelResult l;
  l.target.label = label;
  l.target.dialect = "openai_completions";
  l.config.concurrency = concurrency;
  l.summary.target = label;
  l.summary.level = static_cast<double>(concurrency);
  l.summary.successful = ok;
  l.summary.failed = failed;
  l.summary.sent = ok + failed;
  l.summary.throughput_req_per_sec = req_per_s;
  l.summary.output_tokens_per_sec = req_per_s * 50;
  l.summary.latency = servebench::summarize_samples({1.0, 2.0, 3.0});
  l.summary.mean_in_flight = static_cast<double>(concurrency) * 0.95;
  l.summary.peak_in_flight = concurrency;
  return l;
}

// Two targets at two levels, run in the lab's order (every level of the first, then the second).
std::vector<LevelResult> two_targets() {
  return {level("plain", 1, 0.5), level("plain", 10, 0.6), level("batched", 1, 0.9), level("batched", 10, 4.2)};
}

}  // namespace

TEST_CASE("Table aligns numbers right and text left, with rules under the header and between groups") {
  std::ostringstream out;
  Table({"engine", "req/s", "ratio"})
      .row({"HF", "0.52", ""})
      .row({"vLLM", "12.25", "23.6x"})
      .separator()
      .row({"HF", "-", ""})
      .print(out);
  CHECK(out.str() == "engine  req/s  ratio\n"
                     "--------------------\n"
                     "HF       0.52\n"
                     "vLLM    12.25  23.6x\n"
                     "--------------------\n"
                     "HF          -\n");
}

TEST_CASE("Table prints markdown with numeric columns right-aligned and pipes escaped") {
  std::ostringstream out;
  Table({"target", "req/s"}).row({"a|b", "1.5"}).separator().row({"c", "2"}).print_markdown(out);
  CHECK(out.str() == "| target | req/s |\n"
                     "| --- | ---: |\n"
                     "| a\\|b | 1.5 |\n"
                     "| c | 2 |\n");
}

TEST_CASE("the comparison relates every target to the baseline at the same level, levels ascending") {
  const auto levels = two_targets();
  // 0.9 / 0.5 = 1.80, 4.2 / 0.6 = 7.00; the baseline relative to itself is 1.00.
  CHECK(*servebench::relative_throughput(levels, levels[2], "plain") == doctest::Approx(1.8));
  CHECK(*servebench::relative_throughput(levels, levels[3], "plain") == doctest::Approx(7.0));
  CHECK_FALSE(servebench::relative_throughput(levels, levels[3], "absent").has_value());
  std::ostringstream out;
  servebench::comparison_table(levels).print(out);
  const std::string text = out.str();
  CHECK(
      text.find(
          "concurrency  target   ok  failed  fail %  in flight  req/s  in tok/s  out tok/s  mean s  p95 s  vs plain") ==
      0);
  CHECK(text.find("in tok/s") < text.find("out tok/s"));  // no input counts reported in these records: "-"
  const auto row_1 = text.find("          1  batched");
  const auto row_10 = text.find("         10  batched");
  REQUIRE(row_1 != std::string::npos);
  REQUIRE(row_10 != std::string::npos);
  CHECK(row_1 < row_10);
  CHECK(text.find("1.80x", row_1) < row_10);
  CHECK(text.find("7.00x", row_10) != std::string::npos);
  CHECK(text.find("TTFT") == std::string::npos);  // nothing streamed: no streaming columns
  // The row of plain at 10: no failures (0.0 %), 9.5 requests in flight on average, 10 at most.
  const auto plain_10 = text.substr(text.find("         10  plain"),
                                    text.find('\n', text.find("         10  plain")) - text.find("         10  plain"));
  CHECK(plain_10.find(" 0.0 ") != std::string::npos);
  CHECK(plain_10.find(" 9.5/10 ") != std::string::npos);

  SUBCASE("another baseline is first in each level and the ratios invert") {
    std::ostringstream other;
    servebench::comparison_table(levels, {"batched", {}, {}}).print(other);
    CHECK(other.str().find("vs batched") != std::string::npos);
    CHECK(other.str().find("0.56x") != std::string::npos);  // 0.5 / 0.9
    CHECK(other.str().find("0.14x") != std::string::npos);  // 0.6 / 4.2
  }
}

TEST_CASE("failures are counted by kind under the table, with the first message, and warnings follow") {
  auto levels = two_targets();
  levels[1].summary.failed = 2;
  levels[1].summary.failed_by_kind = {{"http_status", 2}};
  servebench::RequestRecord bad;
  bad.error_kind = servebench::ErrorKind::http_status;
  bad.error_message = "HTTP status 503";
  levels[1].records = {bad};
  levels[3].warnings = {"batched c=10: level timeout reached"};
  const auto lines = servebench::failure_lines(levels);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "plain at concurrency 10: 2 failed, 2 http_status (first: HTTP status 503)");
  std::ostringstream table;
  servebench::comparison_table(levels).print(table);
  CHECK(table.str().find(" 20.0 ") != std::string::npos);  // 2 failed of the 10 sent: 20.0 %
  CHECK(lines[1] == "warning: batched c=10: level timeout reached");
}

TEST_CASE("the markdown report says what ran, then the table") {
  servebench::Artifact a;
  a.metadata.command_line = {"compare", "--fast"};
  a.levels = two_targets();
  a.levels[0].target.url = "http://127.0.0.1:8001";
  a.levels[3].interrupted = true;
  std::ostringstream out;
  servebench::print_markdown_report(out, a);
  const std::string md = out.str();
  CHECK(md.rfind("# servebench report\n", 0) == 0);
  CHECK(md.find("- command: `compare --fast`") != std::string::npos);
  CHECK(md.find("- target `plain`: http://127.0.0.1:8001 (openai_completions)") != std::string::npos);
  CHECK(md.find("**interrupted**") != std::string::npos);
  CHECK(md.find("| concurrency | target |") != std::string::npos);
  CHECK(md.find("| 7.00x |") != std::string::npos);
}

TEST_CASE("charts group results by target label, the baseline first, with the colours asked for") {
  const auto levels = two_targets();
  servebench::ReportOptions options;
  options.colors = {{"batched", "#123456"}};
  const auto bars = servebench::throughput_chart(levels, options);
  CHECK(bars.categories == std::vector<std::string>{"1", "10"});
  REQUIRE(bars.series.size() == 2);
  CHECK(bars.series[0].name == "plain");
  CHECK(bars.series[0].values == std::vector<double>{0.5, 0.6});
  CHECK(bars.series[1].values == std::vector<double>{0.9, 4.2});
  CHECK(bars.series[1].color == "#123456");
  CHECK(bars.x_label == "concurrent requests");
  CHECK(servebench::chart::render_grouped_bars(bars).find(">7.0x<") != std::string::npos);

  const auto lines = servebench::latency_chart(levels, options);
  REQUIRE(lines.series.size() == 4);  // mean and p95 per target, in one colour per target
  CHECK(lines.series[2].name == "batched mean");
  CHECK(lines.series[3].dashed);
  CHECK(lines.series[3].color == "#123456");
  CHECK(lines.series[0].values[0] == doctest::Approx(2.0));      // mean of {1, 2, 3}
  CHECK_FALSE(servebench::ttft_tpot_chart(levels).has_value());  // nothing streamed
}

// ---------------------------------------------------------------------------------------------------------------
// Repetitions: intervals per (target, level) and the ratio's interval in the relative column. Expected values from
// scipy 1.10.1 (stats.t.interval over the per-repetition values; for the ratio, over their logs, or the delta
// method with Welch's degrees of freedom computed with numpy), printed to 12 digits.

namespace {
// `label` at concurrency 1, one LevelResult per throughput, repetitions 0, 1, ...
std::vector<LevelResult> repeated(const std::string& label, const std::vector<double>& throughputs) {
  std::vector<LevelResult> out;
  for (std::size_t i = 0; i < throughputs.size(); ++i) {
    out.push_back(level(label, 1, throughputs[i]));
    out.back().repetition = i;
  }
  return out;
}
std::vector<LevelResult> joined(std::vector<LevelResult> a, const std::vector<LevelResult>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

TEST_CASE("a paired ratio's interval is the t interval of the per-repetition log ratios") {
  const auto r = servebench::ratio_interval(std::vector<double>{4.1, 3.8, 4.5}, std::vector<double>{1.0, 1.1, 0.95},
                                            true);
  REQUIRE(r);
  CHECK(r->paired);
  CHECK(r->n == 3);
  CHECK(r->ratio == doctest::Approx(4.0633842436).epsilon(1e-9));
  CHECK(r->low == doctest::Approx(2.74407890255).epsilon(1e-8));
  CHECK(r->high == doctest::Approx(6.01698861347).epsilon(1e-8));
  CHECK(r->excludes_one());
  // b over a is exactly the reciprocal.
  const auto back = servebench::ratio_interval(std::vector<double>{1.0, 1.1, 0.95}, std::vector<double>{4.1, 3.8, 4.5},
                                               true);
  CHECK(back->low == doctest::Approx(1 / r->high));
  // An interval that includes 1.
  const auto noise = servebench::ratio_interval(std::vector<double>{1.0, 1.3, 0.9}, std::vector<double>{1.1, 1.0, 1.05},
                                                true);
  CHECK(noise->ratio == doctest::Approx(1.0043103981).epsilon(1e-9));
  CHECK(noise->low == doctest::Approx(0.573689698021).epsilon(1e-8));
  CHECK(noise->high == doctest::Approx(1.7581619109).epsilon(1e-8));
  CHECK_FALSE(noise->excludes_one());
  // Nothing to divide: no ratio. A side that served nothing: the plain ratio of the means, no interval.
  CHECK_FALSE(servebench::ratio_interval(std::vector<double>{1.0}, std::vector<double>{0.0}, true));
  const auto none = servebench::ratio_interval(std::vector<double>{0.0, 0.5}, std::vector<double>{1.0, 1.5}, true);
  REQUIRE(none);
  CHECK(none->ratio == doctest::Approx(0.2));
  CHECK_FALSE(none->has_interval());
  CHECK_FALSE(servebench::ratio_interval(std::vector<double>{1.0, 2.0}, std::vector<double>{1.0}, true));
}

TEST_CASE("an unpaired ratio's interval is the delta method's on the log with Welch's degrees of freedom") {
  const auto r = servebench::ratio_interval(std::vector<double>{4.1, 3.8, 4.5, 4.0},
                                            std::vector<double>{1.0, 1.1, 0.95}, false);
  REQUIRE(r);
  CHECK_FALSE(r->paired);
  CHECK(r->n == 3);
  CHECK(r->ratio == doctest::Approx(4.03278688525).epsilon(1e-10));
  CHECK(r->low == doctest::Approx(3.46484358633).epsilon(1e-8));
  CHECK(r->high == doctest::Approx(4.69382517756).epsilon(1e-8));
  // One repetition each: the plain ratio, no interval.
  const auto one = servebench::ratio_interval(std::vector<double>{0.9}, std::vector<double>{0.5}, false);
  CHECK(one->ratio == doctest::Approx(1.8));
  CHECK_FALSE(one->has_interval());
  CHECK_FALSE(one->excludes_one());
}

TEST_CASE("repeated levels summarize each (target, level) over its repetitions") {
  auto levels = joined(repeated("plain", {12.1, 11.4, 13.0, 12.6}), repeated("batched", {40, 44, 42, 41}));
  levels[1].summary.latency = servebench::summarize_samples({2.0, 4.0, 6.0});  // p50 4 instead of 2
  CHECK(servebench::has_repetitions(levels));
  CHECK_FALSE(servebench::has_repetitions(two_targets()));
  const auto summaries = servebench::repeated_levels(levels);
  REQUIRE(summaries.size() == 2);
  const auto& plain = summaries[0];
  CHECK(plain.target == "plain");
  CHECK(plain.level == 1);
  CHECK(plain.repetitions == 4);
  CHECK(plain.throughput_req_per_sec.low == doctest::Approx(11.1773635505).epsilon(1e-9));
  CHECK(plain.throughput_req_per_sec.high == doctest::Approx(13.3726364495).epsilon(1e-9));
  CHECK(plain.output_tokens_per_sec.mean == doctest::Approx(12.275 * 50));
  REQUIRE(plain.latency_p50);
  CHECK(plain.latency_p50->mean == doctest::Approx((2.0 + 4.0 + 2.0 + 2.0) / 4));
  CHECK_FALSE(plain.ttft_p50.has_value());  // nothing streamed
  // Written into JSON and read back whole.
  const nlohmann::json j = summaries;
  const auto back = j.get<std::vector<servebench::RepeatedLevel>>();
  CHECK(back[1].throughput_req_per_sec.mean == doctest::Approx(41.75));
  CHECK(back[1].latency_p99->n == 4);
}

TEST_CASE("with repetitions the table shows means, the half width and the ratio's interval") {
  // Paired by repetition: ratios 40/12.1, 44/11.4, 42/13, 41/12.6 -> all above 3, so the interval excludes 1.
  const auto levels = joined(repeated("plain", {12.1, 11.4, 13.0, 12.6}), repeated("batched", {40, 44, 42, 41}));
  std::ostringstream out;
  servebench::print_comparison(out, levels);
  const std::string text = out.str();
  CAPTURE(text);
  const auto ratio = servebench::relative_throughput_interval(levels, levels[4], "plain");
  REQUIRE(ratio);
  CHECK(ratio->paired);
  CHECK(ratio->n == 4);
  const std::string cell = servebench::detail::fixed(ratio->ratio, 2) + "x [" +
                           servebench::detail::fixed(ratio->low, 2) + ", " + servebench::detail::fixed(ratio->high, 2) +
                           "] *";
  CHECK(text.find(cell) != std::string::npos);
  CHECK(text.find("12.28 ±1.10") != std::string::npos);  // mean 12.275, half width 1.0976 (scipy, above)
  CHECK(text.find("  40  ") != std::string::npos);       // ok: 10 per repetition, 4 repetitions
  CHECK(text.find("4 repetitions per row") != std::string::npos);
  // The baseline's own row keeps "1.00x".
  CHECK(text.find("plain") != std::string::npos);
  CHECK(text.find("1.00x [") == std::string::npos);
  // The charts draw the means too.
  const auto chart = servebench::throughput_chart(levels);
  REQUIRE(chart.series.size() == 2);
  CHECK(chart.series[0].values[0] == doctest::Approx(12.275));
  CHECK(chart.series[1].values[0] == doctest::Approx(41.75));
  // A difference inside the noise is marked ~.
  const auto close = joined(repeated("plain", {1.1, 1.0, 1.05}), repeated("batched", {1.0, 1.3, 0.9}));
  std::ostringstream close_out;
  servebench::comparison_table(close).print(close_out);
  CHECK(close_out.str().find("1.00x [0.57, 1.76] ~") != std::string::npos);
  // Without repetitions: no note, no brackets (today's output).
  std::ostringstream plain_out;
  servebench::print_comparison(plain_out, two_targets());
  CHECK(plain_out.str().find("repetitions") == std::string::npos);
  CHECK(plain_out.str().find('[') == std::string::npos);
}
