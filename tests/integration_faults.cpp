// Every request accounted for under every fault: Driver + closed-loop scheduler against servebench::sim servers
// with seeded fault injection (and a server killed mid-run, and one never started). For each level the records are
// recounted here, independently of summarize(): sent = successful + failed (by kind) + interrupted, every index
// appears exactly once, failures of each kind match what the server says it injected (ServerStats::faults), the run
// ends within its timeouts, and the artifact written from it reads back whole.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

namespace sim = servebench::sim;
using namespace std::chrono_literals;
using servebench::ErrorKind;
using servebench::RunResult;

namespace {

using Clock = std::chrono::steady_clock;

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

struct Level {
  RunResult result;
  double wall_s = 0;
};

Level run_level(const std::string& url, bool stream, servebench::DriverOptions options,
                std::chrono::milliseconds level_timeout = 20000ms) {
  options.base_url(url).stream(stream);
  const auto start = Clock::now();
  Level level;
  level.result = servebench::run_closed_loop(
      servebench::ClosedLoop()
          .concurrency(concurrency)
          .requests(requests)
          .timeout(level_timeout)
          .grace_period(200ms)
          .quiet(true)
          .handle_signals(false)
          .target("sim"),
      servebench::template_prompts("Question {i}: Explain concept {i} briefly.", 8),
      [&] { return servebench::Driver<servebench::api::openai_completions>(options); });
  level.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return level;
}

// The invariant, recounted from the records. `complete`: every planned index must be there (false when a level
// timeout or an interrupt stopped sending early).
std::map<std::string, std::size_t> check_accounting(const RunResult& r, bool complete) {
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
  for (std::uint64_t i = 0; i < indices.size(); ++i)
    if (!indices.count(i)) FAIL_CHECK("index " << i << " lost (indices must be 0..n-1 without holes)");
  if (complete) CHECK(s.sent == requests);
  return by_kind;
}

// The artifact of the level is written atomically and reads back with the same counts and records.
void check_artifact(const RunResult& r, bool interrupted) {
  char pattern[] = "/tmp/servebench-faults-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::string path = std::string(pattern) + "/artifact.json";
  servebench::Artifact artifact;
  artifact.metadata.interrupted = interrupted;
  artifact.levels.push_back(r);
  servebench::write_artifact(path, artifact);
  const auto back = servebench::read_artifact(path);
  REQUIRE(back.levels.size() == 1);
  CHECK(back.metadata.interrupted == interrupted);
  CHECK(back.levels[0].summary.sent == r.summary.sent);
  CHECK(back.levels[0].summary.failed_by_kind == r.summary.failed_by_kind);
  CHECK(back.levels[0].records.size() == r.records.size());
  std::remove(path.c_str());
  ::rmdir(pattern);
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
