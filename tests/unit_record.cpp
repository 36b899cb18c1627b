// Expected values below are worked out by hand from the records each test builds (times in milliseconds).
#include <doctest/doctest.h>

#include <vector>

#include <servebench/record.hpp>

using servebench::ErrorKind;
using servebench::Nanos;
using servebench::RequestRecord;

namespace {
constexpr Nanos ms = 1000000;
// steady_clock readings are never 0 (0 means "never sent"); every test time is offset by a base.
constexpr Nanos base = 5000 * ms;

RequestRecord streamed(std::uint64_t index, Nanos sched, Nanos send, std::vector<Nanos> events, std::int64_t n_out) {
  RequestRecord r;
  r.target = "vllm";
  r.index = index;
  r.streamed = true;
  r.t_sched = base + sched;
  r.t_send = base + send;
  for (auto& e : events) e += base;
  r.event_times = std::move(events);
  r.t_first_token = r.event_times.front();
  r.t_end = r.event_times.back();
  r.n_out = n_out;
  r.token_source = servebench::TokenSource::usage;
  r.http_status = 200;
  return r;
}

RequestRecord failed(std::uint64_t index, Nanos send, Nanos end, ErrorKind kind) {
  RequestRecord r;
  r.target = "vllm";
  r.index = index;
  r.t_sched = r.t_send = base + send;
  r.t_end = base + end;
  r.error_kind = kind;
  return r;
}
}  // namespace

TEST_CASE("a record's derived metrics follow the metric definitions") {
  // sched 100, send 110, events at 150, 160, 180 ms; 5 tokens reported by usage (events != tokens).
  const auto r = streamed(0, 100 * ms, 110 * ms, {150 * ms, 160 * ms, 180 * ms}, 5);
  CHECK(r.client_queue_s() == doctest::Approx(0.010));
  CHECK(r.ttft_s() == doctest::Approx(0.040));
  CHECK(r.latency_s() == doctest::Approx(0.070));
  CHECK(r.latency_from_sched_s() == doctest::Approx(0.080));
  REQUIRE(r.tpot_s().has_value());
  CHECK(*r.tpot_s() == doctest::Approx(0.030 / 4));  // (latency - ttft) / (n_out - 1)
  auto single = r;
  single.n_out = 1;
  CHECK_FALSE(single.tpot_s().has_value());
}

TEST_CASE("summarize counts, classifies and times a level") {
  std::vector<RequestRecord> records{
      streamed(0, 0, 0, {40 * ms, 50 * ms, 60 * ms}, 3),         // latency 60, ttft 40, tpot 10
      streamed(1, 0, 10 * ms, {60 * ms, 80 * ms, 100 * ms}, 3),  // latency 90, ttft 50, tpot 20
      failed(2, 20 * ms, 30 * ms, ErrorKind::http_status),
      failed(3, 20 * ms, 200 * ms, ErrorKind::read_timeout),  // last t_end of the level
      failed(4, 25 * ms, 70 * ms, ErrorKind::http_status),
      failed(5, 30 * ms, 90 * ms, ErrorKind::interrupted),
  };
  auto warm = streamed(9, 0, 0, {1000 * ms, 2000 * ms}, 2);  // would dominate every statistic if counted
  warm.warmup = true;
  records.push_back(warm);

  const auto s = servebench::summarize(records);
  CHECK(s.target == "vllm");
  CHECK(s.sent == 6);
  CHECK(s.successful == 2);
  CHECK(s.failed == 3);
  CHECK(s.interrupted == 1);
  CHECK(s.failed_by_kind.at("http_status") == 2);
  CHECK(s.failed_by_kind.at("read_timeout") == 1);
  CHECK(s.wall_s == doctest::Approx(0.200));  // first t_send 0 to last t_end 200 ms, failures included
  CHECK(s.throughput_req_per_sec == doctest::Approx(2 / 0.2));
  CHECK(s.total_output_tokens == 6);
  CHECK(s.output_tokens_per_sec == doctest::Approx(6 / 0.2));
  REQUIRE(s.latency);
  CHECK(s.latency->count == 2);  // failures never enter latency statistics
  CHECK(s.latency->mean == doctest::Approx(0.075));
  REQUIRE(s.ttft);
  CHECK(s.ttft->mean == doctest::Approx(0.045));
  REQUIRE(s.tpot);
  CHECK(s.tpot->mean == doctest::Approx(0.015));
  REQUIRE(s.itl);
  CHECK(s.itl->count == 4);  // two gaps per request, pooled
  CHECK(s.itl->max == doctest::Approx(0.020));
  CHECK(s.latency_from_sched->max == doctest::Approx(0.100));
  CHECK(s.client_queue->max == doctest::Approx(0.010));  // record 1: scheduled at 0, sent at 10
  CHECK_FALSE(s.goodput_req_per_sec.has_value());        // no SLOs given
}

TEST_CASE("a summary carries mergeable histograms of its samples and the window of its wall time") {
  const std::vector<RequestRecord> records{
      streamed(0, 0, 5 * ms, {40 * ms, 50 * ms, 60 * ms}, 3),    // latency 55, ttft 35, tpot 10, itl 10 10
      streamed(1, 0, 10 * ms, {60 * ms, 80 * ms, 110 * ms}, 3),  // latency 100, ttft 50, tpot 25, itl 20 30
      failed(2, 20 * ms, 300 * ms, ErrorKind::http_status),      // in the window, in no histogram
  };
  const auto s = servebench::summarize(records);
  CHECK(s.first_send == records[0].t_send);  // the earliest send
  CHECK(s.last_end == records[2].t_end);     // the failure ends last
  CHECK(s.last_end - s.first_send == 295 * ms);
  CHECK(servebench::ns_to_s(s.last_end - s.first_send) == doctest::Approx(s.wall_s));
  REQUIRE(s.histograms.latency);
  servebench::LogHistogram latency;  // built by hand from the latencies above
  latency.add(0.055), latency.add(0.100);
  CHECK(*s.histograms.latency == latency);
  REQUIRE(s.histograms.itl);
  CHECK(s.histograms.itl->count() == 4);
  CHECK(s.histograms.itl->max() == doctest::Approx(0.030));
  CHECK(s.histograms.tpot->count() == 2);
  CHECK(s.histograms.ttft->min() == doctest::Approx(0.035));
  // Two halves summarised apart merge into the whole's histogram.
  const auto a = servebench::summarize(std::vector<RequestRecord>{records[0]});
  const auto b = servebench::summarize(std::vector<RequestRecord>{records[1], records[2]});
  CHECK(servebench::merge(*a.histograms.itl, *b.histograms.itl) == *s.histograms.itl);
  // And they survive JSON.
  const nlohmann::json j = s;
  servebench::LevelSummary back;
  servebench::from_json(j, back);
  CHECK(*back.histograms.latency == *s.histograms.latency);
  CHECK(back.first_send == s.first_send);
  CHECK_FALSE(servebench::summarize(std::vector<RequestRecord>{records[2]}).histograms.latency);
}

TEST_CASE("goodput counts only requests meeting every SLO") {
  const std::vector<RequestRecord> records{
      streamed(0, 0, 0, {40 * ms, 50 * ms, 60 * ms}, 3),   // ttft 40, tpot 10, latency 60
      streamed(1, 0, 0, {60 * ms, 80 * ms, 100 * ms}, 3),  // ttft 60, tpot 20, latency 100
      failed(2, 0, 10 * ms, ErrorKind::http_status),
  };
  servebench::SummarizeOptions options;
  options.slo.ttft_s = 0.050;
  const auto s = servebench::summarize(records, options);
  REQUIRE(s.goodput_req_per_sec);
  CHECK(*s.goodput_req_per_sec == doctest::Approx(1 / 0.100));
  options.slo.tpot_s = 0.005;  // nobody meets this
  CHECK(*servebench::summarize(records, options).goodput_req_per_sec == 0);
}

TEST_CASE("a level where every request failed has counts but no latency summaries") {
  const auto s = servebench::summarize({failed(0, 0, 5 * ms, ErrorKind::connect_refused)});
  CHECK(s.failed == 1);
  CHECK(s.successful == 0);
  CHECK(s.throughput_req_per_sec == 0);
  CHECK_FALSE(s.latency.has_value());
  CHECK(nlohmann::json(s)["latency"].is_null());
}

TEST_CASE("non-streamed replies have latency but no TTFT, TPOT or ITL") {
  RequestRecord r;
  r.target = "hf";
  r.t_sched = r.t_send = base;
  r.t_first_token = r.t_end = base + 3000 * ms;
  r.n_out = 50;
  const auto s = servebench::summarize({r});
  CHECK(s.latency->mean == doctest::Approx(3.0));
  CHECK_FALSE(s.ttft.has_value());
  CHECK_FALSE(s.tpot.has_value());
}

TEST_CASE("records and level summaries survive a JSON round trip") {
  auto r = streamed(3, 1, 2, {3, 4, 9}, 7);
  r.error_kind = ErrorKind::closed_mid_stream;
  r.error_message = "connection closed after 3 events";
  r.body_start = "{\"partial";
  r.server_timing = servebench::ServerTiming{3, 8, 5};
  const auto back = nlohmann::json(r).get<RequestRecord>();
  CHECK(back.index == 3);
  CHECK(back.event_times == r.event_times);
  CHECK(back.error_kind == ErrorKind::closed_mid_stream);
  CHECK(back.error_message == r.error_message);
  CHECK(back.token_source == servebench::TokenSource::usage);
  REQUIRE(back.server_timing.has_value());
  CHECK(back.server_timing->first_token == 3);
  CHECK(back.server_timing->last_token == 8);
  CHECK(back.server_timing->first_answer_token == 5);
  CHECK_FALSE(nlohmann::json(RequestRecord{}).get<RequestRecord>().server_timing.has_value());

  const auto s = servebench::summarize({streamed(0, 0, 0, {40 * ms, 50 * ms}, 2), r});
  const auto s_back = nlohmann::json(s).get<servebench::LevelSummary>();
  CHECK(s_back.failed_by_kind == s.failed_by_kind);
  CHECK(s_back.latency->p95 == s.latency->p95);
  CHECK(s_back.ttft.has_value());

  CHECK_THROWS_AS(servebench::enum_from_string<ErrorKind>("teapot"), std::invalid_argument);
  for (int k = 0; k <= static_cast<int>(ErrorKind::other); ++k) {
    const auto kind = static_cast<ErrorKind>(k);
    CHECK(servebench::enum_from_string<ErrorKind>(servebench::to_string(kind)) == kind);
    CHECK(nlohmann::json(kind).get<ErrorKind>() == kind);  // JSON spells it the same way
  }
}

TEST_CASE("TTFA is summarised over the streamed replies that had answer text, beside TTFT") {
  auto with_answer = streamed(0, 0, 0, {40 * ms, 50 * ms, 60 * ms}, 3);
  with_answer.t_first_answer_token = with_answer.t_send + 55 * ms;
  auto reasoning_only = streamed(1, 0, 0, {30 * ms, 70 * ms}, 2);  // no answer text: no TTFA, still a TTFT
  const auto s = servebench::summarize({with_answer, reasoning_only});
  REQUIRE(s.ttft.has_value());
  CHECK(s.ttft->count == 2);
  REQUIRE(s.ttfa.has_value());
  CHECK(s.ttfa->count == 1);
  CHECK(s.ttfa->mean == doctest::Approx(0.055));
  CHECK_FALSE(reasoning_only.ttfa_s().has_value());
  CHECK(nlohmann::json(with_answer).get<RequestRecord>().t_first_answer_token == with_answer.t_first_answer_token);
}

TEST_CASE("the achieved load is counted from the records: peak and time-averaged requests in flight") {
  // Three requests on one clock (ms): [0, 100], [20, 60], [60, 160] (the second ends as the third starts: not
  // overlapping), one failed but sent: [50, 70]. Wall 0..160. Peak 3 (at 50..60: the first, second and failed one).
  // Mean = (100 + 40 + 100 + 20) / 160 = 1.625, computed by hand.
  auto a = streamed(0, 0, 0, {100 * ms}, 1);
  auto b = streamed(1, 20 * ms, 20 * ms, {60 * ms}, 1);
  auto c = streamed(2, 60 * ms, 60 * ms, {160 * ms}, 1);
  auto failed = streamed(3, 50 * ms, 50 * ms, {70 * ms}, 0);
  failed.error_kind = ErrorKind::http_status;
  auto warm = streamed(4, 0, 0, {500 * ms}, 1);
  warm.warmup = true;  // never counted
  const auto s = servebench::summarize({a, b, c, failed, warm});
  CHECK(s.peak_in_flight == 3);
  CHECK(s.mean_in_flight == doctest::Approx(1.625));
  CHECK(s.wall_s == doctest::Approx(0.160));
  const auto back = nlohmann::json(s).get<servebench::LevelSummary>();
  CHECK(back.peak_in_flight == 3);
}

TEST_CASE("t_connect: kept in JSON, absent in old artifacts, counted per level") {
  auto connected = streamed(0, 100, 200, {300, 400}, 2);
  connected.t_connect = connected.t_send + 50;
  const auto j = nlohmann::json(connected);
  CHECK(j.at("t_connect") == connected.t_send + 50);
  const auto back = j.get<RequestRecord>();
  REQUIRE(back.t_connect.has_value());
  CHECK(*back.t_connect == connected.t_send + 50);
  REQUIRE(back.connect_s());
  CHECK(*back.connect_s() == doctest::Approx(50e-9));  // t_connect - t_send
  auto old = j;
  old.erase("t_connect");  // written before the field existed
  CHECK_FALSE(old.get<RequestRecord>().t_connect.has_value());
  CHECK_FALSE(RequestRecord{}.connect_s().has_value());
  auto wrong = j;
  wrong["t_connect"] = "soon";
  CHECK_THROWS_AS(wrong.get<RequestRecord>(), servebench::FieldError);

  auto warm = connected;
  warm.warmup = true;  // warm-ups stay out of every figure, this one too
  const auto s = servebench::summarize({connected, streamed(1, 100, 200, {300}, 1), warm});
  CHECK(s.connects == 1);
  CHECK(nlohmann::json(s).get<servebench::LevelSummary>().connects == 1);
  auto old_summary = nlohmann::json(s);
  old_summary.erase("connects");
  CHECK(old_summary.get<servebench::LevelSummary>().connects == 0);
}

TEST_CASE("per-token ITL: a chunk of k tokens after a gap g gives k samples of g / k") {
  // Events at 100, 130, 190, 200, 260 ms carrying cumulative counts 2, 3, 6, 6, 8: the first chunk's two tokens
  // belong to TTFT; then 1 token after 30 ms, 3 after 60 ms, none after 10 ms (its gap passes on), 2 after 10 + 60.
  auto r = streamed(0, 0, 0, {100 * ms, 130 * ms, 190 * ms, 200 * ms, 260 * ms}, 8);
  r.event_tokens = {2, 3, 6, 6, 8};
  std::vector<double> samples;
  servebench::append_per_token_itl(r, samples);
  const std::vector<double> want = {0.030, 0.020, 0.020, 0.020, 0.035, 0.035};
  REQUIRE(samples.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(samples[i] == doctest::Approx(want[i]).epsilon(1e-9));

  const auto s = servebench::summarize(std::vector<RequestRecord>{r});
  REQUIRE(s.itl_per_token.has_value());
  CHECK(s.itl_per_token->count == 6);
  CHECK(s.itl_per_token->mean == doctest::Approx(0.160 / 6));  // the gaps' sum over the tokens after the first chunk
  REQUIRE(s.itl.has_value());
  CHECK(s.itl->count == 4);  // per event, beside it

  SUBCASE("no per-token ITL without a count for every event, or with counts that go down") {
    for (const std::vector<std::int64_t>& bad : {std::vector<std::int64_t>{}, {2, 3, 6, 8}, {2, 3, 6, 5, 8}}) {
      auto b = r;
      b.event_tokens = bad;
      std::vector<double> none;
      servebench::append_per_token_itl(b, none);
      CHECK(none.empty());
      CHECK_FALSE(servebench::summarize(std::vector<RequestRecord>{b}).itl_per_token.has_value());
    }
  }
}

TEST_CASE("input tokens, exact-length checks, prefix hits and output lengths are summarised") {
  constexpr Nanos ms = 1'000'000;
  // Four successful requests over 100 ms; by hand: inputs 100 + 200 + 300 (the fourth reported none) = 600,
  // 6000 tok/s in and 3 + 4 + 5 + 8 = 20 out (200 tok/s); two built to a length, one counted otherwise; cached 50 of
  // the 300 input tokens of the two that said; one reply shorter than asked.
  auto r0 = streamed(0, 0, 0, {10 * ms, 20 * ms, 30 * ms}, 3);
  r0.n_in = 100;
  r0.n_in_expected = 100;
  r0.n_out_requested = 3;
  auto r1 = streamed(1, 0, 0, {10 * ms, 100 * ms}, 4);
  r1.n_in = 200;
  r1.n_in_expected = 196;  // the server counted 4 more (a chat template)
  r1.n_in_cached = 50;
  r1.n_out_requested = 8;  // an early end of sequence
  auto r2 = streamed(2, 0, 0, {10 * ms, 50 * ms}, 5);
  r2.n_in = 300;
  r2.n_in_cached = 0;
  auto r3 = streamed(3, 0, 0, {10 * ms, 60 * ms}, 8);
  const auto s = servebench::summarize(std::vector<RequestRecord>{r0, r1, r2, r3});
  CHECK(s.total_input_tokens == 600);
  CHECK(s.input_tokens_reported == 3);
  CHECK(s.input_tokens_per_sec == doctest::Approx(600 / 0.1));
  CHECK(s.total_tokens_per_sec == doctest::Approx((600 + 20) / 0.1));
  CHECK(s.input_length_checked == 2);
  CHECK(s.input_length_mismatches == 1);
  CHECK(s.cached_input_tokens == 50);
  REQUIRE(s.prefix_hit_rate.has_value());
  CHECK(*s.prefix_hit_rate == doctest::Approx(50.0 / 500.0));
  CHECK(s.requested_output_tokens == 11);
  CHECK(s.short_outputs == 1);
  const auto none = servebench::summarize(std::vector<RequestRecord>{r3});
  CHECK_FALSE(none.prefix_hit_rate.has_value());  // no request reported a cached count
  CHECK(none.input_tokens_reported == 0);
}
