#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "../examples/lab/lab.hpp"

using namespace servebench;

namespace {
// A record that succeeded after `seconds` (t_send 1 s into the clock, so a zero never means "not sent").
RequestRecord ok_record(const std::string& target, std::uint64_t index, double seconds, std::int64_t tokens = 50) {
  RequestRecord r;
  r.target = target;
  r.index = index;
  r.t_sched = r.t_send = 1'000'000'000;
  r.t_first_token = r.t_end = r.t_send + static_cast<Nanos>(seconds * 1e9);
  r.n_out = tokens;
  r.token_source = TokenSource::usage;
  return r;
}

LevelResult run_of(const std::string& target, double level, std::vector<RequestRecord> records) {
  LevelResult run;
  run.target.label = target;
  run.config.concurrency = static_cast<std::size_t>(level);
  run.records = std::move(records);
  run.summary = summarize(run.records);
  run.summary.level = level;
  run.summary.target = target;
  return run;
}

std::string fresh_directory() {
  std::string pattern = "/tmp/servebench-lab-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}
}  // namespace

TEST_CASE("lab_engine_level computes p95 by the lab's rule: sorted[int(n * 0.95)], and 0 for a single request") {
  SUBCASE("twenty requests: index int(20 * 0.95) = 19, the slowest") {
    std::vector<RequestRecord> records;
    for (int i = 0; i < 20; ++i) records.push_back(ok_record("hf", i, 1.0 + i));  // 1..20 s, given in order
    const auto e = lab::lab_engine_level(run_of("hf", 20, records));
    CHECK(e.p95_latency == doctest::Approx(20.0));
    CHECK(e.mean_latency == doctest::Approx(10.5));  // (1 + 20) / 2
    CHECK(e.successful == 20);
    CHECK(e.failed == 0);
    CHECK(e.total_time == doctest::Approx(20.0));  // first send to last end
    CHECK(e.throughput_req_per_sec == doctest::Approx(1.0));
  }
  SUBCASE("five requests: index int(5 * 0.95) = 4") {
    std::vector<RequestRecord> records;
    for (double s : {0.5, 0.1, 0.4, 0.2, 0.3}) records.push_back(ok_record("vllm", records.size(), s));
    CHECK(lab::lab_engine_level(run_of("vllm", 5, records)).p95_latency == doctest::Approx(0.5));
  }
  SUBCASE("one request: the lab's script writes 0") {
    const auto e = lab::lab_engine_level(run_of("hf", 1, {ok_record("hf", 0, 3.2)}));
    CHECK(e.p95_latency == 0.0);
    CHECK(e.mean_latency == doctest::Approx(3.2));
  }
  SUBCASE("failed and interrupted requests count as failed and stay out of the latencies") {
    auto bad = ok_record("hf", 1, 99);
    bad.error_kind = ErrorKind::http_status;
    auto stopped = ok_record("hf", 2, 50);
    stopped.error_kind = ErrorKind::interrupted;
    const auto e = lab::lab_engine_level(run_of("hf", 3, {ok_record("hf", 0, 2.0), bad, stopped}));
    CHECK(e.successful == 1);
    CHECK(e.failed == 2);
    CHECK(e.mean_latency == doctest::Approx(2.0));
  }
}

TEST_CASE("concurrent_benchmark_json keeps the lab's key order and fields, and reads back") {
  std::vector<LevelResult> runs;
  for (double level : {1.0, 5.0, 10.0, 20.0}) {
    std::vector<RequestRecord> hf, vllm;
    for (int i = 0; i < static_cast<int>(level); ++i) {
      hf.push_back(ok_record("hf", i, 2.0 * level));
      vllm.push_back(ok_record("vllm", i, 0.5));
    }
    runs.push_back(run_of("hf", level, hf));
    runs.push_back(run_of("vllm", level, vllm));
  }
  const auto levels = lab::concurrency_levels(runs);
  REQUIRE(levels.size() == 4);
  CHECK(levels[3].throughput_ratio() == doctest::Approx((20 / 0.5) / (20 / 40.0)));  // 40 / 0.5 = 80
  const auto j = lab::concurrent_benchmark_json(levels);
  // Python's json.dump keeps insertion order: "1", "5", "10", "20", and the lab's field order.
  const std::string text = j.dump();
  CHECK(text.find("\"1\"") < text.find("\"5\""));
  CHECK(text.find("\"5\"") < text.find("\"10\""));
  CHECK(text.find("\"10\"") < text.find("\"20\""));
  std::vector<std::string> keys;
  for (const auto& [key, value] : j["20"]["hf"].items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"total_time", "successful", "failed", "throughput_req_per_sec", "mean_latency",
                                         "p95_latency"});
  CHECK(j["20"]["vllm"]["successful"] == 20);
  CHECK(j["1"]["hf"]["p95_latency"] == 0.0);

  const auto back = lab::parse_concurrent_benchmark(j.dump(2), "test");
  REQUIRE(back.size() == 4);
  CHECK(back[2].concurrency == 10);
  CHECK(back[2].hf.throughput_req_per_sec == doctest::Approx(levels[2].hf.throughput_req_per_sec));
  CHECK(back[3].vllm.mean_latency == doctest::Approx(0.5));
}

TEST_CASE("parse_concurrent_benchmark sorts levels numerically and says what is wrong with a foreign file") {
  const auto sorted = lab::parse_concurrent_benchmark(
      R"({"20": {"hf": {"throughput_req_per_sec": 0.5}, "vllm": {"throughput_req_per_sec": 9}},
          "5": {"hf": {"throughput_req_per_sec": 0.6}, "vllm": {"throughput_req_per_sec": 4}}})",
      "x.json");
  REQUIRE(sorted.size() == 2);
  CHECK(sorted[0].concurrency == 5);
  CHECK(sorted[1].throughput_ratio() == doctest::Approx(18.0));

  CHECK_THROWS_WITH(lab::parse_concurrent_benchmark(R"({"1": {"hf": {"total_time": 1)", "t.json"),
                    doctest::Contains("'t.json' is not valid JSON (truncated"));
  CHECK_THROWS_WITH(lab::parse_concurrent_benchmark(R"({"schema": "servebench.artifact/1"})", "a.json"),
                    doctest::Contains("key \"schema\" is not a concurrency level"));
  CHECK_THROWS_WITH(lab::parse_concurrent_benchmark(R"([1, 2])", "l.json"),
                    doctest::Contains("not a concurrency table"));
  CHECK_THROWS_WITH(lab::parse_concurrent_benchmark(R"({"1": {"hf": {"throughput_req_per_sec": 1}}})", "h.json"),
                    doctest::Contains("level 1 has no \"vllm\" object"));
  CHECK_THROWS_WITH(lab::parse_concurrent_benchmark(
                        R"({"1": {"hf": {"throughput_req_per_sec": "fast"}, "vllm": {"throughput_req_per_sec": 1}}})",
                        "s.json"),
                    doctest::Contains("lacks a numeric throughput_req_per_sec"));
}

TEST_CASE("single_request_json has the lab's shape: prompt[:50], engine blocks and hf/vllm speedup") {
  auto workload = fixed_prompts(std::vector<std::string>(lab::prompts.begin(), lab::prompts.end()),
                                lab::prompt_max_tokens);
  LevelResult hf = run_of("hf", 1, {ok_record("hf", 0, 6.0, 100), ok_record("hf", 1, 6.5, 100)});
  auto failed = ok_record("vllm", 1, 0.1);
  failed.error_kind = ErrorKind::connect_refused;
  LevelResult vllm = run_of("vllm", 1, {ok_record("vllm", 0, 0.75, 100), failed});
  const auto rows = lab::pair_single_requests(hf, vllm, workload);
  REQUIRE(rows.size() == 2);
  const auto j = lab::single_request_json(rows);
  REQUIRE(j.is_array());
  // "Write a detailed explanation of how transformers work:"[:50]
  CHECK(j[0]["prompt"] == "Write a detailed explanation of how transformers w");
  std::vector<std::string> keys;
  for (const auto& [key, value] : j[0].items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"prompt", "hf", "vllm", "speedup"});
  CHECK(j[0]["hf"]["engine"] == "HuggingFace");
  CHECK(j[0]["vllm"]["engine"] == "vLLM");
  CHECK(j[0]["hf"]["tokens"] == 100);
  CHECK(j[0]["hf"]["tok_per_sec"].get<double>() == doctest::Approx(100 / 6.0));
  CHECK(j[0]["speedup"].get<double>() == doctest::Approx(8.0));  // 6.0 / 0.75
  CHECK(j[1]["vllm"]["tokens"] == 0);                            // failed: nothing generated, no speedup
  CHECK(j[1]["speedup"] == 0.0);
}

TEST_CASE("first_code_points cuts UTF-8 text like Python's s[:n], never inside a character") {
  CHECK(lab::detail::first_code_points("héllo wörld", 4) == "héll");
  CHECK(lab::detail::first_code_points("ab", 50) == "ab");
  CHECK(lab::detail::first_code_points("日本語", 2) == "日本");
}

TEST_CASE("lab::Options takes one real server alone, both, or neither") {
  lab::Options o;
  CHECK_NOTHROW(lab::check(o));
  CHECK(o.simulated());
  CHECK_FALSE(o.one_real_server());
  o.hf_url = "http://127.0.0.1:8001";
  CHECK_NOTHROW(lab::check(o));
  CHECK(o.one_real_server());
  o.vllm_url = "http://127.0.0.1:8000";
  CHECK_FALSE(o.one_real_server());
  CHECK(o.path("x.json") == "artifacts/x.json");
  o.out_dir = "out/";
  CHECK(o.path("x.json") == "out/x.json");
  o.out_dir.clear();
  CHECK_THROWS_AS(lab::check(o), examples::UsageError);
}

TEST_CASE("check_output_dir creates the directory, and names the path when it cannot") {
  const std::string dir = fresh_directory();
  CHECK_NOTHROW(lab::check_output_dir(dir + "/new/artifacts"));
  std::ofstream(dir + "/file") << "x";
  const std::string blocked = dir + "/file";
  CHECK_THROWS_WITH_AS(lab::check_output_dir(blocked + "/artifacts"), doctest::Contains(blocked.c_str()),
                       lab::SetupError);
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("Servers start the embedded HF-like and vLLM-like pair, and both answer a request") {
  lab::Options o;
  o.time_scale = 200;  // 50 tokens of the HF-like server in ~20 ms
  lab::Servers servers(o);
  CHECK(servers.simulated());
  CHECK(servers.hf_simulated());
  CHECK(servers.vllm_simulated());
  REQUIRE(servers.time_scale());
  CHECK(*servers.time_scale() == 200);
  const auto targets = servers.targets();
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].label() == "hf");
  CHECK(targets[0].info.dialect == "hf_simple");
  CHECK(targets[1].label() == "vllm");
  CHECK(targets[1].info.dialect == "openai_completions");
  CHECK(targets[1].info.url == servers.vllm_url());
  for (const auto& t : targets) {
    auto sender = t.make_sender();
    const auto r = sender.send(Prompt{"Hello", 8}, 0, 0);
    CAPTURE(r.error_message);
    CHECK(r.ok());
    CHECK(r.n_out == 8);
    CHECK(r.target == t.label());
  }
  const char* argv[] = {"prog", "--quiet"};
  const auto m = servers.metadata(2, argv, {{"max_tokens", 8}});
  CHECK(m.command_line == std::vector<std::string>{"prog", "--quiet"});
  REQUIRE(m.time_scale);
  CHECK(*m.time_scale == 200);
  CHECK(m.model == lab::lab_model);
  CHECK(m.configuration["max_tokens"] == 8);
  // The embedded pair is the one measured side by side on one H200, and the artifact says where it comes from.
  CHECK(m.configuration["presets"]["hf"]["preset"] == "hf-transformers-h200");
  CHECK(m.configuration["presets"]["vllm"]["preset"] == "transformers-cb-h200");
  CHECK(m.configuration["presets"]["vllm"]["machine"] == "1x NVIDIA H200");
  CHECK(m.configuration["presets"]["vllm"]["source"].get<std::string>().find(
            "h200-transformers-batching-vs-lab-server.json") != std::string::npos);
  CHECK(m.configuration["presets"]["vllm"]["run_variability"] == 0.0);  // off unless asked for
}

TEST_CASE("Servers put levels of embedded servers in modelled time and leave real ones alone") {
  lab::Options o;
  o.time_scale = 20;
  o.warmed = true;
  lab::Servers servers(o);
  const auto targets = servers.targets();
  const auto workload = template_prompts(lab::question_template, 8);
  auto level = run_closed_loop(ClosedLoop().concurrency(1).requests(1).quiet(true).handle_signals(false), workload,
                               targets[1]);
  const double raw_wall = level.summary.wall_s;
  const auto modelled = servers.modelled(level);
  REQUIRE(modelled.time_scale);
  CHECK(*modelled.time_scale == 20);
  CHECK(modelled.summary.wall_s == doctest::Approx(raw_wall * 20).epsilon(0.001));
  // transformers-cb-h200, warmed: 200 ms overhead + 8 steps of 32 ms = 0.456 s of modelled time. Never less (3%
  // for the simulator's clock); more by the client's own overhead times 20: about 1 ms of it on an idle machine,
  // but 30 ms once under AddressSanitizer with the suite running beside it (1.05 s modelled), so the upper bound
  // allows 50 ms of real overhead. An unscaled level (0.023 s) or a wrong model fails either bound.
  CHECK(modelled.summary.wall_s >= 0.456 * 0.97);
  CHECK(modelled.summary.wall_s <= 0.456 + 20 * 0.050);
  level.target.label = "another";  // not an embedded side: untouched
  CHECK_FALSE(servers.modelled(level).time_scale);
}

TEST_CASE("Servers refuse a real server that does not answer, naming it and the fix") {
  lab::Options o;
  o.hf_url = "http://127.0.0.1:1";
  o.vllm_url = "http://127.0.0.1:1";
  o.wait_s = 0.2;
  CHECK_THROWS_WITH_AS(lab::Servers{o}, doctest::Contains("the HF server at http://127.0.0.1:1 did not answer"),
                       lab::SetupError);
}

TEST_CASE("the chart builders carry the lab's numbers: throughput bars and mean/p95 latency lines") {
  std::vector<lab::ConcurrencyLevel> levels(2);
  levels[0].concurrency = 1;
  levels[0].hf.throughput_req_per_sec = 0.31;
  levels[0].vllm.throughput_req_per_sec = 3.1;
  levels[1].concurrency = 20;
  levels[1].hf.throughput_req_per_sec = 0.52;
  levels[1].vllm.throughput_req_per_sec = 12.0;
  levels[1].hf.p95_latency = 38.0;
  const auto bars = lab::throughput_chart(levels, "sub");
  CHECK(bars.categories == std::vector<std::string>{"1", "20"});
  REQUIRE(bars.series.size() == 2);
  CHECK(bars.series[1].values == std::vector<double>{3.1, 12.0});
  CHECK(bars.speedup_labels);
  const auto lines = lab::latency_chart(levels);
  REQUIRE(lines.series.size() == 4);
  CHECK(lines.series[1].dashed);
  CHECK(lines.series[1].values[1] == 38.0);
  // One request at level 1: the lab's file says p95 0; the chart draws the one sample (= the mean) instead.
  levels[0].hf.successful = 1;
  levels[0].hf.mean_latency = 3.2;
  CHECK(lab::latency_chart(levels).series[1].values[0] == 3.2);
  CHECK_NOTHROW(chart::render_grouped_bars(bars));
  CHECK_NOTHROW(chart::render_lines(lines));
}

TEST_CASE("the lab's prompts are its own constants, and the lab's report relates vLLM to HF in the lab's colours") {
  REQUIRE(lab::prompts.size() == 3);
  CHECK(std::string(lab::prompts[0]) == "Write a detailed explanation of how transformers work:");
  CHECK(std::string(lab::prompts[1]) == "Explain the concept of attention mechanism in neural networks:");
  CHECK(std::string(lab::prompts[2]) == "What are the key differences between GPT and BERT architectures?");
  CHECK(lab::default_levels == std::vector<std::size_t>{1, 5, 10, 20});
  const auto o = lab::report_options();
  CHECK(o.baseline == "hf");
  CHECK(o.colors.at("hf") == "#ff6b6b");
  CHECK(o.colors.at("vllm") == "#4ecdc4");
}

TEST_CASE("the lab's TTFT/TPOT chart draws only engines that streamed, in milliseconds") {
  Artifact a;
  auto streamed = ok_record("vllm", 0, 1.0);
  streamed.streamed = true;
  streamed.t_first_token = streamed.t_send + 100'000'000;  // TTFT 100 ms; TPOT (1000 - 100) / 49 ms
  a.levels.push_back(run_of("hf", 5, {ok_record("hf", 0, 3.0)}));
  a.levels.push_back(run_of("vllm", 5, {streamed}));
  const auto c = ttft_tpot_chart(a.levels, lab::report_options());
  REQUIRE(c);
  CHECK(c->categories == std::vector<std::string>{"5"});
  REQUIRE(c->ttft.size() == 1);
  CHECK(c->ttft[0].name == "vllm");
  CHECK(c->ttft[0].color == lab::vllm_color);
  CHECK(c->ttft[0].values[0] == doctest::Approx(100.0));
  CHECK(c->tpot[0].values[0] == doctest::Approx(900.0 / 49));
  Artifact none;
  none.levels.push_back(run_of("hf", 1, {ok_record("hf", 0, 3.0)}));
  CHECK_FALSE(ttft_tpot_chart(none.levels));
}
