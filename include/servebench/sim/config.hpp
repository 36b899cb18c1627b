// servebench::sim — what a simulated server is made of, as plain data: the engine's parameters (EngineConfig), the
// faults to inject (FaultConfig), the fluent ServerOptions a user builds a server from, and the ServerStats it
// reports. Nothing here runs; engine.hpp, faults.hpp and server.hpp read these.
//
// Durations: engine parameters are model milliseconds, divided by ServerOptions::time_scale in real time (20 =
// twenty times faster). Fault durations (stall, jitter, slow reply) are real seconds, because they are there to meet
// a client's real timeout.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../serialize.hpp"

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
