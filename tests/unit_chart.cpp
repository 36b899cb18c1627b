// chart.hpp: nice ticks against hand-computed values, labels, escaping, edge cases, and every SVG parsed as XML by
// Python's xml.etree (Debian's /usr/bin/python3, an independent parser). The real-browser check is
// tests/browser_check.py (ctest browser_every_chart_kind_renders_in_headless_chromium).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <servebench/chart.hpp>

namespace chart = servebench::chart;

namespace {

std::vector<double> ticks(double lo, double hi, int max_ticks = 6) { return chart::nice_ticks(lo, hi, max_ticks); }

void check_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// Parses the SVG with Python's xml.etree and prints the root tag plus every text node, one per line; empty string
// when parsing failed. Exercises a real XML parser rather than our own string checks.
std::string parse_with_python(const std::string& svg, const std::string& name) {
  const std::string dir = std::string(SERVEBENCH_BINARY_DIR) + "/unit_chart_output";
  std::system(("mkdir -p '" + dir + "'").c_str());
  const std::string path = dir + "/" + name + ".svg";
  const std::string out = dir + "/" + name + ".txt";
  std::ofstream(path, std::ios::binary) << svg;
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); "
      "print(r.tag); [print(e.text) for e in r.iter() if e.text]\" '" +
      path + "' > '" + out + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (rc != 0) {
    MESSAGE("python xml.etree failed on " << path << ": " << text);
    return "";
  }
  return text;
}

chart::BarChart lab_bars() {
  // The lab's 2.4 picture: throughput per level, HF beside vLLM.
  chart::BarChart c;
  c.title = "Throughput";
  c.subtitle = "meta-llama/Meta-Llama-3-8B-Instruct on NVIDIA H100";
  c.x_label = "concurrent requests";
  c.y_label = "requests/s";
  c.categories = {"1", "5", "10", "20"};
  c.series = {{"HF", {0.5, 1.3, 1.3, 1.35}, "#ff6b6b", false}, {"vLLM", {0.6, 3.9, 6.2, 8.91}, "#4ecdc4", false}};
  return c;
}

}  // namespace

TEST_CASE("nice ticks use 1, 2 or 5 times a power of ten and cover the range") {
  // Hand-computed: raw step = range / (max_ticks - 1), rounded up to the next 1/2/5 x 10^k that fits.
  SUBCASE("0..95 with 6 ticks steps by 20") { check_ticks(ticks(0, 95), {0, 20, 40, 60, 80, 100}); }
  SUBCASE("0..100 with 6 ticks steps by 20 and ends exactly at 100") {
    check_ticks(ticks(0, 100), {0, 20, 40, 60, 80, 100});
  }
  SUBCASE("0..7.3 steps by 2") { check_ticks(ticks(0, 7.3), {0, 2, 4, 6, 8}); }
  SUBCASE("0..8.91 steps by 2 up to 10") { check_ticks(ticks(0, 8.91), {0, 2, 4, 6, 8, 10}); }
  SUBCASE("0..1 steps by 0.2") { check_ticks(ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1.0}); }
  SUBCASE("0..0.3 steps by 0.1 without floating-point noise") {
    const auto t = ticks(0, 0.3, 4);
    check_ticks(t, {0, 0.1, 0.2, 0.3});
    CHECK(t[3] == 0.3);  // rounded to the step's decimals, so it prints and compares as 0.3
  }
  SUBCASE("0..2600 with 6 ticks steps by 1000, with 7 by 500") {
    check_ticks(ticks(0, 2600), {0, 1000, 2000, 3000});
    check_ticks(ticks(0, 2600, 7), {0, 500, 1000, 1500, 2000, 2500, 3000});
  }
  SUBCASE("a range not starting at zero aligns both ends to the step") {
    check_ticks(ticks(13, 47), {10, 20, 30, 40, 50});
  }
  SUBCASE("negative ranges work too") { check_ticks(ticks(-5, 5), {-5, 0, 5}); }
  SUBCASE("all zeros becomes 0..1") { check_ticks(ticks(0, 0), {0, 0.2, 0.4, 0.6, 0.8, 1.0}); }
  SUBCASE("a single positive value gets a range around it starting at zero") {
    check_ticks(ticks(4, 4), {2, 3, 4, 5, 6});  // widened by half the value each way: 2..6, step 1
  }
  SUBCASE("never more than max_ticks") {
    for (double hi : {0.7, 1.0, 3.3, 9.99, 10.0, 11.0, 42.0, 99.0, 101.0, 12345.0})
      for (int n : {2, 3, 4, 5, 6, 8, 11}) {
        const auto t = ticks(0, hi, n);
        CHECK(static_cast<int>(t.size()) <= n);
        CHECK(t.front() <= 0);
        CHECK(t.back() >= hi);
      }
  }
}

TEST_CASE("nice ticks reject non-finite or inverted bounds") {
  CHECK_THROWS_AS(ticks(0, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  CHECK_THROWS_AS(ticks(0, std::numeric_limits<double>::infinity()), std::invalid_argument);
  CHECK_THROWS_AS(ticks(5, 1), std::invalid_argument);
  CHECK_THROWS_AS(ticks(0, 1, 1), std::invalid_argument);
}

TEST_CASE("tick labels print the decimals the step needs and never -0") {
  CHECK(chart::format_tick(20, 20) == "20");
  CHECK(chart::format_tick(0.4, 0.2) == "0.4");
  CHECK(chart::format_tick(1, 0.2) == "1.0");
  CHECK(chart::format_tick(0.25, 0.25) == "0.25");
  CHECK(chart::format_tick(0.05, 0.05) == "0.05");
  CHECK(chart::format_tick(-0.0, 0.5) == "0.0");
  CHECK(chart::format_tick(-1e-17, 1) == "0");
}

TEST_CASE("grouped bars label each group with the last/first speedup and each bar with its value") {
  const std::string svg = chart::render_grouped_bars(lab_bars());
  // 8.91 / 1.35 = 6.6, 6.2 / 1.3 = 4.769 -> 4.8, 3.9 / 1.3 = 3.0, 0.6 / 0.5 = 1.2 (one decimal, like the lab).
  CHECK(count(svg, ">6.6x<") == 1);
  CHECK(count(svg, ">4.8x<") == 1);
  CHECK(count(svg, ">3.0x<") == 1);
  CHECK(count(svg, ">1.2x<") == 1);
  CHECK(count(svg, ">8.91<") == 1);
  CHECK(count(svg, ">1.35<") == 1);
  CHECK(svg.find(">meta-llama/Meta-Llama-3-8B-Instruct on NVIDIA H100<") != std::string::npos);
  CHECK(svg.find(">concurrent requests<") != std::string::npos);
  CHECK(svg.find(">requests/s<") != std::string::npos);
  // Axis ticks 0..10 step 2 (nice_ticks of 8.91 plus label headroom).
  for (const char* t : {">0<", ">2<", ">4<", ">6<", ">8<", ">10<"}) CHECK(svg.find(t) != std::string::npos);
  // The series' own colours: 4 bars + 1 legend swatch each.
  CHECK(count(svg, "fill=\"#ff6b6b\"") == 5);
  CHECK(count(svg, "fill=\"#4ecdc4\"") == 5);
  const std::string parsed = parse_with_python(svg, "bars");
  CHECK(parsed.rfind("{http://www.w3.org/2000/svg}svg", 0) == 0);
  CHECK(parsed.find("6.6x") != std::string::npos);
}

TEST_CASE("speedup and value labels can be switched off, and need a nonzero first series") {
  auto c = lab_bars();
  SUBCASE("switched off") {
    c.speedup_labels = false;
    c.value_labels = false;
    const std::string svg = chart::render_grouped_bars(c);
    CHECK(svg.find("x</text>") == std::string::npos);
    CHECK(svg.find(">8.91<") == std::string::npos);
  }
  SUBCASE("a zero baseline gives no ratio rather than inf") {
    c.series[0].values[0] = 0;
    const std::string svg = chart::render_grouped_bars(c);
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(count(svg, "x</text>") == 3);
  }
  SUBCASE("one series has no speedups") {
    c.series.pop_back();
    CHECK(chart::render_grouped_bars(c).find("x</text>") == std::string::npos);
  }
}

TEST_CASE("titles, names and categories are XML-escaped") {
  auto c = lab_bars();
  c.title = "A <b>&</b> \"q\" 'x'";
  c.subtitle = "GPU: <unknown> & co";
  c.categories[0] = "<1>";
  c.series[0].name = "HF & <friends>";
  const std::string svg = chart::render_grouped_bars(c);
  CHECK(svg.find("A &lt;b&gt;&amp;&lt;/b&gt; &quot;q&quot; &apos;x&apos;") != std::string::npos);
  CHECK(svg.find("<b>") == std::string::npos);
  CHECK(svg.find("<unknown>") == std::string::npos);
  const std::string parsed = parse_with_python(svg, "escaping");
  CHECK(parsed.find("A <b>&</b> \"q\" 'x'") != std::string::npos);  // round-trips through a real parser
  CHECK(parsed.find("GPU: <unknown> & co") != std::string::npos);
  CHECK(parsed.find("HF & <friends>") != std::string::npos);
  CHECK(parsed.find("<1>") != std::string::npos);
}

TEST_CASE("xml_escape keeps valid UTF-8 and replaces bytes XML cannot carry") {
  CHECK(chart::xml_escape("caf\xc3\xa9 \xe2\x80\x94 ok") == "caf\xc3\xa9 \xe2\x80\x94 ok");
  CHECK(chart::xml_escape(std::string("a\x01z")) == "a?z");
  CHECK(chart::xml_escape("bad \xff byte") == "bad ? byte");
  CHECK(chart::xml_escape("cut \xe2\x80") == "cut ??");
  auto c = lab_bars();
  c.title = std::string("ctl \x02 and \xc0\xaf overlong");
  CHECK(parse_with_python(chart::render_grouped_bars(c), "utf8") != "");
}

TEST_CASE("invalid values are rejected with a message naming the series") {
  auto c = lab_bars();
  SUBCASE("NaN") {
    c.series[1].values[2] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(chart::render_grouped_bars(c), doctest::Contains("'vLLM' value 2 is NaN"),
                         std::invalid_argument);
  }
  SUBCASE("negative") {
    c.series[0].values[0] = -1;
    CHECK_THROWS_WITH_AS(chart::render_grouped_bars(c), doctest::Contains("'HF' value 0"), std::invalid_argument);
  }
  SUBCASE("infinity in a line chart") {
    chart::LineChart l;
    l.categories = {"1"};
    l.series = {{"p95", {std::numeric_limits<double>::infinity()}, "", true}};
    CHECK_THROWS_AS(chart::render_lines(l), std::invalid_argument);
  }
  SUBCASE("NaN in CDF samples") {
    chart::CdfChart d;
    d.series = {{"HF", {1.0, std::nan("")}, "", false}};
    CHECK_THROWS_AS(chart::render_cdf(d), std::invalid_argument);
  }
  SUBCASE("values and categories of different lengths") {
    c.series[0].values.pop_back();
    CHECK_THROWS_WITH_AS(chart::render_grouped_bars(c), doctest::Contains("3 values for 4 categories"),
                         std::invalid_argument);
  }
  SUBCASE("a size too small to read") {
    c.width = 100;
    CHECK_THROWS_AS(chart::render_grouped_bars(c), std::invalid_argument);
  }
}

TEST_CASE("edge cases still give a valid, labelled picture") {
  SUBCASE("all zeros: axis 0..1, zero labels, no speedup") {
    auto c = lab_bars();
    for (auto& s : c.series) s.values.assign(4, 0.0);
    const std::string svg = chart::render_grouped_bars(c);
    CHECK(svg.find(">1.0<") != std::string::npos);
    CHECK(count(svg, ">0<") >= 8);
    CHECK(svg.find("x</text>") == std::string::npos);
    CHECK(parse_with_python(svg, "zeros") != "");
  }
  SUBCASE("one category") {
    auto c = lab_bars();
    c.categories = {"20"};
    c.series = {{"HF", {1.35}, "", false}, {"vLLM", {8.91}, "", false}};
    const std::string svg = chart::render_grouped_bars(c);
    CHECK(svg.find(">6.6x<") != std::string::npos);
    CHECK(parse_with_python(svg, "one_category") != "");
  }
  SUBCASE("no series says so") {
    chart::BarChart c;
    c.title = "empty";
    const std::string svg = chart::render_grouped_bars(c);
    CHECK(svg.find(">No data<") != std::string::npos);
    CHECK(parse_with_python(svg, "no_series") != "");
  }
  SUBCASE("a CDF series without samples is named in the legend") {
    chart::CdfChart d;
    d.series = {{"HF", {}, "", false}, {"vLLM", {1.0, 2.0}, "", false}};
    const std::string svg = chart::render_cdf(d);
    CHECK(svg.find(">HF (no samples)<") != std::string::npos);
    CHECK(svg.find(">vLLM (n=2)<") != std::string::npos);
  }
  SUBCASE("a CDF of only empty series says no data") {
    chart::CdfChart d;
    d.series = {{"HF", {}, "", false}};
    CHECK(chart::render_cdf(d).find(">No data<") != std::string::npos);
  }
  SUBCASE("many long category names are rotated, not overlapping") {
    chart::LineChart l;
    for (int i = 0; i < 12; ++i) l.categories.push_back("a rather long category name " + std::to_string(i));
    l.series = {{"x", std::vector<double>(12, 1.0), "", false}};
    const std::string svg = chart::render_lines(l);
    CHECK(svg.find("rotate(-30") != std::string::npos);
  }
}

TEST_CASE("a series takes its explicit colour, else the next palette colour; names never choose one") {
  chart::LineChart l;
  l.categories = {"1", "2"};
  l.series = {{"HF", {1, 2}, "", false}, {"vLLM", {2, 3}, "", false}, {"mine", {1, 1}, "#123456", false}};
  const std::string svg = chart::render_lines(l);
  CHECK(svg.find("stroke=\"#4e79a7\"") != std::string::npos);  // palette 0, whatever the name
  CHECK(svg.find("stroke=\"#f28e2b\"") != std::string::npos);  // palette 1
  CHECK(svg.find("stroke=\"#123456\"") != std::string::npos);
  CHECK(svg.find("#ff6b6b") == std::string::npos);
}

TEST_CASE("line charts draw dashed series dashed and keep every point") {
  chart::LineChart l;
  l.title = "Latency";
  l.y_label = "latency (s)";
  l.categories = {"1", "5", "10", "20"};
  l.series = {{"HF mean", {1.9, 3.6, 7.1, 14.2}, "", false}, {"HF p95", {1.9, 3.8, 7.5, 14.8}, "", true}};
  const std::string svg = chart::render_lines(l);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "stroke-dasharray=\"8 5\"") == 1);
  CHECK(count(svg, "<circle") == 8 + 2);         // 4 markers per series + one per legend entry
  CHECK(svg.find(">15<") != std::string::npos);  // ticks 0..15 step 5 for a max of 14.8
  CHECK(svg.find(">20<") != std::string::npos);  // the category
  CHECK(parse_with_python(svg, "lines") != "");
}

TEST_CASE("the TTFT/TPOT chart has two panels with their own axes and one legend entry per engine") {
  chart::TtftTpotChart t;
  t.title = "Streaming";
  t.categories = {"1", "5", "10", "20"};
  t.ttft = {{"HF", {120, 610, 1250, 2600}, "", false}, {"vLLM", {35, 48, 70, 115}, "", false}};
  t.tpot = {{"HF", {18, 21, 22, 23}, "", false}, {"vLLM", {11, 13, 15, 19}, "", false}};
  const std::string svg = chart::render_ttft_tpot(t);
  CHECK(svg.find(">TTFT (ms)<") != std::string::npos);
  CHECK(svg.find(">TPOT (ms)<") != std::string::npos);
  CHECK(svg.find(">Time to first token<") != std::string::npos);
  CHECK(count(svg, ">HF<") == 1);  // shared legend
  CHECK(count(svg, "<polyline") == 4);
  CHECK(svg.find(">3000<") != std::string::npos);  // TTFT axis 0..3000
  CHECK(svg.find(">25<") != std::string::npos);    // TPOT axis 0..25
  CHECK(parse_with_python(svg, "ttft_tpot") != "");
}

TEST_CASE("the CDF is a step curve from 0 to 1 with p50 and p95 guides") {
  chart::CdfChart d;
  d.title = "CDF";
  d.series = {{"HF", {4.0, 1.0, 3.0, 2.0}, "", false}};
  const std::string svg = chart::render_cdf(d);
  CHECK(svg.find(">p50<") != std::string::npos);
  CHECK(svg.find(">p95<") != std::string::npos);
  CHECK(svg.find(">100%<") != std::string::npos);
  CHECK(svg.find(">HF (n=4)<") != std::string::npos);
  // 4 samples -> 1 start point, 2 points per sample, 1 end point.
  const auto start = svg.find("points=\"");
  REQUIRE(start != std::string::npos);
  const std::string points = svg.substr(start + 8, svg.find('"', start + 8) - start - 8);
  CHECK(count(points, ",") == 1 + 2 * 4 + 1);
  CHECK(parse_with_python(svg, "cdf") != "");

  SUBCASE("thousands of samples are thinned to about a thousand steps") {
    d.series[0].values.clear();
    for (int i = 0; i < 20000; ++i) d.series[0].values.push_back(i * 0.001);
    const std::string big = chart::render_cdf(d);
    const auto s = big.find("points=\"");
    const std::string p = big.substr(s + 8, big.find('"', s + 8) - s - 8);
    CHECK(count(p, ",") <= 2 * 1000 + 2);
    CHECK(big.size() < 60000);
  }
}

TEST_CASE("write_svg writes the chart, creating parent directories, and names the path when it cannot") {
  const std::string dir = std::string(SERVEBENCH_BINARY_DIR) + "/unit_chart_output/write_svg/nested";
  std::system(("rm -rf '" + dir + "'").c_str());
  const std::string path = dir + "/bars.svg";
  const std::string svg = chart::render_grouped_bars(lab_bars());
  chart::write_svg(path, svg);
  std::ifstream in(path, std::ios::binary);
  const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(back == svg);
  // A regular file where a directory should be: the error names the path.
  CHECK_THROWS_WITH_AS(chart::write_svg(path + "/x.svg", svg), doctest::Contains(path.c_str()), std::runtime_error);
}
