// servebench 0.1.0 -- single-header edition of the simulated servers.
//
// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench/sim.hpp and the headers it
// includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it
// includes "servebench.hpp", "servebench_metrics.hpp": keep the files in one directory.
// Dependencies stay external:
//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread
//
// Contents, in order:
//   servebench/sim.hpp
//   servebench/sim/config.hpp
//   servebench/sim/dialects.hpp
//   servebench/sim/engine.hpp
//   servebench/sim/random.hpp
//   servebench/sim/faults.hpp
//   servebench/sim/presets.hpp
//   servebench/sim/server.hpp
//   servebench/sim/tokens.hpp
//   servebench/sim/wire.hpp
#pragma once

// ---- begin servebench/sim.hpp ----
// servebench::sim — simulated inference servers: an HF-like sequential engine and a vLLM-like continuous-batching
// engine behind real HTTP (cpp-httplib) on 127.0.0.1, calibrated on GPU measurements (shared/calibration/), with
// seeded fault injection. Every example, the demo and most tests run against these, so nothing needs a GPU.
//
// A part of its own (CMake target servebench::sim, Meson dependency servebench-sim, single header
// servebench_sim.hpp): the measurement core (<servebench.hpp>) never includes it, so a program that only measures
// real servers neither compiles nor links a server. One concern a header, under servebench/sim/:
//   config.hpp    EngineConfig, FaultConfig, ServerOptions, ServerStats: plain data and the fluent options
//   presets.hpp   preset("hf-transformers-h200" | "transformers-cb-h200" | "vllm-h100"), each with its provenance
//   engine.hpp    the sequential and continuous-batching models in model time, their real-time loop, predict_burst
//   faults.hpp    one request's seeded draw of faults and the named points of a reply where each acts
//   wire.hpp      the wire formats (hf, OpenAI completions, OpenAI chat): requests in, replies and errors out
//   server.hpp    the HTTP server: routes, replies, Server
//   dialects.hpp  client dialects that read the servers' ground truth (sim_timing) into RequestRecord
//   random.hpp, tokens.hpp: seeded randomness and the simulated tokenizer

// ---- begin servebench/sim/config.hpp ----
// servebench::sim — what a simulated server is made of, as plain data: the engine's parameters (EngineConfig), the
// faults to inject (FaultConfig), the fluent ServerOptions a user builds a server from, and the ServerStats it
// reports. Nothing here runs; engine.hpp, faults.hpp and server.hpp read these.
//
// Durations: engine parameters are model milliseconds, divided by ServerOptions::time_scale in real time (20 =
// twenty times faster). Fault durations (stall, jitter, slow reply) are real seconds, because they are there to meet
// a client's real timeout.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "servebench.hpp"  // servebench/serialize.hpp and the rest of the core

namespace servebench {
namespace sim {

enum class EngineKind { sequential, continuous_batching };
// hf: the lab's HF server API (POST /v1/completions {prompt, max_tokens} -> {text, usage, elapsed_sec}).
// openai: /v1/completions and /v1/chat/completions, streaming and not, as vLLM serves them.
enum class ApiFlavour { hf, openai };

}  // namespace sim

// The spellings, once each: servebench::to_string and enum_from_string read them (ServerOptions::api("hf")).
template <>
struct EnumNames<sim::EngineKind> {
  static constexpr const char* what = "engine kind";
  static constexpr EnumName<sim::EngineKind> entries[] = {
      {sim::EngineKind::sequential, "sequential"}, {sim::EngineKind::continuous_batching, "continuous_batching"}};
};
template <>
struct EnumNames<sim::ApiFlavour> {
  static constexpr const char* what = "api flavour";
  static constexpr EnumName<sim::ApiFlavour> entries[] = {{sim::ApiFlavour::hf, "hf"},
                                                          {sim::ApiFlavour::openai, "openai"}};
};

namespace sim {

// One point of the continuous-batching step-time table: a decode step of `batch_size` sequences takes `step_ms`.
struct BatchStepTime {
  int batch_size = 1;
  double step_ms = 0;
};

namespace detail {
// A step-time table from a static array. (An initializer list of BatchStepTime in a default member initializer makes
// g++ 12 at -O1 and above report -Wmaybe-uninitialized on the list's temporary array: a false positive that
// breaks -Werror builds.)
template <std::size_t N>
std::vector<BatchStepTime> step_table(const BatchStepTime (&points)[N]) {
  return std::vector<BatchStepTime>(points, points + N);
}
// vLLM serving Llama-3.1-8B on one H100 (vllm-llama3-8b-published.json): TPOT p50 at 1 / 4 / 16 / 64 concurrent.
inline std::vector<BatchStepTime> vllm_h100_step_times() {
  static const BatchStepTime points[] = {{1, 6.48}, {4, 6.59}, {16, 10.94}, {64, 46.91}};
  return step_table(points);
}
}  // namespace detail

// 2026-12-01-h200-rerun.json: the batching server's mean latency at 1 / 5 / 10 / 20 concurrent over four runs
// (two with the lab's client, two with servebench) has a standard deviation of log(latency) of 0.51 / 0.45 / 0.39
// / 0.18, pooled 0.40 (numpy: sqrt(mean(var(log x, ddof=1)))). The HF server's is 0.11: it is steady.
inline constexpr double measured_run_variability = 0.40;

// Every engine parameter, in model milliseconds. Plain data; ServerOptions has a fluent setter for each.
struct EngineConfig {
  EngineKind kind = EngineKind::sequential;

  // Both engines.
  double request_overhead_ms = 0;     // per request, off the shared resources: HTTP, tokenising, detokenising
  double first_request_extra_ms = 0;  // added once to the engine's first step after start (no warm-up)
  double prefill_ms_per_token = 0;    // prefill cost per prompt token (see the two models in engine.hpp)
  int max_model_len = 8192;           // prompt + max_tokens beyond this is refused with 400

  // sequential
  double host_step_ms = 35.0;                // host part of one generate step (serialised by the GIL)
  double device_step_ms = 29.2;              // device part of one step (serialised on the GPU)
  double host_contention_per_loop = 0.0048;  // host part stretches by this fraction per other active loop

  // continuous_batching
  std::vector<BatchStepTime> step_ms_by_batch = detail::vllm_h100_step_times();
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  std::int64_t kv_cache_tokens = 400000;
  // Run-to-run variability: every busy period (idle to idle) multiplies its step times by its own log-normal
  // factor of this sigma (median 1), drawn from the server's seed and the period's number. 0 (the default): off;
  // measured_run_variability is what the measured batching server showed.
  double run_variability = 0;

  // Automatic prefix caching (vLLM's, on by default): a prompt's leading blocks of this many tokens already
  // computed skip prefill. 0: off. The sequential engine has none.
  int prefix_block_tokens = 16;

  // Decode step time of a batch of `batch_size` sequences (continuous batching), from the table.
  double decode_step_ms(int batch_size) const {
    const auto& t = step_ms_by_batch;
    if (t.empty()) return 0;
    if (t.size() == 1 || batch_size <= t.front().batch_size) return t.front().step_ms;
    for (std::size_t i = 1; i < t.size(); ++i) {
      if (batch_size <= t[i].batch_size || i + 1 == t.size()) {
        const double x0 = t[i - 1].batch_size, x1 = t[i].batch_size;
        const double y0 = t[i - 1].step_ms, y1 = t[i].step_ms;
        return y0 + (y1 - y0) * (static_cast<double>(batch_size) - x0) / (x1 - x0);
      }
    }
    return t.back().step_ms;
  }

  // Host part of one sequential step while `active_loops` generate loops are running.
  double host_ms(std::size_t active_loops) const {
    const double others = active_loops > 0 ? static_cast<double>(active_loops - 1) : 0.0;
    return host_step_ms * (1.0 + host_contention_per_loop * others);
  }

  // Device part of a sequential prefill of `prompt_tokens` tokens.
  double prefill_device_ms(std::int64_t prompt_tokens) const {
    return std::max(device_step_ms, prefill_ms_per_token * static_cast<double>(prompt_tokens));
  }

  // Throws std::invalid_argument naming the first parameter out of range.
  void validate() const {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument("servebench::sim::EngineConfig: " + what);
    };
    need(request_overhead_ms >= 0, "request_overhead_ms must be >= 0");
    need(first_request_extra_ms >= 0, "first_request_extra_ms must be >= 0");
    need(prefill_ms_per_token >= 0, "prefill_ms_per_token must be >= 0");
    need(max_model_len > 0, "max_model_len must be > 0");
    need(run_variability >= 0 && run_variability <= 2, "run_variability must be in [0, 2]");
    if (kind == EngineKind::sequential) {
      need(host_step_ms >= 0 && device_step_ms >= 0 && host_step_ms + device_step_ms > 0,
           "host_step_ms and device_step_ms must be >= 0 and not both 0");
      need(host_contention_per_loop >= 0, "host_contention_per_loop must be >= 0");
    } else {
      need(!step_ms_by_batch.empty(), "step_ms_by_batch must have at least one point");
      for (std::size_t i = 0; i < step_ms_by_batch.size(); ++i) {
        need(step_ms_by_batch[i].batch_size >= 1 && step_ms_by_batch[i].step_ms > 0,
             "step_ms_by_batch points need batch_size >= 1 and step_ms > 0");
        need(i == 0 || step_ms_by_batch[i].batch_size > step_ms_by_batch[i - 1].batch_size,
             "step_ms_by_batch must be sorted by strictly increasing batch_size");
      }
      need(max_num_seqs >= 1, "max_num_seqs must be >= 1");
      need(max_num_batched_tokens >= 1, "max_num_batched_tokens must be >= 1");
      need(kv_cache_tokens >= 1, "kv_cache_tokens must be >= 1");
      need(prefix_block_tokens >= 0, "prefix_block_tokens must be >= 0");
    }
  }
};

// Fault injection. Rates are shares of generation requests in [0, 1], drawn per request from the server's seed
// and the request's arrival number. http_500, http_503, malformed_json and drop_mid_stream exclude each other
// (their rates must sum to <= 1); stall, slow_reply and jitter combine with anything. Durations are real seconds.
struct FaultConfig {
  double http_500_rate = 0;         // reply 500 at once, nothing generated
  double http_503_rate = 0;         // reply 503 (overloaded) at once
  double malformed_json_rate = 0;   // non-stream: body cut in half; stream: the middle token's event is cut
  double drop_mid_stream_rate = 0;  // connection closed after half the reply (stream: half the tokens)
  double stall_rate = 0;            // share of replies whose first token waits stall_s more
  double stall_s = 0;
  double jitter_s = 0;         // every reply's first token waits uniform [0, jitter_s) more
  double slow_reply_rate = 0;  // share of replies whose last token is held until slow_reply_s after arrival
  double slow_reply_s = 0;

  void validate() const {
    auto rate = [](double r, const char* name) {
      if (!(r >= 0 && r <= 1))
        throw std::invalid_argument(std::string("servebench::sim::FaultConfig: ") + name + " must be in [0, 1]");
    };
    rate(http_500_rate, "http_500_rate");
    rate(http_503_rate, "http_503_rate");
    rate(malformed_json_rate, "malformed_json_rate");
    rate(drop_mid_stream_rate, "drop_mid_stream_rate");
    rate(stall_rate, "stall_rate");
    rate(slow_reply_rate, "slow_reply_rate");
    if (http_500_rate + http_503_rate + malformed_json_rate + drop_mid_stream_rate > 1.0 + 1e-12)
      throw std::invalid_argument(
          "servebench::sim::FaultConfig: http_500_rate + http_503_rate + malformed_json_rate + drop_mid_stream_rate "
          "must be <= 1");
    if (!(stall_s >= 0 && jitter_s >= 0 && slow_reply_s >= 0))
      throw std::invalid_argument("servebench::sim::FaultConfig: stall_s, jitter_s and slow_reply_s must be >= 0");
  }
};

// Fault kinds as counted in ServerStats::faults.
inline const char* const fault_http_500 = "http_500";
inline const char* const fault_http_503 = "http_503";
inline const char* const fault_malformed_json = "malformed_json";
inline const char* const fault_drop_mid_stream = "drop_mid_stream";
inline const char* const fault_stall = "stall";
inline const char* const fault_slow_reply = "slow_reply";

struct ServerStats {
  std::uint64_t requests = 0;   // generation requests received (POST to a generation endpoint)
  std::uint64_t completed = 0;  // replies written to the end (a malformed, stalled or slow one included)
  std::uint64_t rejected = 0;   // invalid requests answered 4xx
  std::uint64_t cancelled = 0;  // replies cut short: the client left, a drop fault, or the server stopped
  std::uint64_t tokens = 0;     // completion tokens generated by the engine
  std::map<std::string, std::uint64_t> faults;  // injected, by kind (fault_http_500, ...)
  std::size_t max_concurrency = 0;              // most generation requests in flight at once
  std::size_t max_batch = 0;        // largest batch (continuous batching) / most generate loops at once (sequential)
  std::uint64_t prompt_tokens = 0;  // prompt tokens of the requests the engine admitted
  std::uint64_t cached_prompt_tokens = 0;  // of those, found in the prefix cache (they skipped prefill)
};

// One token write of a streamed reply: its sim_timing stamp (first_token_ns or last_token_ns, steady clock) and how
// long the write took from that stamp to its return: the bytes left within [stamp_ns, stamp_ns + lag_ns].
struct WriteWindow {
  std::int64_t stamp_ns = 0;
  std::int64_t lag_ns = 0;
};
// Each streamed reply's first and last token write (sim::Server::take_write_windows, GET /sim/write_windows).
struct WriteWindows {
  std::vector<WriteWindow> first, last;
};

// GET /sim/write_windows's body, {"first": [[stamp_ns, lag_ns], ...], "last": [...]}: pairs, not objects, as a
// level of thousands of streams has twice as many windows. Read back by a client of a server in another process.
inline nlohmann::json write_windows_to_json(const WriteWindows& windows) {
  const auto pairs = [](const std::vector<WriteWindow>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : v) out.push_back({w.stamp_ns, w.lag_ns});
    return out;
  };
  return {{"first", pairs(windows.first)}, {"last", pairs(windows.last)}};
}
inline WriteWindows write_windows_from_json(const nlohmann::json& j) {
  const auto pairs = [](const nlohmann::json& v) {
    std::vector<WriteWindow> out;
    for (const auto& w : v) out.push_back({w.at(0).get<std::int64_t>(), w.at(1).get<std::int64_t>()});
    return out;
  };
  return {pairs(j.at("first")), pairs(j.at("last"))};
}

// Fluent options: setters return *this, the getter of the same name reads. Start from preset("...") or from the
// defaults (the sequential engine with the HF-transformers-on-H200 parameters, hf API).
class ServerOptions {
 public:
  // Engine.
  // clang-format off: one line per fluent setter, as everywhere in the library
  ServerOptions& engine(EngineKind kind) {
    engine_.kind = kind;
    return *this;
  }
  EngineKind engine() const { return engine_.kind; }
  ServerOptions& engine_config(const EngineConfig& config) {
    engine_ = config;
    return *this;
  }
  const EngineConfig& engine_config() const { return engine_; }

  ServerOptions& request_overhead_ms(double v) {
    engine_.request_overhead_ms = v;
    return *this;
  }
  double request_overhead_ms() const { return engine_.request_overhead_ms; }
  ServerOptions& first_request_extra_ms(double v) {
    engine_.first_request_extra_ms = v;
    return *this;
  }
  double first_request_extra_ms() const { return engine_.first_request_extra_ms; }
  ServerOptions& prefill_ms_per_token(double v) {
    engine_.prefill_ms_per_token = v;
    return *this;
  }
  double prefill_ms_per_token() const { return engine_.prefill_ms_per_token; }
  ServerOptions& max_model_len(int v) {
    engine_.max_model_len = v;
    return *this;
  }
  int max_model_len() const { return engine_.max_model_len; }
  ServerOptions& host_step_ms(double v) {
    engine_.host_step_ms = v;
    return *this;
  }
  double host_step_ms() const { return engine_.host_step_ms; }
  ServerOptions& device_step_ms(double v) {
    engine_.device_step_ms = v;
    return *this;
  }
  double device_step_ms() const { return engine_.device_step_ms; }
  ServerOptions& host_contention_per_loop(double v) {
    engine_.host_contention_per_loop = v;
    return *this;
  }
  // clang-format on
  double host_contention_per_loop() const { return engine_.host_contention_per_loop; }
  ServerOptions& step_ms_by_batch(std::vector<BatchStepTime> v) {
    engine_.step_ms_by_batch = std::move(v);
    return *this;
  }
  const std::vector<BatchStepTime>& step_ms_by_batch() const { return engine_.step_ms_by_batch; }
  // clang-format off: one line per fluent setter, as everywhere in the library
  ServerOptions& max_num_seqs(int v) {
    engine_.max_num_seqs = v;
    return *this;
  }
  int max_num_seqs() const { return engine_.max_num_seqs; }
  ServerOptions& max_num_batched_tokens(int v) {
    engine_.max_num_batched_tokens = v;
    return *this;
  }
  int max_num_batched_tokens() const { return engine_.max_num_batched_tokens; }
  ServerOptions& kv_cache_tokens(std::int64_t v) {
    engine_.kv_cache_tokens = v;
    return *this;
  }
  std::int64_t kv_cache_tokens() const { return engine_.kv_cache_tokens; }
  ServerOptions& run_variability(double v) {
    engine_.run_variability = v;
    return *this;
  }
  double run_variability() const { return engine_.run_variability; }

  // Early end of sequence: per-token probability that a request without ignore_eos stops before max_tokens
  // (finish_reason "stop"). 0 (the default) always generates exactly max_tokens.
  // A reasoning model: the first N tokens of every chat reply are reasoning, streamed as delta.reasoning_content
  // (whole replies: message.reasoning_content) and counted in usage.completion_tokens_details.reasoning_tokens, the
  // answer follows. 0 (the default): no reasoning. Completions replies are unaffected (that API has no field).
  ServerOptions& reasoning_tokens(int n) {
    reasoning_tokens_ = n;
    return *this;
  }
  int reasoning_tokens() const { return reasoning_tokens_; }
  // Streams k tokens per event (the last may hold fewer), as a server with a stream interval or speculative
  // decoding does; each event is written when its last token is produced. 1 (the default): one event per token.
  ServerOptions& tokens_per_chunk(int k) {
    tokens_per_chunk_ = k;
    return *this;
  }
  int tokens_per_chunk() const { return tokens_per_chunk_; }

  ServerOptions& early_eos_rate(double v) {
    early_eos_rate_ = v;
    return *this;
  }
  double early_eos_rate() const { return early_eos_rate_; }

  // API and model name served.
  ServerOptions& api(ApiFlavour v) {
    api_ = v;
    return *this;
  }
  ServerOptions& api(const std::string& name) {
    api_ = enum_from_string<ApiFlavour>(name);
    return *this;
  }
  ApiFlavour api() const { return api_; }
  ServerOptions& model(std::string v) {
    model_ = std::move(v);
    return *this;
  }
  const std::string& model() const { return model_; }

  // Time: 20 = model time runs twenty times faster than real time.
  ServerOptions& time_scale(double v) {
    time_scale_ = v;
    return *this;
  }
  double time_scale() const { return time_scale_; }
  ServerOptions& seed(std::uint64_t v) {
    seed_ = v;
    return *this;
  }
  std::uint64_t seed() const { return seed_; }

  // Network. port 0: any free port (read it back with Server::port()).
  ServerOptions& host(std::string v) {
    host_ = std::move(v);
    return *this;
  }
  const std::string& host() const { return host_; }
  ServerOptions& port(int v) {
    port_ = v;
    return *this;
  }
  int port() const { return port_; }
  // HTTP worker threads. Each request in flight, and each idle keep-alive connection for up to
  // keep_alive_timeout_s, holds one: size it above the concurrency you test.
  ServerOptions& threads(std::size_t v) {
    threads_ = v;
    return *this;
  }
  std::size_t threads() const { return threads_; }
  // Pending connections the kernel queues before accept (cpp-httplib 0.11.4 listens with 5; this re-listens).
  ServerOptions& listen_backlog(int v) {
    listen_backlog_ = v;
    return *this;
  }
  int listen_backlog() const { return listen_backlog_; }
  // Requests a connection carries before the server closes it. cpp-httplib 0.11.4 waits on an idle kept-alive
  // connection by polling it (a 10 ms select, then a 1 ms sleep): thousands of idle connections cost the server's
  // threads that many wake-ups every 11 ms; 1 closes each after its reply.
  ServerOptions& keep_alive_max_count(std::size_t v) {
    keep_alive_max_count_ = v;
    return *this;
  }
  std::size_t keep_alive_max_count() const { return keep_alive_max_count_; }
  // Also bounds how long stop() waits for an idle keep-alive client (cpp-httplib 0.11.4 waits for them).
  ServerOptions& keep_alive_timeout_s(int v) {
    keep_alive_timeout_s_ = v;
    return *this;
  }
  int keep_alive_timeout_s() const { return keep_alive_timeout_s_; }

  // Faults.
  ServerOptions& faults(const FaultConfig& v) {
    faults_ = v;
    return *this;
  }
  const FaultConfig& faults() const { return faults_; }
  ServerOptions& http_500_rate(double v) {
    faults_.http_500_rate = v;
    return *this;
  }
  double http_500_rate() const { return faults_.http_500_rate; }
  ServerOptions& http_503_rate(double v) {
    faults_.http_503_rate = v;
    return *this;
  }
  double http_503_rate() const { return faults_.http_503_rate; }
  ServerOptions& malformed_json_rate(double v) {
    faults_.malformed_json_rate = v;
    return *this;
  }
  double malformed_json_rate() const { return faults_.malformed_json_rate; }
  ServerOptions& drop_mid_stream_rate(double v) {
    faults_.drop_mid_stream_rate = v;
    return *this;
  }
  double drop_mid_stream_rate() const { return faults_.drop_mid_stream_rate; }
  ServerOptions& stall_rate(double v) {
    faults_.stall_rate = v;
    return *this;
  }
  double stall_rate() const { return faults_.stall_rate; }
  ServerOptions& stall_s(double v) {
    faults_.stall_s = v;
    return *this;
  }
  double stall_s() const { return faults_.stall_s; }
  ServerOptions& jitter_s(double v) {
    faults_.jitter_s = v;
    return *this;
  }
  double jitter_s() const { return faults_.jitter_s; }
  ServerOptions& slow_reply_rate(double v) {
    faults_.slow_reply_rate = v;
    return *this;
  }
  double slow_reply_rate() const { return faults_.slow_reply_rate; }
  ServerOptions& slow_reply_s(double v) {
    faults_.slow_reply_s = v;
    return *this;
  }
  // clang-format on
  double slow_reply_s() const { return faults_.slow_reply_s; }

  void validate() const {
    engine_.validate();
    faults_.validate();
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument("servebench::sim::ServerOptions: " + what);
    };
    need(time_scale_ > 0 && std::isfinite(time_scale_), "time_scale must be > 0");
    need(early_eos_rate_ >= 0 && early_eos_rate_ < 1, "early_eos_rate must be in [0, 1)");
    need(reasoning_tokens_ >= 0, "reasoning_tokens must be >= 0");
    need(tokens_per_chunk_ >= 1, "tokens_per_chunk must be >= 1");
    need(port_ >= 0 && port_ <= 65535, "port must be in [0, 65535]");
    need(threads_ >= 1, "threads must be >= 1");
    need(listen_backlog_ >= 1, "listen_backlog must be >= 1");
    need(keep_alive_max_count_ >= 1, "keep_alive_max_count must be >= 1");
    need(keep_alive_timeout_s_ >= 1, "keep_alive_timeout_s must be >= 1");
    need(!model_.empty(), "model must not be empty");
  }

 private:
  EngineConfig engine_;
  FaultConfig faults_;
  double early_eos_rate_ = 0;
  int reasoning_tokens_ = 0;
  int tokens_per_chunk_ = 1;
  ApiFlavour api_ = ApiFlavour::hf;
  std::string model_ = "meta-llama/Meta-Llama-3-8B-Instruct";
  double time_scale_ = 1.0;
  std::uint64_t seed_ = 42;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::size_t threads_ = 256;
  int listen_backlog_ = 4096;
  std::size_t keep_alive_max_count_ = 1000;
  int keep_alive_timeout_s_ = 1;
};

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/config.hpp ----
// ---- begin servebench/sim/dialects.hpp ----
// servebench::sim — the client side of the simulated servers' ground truth. Every reply of a servebench::sim
// server carries {"sim_timing": {"first_token_ns", "last_token_ns"}}: when it wrote its first and last token, on
// std::chrono::steady_clock (server.hpp says exactly when each is taken). No real server sends it, so the core
// dialects in api.hpp do not read it; the dialects here are those same dialects with the server_timing() hook
// added, which api::read_reply and api::read_event call to fill Reply::server_timing / Event::server_timing and so
// RequestRecord::server_timing. Use them against a simulated server in the same process (the clocks are then the
// same): Driver<sim::openai_completions> instead of Driver<api::openai_completions>.

#include <cstdint>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>


namespace servebench {
namespace sim {

// The server's timing in a reply body or stream event, or nullopt when it has none. A missing or malformed field
// (not an object, a time that is not a non-negative integer) gives nullopt, never an exception: a field no real
// server sends must not fail a request. Streaming, only the event of the last token carries it.
inline std::optional<ServerTiming> read_sim_timing(const nlohmann::json& body) {
  if (!body.is_object()) return std::nullopt;
  const auto it = body.find("sim_timing");
  if (it == body.end() || !it->is_object()) return std::nullopt;
  const auto time = [&](const char* key) -> std::optional<Nanos> {
    const auto t = it->find(key);
    if (t == it->end() || !t->is_number_integer()) return std::nullopt;
    if (t->is_number_unsigned())
      return t->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                 ? std::optional<Nanos>(static_cast<Nanos>(t->get<std::uint64_t>()))
                 : std::nullopt;
    const auto value = t->get<std::int64_t>();
    return value >= 0 ? std::optional<Nanos>(value) : std::nullopt;
  };
  const auto first = time("first_token_ns"), last = time("last_token_ns");
  if (!first || !last) return std::nullopt;
  ServerTiming timing{*first, *last, std::nullopt};
  if (it->contains("first_answer_token_ns")) timing.first_answer_token = time("first_answer_token_ns");
  return timing;
}

// A dialect that also reads the simulated server's timing. Its name (Api::name) is the dialect's own: the wire
// format is the same.
template <class Api>
struct timed : Api {
  std::optional<ServerTiming> server_timing(const nlohmann::json& body) const { return read_sim_timing(body); }
  // The keys the dialect reads and those read_sim_timing reads (every key, for a dialect that names none).
  using reads_keys_of = timed;
  static bool reads_key(std::string_view key) noexcept {
    if constexpr (api::reads_keys_v<Api>)
      return Api::reads_key(key) ||
             api::detail::key_in(key, {"sim_timing", "first_token_ns", "last_token_ns", "first_answer_token_ns"});
    else
      return true;
  }
};

using hf_simple = timed<api::hf_simple>;
using openai_completions = timed<api::openai_completions>;
using openai_chat = timed<api::openai_chat>;

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/dialects.hpp ----
// ---- begin servebench/sim/engine.hpp ----
// servebench::sim — the two engine models and the loop that runs one in real time. A Model is an engine in model
// time without threads or clocks (add a job, ask when the next event is, fire it), so predict_burst() and the tests
// can run it exactly; EngineLoop drives the same Model on a thread of its own against the steady clock.
//
// The two engine models, in model time (ServerOptions::time_scale maps it onto real time):
//
// sequential (the lab's HF transformers server: one model.generate per request on a threaded HTTP server)
//   Each request runs its own generate loop. One step of a loop is a host part (Python and kernel launches, held
//   under the GIL) followed by a device part (the GPU kernels, serialised on the one CUDA stream); the first step
//   is the prefill. Both resources are FIFO and shared by every loop, so concurrent loops pipeline: while one loop
//   waits for the GPU another runs its Python. One loop alone takes host + device per token (35.0 + 29.2 = 64.2 ms);
//   many loops are limited by the busier resource, the host, so throughput saturates at (35.0 + 29.2) / 35.0 =
//   1.8x the single-loop rate from about 2 loops on. Thread switching under the GIL stretches the host part by
//   0.48% per other active loop, which is the slight fall at 20 requests. The first step's device part is
//   max(device step, prompt tokens * 0.034 ms): flat to about 860 tokens, and 40 ms more at 2048 tokens, as the
//   measured prefill (22.4 ms at 512 tokens, 62.8 ms at 2048). 30 ms per request is spent off the shared
//   resources (HTTP, tokenising). What it reproduces (lab, 50-token replies, all
//   requests sent at once): 0.309 / 0.557 / 0.546 / 0.523 req/s at 1 / 5 / 10 / 20 (measured 0.309 / 0.549 /
//   0.563 / 0.523) with every loop finishing together as measured; 100 tokens alone: 6.45 s (measured 6.21-6.58).
//
// continuous_batching (vLLM's scheme; also transformers' ContinuousBatchingManager)
//   One engine loop. Each step admits waiting requests (FIFO) while the batch is below max_num_seqs, the step's
//   tokens stay within max_num_batched_tokens and the KV cache can hold prompt + max_tokens for every admitted
//   sequence (a reservation: this model never preempts); prefills them (each yields its first token) and advances
//   every other running sequence one token; finished sequences leave at once. Step time =
//   step_ms_by_batch(batch size), interpolated linearly between the table's points (and beyond the last along the
//   last segment), + prefill_ms_per_token * prompt tokens prefilled in the step. Requests arriving during a step
//   join at the next one. With run_variability > 0, each busy period (from idle until the engine is idle again)
//   has all its step times multiplied by one log-normal factor exp(run_variability * z), z standard normal, drawn
//   from the seed and the period's number: repeated runs differ as the measured server's did.
//   Prefix cache (prefix_block_tokens > 0): each full block of a prompt is named by the hash
//   of its tokens and every token before it; an admitted prompt's leading blocks found in the cache are not
//   prefilled (at least one token always is, as in vLLM), and its blocks enter the cache after the step is planned
//   (so two prompts admitted in one step do not share). The cache holds kv_cache_tokens worth of blocks and forgets
//   the oldest first.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

// ---- begin servebench/sim/random.hpp ----
// servebench::sim — seeded randomness. Everything a simulated server draws (faults, early ends of sequence, the
// words of a reply) is a pure function of the server's seed and a request's number or prompt, so a test can
// recompute what any reply got.

#include <cstdint>
#include <string>

namespace servebench {
namespace sim {
namespace detail {

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A small seeded generator: uniform doubles in [0, 1).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept { return splitmix64(state_++ * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL); }
  double uniform() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  std::uint64_t state_;
};

inline std::uint64_t hash_text(const std::string& s) noexcept {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/random.hpp ----

namespace servebench {
namespace sim {
namespace detail {

// One generation request as the engines see it. Fields above the line are fixed at submission; the model touches
// `model_emitted` on the engine thread only; the rest is shared under `mutex`.
struct Job {
  std::int64_t prompt_tokens = 1;
  std::int64_t target_tokens = 1;              // tokens to generate (max_tokens, or fewer on an early EOS)
  std::vector<std::uint64_t> prefix_blocks;    // chained hashes of the prompt's full blocks (prefix cache)
  std::atomic<std::int64_t> cached_tokens{0};  // prompt tokens the prefix cache saved (set at admission)
  Nanos submitted = 0;                         // real time the engine got it
  std::atomic<bool> cancelled{false};
  // ----
  std::int64_t model_emitted = 0;
  std::mutex mutex;
  std::condition_variable cv;
  std::int64_t emitted = 0;  // tokens the engine has produced
  Nanos first_token = 0;     // real time the engine produced the first one
  bool finished = false;
  bool aborted = false;  // the server stopped
};
using JobPtr = std::shared_ptr<Job>;

// What one model event produced: `job` got one more token; `done` when it will get no more.
struct Emission {
  JobPtr job;
  bool done = false;
};

constexpr Nanos no_event = std::numeric_limits<Nanos>::max();

inline Nanos ms_to_ns(double ms) { return static_cast<Nanos>(std::llround(ms * 1e6)); }

// An engine in model time (nanoseconds from its start), without threads or clocks: add() a job at time v,
// What an engine holds at one moment, read for the server's /metrics and its tests.
struct EngineCounts {
  Nanos at = 0;                   // real (steady-clock) time it became so
  std::size_t running = 0;        // in the batch (batching) / in a generate loop (sequential)
  std::size_t waiting = 0;        // queued, not yet running (arrivals the loop has not taken yet included)
  double kv_usage = 0;            // batching: KV-cache tokens reserved / kv_cache_tokens; sequential: 0
  std::uint64_t preemptions = 0;  // these models never preempt (a reservation per sequence): always 0
};

// next_event() says when something happens next, fire() makes it happen. The real-time loop drives it; tests and
// predict_burst() drive it directly.
class Model {
 public:
  virtual ~Model() = default;
  virtual void add(JobPtr job, Nanos v) = 0;
  virtual Nanos next_event() const = 0;
  virtual void fire(std::vector<Emission>& out) = 0;
  virtual std::size_t max_batch() const = 0;
  virtual void all_jobs(std::vector<JobPtr>& out) const = 0;
  virtual void counts(EngineCounts& out) const = 0;
  // Prompt tokens admitted, and of those found in the prefix cache.
  virtual std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const { return {0, 0}; }
};

// Two FIFO resources in tandem, host then device, shared by every generate loop (see the top of the file).
class SequentialModel final : public Model {
 public:
  explicit SequentialModel(EngineConfig config) : config_(std::move(config)) {}

  // Requests that arrive together start together: an idle host starts at an event of its own, after every
  // arrival at that instant has been added.
  void add(JobPtr job, Nanos v) override {
    ++active_;
    max_batch_ = std::max(max_batch_, active_);
    host_queue_.push_back(std::move(job));
    if (!host_busy_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override {
    return std::min({start_pending_ ? start_at_ : no_event, host_busy_ ? host_end_ : no_event,
                     device_busy_ ? device_end_ : no_event});
  }

  void fire(std::vector<Emission>& out) override {
    const Nanos t = next_event();
    if (t == no_event) return;
    if (start_pending_ && start_at_ == t) start_pending_ = false;
    if (device_busy_ && device_end_ == t) {
      JobPtr job = std::move(device_busy_);
      device_busy_.reset();
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done)
        --active_;
      else
        host_queue_.push_back(job);
      out.push_back({std::move(job), done});
    }
    if (host_busy_ && host_end_ == t) {
      device_queue_.push_back(std::move(host_busy_));
      host_busy_.reset();
    }
    start_idle(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  // Every loop in progress is running (the loops interleave); none waits inside the engine.
  void counts(EngineCounts& out) const override { out.running = active_; }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), host_queue_.begin(), host_queue_.end());
    out.insert(out.end(), device_queue_.begin(), device_queue_.end());
    if (host_busy_) out.push_back(host_busy_);
    if (device_busy_) out.push_back(device_busy_);
  }

 private:
  void start_idle(Nanos t) {
    while (!host_busy_ && !host_queue_.empty()) {
      JobPtr job = std::move(host_queue_.front());
      host_queue_.pop_front();
      if (job->cancelled.load()) {  // the client left: its loop ends (no one reads its tokens)
        --active_;
        continue;
      }
      double ms = config_.host_ms(active_);
      if (!warmed_up_) {
        ms += config_.first_request_extra_ms;
        warmed_up_ = true;
      }
      host_busy_ = std::move(job);
      host_end_ = t + ms_to_ns(ms);
    }
    if (!device_busy_ && !device_queue_.empty()) {
      device_busy_ = std::move(device_queue_.front());
      device_queue_.pop_front();
      const double ms = device_busy_->model_emitted == 0 ? config_.prefill_device_ms(device_busy_->prompt_tokens)
                                                         : config_.device_step_ms;
      device_end_ = t + ms_to_ns(ms);
    }
  }

  EngineConfig config_;
  std::deque<JobPtr> host_queue_, device_queue_;
  JobPtr host_busy_, device_busy_;
  Nanos host_end_ = 0, device_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::size_t active_ = 0, max_batch_ = 0;
  bool warmed_up_ = false;
};

// vLLM-like iteration-level scheduling (see the top of the file).
class BatchingModel final : public Model {
 public:
  explicit BatchingModel(EngineConfig config, std::uint64_t seed = 0) : config_(std::move(config)), seed_(seed) {}

  // An idle engine starts its next step at an event of its own, after every arrival at that instant has been
  // added; a busy one takes arrivals at its next step.
  void add(JobPtr job, Nanos v) override {
    waiting_.push_back(std::move(job));
    if (!in_step_ && !start_pending_) {
      start_pending_ = true;
      start_at_ = v;
    }
  }

  Nanos next_event() const override { return in_step_ ? step_end_ : start_pending_ ? start_at_ : no_event; }

  void fire(std::vector<Emission>& out) override {
    if (!in_step_) {
      if (start_pending_) {
        start_pending_ = false;
        start_step(start_at_);
      }
      return;
    }
    const Nanos t = step_end_;
    std::vector<JobPtr> still_running;
    still_running.reserve(running_.size());
    for (auto& job : running_) {
      ++job->model_emitted;
      const bool done = job->model_emitted >= job->target_tokens || job->cancelled.load();
      if (done)
        kv_used_ -= reservation(*job);
      else
        still_running.push_back(job);
      out.push_back({std::move(job), done});
    }
    running_ = std::move(still_running);
    start_step(t);
  }

  std::size_t max_batch() const override { return max_batch_; }

  void counts(EngineCounts& out) const override {
    out.running = running_.size();
    out.waiting = waiting_.size();
    out.kv_usage = static_cast<double>(kv_used_) / static_cast<double>(config_.kv_cache_tokens);
  }

  void all_jobs(std::vector<JobPtr>& out) const override {
    out.insert(out.end(), waiting_.begin(), waiting_.end());
    out.insert(out.end(), running_.begin(), running_.end());
  }

  std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const override { return {prompt_tokens_, cached_tokens_}; }

 private:
  static std::int64_t reservation(const Job& job) { return job.prompt_tokens + job.target_tokens; }

  // Prompt tokens of `job` whose blocks are cached: its leading blocks found, leaving at least one to prefill.
  std::int64_t cached_prefix(const Job& job) const {
    if (config_.prefix_block_tokens <= 0) return 0;
    std::int64_t blocks = 0;
    for (const auto h : job.prefix_blocks) {
      if (!cached_blocks_.count(h)) break;
      ++blocks;
    }
    return std::min(blocks * config_.prefix_block_tokens, job.prompt_tokens - 1);
  }
  void remember_prefix(const Job& job) {
    if (config_.prefix_block_tokens <= 0) return;
    const auto capacity = static_cast<std::size_t>(config_.kv_cache_tokens / config_.prefix_block_tokens) + 1;
    for (const auto h : job.prefix_blocks) {
      if (!cached_blocks_.insert(h).second) continue;
      block_order_.push_back(h);
      if (block_order_.size() > capacity) {
        cached_blocks_.erase(block_order_.front());
        block_order_.pop_front();
      }
    }
  }

  void start_step(Nanos t) {
    // Sequences whose client left are released before the step, as vLLM aborts them.
    std::vector<JobPtr> kept;
    kept.reserve(running_.size());
    for (auto& job : running_) {
      if (job->cancelled.load())
        kv_used_ -= reservation(*job);
      else
        kept.push_back(std::move(job));
    }
    running_ = std::move(kept);
    std::int64_t step_tokens = static_cast<std::int64_t>(running_.size());
    std::int64_t prefill_tokens = 0;
    bool prefilled_any = false;
    std::vector<const Job*> admitted;
    while (!waiting_.empty() && running_.size() < static_cast<std::size_t>(config_.max_num_seqs)) {
      JobPtr& job = waiting_.front();
      if (job->cancelled.load()) {
        waiting_.pop_front();
        continue;
      }
      // A prompt larger than the whole token budget still goes alone in a step (vLLM would chunk it).
      if (prefilled_any && step_tokens + job->prompt_tokens > config_.max_num_batched_tokens) break;
      if (!running_.empty() && kv_used_ + reservation(*job) > config_.kv_cache_tokens) break;
      kv_used_ += reservation(*job);
      const std::int64_t cached = cached_prefix(*job);
      job->cached_tokens = cached;
      prompt_tokens_ += static_cast<std::uint64_t>(job->prompt_tokens);
      cached_tokens_ += static_cast<std::uint64_t>(cached);
      step_tokens += job->prompt_tokens - cached;
      prefill_tokens += job->prompt_tokens - cached;
      prefilled_any = true;
      admitted.push_back(job.get());
      running_.push_back(std::move(job));
      waiting_.pop_front();
    }
    for (const Job* job : admitted) remember_prefix(*job);
    if (running_.empty()) {
      in_step_ = false;
      return;
    }
    if (!in_step_) period_factor_ = period_factor(periods_++);
    max_batch_ = std::max(max_batch_, running_.size());
    double ms = period_factor_ * (config_.decode_step_ms(static_cast<int>(running_.size())) +
                                  config_.prefill_ms_per_token * static_cast<double>(prefill_tokens));
    if (!warmed_up_) {
      ms += config_.first_request_extra_ms;
      warmed_up_ = true;
    }
    step_end_ = t + ms_to_ns(ms);
    in_step_ = true;
  }

  // exp(sigma * z) for busy period `n`, z standard normal (Box-Muller on two seeded uniforms).
  double period_factor(std::uint64_t n) const {
    if (config_.run_variability <= 0) return 1.0;
    Rng rng(splitmix64(seed_ ^ (0xB5AD4ECEDA1CE2A9ULL + n)));
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 in (0, 1]
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return std::exp(config_.run_variability * z);
  }

  EngineConfig config_;
  std::uint64_t seed_ = 0;
  std::uint64_t periods_ = 0;
  double period_factor_ = 1.0;
  std::deque<JobPtr> waiting_;
  std::vector<JobPtr> running_;
  bool in_step_ = false;
  Nanos step_end_ = 0;
  bool start_pending_ = false;
  Nanos start_at_ = 0;
  std::int64_t kv_used_ = 0;
  std::size_t max_batch_ = 0;
  bool warmed_up_ = false;
  std::unordered_set<std::uint64_t> cached_blocks_;
  std::deque<std::uint64_t> block_order_;  // oldest first
  std::uint64_t prompt_tokens_ = 0, cached_tokens_ = 0;
};

// The chained hashes of the full blocks of `tokens` (a block's hash covers every token up to its end).
inline std::vector<std::uint64_t> prefix_block_hashes(const std::vector<std::int64_t>& tokens, int block_tokens) {
  std::vector<std::uint64_t> out;
  if (block_tokens <= 0) return out;
  std::uint64_t h = 0x243F6A8885A308D3ULL;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    h = splitmix64(h ^ static_cast<std::uint64_t>(tokens[i]));
    if ((i + 1) % static_cast<std::size_t>(block_tokens) == 0) out.push_back(h);
  }
  return out;
}

inline std::unique_ptr<Model> make_model(const EngineConfig& config, std::uint64_t seed = 0) {
  if (config.kind == EngineKind::sequential) return std::make_unique<SequentialModel>(config);
  return std::make_unique<BatchingModel>(config, seed);
}

// Drives a Model in real time on one thread: sleeps until the model's next event (model time / time_scale after
// the engine's start), fires it, and hands every emitted token to the waiting request. Handlers never block it.
class EngineLoop {
 public:
  EngineLoop(const EngineConfig& config, double time_scale, std::uint64_t seed = 0)
      : model_(make_model(config, seed)), time_scale_(time_scale) {}
  ~EngineLoop() { stop(); }

  void start() {
    origin_ = now_ns();
    thread_ = std::thread([this] { run(); });
  }

  void submit(JobPtr job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) {
        abort_job(*job);
        return;
      }
      job->submitted = now_ns();
      arrivals_.push_back(std::move(job));
      note_counts();
    }
    cv_.notify_one();
  }

  // Every job not finished is marked aborted and its waiter woken.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::vector<JobPtr> left;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      model_->all_jobs(left);
      left.insert(left.end(), arrivals_.begin(), arrivals_.end());
      arrivals_.clear();
    }
    for (auto& job : left) abort_job(*job);
  }

  std::size_t max_batch() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return max_batch_;
  }
  std::uint64_t tokens() const { return tokens_.load(); }
  std::pair<std::uint64_t, std::uint64_t> prompt_tokens() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return model_->prompt_tokens();
  }

  // What the engine holds now.
  EngineCounts counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_locked();
  }
  // Every change of the running and waiting counts since the start, in order (the first max_history).
  std::vector<EngineCounts> counts_history() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return history_;
  }
  static constexpr std::size_t max_history = 200000;

 private:
  static void abort_job(Job& job) {
    {
      std::lock_guard<std::mutex> lock(job.mutex);
      if (!job.finished) job.aborted = true;
    }
    job.cv.notify_all();
  }

  EngineCounts counts_locked() const {
    EngineCounts c;
    model_->counts(c);
    c.waiting += arrivals_.size();
    c.at = now_ns();
    return c;
  }
  void note_counts() {
    if (history_.size() >= max_history) return;
    const EngineCounts c = counts_locked();
    if (!history_.empty() && history_.back().running == c.running && history_.back().waiting == c.waiting) return;
    history_.push_back(c);
  }

  Nanos to_model(Nanos real) const { return static_cast<Nanos>(static_cast<double>(real - origin_) * time_scale_); }
  Nanos to_real(Nanos model) const { return origin_ + static_cast<Nanos>(static_cast<double>(model) / time_scale_); }

  void run() {
    std::vector<Emission> emissions;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      const Nanos next = model_->next_event();
      if (!arrivals_.empty()) {
        // Arrivals enter at the model time their real arrival maps to, but never before events already due, so
        // the model's clock only moves forward even when this thread runs late.
        const Nanos at = std::max(now_model_, to_model(arrivals_.front()->submitted));
        if (at <= next) {
          now_model_ = at;
          model_->add(std::move(arrivals_.front()), at);
          arrivals_.pop_front();
          max_batch_ = model_->max_batch();
          note_counts();
          continue;
        }
      }
      if (next == no_event) {
        cv_.wait(lock);
        continue;
      }
      const Nanos due = to_real(next);
      if (now_ns() < due) {
        // Woken early by an arrival or by stop(); either is handled at the top of the loop.
        cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        continue;
      }
      now_model_ = next;
      emissions.clear();
      model_->fire(emissions);
      max_batch_ = model_->max_batch();
      note_counts();
      lock.unlock();
      deliver(emissions);
      lock.lock();
    }
  }

  void deliver(std::vector<Emission>& emissions) {
    const Nanos now = now_ns();
    for (auto& e : emissions) {
      {
        std::lock_guard<std::mutex> lock(e.job->mutex);
        e.job->emitted = e.job->model_emitted;
        if (e.job->emitted == 1) e.job->first_token = now;
        if (e.done) e.job->finished = true;
      }
      e.job->cv.notify_all();
    }
    tokens_ += emissions.size();
    emissions.clear();
  }

  std::unique_ptr<Model> model_;
  double time_scale_;
  Nanos origin_ = 0;
  Nanos now_model_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<JobPtr> arrivals_;
  bool stopping_ = false;
  std::size_t max_batch_ = 0;
  std::atomic<std::uint64_t> tokens_{0};
  std::vector<EngineCounts> history_;
  std::thread thread_;
};

}  // namespace detail

// What the model predicts for `concurrency` requests sent at once (the lab's concurrent test), each with
// `prompt_tokens` and `max_tokens`, in model seconds (request_overhead_ms included). No threads, no clock. `seed`
// draws the burst's run_variability factor (the server's seed: its first busy period).
struct BurstPrediction {
  double wall_s = 0;  // first request sent to last reply done
  double mean_latency_s = 0;
  double mean_ttft_s = 0;
  double req_per_s = 0;
  double mean_tpot_s = 0;  // (latency - ttft) / (max_tokens - 1) averaged; 0 when max_tokens is 1
};

inline BurstPrediction predict_burst(const EngineConfig& config, int concurrency, std::int64_t prompt_tokens,
                                     std::int64_t max_tokens, std::uint64_t seed = 0) {
  config.validate();
  if (concurrency < 1 || prompt_tokens < 1 || max_tokens < 1)
    throw std::invalid_argument(
        "servebench::sim::predict_burst: concurrency, prompt_tokens and max_tokens must be >= 1");
  auto model = detail::make_model(config, seed);
  const Nanos overhead = detail::ms_to_ns(config.request_overhead_ms);
  std::vector<detail::JobPtr> jobs;
  for (int i = 0; i < concurrency; ++i) {
    auto job = std::make_shared<detail::Job>();
    job->prompt_tokens = prompt_tokens;
    job->target_tokens = max_tokens;
    model->add(job, overhead);
    jobs.push_back(std::move(job));
  }
  std::map<detail::Job*, std::pair<Nanos, Nanos>> times;  // first token, last token
  std::vector<detail::Emission> out;
  for (Nanos t = model->next_event(); t != detail::no_event; t = model->next_event()) {
    out.clear();
    model->fire(out);
    for (auto& e : out) {
      auto& [first, last] = times[e.job.get()];
      if (e.job->model_emitted == 1) first = t;
      last = t;
    }
  }
  BurstPrediction p;
  double latency = 0, ttft = 0, tpot = 0;
  for (auto& job : jobs) {
    const auto [first, last] = times[job.get()];
    p.wall_s = std::max(p.wall_s, ns_to_s(last));
    latency += ns_to_s(last);
    ttft += ns_to_s(first);
    if (max_tokens > 1) tpot += ns_to_s(last - first) / static_cast<double>(max_tokens - 1);
  }
  p.mean_latency_s = latency / concurrency;
  p.mean_ttft_s = ttft / concurrency;
  p.mean_tpot_s = tpot / concurrency;
  p.req_per_s = p.wall_s > 0 ? concurrency / p.wall_s : 0;
  return p;
}

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/engine.hpp ----
// ---- begin servebench/sim/faults.hpp ----
// servebench::sim — fault injection: one request's draw of faults (FaultPlan, fixed by the server's seed and the
// request's arrival number, so a test can recompute what any reply got), and the named points of a reply where a
// drawn fault acts. The server asks the plan at each point and reads it no other way.
//
//   before_generation   http_500, http_503: the request is answered with that status at once, nothing generated
//   before_first_token  stall, jitter: the first token waits (streaming: its event; whole reply: the body)
//   mid_reply           malformed_json: the middle part is cut in half; drop_mid_stream: the connection closes
//                       before it. The middle part of a stream is the event of token n / 2, of a whole reply its
//                       body (the drop then sends the first half of the bytes Content-Length promised).
//   before_last_token   slow_reply: the last token is held until slow_reply_s after the request arrived
//
// Every fault a plan holds is counted in ServerStats::faults when the request arrives (injected_kinds), whether or
// not the reply later gets as far as the point where it acts.

#include <cstdint>
#include <string>
#include <vector>


namespace servebench {
namespace sim {
namespace detail {

// One request's draw of faults.
struct FaultPlan {
  enum class Exclusive { none, http_500, http_503, malformed_json, drop_mid_stream } exclusive = Exclusive::none;
  double first_token_delay_s = 0;  // stall + jitter
  bool stalled = false;
  double slow_until_s = 0;  // hold the last token until this long after arrival (0: no)

  // The kinds injected into this request, as ServerStats::faults names them. A request answered 500 or 503 gets
  // nothing else: it never reaches a token.
  std::vector<const char*> injected_kinds() const {
    if (exclusive == Exclusive::http_500) return {fault_http_500};
    if (exclusive == Exclusive::http_503) return {fault_http_503};
    std::vector<const char*> kinds;
    if (stalled) kinds.push_back(fault_stall);
    if (slow_until_s > 0) kinds.push_back(fault_slow_reply);
    if (exclusive == Exclusive::malformed_json) kinds.push_back(fault_malformed_json);
    if (exclusive == Exclusive::drop_mid_stream) kinds.push_back(fault_drop_mid_stream);
    return kinds;
  }

  // before_generation: the HTTP status to answer instead of generating, or 0 to generate.
  int status_before_generation() const {
    if (exclusive == Exclusive::http_500) return 500;
    if (exclusive == Exclusive::http_503) return 503;
    return 0;
  }

  // before_first_token: real seconds the first token waits.
  double first_token_wait_s() const { return first_token_delay_s; }

  // mid_reply: what happens to the middle part of the reply.
  enum class MidReply { intact, cut, drop };
  MidReply mid_reply() const {
    if (exclusive == Exclusive::malformed_json) return MidReply::cut;
    if (exclusive == Exclusive::drop_mid_stream) return MidReply::drop;
    return MidReply::intact;
  }
  // Whether token `i` of `n` is the middle one, whose event a streaming mid_reply fault acts on.
  static bool is_middle_token(std::int64_t i, std::int64_t n) { return i == n / 2; }

  // before_last_token: the real time (steady clock) until which the last token is held, or 0 when it is not.
  Nanos last_token_held_until(Nanos arrival) const {
    return slow_until_s > 0 ? arrival + static_cast<Nanos>(slow_until_s * 1e9) : 0;
  }
};

// A malformed part: its first half.
inline void cut_in_half(std::string& part) { part.resize(part.size() / 2); }

inline FaultPlan draw_faults(const FaultConfig& f, std::uint64_t seed, std::uint64_t request_number) {
  Rng rng(splitmix64(seed ^ 0xFA017ULL) ^ splitmix64(request_number));
  FaultPlan plan;
  const double u = rng.uniform();
  double edge = f.http_500_rate;
  if (u < edge)
    plan.exclusive = FaultPlan::Exclusive::http_500;
  else if (u < (edge += f.http_503_rate))
    plan.exclusive = FaultPlan::Exclusive::http_503;
  else if (u < (edge += f.malformed_json_rate))
    plan.exclusive = FaultPlan::Exclusive::malformed_json;
  else if (u < (edge += f.drop_mid_stream_rate))
    plan.exclusive = FaultPlan::Exclusive::drop_mid_stream;
  if (rng.uniform() < f.stall_rate) {
    plan.stalled = true;
    plan.first_token_delay_s += f.stall_s;
  }
  plan.first_token_delay_s += f.jitter_s * rng.uniform();
  if (rng.uniform() < f.slow_reply_rate) plan.slow_until_s = f.slow_reply_s;
  return plan;
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/faults.hpp ----
// ---- begin servebench/sim/presets.hpp ----
// servebench::sim — presets: ServerOptions named after what they model, each with its provenance (the machine, the
// engine and the file or publication its numbers come from; the files are in shared/calibration/). Presets of one
// provenance make a pair whose ratios mean something: measured_pair() is the two servers measured side by side on
// one H200. A time-scale factor then runs them faster than real time in tests and demos.

#include <stdexcept>
#include <string>
#include <vector>


namespace servebench {
namespace sim {

// Where a preset's numbers come from. Shown by --help, written into artifacts, listed in docs/simulator.md.
struct PresetInfo {
  const char* name;
  const char* machine;  // the GPU the numbers were taken on
  const char* engine;   // the serving engine modelled
  const char* source;   // the calibration file or publication
  const char* role;     // "hf" (the lab's baseline API) or "vllm" (OpenAI API)
};

inline const std::vector<PresetInfo>& preset_infos() {
  static const std::vector<PresetInfo> infos = {
      {"hf-transformers-h200", "1x NVIDIA H200",
       "HF transformers 5.17 eager generate, one per request (the lab's server)",
       "measured: h200-llama3-8b-transformers.json, h200-transformers-batching-vs-lab-server.json", "hf"},
      {"transformers-cb-h200", "1x NVIDIA H200",
       "transformers 5.17 ContinuousBatchingManager behind an OpenAI-compatible server",
       "measured: h200-transformers-batching-vs-lab-server.json, 2026-12-01-h200-rerun.json", "vllm"},
      {"vllm-h100", "1x NVIDIA H100-80GB", "vLLM 0.21 (CUDA graphs, paged attention)",
       "published: InferenceBench concurrency sweep (vllm-llama3-8b-published.json), not measured here", "vllm"},
  };
  return infos;
}

inline std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& i : preset_infos()) out.push_back(i.name);
  return out;
}

// Throws std::invalid_argument naming the valid presets.
inline const PresetInfo& preset_info(const std::string& name) {
  for (const auto& i : preset_infos())
    if (name == i.name) return i;
  std::string valid;
  for (const auto& n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown servebench::sim preset '" + name + "' (valid: " + valid + ")");
}

// "machine, engine; source": one line for logs and --help.
inline std::string provenance(const PresetInfo& i) {
  return std::string(i.machine) + ", " + i.engine + "; " + i.source;
}

// The pair of one provenance: the lab's HF server and a continuous-batching server measured side by side on one
// H200 through the lab's own client (h200-transformers-batching-vs-lab-server.json).
struct PresetPair {
  const char* hf;
  const char* vllm;
};
inline constexpr PresetPair measured_pair{"hf-transformers-h200", "transformers-cb-h200"};

inline ServerOptions preset(const std::string& name) {
  const PresetInfo& info = preset_info(name);  // throws for an unknown name
  ServerOptions o;
  EngineConfig e;
  if (info.name == std::string("hf-transformers-h200")) {
    // h200-llama3-8b-transformers.json: the lab's server. See the sequential model in engine.hpp.
    e.kind = EngineKind::sequential;
    e.request_overhead_ms = 30.0;
    e.host_step_ms = 35.0;
    e.device_step_ms = 29.2;
    e.host_contention_per_loop = 0.0048;
    e.prefill_ms_per_token = 0.034;  // prefill 22.4 ms at 512 tokens, 62.8 ms at 2048: +40 ms
    // h200-transformers-batching-vs-lab-server.json: its first 100-token request after start took 8.99 s, later ones
    // 6.36-6.61 s (this model: 6.45 s): 2.55 s of warm-up (CUDA context, kernel selection) in the first step.
    e.first_request_extra_ms = 2550.0;
    return o.engine_config(e).api(ApiFlavour::hf);
  }
  if (info.name == std::string("vllm-h100")) {
    // vllm-llama3-8b-published.json (InferenceBench, H100, vLLM 0.21): TPOT p50 6.48 / 6.59 / 10.94 / 46.91 ms at
    // 1 / 4 / 16 / 64 concurrent; TTFT p50 14 ms alone = 6 ms overhead + one 6.5 ms step + a short prompt.
    e.kind = EngineKind::continuous_batching;
    e.request_overhead_ms = 6.0;
    e.prefill_ms_per_token = 0.03;  // ~33k prompt tokens/s: compute-bound prefill of an 8B model
    e.step_ms_by_batch = detail::vllm_h100_step_times();
    e.max_num_seqs = 256;
    e.max_num_batched_tokens = 8192;
    e.kv_cache_tokens = 450000;  // (80 GB * 0.9 - 16 GB weights) / 128 KiB of KV per token
    e.max_model_len = 8192;
    return o.engine_config(e).api(ApiFlavour::openai);
  }
  // transformers-cb-h200. h200-transformers-batching-vs-lab-server.json, measured through the lab's client with
  // 50-token replies: mean latency 1.82 / 5.30 / 6.42 / 5.95 s at 1 / 5 / 10 / 20 concurrent and 3.05-3.83 s for
  // 100 tokens alone give about 200 ms overhead and steps of 32 / 102 / 124 / 115 ms; offline 50 tokens at batch
  // 64: 5.45 s (109 ms). The first request after start took 8.5 s instead of ~3.4: 5 s of warm-up in the first step.
  e.kind = EngineKind::continuous_batching;
  e.request_overhead_ms = 200.0;
  e.first_request_extra_ms = 5000.0;
  e.prefill_ms_per_token = 0.0;
  static const BatchStepTime measured[] = {{1, 32.0}, {5, 102.0}, {10, 124.0}, {20, 115.0}, {64, 109.0}};
  e.step_ms_by_batch = detail::step_table(measured);
  e.max_num_seqs = 64;
  e.max_num_batched_tokens = 8192;
  e.kv_cache_tokens = 400000;
  e.max_model_len = 8192;
  return o.engine_config(e).api(ApiFlavour::openai);
}

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/presets.hpp ----
// ---- begin servebench/sim/server.hpp ----
// servebench::sim — the simulated server over HTTP: ServerState (one running server: its engine loop, its
// cpp-httplib server and its statistics), Reply (one reply while it is written, and the points where its drawn
// faults act), the routes, and the public Server. Requests are read and replies built by the wire formats in
// wire.hpp; this file only moves them through the engine and onto the connection.
//
// Routes, on 127.0.0.1 by default: api "hf" serves POST /v1/completions in the hf format; api "openai" serves POST
// /v1/completions and /v1/chat/completions in the completions and chat formats. Both: GET /health, GET /v1/models,
// and GET /metrics: the engine's state in vLLM's Prometheus format (metrics_text()); GET /sim/write_windows: the
// ground truth's own error, for each streamed reply since the last call (Server::take_write_windows()).
//
// Ground truth: every reply carries "sim_timing": {"first_token_ns", "last_token_ns"} on std::chrono::steady_clock
// (the same clock as servebench::now_ns() when client and server share a process). Streaming: taken just before
// writing the first and the last token's event, and carried by the last one. Not streaming: first_token_ns is when
// the engine produced the first token, last_token_ns is taken just before the body is written.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "servebench_metrics.hpp"  // servebench/metrics/prometheus.hpp and the rest of servebench_metrics.hpp
// ---- begin servebench/sim/tokens.hpp ----
// servebench::sim — the simulated tokenizer: how long a prompt is in tokens, and the text of each generated token.
// One pseudo-word per token, deterministic in (seed, prompt, position) as greedy decoding is, so a reply's
// completion_tokens is exact and the same prompt always gets the same words.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>


namespace servebench {
namespace sim {
namespace detail {

// Prompt length in pseudo-tokens: about four bytes a token, as BPE tokenizers average on English text.
inline std::int64_t count_prompt_tokens(const std::string& text) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}

// What a chat template adds per message (role markers), as Llama 3's adds about 4: template tokens have id 0.
inline constexpr std::int64_t chat_template_tokens = 4;

// The pseudo-tokens themselves, as POST /tokenize returns them: each id packs up to four bytes of the text
// (little-endian), so /detokenize gives the text back exactly and tokenize(t).size() == count_prompt_tokens(t).
// The empty text is one token, id 0 (as a tokenizer's beginning-of-sequence token), whose text is empty.
inline std::vector<std::int64_t> tokenize(const std::string& text) {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size() / 4 + 1);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t id = 0;
    for (std::size_t b = 0; b < 4 && i + b < text.size(); ++b)
      id |= static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + b])) << (8 * b);
    ids.push_back(id);
  }
  if (ids.empty()) ids.push_back(0);
  return ids;
}

// The text of `ids`; false when an id is not one tokenize() can give (negative, or above 32 bits).
inline bool detokenize(const std::vector<std::int64_t>& ids, std::string& text) {
  text.clear();
  for (const auto id : ids) {
    if (id < 0 || id > 0xFFFFFFFFLL) return false;
    for (int b = 0; b < 4; ++b) {
      const auto byte = static_cast<char>((static_cast<std::uint64_t>(id) >> (8 * b)) & 0xFF);
      if (byte == 0) break;
      text += byte;
    }
  }
  return true;
}

// Token i of a reply: one word, deterministic in (seed, prompt, i), as greedy decoding is.
inline std::string token_text(std::uint64_t seed, std::uint64_t prompt_hash, std::int64_t i, bool leading_space) {
  static const char* const words[] = {
      "the",    "model",    "attention", "layer",     "token",     "weights",  "query",    "key",
      "value",  "sequence", "encoder",   "decoder",   "softmax",   "vector",   "context",  "head",
      "learns", "each",     "position",  "signal",    "embedding", "gradient", "training", "data",
      "output", "input",    "network",   "transform", "scale",     "norm",     "residual", "stream",
      "batch",  "cache",    "compute",   "memory",    "of",        "and",      "to",       "in",
      "is",     "that",     "with",      "for",       "as",        "by",       "on",       "a",
      "which",  "from",     "this",      "its",       "are",       "can",      "each",     "word",
      "step",   "then",     "more",      "when",      "how",       "it",       "all",      "logits"};
  constexpr std::size_t n_words = sizeof(words) / sizeof(words[0]);
  const auto h = splitmix64(seed ^ prompt_hash ^ splitmix64(static_cast<std::uint64_t>(i)));
  return (leading_space ? std::string(" ") : std::string()) + words[h % n_words];
}

}  // namespace detail
}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/tokens.hpp ----
// ---- begin servebench/sim/wire.hpp ----
// servebench::sim — the wire formats a simulated server speaks, one strategy each: how a request body becomes a
// GenRequest, and how the replies to it are written (a whole reply, a stream's events, an error). The server picks
// the format by route and never asks which one it holds.
//
//   hf           the lab's HF server: POST /v1/completions {prompt, max_tokens=100} -> {text, usage:
//                {completion_tokens}, elapsed_sec (real seconds from arrival to reply)}; 422 {"detail"} for an
//                invalid request, as FastAPI answers; an injected 500 is Flask's plain-text page. It does not stream.
//   completions  OpenAI /v1/completions as vLLM serves it, "stream" true or not.
//   chat         OpenAI /v1/chat/completions; a stream opens with a role-only chunk, and its first token has no
//                leading space.
// Both OpenAI formats: SSE `data: {json}\n\n`, one event per token (ServerOptions::tokens_per_chunk: per k tokens),
// each with the cumulative usage when stream_options.continuous_usage_stats (vLLM's), a usage chunk (empty choices)
// when stream_options.include_usage, then `data: [DONE]` (server.hpp writes the framing); errors as {"error": {message,
// type, param, code}}. Reply ids end in the request's arrival number, the number its faults were drawn with.
//
// The server adds "sim_timing" to what a format builds (dialects.hpp says what it holds): it is the same in every
// format.

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>


namespace servebench {
namespace sim {
namespace detail {

// A parsed generation request, whatever format it came in.
struct GenRequest {
  std::string prompt;  // the text the words are seeded from (chat: the messages' contents joined)
  std::int64_t prompt_tokens = 1;
  std::int64_t max_tokens = 16;
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage = false;  // stream_options.continuous_usage_stats: a cumulative usage in every chunk (vLLM)
  bool ignore_eos = false;
};

// An invalid request: answered with `status` and `message`, in the format's error shape.
struct BadRequest {
  int status;
  std::string message;
};

// What every reply to one request is built from.
struct ReplyContext {
  const GenRequest& request;
  std::uint64_t number;  // the request's arrival number
  std::int64_t created;  // when the server started, Unix seconds
  const std::string& model;
  std::int64_t reasoning_tokens = 0;  // the reply's first tokens that are reasoning (chat only; 0: none)
  std::int64_t cached_tokens = -1;    // prompt tokens found in the prefix cache; -1: the engine has none
};

// The content of a whole (non-streaming) reply.
struct WholeReply {
  std::string reasoning;  // the reasoning tokens' text (chat only)
  std::string text;
  std::int64_t completion_tokens = 0;
  const char* finish_reason = "length";  // "stop" after an early end of sequence
  double elapsed_s = 0;                  // arrival to reply, real seconds
};

// Optional integer and boolean fields of a request: absent or null gives the fallback.
inline std::int64_t request_int(const nlohmann::json& body, const char* key, std::int64_t fallback, int status) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw BadRequest{status, std::string("'") + key + "' must be an integer"};
  return it->get<std::int64_t>();
}
inline bool request_bool(const nlohmann::json& body, const char* key, int status) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw BadRequest{status, std::string("'") + key + "' must be a boolean"};
  return it->get<bool>();
}

class StreamingWireFormat;

class WireFormat {
 public:
  virtual ~WireFormat() = default;

  // The status of every invalid request in this format.
  virtual int invalid_status() const = 0;
  // Reads the format's fields from a body that is a JSON object; throws BadRequest. `served_model` is the one
  // model the server serves.
  virtual GenRequest read_request(const nlohmann::json& body, const std::string& served_model) const = 0;
  // Whether token `i` of a reply starts with a space.
  virtual bool space_before_token(std::int64_t) const { return true; }
  // Whether replies in this format can carry reasoning apart from the answer (ServerOptions::reasoning_tokens).
  virtual bool has_reasoning() const { return false; }
  virtual nlohmann::json whole_reply(const ReplyContext& context, const WholeReply& reply) const = 0;
  virtual void error(httplib::Response& res, int status, const std::string& message) const = 0;
  // An error status injected at the before_generation fault point (500 or 503).
  virtual void injected_error(httplib::Response& res, int status) const {
    error(res, status,
          status == 503 ? "servebench sim: injected overload, try again later"
                        : "servebench sim: injected internal server error");
  }
  // This format's stream events, or nullptr when it does not stream (its read_request never sets `stream`).
  virtual const StreamingWireFormat* streaming() const { return nullptr; }
};

class StreamingWireFormat : public WireFormat {
 public:
  // The event before the first token's (chat: the assistant's role), or null when there is none.
  virtual nlohmann::json opening_chunk(const ReplyContext& context) const = 0;
  // The event of one token; `finish_reason` is set on the last one only; `reasoning` for a reasoning token.
  virtual nlohmann::json token_chunk(const ReplyContext& context, const std::string& token, const char* finish_reason,
                                     bool reasoning) const = 0;
  // The event that carries the usage alone, before [DONE] (only when the request asked for it).
  virtual nlohmann::json usage_chunk(const ReplyContext& context, std::int64_t completion_tokens) const = 0;
  const StreamingWireFormat* streaming() const final { return this; }
};

// Reads a request body in `wire`'s format and checks what every format shares: a JSON object, max_tokens >= 1,
// and prompt + max_tokens within the model's length.
inline GenRequest parse_request(const WireFormat& wire, const std::string& text, const ServerOptions& options) {
  const int invalid = wire.invalid_status();
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw BadRequest{invalid, std::string("request body is not JSON: ") + e.what()};
  }
  if (!body.is_object()) throw BadRequest{invalid, "request body must be an object"};
  GenRequest g = wire.read_request(body, options.model());
  if (g.max_tokens < 1) throw BadRequest{invalid, "'max_tokens' must be >= 1"};
  if (g.prompt_tokens + g.max_tokens > options.max_model_len())
    throw BadRequest{invalid, "prompt (" + std::to_string(g.prompt_tokens) + " tokens) + max_tokens (" +
                                  std::to_string(g.max_tokens) + ") exceeds the model's length " +
                                  std::to_string(options.max_model_len())};
  return g;
}

// ---- hf -------------------------------------------------------------------------------------------------------

class HfWire final : public WireFormat {
 public:
  int invalid_status() const override { return 422; }

  GenRequest read_request(const nlohmann::json& body, const std::string&) const override {
    GenRequest g;
    auto it = body.find("prompt");
    if (it == body.end() || !it->is_string()) throw BadRequest{422, "'prompt' (string) is required"};
    g.prompt = it->get<std::string>();
    g.prompt_tokens = count_prompt_tokens(g.prompt);
    g.max_tokens = request_int(body, "max_tokens", 100, 422);
    return g;
  }

  nlohmann::json whole_reply(const ReplyContext&, const WholeReply& r) const override {
    return {{"text", r.text}, {"usage", {{"completion_tokens", r.completion_tokens}}}, {"elapsed_sec", r.elapsed_s}};
  }

  void error(httplib::Response& res, int status, const std::string& message) const override {
    res.status = status;
    res.set_content(nlohmann::json{{"detail", message}}.dump(), "application/json");
  }

  // Flask's own page for an unhandled exception.
  void injected_error(httplib::Response& res, int status) const override {
    if (status == 500) {
      res.status = 500;
      res.set_content("Internal Server Error", "text/plain");
    } else {
      WireFormat::injected_error(res, status);
    }
  }
};

// ---- OpenAI: what completions and chat share ----------------------------------------------------------------

class OpenAiWire : public StreamingWireFormat {
 public:
  int invalid_status() const final { return 400; }

  GenRequest read_request(const nlohmann::json& body, const std::string& served_model) const final {
    auto model = body.find("model");
    if (model != body.end() && !model->is_null() && (!model->is_string() || *model != served_model))
      throw BadRequest{404, "The model `" + (model->is_string() ? model->get<std::string>() : model->dump()) +
                                "` does not exist."};
    if (request_int(body, "n", 1, 400) != 1) throw BadRequest{400, "servebench sim serves n = 1 only"};
    GenRequest g;
    read_prompt(body, g);
    g.stream = request_bool(body, "stream", 400);
    g.ignore_eos = request_bool(body, "ignore_eos", 400);
    auto so = body.find("stream_options");
    if (so != body.end() && so->is_object()) {
      g.include_usage = request_bool(*so, "include_usage", 400);
      g.continuous_usage = request_bool(*so, "continuous_usage_stats", 400);
    }
    return g;
  }

  nlohmann::json whole_reply(const ReplyContext& c, const WholeReply& r) const final {
    nlohmann::json choice = whole_choice(r.reasoning, r.text);
    choice["index"] = 0;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = r.finish_reason;
    return {{"id", id(c)},
            {"object", whole_object()},
            {"created", c.created},
            {"model", c.model},
            {"choices", nlohmann::json::array({choice})},
            {"usage", usage(c, r.completion_tokens)}};
  }

  nlohmann::json token_chunk(const ReplyContext& c, const std::string& token, const char* finish_reason,
                             bool reasoning) const final {
    nlohmann::json choice = token_choice(token, reasoning);
    choice["index"] = 0;
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_reason ? nlohmann::json(finish_reason) : nlohmann::json(nullptr);
    return chunk(c, nlohmann::json::array({choice}));
  }

  nlohmann::json usage_chunk(const ReplyContext& c, std::int64_t completion_tokens) const final {
    nlohmann::json u = chunk(c, nlohmann::json::array());
    u["usage"] = usage(c, completion_tokens);
    return u;
  }

  void error(httplib::Response& res, int status, const std::string& message) const final {
    res.status = status;
    const char* type = status == 404   ? "NotFoundError"
                       : status == 503 ? "ServiceUnavailableError"
                       : status >= 500 ? "InternalServerError"
                                       : "BadRequestError";
    res.set_content(
        nlohmann::json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}}}}.dump(),
        "application/json");
  }

 protected:
  // Reads the prompt (and its token count) and max_tokens.
  virtual void read_prompt(const nlohmann::json& body, GenRequest& g) const = 0;
  virtual const char* id_prefix() const = 0;
  virtual const char* whole_object() const = 0;
  virtual const char* chunk_object() const = 0;
  // The generated text's part of a whole reply's choice, and of a stream event's.
  virtual nlohmann::json whole_choice(const std::string& reasoning, const std::string& text) const = 0;
  virtual nlohmann::json token_choice(const std::string& token, bool reasoning) const = 0;

  // A stream event's envelope; `usage` is null in every event but the usage chunk when the request asked for it.
  nlohmann::json chunk(const ReplyContext& c, nlohmann::json choices) const {
    nlohmann::json j{{"id", id(c)},
                     {"object", chunk_object()},
                     {"created", c.created},
                     {"model", c.model},
                     {"choices", std::move(choices)}};
    if (c.request.include_usage) j["usage"] = nullptr;
    return j;
  }

 private:
  std::string id(const ReplyContext& c) const { return id_prefix() + std::to_string(c.number); }
  // OpenAI's usage; reasoning tokens are counted in completion_tokens and named in completion_tokens_details.
  static nlohmann::json usage(const ReplyContext& c, std::int64_t n) {
    const auto& g = c.request;
    nlohmann::json u{
        {"prompt_tokens", g.prompt_tokens}, {"completion_tokens", n}, {"total_tokens", g.prompt_tokens + n}};
    if (c.reasoning_tokens > 0)
      u["completion_tokens_details"] = {{"reasoning_tokens", std::min(n, c.reasoning_tokens)}};
    if (c.cached_tokens >= 0) u["prompt_tokens_details"] = {{"cached_tokens", c.cached_tokens}};  // as vLLM's
    return u;
  }
};

class CompletionsWire final : public OpenAiWire {
 public:
  nlohmann::json opening_chunk(const ReplyContext&) const override { return nullptr; }

 protected:
  void read_prompt(const nlohmann::json& body, GenRequest& g) const override {
    auto it = body.find("prompt");
    if (it == body.end()) throw BadRequest{400, "'prompt' is required"};
    if (it->is_string()) {
      g.prompt = it->get<std::string>();
      g.prompt_tokens = count_prompt_tokens(g.prompt);
    } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      g.prompt = (*it)[0].get<std::string>();
      g.prompt_tokens = count_prompt_tokens(g.prompt);
    } else if (it->is_array() && !it->empty() &&
               std::all_of(it->begin(), it->end(), [](const nlohmann::json& t) { return t.is_number_integer(); })) {
      g.prompt = it->dump();  // token ids
      g.prompt_tokens = static_cast<std::int64_t>(it->size());
    } else {
      throw BadRequest{400, "'prompt' must be a string, a list of one string, or a list of token ids"};
    }
    g.max_tokens = request_int(body, "max_tokens", 16, 400);
  }
  const char* id_prefix() const override { return "cmpl-sim-"; }
  const char* whole_object() const override { return "text_completion"; }
  const char* chunk_object() const override { return "text_completion"; }
  // The completions API has no reasoning field: a completions reply is all text.
  nlohmann::json whole_choice(const std::string& reasoning, const std::string& text) const override {
    return {{"text", reasoning + text}};
  }
  nlohmann::json token_choice(const std::string& token, bool) const override { return {{"text", token}}; }
};

class ChatWire final : public OpenAiWire {
 public:
  bool space_before_token(std::int64_t i) const override { return i > 0; }
  bool has_reasoning() const override { return true; }

  nlohmann::json opening_chunk(const ReplyContext& c) const override {
    const nlohmann::json role{{"index", 0},
                              {"delta", {{"role", "assistant"}, {"content", ""}}},
                              {"logprobs", nullptr},
                              {"finish_reason", nullptr}};
    return chunk(c, nlohmann::json::array({role}));
  }

 protected:
  void read_prompt(const nlohmann::json& body, GenRequest& g) const override {
    auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty())
      throw BadRequest{400, "'messages' must be a non-empty list"};
    g.prompt_tokens = 0;
    for (const auto& m : *it) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        throw BadRequest{400, "each message needs a 'role' string"};
      std::string content;
      auto c = m.find("content");
      if (c != m.end() && c->is_string())
        content = c->get<std::string>();
      else if (c != m.end() && !c->is_null())
        content = c->dump();
      g.prompt += m["role"].get<std::string>() + ": " + content + "\n";
      g.prompt_tokens += count_prompt_tokens(content) + chat_template_tokens;
    }
    g.max_tokens = request_int(body, "max_completion_tokens", request_int(body, "max_tokens", 16, 400), 400);
  }
  const char* id_prefix() const override { return "chatcmpl-sim-"; }
  const char* whole_object() const override { return "chat.completion"; }
  const char* chunk_object() const override { return "chat.completion.chunk"; }
  // Reasoning as vLLM's reasoning parsers return it: `reasoning_content` beside `content`.
  nlohmann::json whole_choice(const std::string& reasoning, const std::string& text) const override {
    nlohmann::json message{{"role", "assistant"}, {"content", text}};
    if (!reasoning.empty()) message["reasoning_content"] = reasoning;
    return {{"message", message}};
  }
  nlohmann::json token_choice(const std::string& token, bool reasoning) const override {
    return {{"delta", {{reasoning ? "reasoning_content" : "content", token}}}};
  }
};

}  // namespace detail
}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/wire.hpp ----

namespace servebench {
namespace sim {
namespace detail {

class ServerState {
 public:
  explicit ServerState(ServerOptions options)
      : options_(std::move(options)), engine_(options_.engine_config(), options_.time_scale(), options_.seed()),
        created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                     .count()) {}

  ServerOptions options_;
  EngineLoop engine_;
  // Stateless; declared before http_ so that they outlive the handlers that hold them.
  const HfWire hf_wire_;
  const CompletionsWire completions_wire_;
  const ChatWire chat_wire_;
  httplib::Server http_;
  std::thread listen_thread_;
  std::int64_t created_;
  int port_ = 0;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;

  mutable std::mutex stats_mutex_;
  ServerStats stats_;
  std::size_t in_flight_ = 0;
  // For each streamed reply, its first and its last token write: the sim_timing stamp and how long the write took
  // from it to the write's return. The bytes left within that window, so it bounds the error of first_token_ns and
  // last_token_ns (a thread woken among thousands at an engine step and preempted between the stamp and the write).
  // Under stats_mutex_; at most a million of each are kept.
  WriteWindows write_windows_;
  void note_write(std::vector<WriteWindow> WriteWindows::*which, Nanos stamp) {
    const WriteWindow w{stamp, now_ns() - stamp};
    std::lock_guard<std::mutex> lock(stats_mutex_);
    if ((write_windows_.*which).size() < 1'000'000) (write_windows_.*which).push_back(w);
  }
  WriteWindows take_write_windows() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return std::exchange(write_windows_, {});
  }
  std::atomic<std::uint64_t> request_number_{0};

  // Sleeps until real time `deadline` or the server stops; false when it stopped.
  bool sleep_until(Nanos deadline) {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    stop_cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)),
                        [&] { return stopping_.load(); });
    return !stopping_.load();
  }
  bool sleep_for_s(double seconds) {
    if (seconds <= 0) return !stopping_.load();
    return sleep_until(now_ns() + static_cast<Nanos>(seconds * 1e9));
  }

  void count(std::uint64_t ServerStats::*field) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++(stats_.*field);
  }
  void count_fault(const char* kind) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.faults[kind];
  }
  void enter() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.requests;
    ++in_flight_;
    stats_.max_concurrency = std::max(stats_.max_concurrency, in_flight_);
  }
  void leave(std::uint64_t ServerStats::*outcome) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    --in_flight_;
    if (outcome) ++(stats_.*outcome);
  }

  // Tokens the reply will carry: max_tokens, or fewer when an early EOS is drawn (never with ignore_eos).
  std::int64_t tokens_to_generate(const GenRequest& g, std::uint64_t prompt_hash) const {
    const double p = options_.early_eos_rate();
    if (p <= 0 || g.ignore_eos) return g.max_tokens;
    Rng rng(splitmix64(options_.seed() ^ 0xE05ULL) ^ prompt_hash);
    for (std::int64_t i = 1; i < g.max_tokens; ++i)
      if (rng.uniform() < p) return i;
    return g.max_tokens;
  }

  void handle_generation(const httplib::Request& req, httplib::Response& res, const WireFormat& wire);

  // The engine's state as vLLM writes it on /metrics (the names vLLM 0.10 uses; both engines, so a chart reads the
  // lab's two servers alike): requests running and waiting, KV-cache usage (batching only: the sequential engine
  // has no KV cache of its own to speak of), preemptions (these engines never preempt), tokens generated and
  // requests finished.
  std::string metrics_text() const {
    namespace prom = servebench::prometheus;
    const EngineCounts c = engine_.counts();
    const std::vector<std::pair<std::string, std::string>> model{{"model_name", options_.model()}};
    std::uint64_t completed = 0;
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      completed = stats_.completed;
    }
    std::vector<prom::Family> families;
    auto add = [&](const char* name, const char* type, const char* help, double value) {
      families.push_back(prom::Family{name, type, help, {prom::Sample{name, model, value, std::nullopt}}});
    };
    add("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
        static_cast<double>(c.running));
    add("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
        static_cast<double>(c.waiting));
    if (options_.engine() == EngineKind::continuous_batching)
      add("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", c.kv_usage);
    add("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.",
        static_cast<double>(c.preemptions));
    // Prefix cache: vllm:prefix_cache_queries_total and vllm:prefix_cache_hits_total belong here once the engine
    // keeps a prefix cache (it has none yet).
    add("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
        static_cast<double>(engine_.tokens()));
    add("vllm:request_success_total", "counter", "Count of successfully processed requests.",
        static_cast<double>(completed));
    return prom::write(families);
  }

  void install_routes() {
    const bool hf = options_.api() == ApiFlavour::hf;
    if (hf) {
      route("/v1/completions", hf_wire_);
    } else {
      route("/v1/completions", completions_wire_);
      route("/v1/chat/completions", chat_wire_);
      install_tokenizer_routes();
    }
    http_.Get("/health", [hf](const httplib::Request&, httplib::Response& res) {
      // vLLM answers 200 with an empty body; the lab's HF server with a small JSON object.
      if (hf)
        res.set_content(R"({"status":"ok"})", "application/json");
      else
        res.status = 200;
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http_.Get("/sim/write_windows", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(write_windows_to_json(take_write_windows()).dump(), "application/json");
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      const nlohmann::json j{{"object", "list"},
                             {"data",
                              {{{"id", options_.model()},
                                {"object", "model"},
                                {"created", created_},
                                {"owned_by", "servebench-sim"},
                                {"root", options_.model()},
                                {"max_model_len", options_.max_model_len()}}}}};
      res.set_content(j.dump(), "application/json");
    });
  }

 private:
  // vLLM's and SGLang's POST /tokenize {"prompt"} or {"messages"} -> {"tokens", "count", "max_model_len"} (the
  // count is what usage.prompt_tokens will say, chat template included), and /detokenize {"tokens"} -> {"prompt"};
  // llama.cpp's {"content"} is read too, and /detokenize answers it under "content" as well.
  void install_tokenizer_routes() {
    auto bad = [this](httplib::Response& res, const std::string& message) {
      completions_wire_.error(res, 400, message);
    };
    http_.Post("/tokenize", [this, bad](const httplib::Request& req, httplib::Response& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object()) return bad(res, "request body must be a JSON object");
      std::vector<std::int64_t> ids;
      const auto messages = body.find("messages");
      const auto prompt = body.find("prompt") != body.end() ? body.find("prompt") : body.find("content");
      if (messages != body.end()) {
        if (!messages->is_array() || messages->empty()) return bad(res, "'messages' must be a non-empty list");
        for (const auto& m : *messages) {
          if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
            return bad(res, "each message needs a 'content' string");
          ids.insert(ids.end(), static_cast<std::size_t>(chat_template_tokens), 0);
          const auto content = tokenize(m["content"].get<std::string>());
          ids.insert(ids.end(), content.begin(), content.end());
        }
      } else if (prompt != body.end() && prompt->is_string()) {
        ids = tokenize(prompt->get<std::string>());
      } else {
        return bad(res, "'prompt' (string) or 'messages' is required");
      }
      const nlohmann::json out{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", options_.max_model_len()}};
      res.set_content(out.dump(), "application/json");
    });
    http_.Post("/detokenize", [bad](const httplib::Request& req, httplib::Response& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      const auto tokens = body.is_object() ? body.find("tokens") : body.end();
      if (!body.is_object() || tokens == body.end() || !tokens->is_array() ||
          !std::all_of(tokens->begin(), tokens->end(), [](const nlohmann::json& t) { return t.is_number_integer(); }))
        return bad(res, "'tokens' must be a list of integer token ids");
      std::string text;
      if (!detokenize(tokens->get<std::vector<std::int64_t>>(), text)) return bad(res, "unknown token id in 'tokens'");
      res.set_content(nlohmann::json{{"prompt", text}, {"content", text}}.dump(), "application/json");
    });
  }

  void route(const char* path, const WireFormat& wire) {
    http_.Post(path, [this, &wire](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, wire);
    });
  }
};

// The state of one reply while it is written.
struct Reply {
  Reply(ServerState* server_, const WireFormat& wire_, GenRequest gen_, FaultPlan plan_, JobPtr job_,
        std::uint64_t prompt_hash_, Nanos arrival_, std::uint64_t number_)
      : server(server_), wire(wire_), gen(std::move(gen_)), plan(plan_), job(std::move(job_)),
        prompt_hash(prompt_hash_), arrival(arrival_), number(number_) {}

  ServerState* server;
  const WireFormat& wire;
  GenRequest gen;
  FaultPlan plan;
  JobPtr job;
  std::uint64_t prompt_hash;
  Nanos arrival;
  std::uint64_t number;      // arrival number: the reply id ends in it, and the faults were drawn with it
  std::int64_t written = 0;  // tokens written or waiting in `pending` (streaming)
  std::string pending;       // the text of the event being gathered (tokens_per_chunk > 1)
  Nanos first_written = 0;
  Nanos first_answer_written = 0;  // with reasoning first: when the first answer token was written
  bool ended = false;              // the last token's event went out, with the usage chunk and [DONE] after it
  bool dropped = false;
  bool released = false;

  ReplyContext context() const {
    // Only chat replies carry reasoning (the completions API has no field for it).
    const std::int64_t reasoning = wire.has_reasoning()
                                       ? std::min<std::int64_t>(server->options_.reasoning_tokens(), job->target_tokens)
                                       : 0;
    const bool cache = server->options_.engine() == EngineKind::continuous_batching &&
                       server->options_.engine_config().prefix_block_tokens > 0;
    return {gen, number, server->created_, server->options_.model(), reasoning, cache ? job->cached_tokens.load() : -1};
  }

  std::string token(std::int64_t i) const {
    return token_text(server->options_.seed(), prompt_hash, i, wire.space_before_token(i));
  }

  const char* finish_reason() const { return job->target_tokens < gen.max_tokens ? "stop" : "length"; }

  // Adds "sim_timing" as the last member of the JSON object `json`: when the first and last token were written;
  // with reasoning first, also the first answer token. Text, not a document: it is written after the time is taken.
  static void add_sim_timing(std::string& json, Nanos first, Nanos last, Nanos first_answer = 0) {
    std::string t = ",\"sim_timing\":{\"first_token_ns\":" + std::to_string(first) +
                    ",\"last_token_ns\":" + std::to_string(last);
    if (first_answer) t += ",\"first_answer_token_ns\":" + std::to_string(first_answer);
    if (json.empty() || json.back() != '}') throw std::logic_error("servebench::sim: sim_timing needs a JSON object");
    json.insert(json.size() - 1, t + "}");
  }

  // Waits for the engine to produce more than `have` tokens (or finish, or abort). Returns (emitted, finished);
  // emitted < 0 when the server stops.
  std::pair<std::int64_t, bool> wait_tokens(std::int64_t have) {
    std::unique_lock<std::mutex> lock(job->mutex);
    job->cv.wait(lock, [&] { return job->emitted > have || job->finished || job->aborted; });
    if (job->aborted) return {-1, false};
    return {job->emitted, job->finished};
  }

  // Fault points that wait, in real time; false when the server stopped meanwhile.
  bool before_first_token() { return server->sleep_for_s(plan.first_token_wait_s()); }
  bool before_last_token() {
    const Nanos until = plan.last_token_held_until(arrival);
    return until == 0 || server->sleep_until(until);
  }

  // Non-streaming: waits for every token, then builds the body. False when the server stopped.
  bool wait_all(std::string& body) {
    std::int64_t have = 0;
    for (;;) {
      auto [emitted, finished] = wait_tokens(have);
      if (emitted < 0) return false;
      have = emitted;
      if (finished) break;
    }
    Nanos engine_first = 0;
    {
      std::lock_guard<std::mutex> lock(job->mutex);
      engine_first = job->first_token;
    }
    if (!before_first_token() || !before_last_token()) return false;
    WholeReply reply;
    const ReplyContext c = context();
    for (std::int64_t i = 0; i < have; ++i) (i < c.reasoning_tokens ? reply.reasoning : reply.text) += token(i);
    reply.completion_tokens = have;
    reply.finish_reason = finish_reason();
    // No token was written when the engine produced the first one; the last is "written" with the body.
    const Nanos last = now_ns();
    reply.elapsed_s = ns_to_s(last - arrival);
    nlohmann::json j = wire.whole_reply(c, reply);
    body = j.dump();
    add_sim_timing(body, std::max(engine_first, arrival), last);
    if (plan.mid_reply() == FaultPlan::MidReply::cut) cut_in_half(body);
    return true;
  }

  static std::string event_text(const std::string& data) { return "data: " + data + "\n\n"; }
  static bool write_event(httplib::DataSink& sink, const std::string& data) {
    const std::string event = event_text(data);
    return sink.write(event.data(), event.size());
  }

  // Streaming: called by cpp-httplib on the connection's thread until it returns false or calls sink.done().
  bool stream_more(httplib::DataSink& sink) {
    auto [emitted, finished] = wait_tokens(written);
    if (emitted < 0) return false;
    const StreamingWireFormat& stream = *wire.streaming();
    const ReplyContext c = context();
    const std::int64_t target = job->target_tokens;
    for (; written < emitted; ++written) {
      const std::int64_t i = written;
      const auto mid = FaultPlan::is_middle_token(i, target) ? plan.mid_reply() : FaultPlan::MidReply::intact;
      if (mid == FaultPlan::MidReply::drop) {
        dropped = true;
        job->cancelled = true;
        return false;
      }
      if (i == 0) {
        if (!before_first_token()) return false;
        const nlohmann::json opening = stream.opening_chunk(c);
        if (!opening.is_null() && !write_event(sink, opening.dump())) return client_left();
      }
      const bool last = i + 1 == target;
      const bool reasoning = i < c.reasoning_tokens;
      pending += token(i);
      // An event ends every tokens_per_chunk tokens, at the last token, and where reasoning gives way to the answer.
      if (!last && (i + 1) % server->options_.tokens_per_chunk() != 0 && reasoning == (i + 1 < c.reasoning_tokens))
        continue;
      if (last && !before_last_token()) return false;
      nlohmann::json event = stream.token_chunk(c, pending, last ? finish_reason() : nullptr, reasoning);
      pending.clear();
      if (gen.continuous_usage) event["usage"] = stream.usage_chunk(c, i + 1)["usage"];
      std::string data = event.dump();
      if (mid == FaultPlan::MidReply::cut) cut_in_half(data);
      // The stream's end goes out with the last token, in one write, as a server that has every piece at hand
      // sends it: the usage chunk and [DONE] cost the client no wake-up of their own.
      std::string tail;
      if (last) {
        if (gen.include_usage) tail = event_text(stream.usage_chunk(c, i + 1).dump());
        tail += event_text("[DONE]");
      }
      // The time is taken once the event is built, as close to its write as it can be; the last event's
      // sim_timing then goes in as its last member.
      const Nanos now = now_ns();
      const bool first = first_written == 0;
      if (first) first_written = now;
      if (c.reasoning_tokens > 0 && !reasoning && first_answer_written == 0) first_answer_written = now;
      if (last) {
        add_sim_timing(data, first_written, now, first_answer_written);
        const std::string text = event_text(data) + tail;
        if (!sink.write(text.data(), text.size())) return client_left();
        if (first) server->note_write(&WriteWindows::first, now);
        server->note_write(&WriteWindows::last, now);
        ended = true;
        continue;
      }
      if (!write_event(sink, data)) return client_left();
      if (first) server->note_write(&WriteWindows::first, now);
    }
    if (!finished) return true;
    if (!ended) {  // the engine finished short of the target (it cannot, but the stream still ends well-formed)
      if (gen.include_usage && !write_event(sink, stream.usage_chunk(c, written).dump())) return client_left();
      if (!write_event(sink, "[DONE]")) return client_left();
    }
    sink.done();
    return true;
  }

  bool client_left() {
    job->cancelled = true;
    dropped = true;
    return false;
  }

  void release() {
    if (released) return;
    released = true;
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock(job->mutex);
      complete = job->finished && !dropped && (!gen.stream || written == job->emitted);
    }
    if (!complete) job->cancelled = true;
    server->leave(complete ? &ServerStats::completed : &ServerStats::cancelled);
  }
};

inline void ServerState::handle_generation(const httplib::Request& req, httplib::Response& res,
                                           const WireFormat& wire) {
  const Nanos arrival = now_ns();
  GenRequest g;
  try {
    g = parse_request(wire, req.body, options_);
  } catch (const BadRequest& e) {
    count(&ServerStats::requests);
    count(&ServerStats::rejected);
    wire.error(res, e.status, e.message);
    return;
  }
  enter();
  const std::uint64_t number = request_number_++;
  const FaultPlan plan = draw_faults(options_.faults(), options_.seed(), number);
  for (const char* kind : plan.injected_kinds()) count_fault(kind);
  if (const int status = plan.status_before_generation()) {
    wire.injected_error(res, status);
    leave(nullptr);
    return;
  }

  const std::uint64_t prompt_hash = hash_text(g.prompt);
  auto job = std::make_shared<Job>();
  job->prompt_tokens = g.prompt_tokens;
  job->target_tokens = tokens_to_generate(g, prompt_hash);
  if (options_.engine() == EngineKind::continuous_batching)
    job->prefix_blocks = prefix_block_hashes(tokenize(g.prompt), options_.engine_config().prefix_block_tokens);
  // Tokenising and HTTP work happen on this thread, off the engine's shared resources.
  if (!sleep_for_s(options_.request_overhead_ms() / 1000.0 / options_.time_scale())) {
    wire.error(res, 503, "servebench sim: server stopping");
    leave(&ServerStats::cancelled);
    return;
  }
  engine_.submit(job);

  auto reply = std::make_shared<Reply>(this, wire, std::move(g), plan, std::move(job), prompt_hash, arrival, number);
  if (reply->gen.stream) {
    res.set_chunked_content_provider(
        "text/event-stream", [reply](std::size_t, httplib::DataSink& sink) { return reply->stream_more(sink); },
        [reply](bool) { reply->release(); });
    return;
  }
  std::string body;
  if (!reply->wait_all(body)) {
    reply->release();
    wire.error(res, 503, "servebench sim: server stopping");
    return;
  }
  if (plan.mid_reply() == FaultPlan::MidReply::drop) {
    // Content-Length promises the whole body; the connection closes after half of it.
    reply->dropped = true;
    res.set_content_provider(
        body.size(), "application/json",
        [reply, body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          if (offset == 0) sink.write(body.data(), body.size() / 2);
          return false;
        },
        [reply](bool) { reply->release(); });
    return;
  }
  reply->release();
  res.set_content(body, "application/json");
}

}  // namespace detail

// A simulated inference server on a cpp-httplib server of its own. start() returns once the port listens;
// stop() (or the destructor) aborts every reply in progress and returns when every thread has ended.
class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) { options_.validate(); }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start() {
    if (state_) throw std::logic_error("servebench::sim::Server: already started");
    auto state = std::make_unique<detail::ServerState>(options_);
    auto& http = state->http_;
    const std::size_t threads = options_.threads();
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_keep_alive_max_count(options_.keep_alive_max_count());
    http.set_keep_alive_timeout(options_.keep_alive_timeout_s());
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_tcp_nodelay(true);  // one SSE event per token: Nagle would hold each behind the previous one's ACK
    // cpp-httplib 0.11.4 listens with a backlog of 5: a burst of connects then waits on SYN retries (about 1 s).
    // Keep the listening socket's descriptor so it can listen again with a real backlog (Linux updates the backlog
    // of a socket that already listens). Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let a second
    // server bind a port already in use without an error.
    auto listen_fd = std::make_shared<std::atomic<int>>(-1);
    http.set_socket_options([listen_fd](auto sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      int expected = -1;
      listen_fd->compare_exchange_strong(expected, static_cast<int>(sock));
    });
    state->install_routes();

    errno = 0;
    int port = options_.port();
    bool bound = false;
    if (port == 0) {
      port = http.bind_to_any_port(options_.host());
      bound = port > 0;
    } else {
      bound = http.bind_to_port(options_.host(), port);
    }
    const int bind_errno = errno;
    if (!bound) {
      throw std::runtime_error("servebench::sim::Server: cannot listen on " + options_.host() + ":" +
                               std::to_string(options_.port()) + ": " +
                               (bind_errno ? std::strerror(bind_errno) : "bind failed"));
    }
    if (listen_fd->load() >= 0) ::listen(listen_fd->load(), options_.listen_backlog());
    state->port_ = port;
    state->engine_.start();
    auto* raw = state.get();
    auto listen_returned = std::make_shared<std::atomic<bool>>(false);
    state->listen_thread_ = std::thread([raw, listen_returned] {
      raw->http_.listen_after_bind();
      *listen_returned = true;
    });
    // cpp-httplib's stop() does nothing until its accept loop runs: wait for it, so stop() right after start()
    // cannot leave the loop running forever. (Connections that come meanwhile wait in the backlog.)
    while (!http.is_running() && !*listen_returned) std::this_thread::sleep_for(std::chrono::microseconds(200));
    state_ = std::move(state);
  }

  int port() const { return state_ ? state_->port_ : 0; }
  std::string url() const { return "http://" + url_host() + ":" + std::to_string(port()); }
  const ServerOptions& options() const { return options_; }
  bool running() const { return state_ != nullptr; }

  void stop() {
    if (!state_) return;
    auto& s = *state_;
    {
      std::lock_guard<std::mutex> lock(s.stop_mutex_);
      s.stopping_ = true;
    }
    s.stop_cv_.notify_all();
    s.engine_.stop();  // wakes every reply waiting for tokens
    s.http_.stop();
    if (s.listen_thread_.joinable()) s.listen_thread_.join();
    last_stats_ = stats();
    state_.reset();
  }

  ServerStats stats() const {
    if (!state_) return last_stats_;
    ServerStats st;
    {
      std::lock_guard<std::mutex> lock(state_->stats_mutex_);
      st = state_->stats_;
    }
    st.tokens = state_->engine_.tokens();
    st.max_batch = state_->engine_.max_batch();
    std::tie(st.prompt_tokens, st.cached_prompt_tokens) = state_->engine_.prompt_tokens();
    return st;
  }

  // For each streamed reply since the last call: its first and last token write, the sim_timing stamp and the
  // time from it to the write's return; what GET /sim/write_windows gives. Empty once stopped.
  WriteWindows take_write_windows() { return state_ ? state_->take_write_windows() : WriteWindows{}; }

  // Every change of the engine's running and waiting counts while it ran (the ground truth of /metrics); empty
  // once stopped.
  std::vector<detail::EngineCounts> engine_history() const {
    return state_ ? state_->engine_.counts_history() : std::vector<detail::EngineCounts>{};
  }

 private:
  std::string url_host() const {
    const auto& h = options_.host();
    return (h == "0.0.0.0" || h.empty()) ? "127.0.0.1" : h;
  }

  ServerOptions options_;
  std::unique_ptr<detail::ServerState> state_;
  ServerStats last_stats_;
};

}  // namespace sim
}  // namespace servebench
// ---- end servebench/sim/server.hpp ----
// ---- end servebench/sim.hpp ----
