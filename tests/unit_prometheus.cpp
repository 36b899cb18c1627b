// The Prometheus text exposition parser (metrics/prometheus.hpp): real output of the Prometheus Python client
// library (tests/data/prometheus_client.txt, written by tests/data/make_prometheus_exposition.py with Debian's
// python3-prometheus-client 0.16) and hand-made edge cases of the format's rules.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <servebench/files.hpp>
#include <servebench/metrics/prometheus.hpp>

namespace prom = servebench::prometheus;

TEST_CASE("the Python client library's output reads whole: gauges, counters, histograms, summaries, escapes") {
  const std::string text = servebench::read_file(std::string(SERVEBENCH_SOURCE_DIR) +
                                                 "/tests/data/prometheus_client.txt");
  const auto e = prom::parse(text);
  CHECK(e.error_count == 0);
  const auto* running = e.find("vllm:num_requests_running");
  REQUIRE(running);
  CHECK(running->type == "gauge");
  CHECK(running->help == "Number of requests in model execution batches.");
  REQUIRE(running->samples.size() == 1);
  CHECK(*running->samples[0].label("model_name") == "sim-model");
  CHECK(running->samples[0].value == 7.0);
  CHECK(e.find("vllm:num_requests_waiting")->samples[0].value == 3.0);
  CHECK(e.find("vllm:kv_cache_usage_perc")->samples[0].value == 0.4375);

  const auto* odd = e.find("odd_values");
  REQUIRE(odd);
  CHECK(odd->help == "Help with a backslash \\ and a\nnewline.");  // as the script wrote it, unescaped
  REQUIRE(odd->samples.size() == 3);
  CHECK(*odd->samples[0].label("path") == "C:\\dir \"quoted\"\nline");
  CHECK(std::isnan(odd->samples[0].value));
  CHECK(odd->samples[1].value == HUGE_VAL);
  CHECK(odd->samples[2].value == -HUGE_VAL);

  const auto* preemptions = e.find("vllm:num_preemptions_total");
  REQUIRE(preemptions);
  CHECK(preemptions->type == "counter");
  CHECK(preemptions->samples[0].value == 5.0);

  // Buckets 0.01, 0.1, 1 over observations 0.005, 0.05, 0.05, 0.5, 2.0: cumulative counts 1, 3, 4, 5; sum 2.605.
  const auto* ttft = e.find("vllm:time_to_first_token_seconds");
  REQUIRE(ttft);
  CHECK(ttft->type == "histogram");
  REQUIRE(ttft->samples.size() == 6);
  CHECK(ttft->samples[0].name == "vllm:time_to_first_token_seconds_bucket");
  CHECK(*ttft->samples[3].label("le") == "+Inf");
  CHECK(ttft->samples[3].value == 5.0);
  CHECK(ttft->samples[4].name == "vllm:time_to_first_token_seconds_count");
  CHECK(ttft->samples[5].value == doctest::Approx(2.605));

  const auto* latency = e.find("request_latency_seconds");
  REQUIRE(latency);
  CHECK(latency->type == "summary");
  CHECK(latency->samples.size() == 2);
  CHECK(e.find("build_info")->samples[0].value == 1.0);
}

TEST_CASE("edge cases: timestamps, quantiles, trailing commas, blanks, CRLF, comments, untyped samples") {
  const auto e = prom::parse("# a comment that is neither HELP nor TYPE\r\n"
                             "# TYPE rpc_duration_seconds summary\n"
                             "rpc_duration_seconds{quantile=\"0.5\",} 4773 1395066363000\n"
                             "rpc_duration_seconds { quantile = \"0.99\" , code=\"200\" }\t-7.5e-3\t-12\n"
                             "rpc_duration_seconds_sum 1.7560473e+07\n"
                             "rpc_duration_seconds_count +2693\n"
                             "\n"
                             "   \t \n"
                             "plain 3\n"
                             "metric_without_timestamp_and_labels 12.47\n"
                             "weird{escaped=\"\\\\x\\q\"} nan\n"
                             "big 1e400\n"
                             "tiny -1e-400\n");
  CHECK(e.error_count == 0);
  const auto* rpc = e.find("rpc_duration_seconds");
  REQUIRE(rpc);
  REQUIRE(rpc->samples.size() == 4);
  CHECK(*rpc->samples[0].label("quantile") == "0.5");
  CHECK(rpc->samples[0].timestamp_ms == 1395066363000);
  CHECK(rpc->samples[1].labels.size() == 2);
  CHECK(rpc->samples[1].value == -7.5e-3);
  CHECK(rpc->samples[1].timestamp_ms == -12);
  CHECK(rpc->samples[3].value == 2693);
  CHECK(!rpc->samples[2].timestamp_ms);
  CHECK(e.find("plain")->type == "untyped");
  CHECK(*e.find("weird")->samples[0].label("escaped") == "\\x\\q");  // an unknown escape is kept as written
  CHECK(std::isnan(e.find("weird")->samples[0].value));
  CHECK(e.find("big")->samples[0].value == HUGE_VAL);  // as Go's ParseFloat: overflow is infinity
  CHECK(e.find("tiny")->samples[0].value == 0.0);
}

TEST_CASE("bad lines are reported with their number and skipped; the rest still reads") {
  const auto e = prom::parse("good 1\n"
                             "bad{a=b} 1\n"                          // 2: unquoted label value
                             "bad{a=\"1\",a=\"2\"} 1\n"              // 3: label twice
                             "bad 1 2.5\n"                           // 4: fractional timestamp
                             "bad one\n"                             // 5: value not a number
                             "# TYPE good gauge\n"                   // 6: TYPE after the samples
                             "# TYPE other thing\n"                  // 7: unknown type
                             "# TYPE x counter\n# TYPE x counter\n"  // 9: second TYPE
                             "bad{a=\"unterminated} 1\n"             // 10
                             "1leading_digit 2\n"                    // 11
                             "bad-1\n"                               // 12: no space after the name
                             "bad 1 2 3\n"                           // 13: text after the timestamp
                             "also_good{} 2\n");
  CHECK(e.error_count == 11);
  std::vector<std::size_t> lines;
  for (const auto& err : e.errors) lines.push_back(err.line);
  CHECK(lines == std::vector<std::size_t>{2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13});
  CHECK(e.errors[1].message.find("label a appears twice") != std::string::npos);
  CHECK(e.find("good")->samples.size() == 1);
  CHECK(e.find("also_good")->samples[0].value == 2);
}

TEST_CASE("a family is one per name: samples written apart join it, and write() reads back the same") {
  const auto e = prom::parse("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nother 2\nh_count 1\n# HELP h late help\n");
  CHECK(e.error_count == 0);
  REQUIRE(e.families.size() == 2);
  CHECK(e.find("h")->samples.size() == 2);
  CHECK(e.find("h")->help == "late help");
  const auto again = prom::parse(prom::write(e.families));
  CHECK(again.error_count == 0);
  CHECK(prom::write(again.families) == prom::write(e.families));
}

TEST_CASE("regression (fuzz): a value right after '{}' with no space reads; a name running into text does not") {
  CHECK(prom::parse("x{}NaN\n").error_count == 0);
  CHECK(prom::parse("x NaN -5\n").error_count == 0);
  CHECK(prom::parse("x\"1\n").error_count == 1);
}
