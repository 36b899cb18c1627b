// Every request accounted for under every fault: Driver + closed-loop scheduler against servebench::sim servers
// with seeded fault injection (and a server killed mid-run, and one never started). For each level the records are
// recounted here, independently of summarize(): sent = successful + failed (by kind) + interrupted, every index
// appears exactly once, failures of each kind match what the server says it injected (ServerStats::faults), the run
// ends within its timeouts, and the artifact written from it reads back whole: the level as the scheduler returned
// it (target, mode, rate, seed, SLOs, warnings, interrupted), nothing copied into the artifact by hand.
//
// Built twice: integration_faults runs every level on the default transport, integration_faults_event_loop
// (SERVEBENCH_TEST_EVENT_LOOP, tests/cmake/event_loop.cmake) on the event-loop transport: the same faults, the same
// accounting, whichever carries the requests.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <servebench/api.hpp>
#include <servebench/artifact.hpp>
#include <servebench/driver.hpp>
#include <servebench/scheduler.hpp>
#include <servebench/sim.hpp>
#ifdef SERVEBENCH_TEST_EVENT_LOOP
#include <servebench/event_loop.hpp>
#endif

namespace sim = servebench::sim;
using namespace std::chrono_literals;
using servebench::ErrorKind;
using servebench::LevelResult;

namespace {

using Clock = std::chrono::steady_clock;

// The target of this build's transport.
template <class Api>
servebench::Target make_test_target(const servebench::DriverOptions& options) {
#ifdef SERVEBENCH_TEST_EVENT_LOOP
  return servebench::make_event_loop_target<Api>(options, servebench::EventLoopOptions{2});
#else
  return servebench::make_target<Api>(options);
#endif
}

constexpr std::uint64_t requests = 40;
constexpr std::size_t concurrency = 8;

// A small, fast server: vLLM-like engine run 100x faster than real time; short keep-alive so stop() never waits
// long for an idle client (cpp-httplib 0.11.4 waits for them). Many threads: a stalled or slow reply keeps its
// server thread for its whole delay after the client gave up, and with threads(concurrency + 4) the next requests
// queued behind them and timed out too (14 read timeouts for 12 planted stalls) — right, but not what this counts.
sim::ServerOptions fast_server() {
  return sim::preset("vllm-h100").time_scale(100).threads(64).keep_alive_timeout_s(1).seed(7);
}

servebench::DriverOptions driver_options(const std::string& url, bool stream) {
  return servebench::DriverOptions()
      .base_url(url)
      .stream(stream)
      .keep_text(false)
      .connect_timeout(1000ms)
      .read_timeout(1500ms)
      .deadline(2500ms);
}

// SLOs every level is summarised with, so the artifact's round trip has SLOs to carry.
servebench::SummarizeOptions with_slo() {
  servebench::SummarizeOptions options;
  options.slo.ttft_s = 0.75;
  options.slo.tpot_s = 0.05;
  options.slo.latency_s = 2.0;
  return options;
}

struct Level {
  LevelResult result;
  double wall_s = 0;
};

Level run_level(const std::string& url, bool stream, servebench::DriverOptions options,
                std::chrono::milliseconds level_timeout = 20000ms) {
  options.base_url(url).stream(stream).label("sim");
  const auto target = make_test_target<servebench::api::openai_completions>(options);
  const auto workload = servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 8);
  const auto start = Clock::now();
  Level level;
  level.result = servebench::run_closed_loop(servebench::ClosedLoop()
                                                 .concurrency(concurrency)
                                                 .requests(requests)
                                                 .timeout(level_timeout)
                                                 .grace_period(200ms)
                                                 .quiet(true)
                                                 .handle_signals(false)
                                                 .summarize_options(with_slo()),
                                             workload, target);
  level.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const auto& r = level.result;
  CHECK(r.target.label == "sim");
  CHECK(r.target.url == url);
  CHECK(r.target.dialect == "openai_completions");
  CHECK(r.summary.target == "sim");
  for (const auto& record : r.records) CHECK(record.target == "sim");
  return level;
}

// The invariant, recounted from the records. `complete`: every planned index must be there (false when a level
// timeout or an interrupt stopped sending early). `contiguous`: the indices sent are 0..n-1 without holes, as in a
// closed loop, whose workers take indices in order; an interrupted open loop may leave one out (an arrival whose
// worker woke a little after the next one's and saw the stop), which it counts in not_sent.
std::map<std::string, std::size_t> check_accounting(const LevelResult& r, bool complete, bool contiguous = true) {
  std::size_t ok = 0, failed = 0, interrupted = 0;
  std::map<std::string, std::size_t> by_kind;
  std::set<std::uint64_t> indices;
  for (const auto& record : r.records) {
    if (record.warmup) continue;
    CHECK_MESSAGE(indices.insert(record.index).second, "index " << record.index << " counted twice");
    if (record.ok()) {
      ++ok;
    } else if (record.interrupted()) {
      ++interrupted;
    } else {
      ++failed;
      ++by_kind[servebench::to_string(record.error_kind)];
      CHECK_MESSAGE(!record.error_message.empty(), "a failure without a message: " << record.index);
    }
  }
  const auto& s = r.summary;
  CHECK(s.sent == indices.size());
  CHECK(s.sent == s.successful + s.failed + s.interrupted);
  CHECK(s.successful == ok);
  CHECK(s.failed == failed);
  CHECK(s.interrupted == interrupted);
  CHECK(s.failed_by_kind == by_kind);
  if (contiguous)
    for (std::uint64_t i = 0; i < indices.size(); ++i)
      if (!indices.count(i)) FAIL_CHECK("index " << i << " lost (indices must be 0..n-1 without holes)");
  if (complete) CHECK(s.sent == requests);
  return by_kind;
}

// A fresh directory for one artifact, removed with it.
struct TempArtifact {
  TempArtifact() {
    REQUIRE(::mkdtemp(directory) != nullptr);
    path = std::string(directory) + "/artifact.json";
  }
  ~TempArtifact() {
    std::remove(path.c_str());
    ::rmdir(directory);
  }
  char directory[32] = "/tmp/servebench-faults-XXXXXX";
  std::string path;
};

// The raw JSON of a file, to see what the artifact says without the reader's help.
nlohmann::json raw_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

// The artifact of the level, written by a plain write_artifact of the level as the run returned it, reads back with
// everything the run knew: target, settings (mode, rate, seed, SLOs), counts, records, warnings and `interrupted`,
// and the run's metadata (interrupted, targets) derived from it.
void check_artifact(const LevelResult& r, bool interrupted) {
  CHECK(r.interrupted == interrupted);
  TempArtifact file;
  servebench::Artifact artifact;
  artifact.levels.push_back(r);
  CHECK(artifact.interrupted() == interrupted);
  servebench::write_artifact(file.path, artifact);
  const auto back = servebench::read_artifact(file.path);
  REQUIRE(back.levels.size() == 1);
  const auto& level = back.levels[0];
  CHECK(back.interrupted() == interrupted);
  CHECK(level.interrupted == interrupted);
  CHECK(level.deadline_exceeded == r.deadline_exceeded);
  CHECK(level.target.label == r.target.label);
  CHECK(level.target.url == r.target.url);
  CHECK(level.target.dialect == r.target.dialect);
  CHECK(level.config.mode == r.config.mode);
  CHECK(level.config.concurrency == r.config.concurrency);
  CHECK(level.config.rate == r.config.rate);
  CHECK(level.config.seed == r.config.seed);
  CHECK(level.config.slo.ttft_s == r.config.slo.ttft_s);
  CHECK(level.config.slo.tpot_s == r.config.slo.tpot_s);
  CHECK(level.config.slo.latency_s == r.config.slo.latency_s);
  CHECK(level.warnings == r.warnings);
  CHECK(level.not_sent == r.not_sent);
  CHECK(level.summary.sent == r.summary.sent);
  CHECK(level.summary.failed_by_kind == r.summary.failed_by_kind);
  CHECK(level.summary.goodput_req_per_sec == r.summary.goodput_req_per_sec);
  CHECK(level.records.size() == r.records.size());
  CHECK(nlohmann::json(level) == nlohmann::json(r));  // and nothing else lost or changed either
  REQUIRE(back.targets().size() == 1);
  CHECK(back.targets()[0].label == r.target.label);
  const auto raw = raw_json(file.path);
  CHECK(raw.at("metadata").at("interrupted") == interrupted);
  CHECK(raw.at("metadata").at("targets").at(0).at("label") == r.target.label);
}

// SERVEBENCH_FAULTS_REPORT=1 prints one line per level (the figures in docs/reliability.md come from it).
void report(const std::string& what, const Level& level, std::size_t planted) {
  if (!std::getenv("SERVEBENCH_FAULTS_REPORT")) return;
  const auto& s = level.result.summary;
  std::printf("| %s | %zu | %zu | %zu | %s | %zu | %.1f s |\n", what.c_str(), s.sent, s.successful, s.interrupted,
              nlohmann::json(s.failed_by_kind).dump().c_str(), planted, level.wall_s);
}

std::size_t injected(const sim::Server& server, const char* kind) {
  const auto stats = server.stats();
  const auto it = stats.faults.find(kind);
  return it == stats.faults.end() ? 0 : it->second;
}

// A port nothing listens on: bound (so it was free), then closed.
int refused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

TEST_CASE("every request is accounted for under each injected fault, streaming and not") {
  struct Case {
    const char* name;
    sim::FaultConfig faults;
    const char* fault_kind;          // the server's count of this fault must equal...
    std::set<std::string> failures;  // ...the failures of these kinds (nullptr: nothing may fail)
  };
  sim::FaultConfig f500, f503, malformed, drop, stall, slow, jitter;
  f500.http_500_rate = 0.3;
  f503.http_503_rate = 0.3;
  malformed.malformed_json_rate = 0.3;
  drop.drop_mid_stream_rate = 0.3;
  stall.stall_rate = 0.3;
  stall.stall_s = 4;  // beyond the driver's read timeout (1.5 s) and deadline (2.5 s)
  slow.slow_reply_rate = 0.3;
  slow.slow_reply_s = 4;  // beyond the deadline
  jitter.jitter_s = 0.05;
  const Case cases[] = {
      {"HTTP 500", f500, sim::fault_http_500, {"http_status"}},
      {"HTTP 503", f503, sim::fault_http_503, {"http_status"}},
      {"malformed JSON", malformed, sim::fault_malformed_json, {"invalid_json"}},
      {"dropped mid-stream", drop, sim::fault_drop_mid_stream, {"closed_mid_stream", "empty_reply", "invalid_json"}},
      {"stall before the first token", stall, sim::fault_stall, {"read_timeout", "deadline_exceeded"}},
      {"reply slower than the deadline", slow, sim::fault_slow_reply, {"deadline_exceeded", "read_timeout"}},
      {"jitter", jitter, nullptr, {}},
  };
  for (const auto& c : cases) {
    for (bool stream : {true, false}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(stream);
      sim::Server server(fast_server().faults(c.faults));
      server.start();
      const auto level = run_level(server.url(), stream, driver_options(server.url(), stream));
      const auto by_kind = check_accounting(level.result, true);
      std::size_t matching = 0, other = 0;
      for (const auto& [kind, n] : by_kind) (c.failures.count(kind) ? matching : other) += n;
      const std::string kinds = nlohmann::json(by_kind).dump();
      CAPTURE(kinds);
      CHECK(other == 0);
      if (c.fault_kind) {
        const std::size_t planted = injected(server, c.fault_kind);
        CHECK(planted > 0);  // 30% of 40 requests: the seed plants some
        CHECK(matching == planted);
      } else {
        CHECK(level.result.summary.successful == requests);
      }
      report(name + (stream ? ", streaming" : ", not streaming"), level,
             c.fault_kind ? injected(server, c.fault_kind) : 0);
      CHECK_FALSE(level.result.interrupted);
      // Every request ends within the 2.5 s deadline; 8 at a time, 40 requests: generously bounded.
      CHECK(level.wall_s < 30);
      check_artifact(level.result, false);
    }
  }
}

TEST_CASE("a server killed mid-run: requests before, during and after are all accounted for") {
  sim::Server server(fast_server());
  server.start();
  const std::string url = server.url();
  std::atomic<bool> level_done{false};
  std::thread killer([&] {
    // Stop once a quarter of the level has been received, so requests are done, in flight and still to come.
    while (!level_done && server.stats().requests < requests / 4) std::this_thread::sleep_for(1ms);
    server.stop();
  });
  const auto level = run_level(url, true, driver_options(url, true));
  level_done = true;
  killer.join();
  const auto by_kind = check_accounting(level.result, true);
  report("server killed after a quarter of the requests arrived, streaming", level, 0);
  const auto& s = level.result.summary;
  CHECK(s.successful >= 1);
  CHECK(s.failed >= requests / 2);  // the later requests find nothing listening
  CHECK(by_kind.count("connect_refused") == 1);
  CHECK(level.wall_s < 30);
  check_artifact(level.result, false);
}

TEST_CASE("a server that never started: every request fails as connect_refused, quickly") {
  const std::string url = "http://127.0.0.1:" + std::to_string(refused_port());
  const auto level = run_level(url, false, driver_options(url, false));
  const auto by_kind = check_accounting(level.result, true);
  report("server never started (refused port)", level, 0);
  CHECK(by_kind == std::map<std::string, std::size_t>{{"connect_refused", requests}});
  CHECK(level.wall_s < 10);
  check_artifact(level.result, false);
}

TEST_CASE("the level timeout ends a run whose replies never come, and what was sent is accounted for") {
  sim::FaultConfig hang;
  hang.stall_rate = 1;
  hang.stall_s = 30;
  sim::Server server(fast_server().faults(hang));
  server.start();
  // No driver deadline and a long read timeout: only the level timeout can end this.
  auto options = driver_options(server.url(), true).deadline(0ms).read_timeout(60000ms);
  const auto level = run_level(server.url(), true, options, 1500ms);
  check_accounting(level.result, false);
  report("every reply stalls 30 s, level timeout 1.5 s", level, 0);
  CHECK(level.result.deadline_exceeded);
  const auto& s = level.result.summary;
  CHECK(s.sent >= concurrency);  // each worker's first request; then sending stopped
  CHECK(s.sent < requests);
  CHECK(s.failed_by_kind == std::map<std::string, std::size_t>{{"deadline_exceeded", s.sent}});
  CHECK(level.wall_s < 15);  // 1.5 s timeout; generous for a loaded machine
  check_artifact(level.result, false);
}

TEST_CASE("an interrupt mid-run keeps every record gathered, marks the rest interrupted, and the artifact says so") {
  sim::FaultConfig slow;
  slow.jitter_s = 0.3;  // replies take long enough that some are in flight when the interrupt comes
  sim::Server server(fast_server().faults(slow));
  server.start();
  std::atomic<bool> level_done{false};
  std::thread interrupter([&] {
    while (!level_done && server.stats().completed < requests / 4) std::this_thread::sleep_for(1ms);
    servebench::request_interrupt();
  });
  auto options = driver_options(server.url(), true);
  const auto level = run_level(server.url(), true, options);
  level_done = true;
  interrupter.join();
  check_accounting(level.result, false);
  report("interrupt after a quarter completed (jitter 0.3 s)", level, 0);
  CHECK(level.result.interrupted);
  CHECK(level.result.summary.successful >= requests / 4);
  CHECK(level.result.summary.sent < requests);
  CHECK(level.wall_s < 15);
  check_artifact(level.result, true);
}

TEST_CASE("an open-loop run interrupted mid-run: a plain write_artifact keeps its settings, SLOs and the interrupt") {
  sim::Server server(fast_server());
  server.start();
  // The simulator's own dialect, so records also carry the server's timing (same process, same clock).
  const auto target = make_test_target<sim::openai_completions>(
      driver_options(server.url(), true).label("sim-open").model(server.options().model()));
  servebench::SummarizeOptions summarize;
  summarize.method = servebench::PercentileMethod::floor_rank;
  summarize.slo.ttft_s = 0.25;
  summarize.slo.tpot_s = 0.02;
  summarize.slo.latency_s = 1.5;
  const std::uint64_t planned = 400;  // 10 s at 40/s: the interrupt comes long before the end
  const auto options = servebench::OpenLoop()
                           .rate(40)
                           .distribution(servebench::Arrival::gamma)
                           .burstiness(0.5)
                           .seed(20261128)
                           .requests(planned)
                           .grace_period(200ms)
                           .quiet(true)
                           .handle_signals(false)
                           .summarize_options(summarize);

  std::atomic<bool> level_done{false}, mid_run{false};
  std::thread interrupter([&] {
    while (!level_done && server.stats().completed < 8) std::this_thread::sleep_for(1ms);
    mid_run = !level_done;
    servebench::request_interrupt();  // from another thread, as a GUI's stop button would
  });
  const auto start = Clock::now();
  const auto result = servebench::run_open_loop(
      options, servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 8), target);
  level_done = true;
  interrupter.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  REQUIRE(mid_run);   // the interrupt came while the level ran...
  CHECK(wall_s < 8);  // ...and stopped it well before its planned 10 s

  check_accounting(result, false, /*contiguous=*/false);
  for (const auto& r : result.records) CHECK(r.index < planned);
  REQUIRE(result.interrupted);
  CHECK(result.summary.successful >= 8);
  CHECK(result.records.size() < planned);
  CHECK(result.not_sent == planned - result.records.size());
  CHECK(result.not_sent > 0);
  std::size_t timed = 0;
  for (const auto& r : result.records) {
    if (!r.ok()) continue;
    REQUIRE(r.server_timing.has_value());
    CHECK(r.server_timing->first_token >= r.t_send);
    CHECK(r.server_timing->first_token <= r.server_timing->last_token);
    CHECK(r.server_timing->last_token <= r.t_end);
    ++timed;
  }
  CHECK(timed == result.summary.successful);

  // Written as the run returned it: nothing set by hand on the artifact.
  TempArtifact file;
  servebench::Artifact artifact;
  artifact.levels.push_back(result);
  servebench::write_artifact(file.path, artifact);
  const auto back = servebench::read_artifact(file.path);

  REQUIRE(back.levels.size() == 1);
  const auto& level = back.levels[0];
  CHECK(level.config.mode == servebench::LoopMode::open_loop);
  CHECK(level.config.rate == 40.0);
  CHECK(level.config.seed == 20261128);
  CHECK(level.config.arrival == servebench::Arrival::gamma);
  CHECK(level.config.burstiness == 0.5);
  CHECK(level.config.requests == planned);
  CHECK(level.config.percentile_method == servebench::PercentileMethod::floor_rank);
  CHECK(level.config.slo.ttft_s == 0.25);
  CHECK(level.config.slo.tpot_s == 0.02);
  CHECK(level.config.slo.latency_s == 1.5);
  CHECK(level.summary.level == 40.0);
  CHECK(level.summary.goodput_req_per_sec.has_value());
  CHECK(level.target.label == "sim-open");
  CHECK(level.target.url == server.url());
  CHECK(level.target.dialect == "openai_completions");
  CHECK(level.target.model == server.options().model());
  CHECK_FALSE(level.target.model.empty());
  bool warned = false;
  for (const auto& w : level.warnings) warned = warned || w.find("interrupted") != std::string::npos;
  CHECK(warned);
  CHECK(level.interrupted);
  CHECK(back.interrupted());
  CHECK(level.not_sent == result.not_sent);
  REQUIRE(level.records.size() == result.records.size());
  for (std::size_t i = 0; i < level.records.size(); ++i)
    CHECK(level.records[i].server_timing.has_value() == result.records[i].server_timing.has_value());
  CHECK(nlohmann::json(level) == nlohmann::json(result));

  const auto raw = raw_json(file.path);
  CHECK(raw.at("metadata").at("interrupted") == true);
  CHECK(raw.at("metadata").at("targets").at(0).at("label") == "sim-open");
  CHECK(raw.at("levels").at(0).at("config").at("mode") == "open_loop");
  CHECK(raw.at("levels").at(0).at("config").at("arrival") == "gamma");
  CHECK(raw.at("levels").at(0).at("interrupted") == true);
}
