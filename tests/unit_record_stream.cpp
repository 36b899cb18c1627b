// Tests for record_stream.hpp: the running summary against summarize() on the same records (the exact path, and the
// sorted samples themselves, taken here independently), the JSONL records file, and the schedulers' keep_records(false)
// / stream_records_to / record_sink, over in-process senders (no network).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <servebench/record_stream.hpp>
#include <servebench/scheduler.hpp>

using namespace servebench;

namespace {

// A streamed record at synthetic times: log-normal latency, 1 to 40 events, every 25th one failed.
RequestRecord synthetic(std::uint64_t index, std::mt19937_64& rng) {
  std::lognormal_distribution<double> latency(std::log(0.2), 0.6), gap(std::log(0.01), 0.5);
  std::uniform_int_distribution<int> events(1, 40);
  RequestRecord r;
  r.target = "synthetic";
  r.index = index;
  r.streamed = true;
  r.t_sched = 1'000'000'000 + static_cast<Nanos>(index) * 1'000'000;
  r.t_send = r.t_sched + static_cast<Nanos>(index % 7) * 10'000;
  r.t_first_token = r.t_send + static_cast<Nanos>(latency(rng) * 0.3e9);
  Nanos t = r.t_first_token;
  const int n = events(rng);
  for (int i = 0; i < n; ++i) {
    if (i > 0) t += static_cast<Nanos>(gap(rng) * 1e9);
    r.event_times.push_back(t);
  }
  r.t_end = t + 1000;
  r.n_out = n;
  if (index % 25 == 3) {
    r.error_kind = ErrorKind::http_status;
    r.http_status = 500;
  }
  return r;
}

// The histogram's percentile must lie within 1% of the sample at rank floor(p/100 (n-1)), and summarize's linear
// value between that sample and the next; so the two agree within 1% plus the gap between neighbouring samples.
void check_within_error(const Summary& running, const Summary& exact, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  REQUIRE(running.count == samples.size());
  CHECK(running.count == exact.count);
  CHECK(running.min == doctest::Approx(samples.front()).epsilon(1e-12));
  CHECK(running.max == doctest::Approx(samples.back()).epsilon(1e-12));
  CHECK(running.mean == doctest::Approx(exact.mean).epsilon(1e-9));
  CHECK(running.stddev == doctest::Approx(exact.stddev).epsilon(1e-9));
  const double tolerance = running_summary_accuracy * 1.0001;
  const std::pair<double, double> quantiles[] = {
      {50, running.p50}, {90, running.p90}, {95, running.p95}, {99, running.p99}};
  const double exact_values[] = {exact.p50, exact.p90, exact.p95, exact.p99};
  for (std::size_t q = 0; q < 4; ++q) {
    const auto [p, value] = quantiles[q];
    const auto rank = static_cast<std::size_t>(std::floor(p / 100 * static_cast<double>(samples.size() - 1)));
    const double low = samples[rank], high = samples[std::min(rank + 1, samples.size() - 1)];
    CHECK(value >= low * (1 - tolerance));
    CHECK(value <= low * (1 + tolerance));
    CHECK(exact_values[q] >= low);
    CHECK(exact_values[q] <= high);
    // With thousands of samples the neighbours are close: the two paths agree within 2%.
    CHECK(std::abs(value - exact_values[q]) <= 0.02 * exact_values[q]);
  }
}

std::string temp_path(const std::string& name) {
  return "/tmp/servebench_unit_record_stream_" + std::to_string(::getpid()) + "_" + name;
}

// A sender without a network: a synthetic record per index, at once.
struct SyntheticSender {
  RequestRecord send(const Prompt&, std::uint64_t index, Nanos t_sched) {
    std::mt19937_64 rng(index);
    RequestRecord r = synthetic(index, rng);
    const Nanos shift = (t_sched ? t_sched : now_ns()) - r.t_sched;
    r.t_sched += shift;
    r.t_send += shift;
    r.t_first_token += shift;
    r.t_end += shift;
    for (auto& t : r.event_times) t += shift;
    return r;
  }
  void cancel(ErrorKind) {}
};

}  // namespace

TEST_CASE("the running summary agrees with summarize() on the same records: counts exact, percentiles within 1%") {
  std::mt19937_64 rng(42);
  std::vector<RequestRecord> records;
  for (std::uint64_t i = 0; i < 20000; ++i) records.push_back(synthetic(i, rng));
  records[5].warmup = true;  // skipped by both
  records[6].error_kind = ErrorKind::interrupted;
  const SummarizeOptions options{PercentileMethod::linear, Slo{0.1, std::nullopt, 0.5}};

  RunningSummary running(options);
  for (const auto& r : records) running.add(r);
  const LevelSummary fast = running.summary(17);
  const LevelSummary exact = summarize(records, options);

  CHECK(fast.target == exact.target);
  CHECK(fast.sent == exact.sent);
  CHECK(fast.sent == 19999);
  CHECK(fast.successful == exact.successful);
  CHECK(fast.failed == exact.failed);
  CHECK(fast.failed == 800);
  CHECK(fast.interrupted == 1);
  CHECK(fast.failed_by_kind == exact.failed_by_kind);
  CHECK(fast.connects == exact.connects);
  CHECK(fast.total_output_tokens == exact.total_output_tokens);
  CHECK(fast.wall_s == doctest::Approx(exact.wall_s).epsilon(1e-12));
  CHECK(fast.mean_in_flight == doctest::Approx(exact.mean_in_flight).epsilon(1e-12));
  CHECK(fast.throughput_req_per_sec == doctest::Approx(exact.throughput_req_per_sec).epsilon(1e-12));
  CHECK(fast.output_tokens_per_sec == doctest::Approx(exact.output_tokens_per_sec).epsilon(1e-12));
  REQUIRE(fast.goodput_req_per_sec);
  CHECK(*fast.goodput_req_per_sec == doctest::Approx(*exact.goodput_req_per_sec).epsilon(1e-12));
  CHECK(fast.peak_in_flight == 17);  // as given: completions alone cannot tell

  // The samples themselves, taken from the records here.
  std::vector<double> latency, ttft, itl, tpot;
  for (const auto& r : records) {
    if (r.warmup || !r.ok()) continue;
    latency.push_back(ns_to_s(r.t_end - r.t_send));
    ttft.push_back(ns_to_s(r.t_first_token - r.t_send));
    if (r.n_out > 1) tpot.push_back(ns_to_s(r.t_end - r.t_first_token) / static_cast<double>(r.n_out - 1));
    for (std::size_t i = 1; i < r.event_times.size(); ++i)
      itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
  }
  REQUIRE(fast.latency);
  REQUIRE(fast.ttft);
  REQUIRE(fast.itl);
  REQUIRE(fast.tpot);
  check_within_error(*fast.latency, *exact.latency, latency);
  check_within_error(*fast.ttft, *exact.ttft, ttft);
  check_within_error(*fast.itl, *exact.itl, itl);
  check_within_error(*fast.tpot, *exact.tpot, tpot);
  CHECK(fast.itl->count > 300000);
}

TEST_CASE("summarize_histogram: count, mean and extremes exact, an empty histogram refused") {
  LogHistogram h;
  for (int i = 1; i <= 1000; ++i) h.add(i * 0.001);
  const Summary s = summarize_histogram(h, 0.25);
  CHECK(s.count == 1000);
  CHECK(s.mean == doctest::Approx(0.5005));
  CHECK(s.min == doctest::Approx(0.001));
  CHECK(s.max == doctest::Approx(1.0));
  CHECK(s.stddev == 0.25);
  CHECK(s.p50 == doctest::Approx(0.500).epsilon(0.0101));
  CHECK(s.p99 == doctest::Approx(0.990).epsilon(0.0101));
  CHECK_THROWS_WITH(summarize_histogram(LogHistogram(), 0), "cannot summarize an empty histogram");
}

TEST_CASE("JSONL records file: every record written reads back equal; PATH appears only when closed") {
  const std::string path = temp_path("roundtrip.jsonl");
  std::remove(path.c_str());
  std::mt19937_64 rng(7);
  std::vector<RequestRecord> written;
  {
    JsonlRecordWriter writer(path);
    for (std::uint64_t i = 0; i < 500; ++i) {
      written.push_back(synthetic(i, rng));
      written.back().error_message = i % 2 ? "line\nbreak \"quoted\"" : "";
      writer.write(written.back());
    }
    CHECK(writer.written() == 500);
    CHECK_FALSE(std::ifstream(path).good());
    CHECK(std::ifstream(writer.partial_path()).good());
    writer.close();
  }
  const auto read = read_records_jsonl(path);
  REQUIRE(read.size() == written.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    CHECK(read[i].index == written[i].index);
    CHECK(read[i].t_send == written[i].t_send);
    CHECK(read[i].t_end == written[i].t_end);
    CHECK(read[i].event_times == written[i].event_times);
    CHECK(read[i].error_kind == written[i].error_kind);
    CHECK(read[i].error_message == written[i].error_message);
  }
  std::ofstream(path, std::ios::app) << "{not json\n";
  CHECK_THROWS_WITH(read_records_jsonl(path), doctest::Contains("line 501 is not a record"));
  // A directory where the file should go: the error names the file.
  const std::string blocked = temp_path("blocked.jsonl");
  REQUIRE(::mkdir((blocked + ".partial").c_str(), 0700) == 0);
  const std::string expected = "cannot write the records file " + blocked;
  CHECK_THROWS_WITH(JsonlRecordWriter{blocked}, doctest::Contains(expected.c_str()));
  ::rmdir((blocked + ".partial").c_str());
  std::remove(path.c_str());
}

TEST_CASE("closed loop keeping no records: summary from the running path, every record in the JSONL file") {
  const std::string path = temp_path("closed.jsonl");
  std::size_t sunk = 0;
  const LevelResult result = run_closed_loop(ClosedLoop()
                                                 .concurrency(4)
                                                 .requests(3000)
                                                 .warmup(8)
                                                 .keep_records(false)
                                                 .record_sink([&](const RequestRecord&) { ++sunk; })
                                                 .stream_records_to(path)
                                                 .quiet(true)
                                                 .handle_signals(false),
                                             template_prompts("q {i}", 8), [] { return SyntheticSender{}; });
  CHECK(result.records.empty());
  CHECK(sunk == 3008);
  CHECK(result.summary.sent == 3000);
  CHECK(result.summary.target == "synthetic");
  CHECK(result.target.label == "synthetic");
  CHECK(result.summary.peak_in_flight >= 1);
  CHECK(result.summary.peak_in_flight <= 4);

  const auto records = read_records_jsonl(path);
  REQUIRE(records.size() == 3008);  // the warm-ups too (keep_warmup_records by default)
  std::set<std::uint64_t> measured;
  std::size_t warmups = 0;
  for (const auto& r : records) r.warmup ? static_cast<void>(++warmups) : static_cast<void>(measured.insert(r.index));
  CHECK(warmups == 8);
  CHECK(measured.size() == 3000);
  CHECK(*measured.rbegin() == 2999);

  const LevelSummary exact = summarize(records);
  CHECK(result.summary.successful == exact.successful);
  CHECK(result.summary.failed == exact.failed);
  CHECK(result.summary.failed_by_kind == exact.failed_by_kind);
  CHECK(result.summary.total_output_tokens == exact.total_output_tokens);
  CHECK(result.summary.wall_s == doctest::Approx(exact.wall_s).epsilon(1e-12));
  REQUIRE(result.summary.latency);
  CHECK(result.summary.latency->mean == doctest::Approx(exact.latency->mean).epsilon(1e-9));
  CHECK(std::abs(result.summary.latency->p50 - exact.latency->p50) <= 0.02 * exact.latency->p50);
  CHECK(std::abs(result.summary.itl->p99 - exact.itl->p99) <= 0.02 * exact.itl->p99);
  std::remove(path.c_str());
}

TEST_CASE("open loop keeping records hands each to the sink as well; a sink that throws fails the level") {
  std::vector<std::uint64_t> seen;
  const LevelResult result = run_open_loop(OpenLoop()
                                               .rate(2000)
                                               .requests(200)
                                               .distribution(Arrival::constant)
                                               .record_sink([&](const RequestRecord& r) { seen.push_back(r.index); })
                                               .quiet(true)
                                               .handle_signals(false),
                                           template_prompts("q {i}", 8), [] { return SyntheticSender{}; });
  CHECK(result.records.size() == 200);
  CHECK(seen.size() == 200);
  CHECK(std::set<std::uint64_t>(seen.begin(), seen.end()).size() == 200);

  CHECK_THROWS_WITH(
      run_closed_loop(ClosedLoop()
                          .concurrency(2)
                          .requests(10)
                          .record_sink([](const RequestRecord&) { throw std::runtime_error("sink full"); })
                          .quiet(true)
                          .handle_signals(false),
                      template_prompts("q {i}", 8), [] { return SyntheticSender{}; }),
      "sink full");
}
