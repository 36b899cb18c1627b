// servebench — one request's record, and the summary of a level (one concurrency level or rate, one target).
// Metric definitions follow docs/metrics.md exactly; they are the same in code, docs and artifacts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "serialize.hpp"
#include "stats.hpp"

namespace servebench {

// steady_clock nanoseconds. Every timestamp in a record is on this clock.
using Nanos = std::int64_t;

inline Nanos now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double ns_to_s(Nanos ns) noexcept { return static_cast<double>(ns) * 1e-9; }

// How a request ended. `none` is success; `interrupted` is neither success nor failure (the run was stopped).
enum class ErrorKind {
  none,
  connect_refused,    // nothing listens at the address
  name_resolution,    // the host name does not resolve
  connect_timeout,    // no TCP connection within the connect timeout
  read_timeout,       // the server went silent longer than the read timeout
  write_failed,       // the request could not be written
  deadline_exceeded,  // the whole-request deadline (or the level timeout) passed
  http_status,        // HTTP status >= 400; status and start of body kept
  invalid_json,       // a reply body or stream event was not valid JSON
  missing_field,      // valid JSON without the field the dialect needs
  incomplete_stream,  // the stream ended cleanly but without its terminator ([DONE] or final event)
  closed_mid_stream,  // the connection dropped after some of the reply arrived
  empty_reply,        // the server closed the connection without a reply
  tls,                // the TLS handshake failed: an untrusted certificate, unreadable certificate files
  reply_too_large,    // the reply grew past the size limit (a server that sends without end)
  interrupted,        // the run was stopped (Ctrl-C, SIGTERM) while this request was in flight
  other,
};

template <>
struct EnumNames<ErrorKind> {
  static constexpr const char* what = "error kind";
  static constexpr EnumName<ErrorKind> entries[] = {
      {ErrorKind::none, "none"},
      {ErrorKind::connect_refused, "connect_refused"},
      {ErrorKind::name_resolution, "name_resolution"},
      {ErrorKind::connect_timeout, "connect_timeout"},
      {ErrorKind::read_timeout, "read_timeout"},
      {ErrorKind::write_failed, "write_failed"},
      {ErrorKind::deadline_exceeded, "deadline_exceeded"},
      {ErrorKind::http_status, "http_status"},
      {ErrorKind::invalid_json, "invalid_json"},
      {ErrorKind::missing_field, "missing_field"},
      {ErrorKind::incomplete_stream, "incomplete_stream"},
      {ErrorKind::closed_mid_stream, "closed_mid_stream"},
      {ErrorKind::empty_reply, "empty_reply"},
      {ErrorKind::tls, "tls"},
      {ErrorKind::reply_too_large, "reply_too_large"},
      {ErrorKind::interrupted, "interrupted"},
      {ErrorKind::other, "other"},
  };
};
SERVEBENCH_ENUM_JSON(ErrorKind)

// Where n_out came from. Never a silent guess from words.
enum class TokenSource {
  none,    // unknown: the server reported no count and there were no stream events
  usage,   // the server's usage.completion_tokens (or the dialect's equivalent)
  events,  // the number of text-carrying stream events (the server sent no usage)
};

template <>
struct EnumNames<TokenSource> {
  static constexpr const char* what = "token source";
  static constexpr EnumName<TokenSource> entries[] = {
      {TokenSource::none, "none"}, {TokenSource::usage, "usage"}, {TokenSource::events, "events"}};
};
SERVEBENCH_ENUM_JSON(TokenSource)

// When the server says it wrote the first and the last token, on the client's steady clock (so only meaningful when
// both share a clock: a simulated server in the same process). Filled by a dialect's server_timing() hook.
struct ServerTiming {
  Nanos first_token = 0;
  Nanos last_token = 0;
  std::optional<Nanos> first_answer_token;  // when reasoning came first: the first answer token
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const ServerTiming*) {
  return field_list<Deferred>(required("first_token", &ServerTiming::first_token),
                              required("last_token", &ServerTiming::last_token),
                              field("first_answer_token", &ServerTiming::first_answer_token));
}

struct RequestRecord {
  std::string target;       // label of the server it went to ("hf", "vllm", ...)
  std::uint64_t index = 0;  // position in the workload
  bool warmup = false;      // sent to warm the server; never enters statistics
  bool streamed = false;    // the reply was a stream of events (TTFT, TPOT and ITL are defined only then)

  Nanos t_sched = 0;                          // when it was meant to go
  Nanos t_send = 0;                           // just before the first request byte was written (0: never sent)
  std::optional<Nanos> t_connect;             // when this request had to open a connection: when it was established
  Nanos t_first_token = 0;                    // first event with a generated token of any kind (streaming), or t_end
  std::optional<Nanos> t_first_answer_token;  // first event with answer text (not reasoning); absent when none
  Nanos t_end = 0;                            // last text-carrying event, or the last byte of a non-streaming reply
  std::vector<Nanos> event_times;             // arrival of every text-carrying event (streaming only)
  // The server's cumulative completion_tokens at each of event_times, when every such event carried one (vLLM's
  // continuous usage stats); empty otherwise. Per-token ITL is defined from it.
  std::vector<std::int64_t> event_tokens;

  std::int64_t n_in = -1;             // prompt tokens when the server reported them, else -1
  std::int64_t n_in_expected = -1;    // the workload's count of the prompt's tokens (Prompt::input_tokens), else -1
  std::int64_t n_out_requested = -1;  // the max_tokens asked for, when a scheduler sent it, else -1
  std::int64_t n_in_cached = -1;      // of n_in, tokens the server found in its prefix cache, when it says, else -1
  std::int64_t n_reasoning = -1;      // of n_out, reasoning tokens (usage.completion_tokens_details), else -1
  std::int64_t n_out = 0;
  TokenSource token_source = TokenSource::none;

  int http_status = 0;
  ErrorKind error_kind = ErrorKind::none;
  std::string error_message;  // what went wrong, for a person
  std::string body_start;     // first 512 bytes of the reply body when it failed

  std::string text;  // the generated text (may be left empty to save memory)

  // The server's own account of when it wrote the first and last token, when its dialect reads one.
  std::optional<ServerTiming> server_timing;

  bool ok() const noexcept { return error_kind == ErrorKind::none; }
  bool interrupted() const noexcept { return error_kind == ErrorKind::interrupted; }

  double latency_s() const noexcept { return ns_to_s(t_end - t_send); }
  double latency_from_sched_s() const noexcept { return ns_to_s(t_end - t_sched); }
  double client_queue_s() const noexcept { return ns_to_s(t_send - t_sched); }
  // How long this request waited for a new connection (t_connect - t_send); empty when it used an open one.
  std::optional<double> connect_s() const noexcept {
    if (!t_connect) return std::nullopt;
    return ns_to_s(*t_connect - t_send);
  }
  double ttft_s() const noexcept { return ns_to_s(t_first_token - t_send); }
  // Time to first answer token: after a reasoning model's reasoning; empty when no answer text came.
  std::optional<double> ttfa_s() const noexcept {
    if (!t_first_answer_token) return std::nullopt;
    return ns_to_s(*t_first_answer_token - t_send);
  }
  // (latency - ttft) / (n_out - 1); only meaningful when n_out > 1.
  std::optional<double> tpot_s() const noexcept {
    if (n_out <= 1) return std::nullopt;
    return ns_to_s(t_end - t_first_token) / static_cast<double>(n_out - 1);
  }
};

// Per-token inter-token latency (docs/metrics.md): an event that brings k >= 1 new tokens a gap g after the previous
// one contributes k samples of g / k; an event that brings none passes its gap on to the next that does. The first
// event's tokens belong to TTFT and give no sample. Appends nothing when the record has no per-event token counts
// (event_tokens) or they do not match event_times, or go down.
template <class Out>
void append_per_token_itl(const RequestRecord& r, Out& out) {
  if (r.event_tokens.size() != r.event_times.size() || r.event_tokens.size() < 2) return;
  for (std::size_t i = 1; i < r.event_tokens.size(); ++i)
    if (r.event_tokens[i] < r.event_tokens[i - 1]) return;
  Nanos gap = 0;
  for (std::size_t i = 1; i < r.event_tokens.size(); ++i) {
    gap += r.event_times[i] - r.event_times[i - 1];
    const std::int64_t k = r.event_tokens[i] - r.event_tokens[i - 1];
    if (k == 0) continue;
    for (std::int64_t j = 0; j < k; ++j) out.push_back(ns_to_s(gap) / static_cast<double>(k));
    gap = 0;
  }
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const RequestRecord*) {
  using R = RequestRecord;
  return field_list<Deferred>(
      required("target", &R::target), required("index", &R::index), field("warmup", &R::warmup),
      field("streamed", &R::streamed), required("t_sched", &R::t_sched), required("t_send", &R::t_send),
      field("t_connect", &R::t_connect), required("t_first_token", &R::t_first_token),
      field("t_first_answer_token", &R::t_first_answer_token), required("t_end", &R::t_end),
      field("event_times", &R::event_times), field("event_tokens", &R::event_tokens), field("n_in", &R::n_in),
      field("n_in_expected", &R::n_in_expected), field("n_out_requested", &R::n_out_requested),
      field("n_in_cached", &R::n_in_cached), field("n_reasoning", &R::n_reasoning), required("n_out", &R::n_out),
      field("token_source", &R::token_source), field("http_status", &R::http_status),
      required("error_kind", &R::error_kind), field("error_message", &R::error_message),
      field("body_start", &R::body_start), field("text", &R::text), field("server_timing", &R::server_timing));
}

// Service-level objectives for goodput: a request counts as good when it succeeded and meets every one given.
struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  std::optional<double> latency_s;

  bool any() const noexcept { return ttft_s || tpot_s || latency_s; }
  bool met_by(const RequestRecord& r) const noexcept {
    if (!r.ok()) return false;
    if (ttft_s && r.ttft_s() > *ttft_s) return false;
    if (tpot_s) {
      const auto tpot = r.tpot_s();
      if (tpot && *tpot > *tpot_s) return false;
    }
    if (latency_s && r.latency_s() > *latency_s) return false;
    return true;
  }
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const Slo*) {
  return field_list<Deferred>(field("ttft_s", &Slo::ttft_s), field("tpot_s", &Slo::tpot_s),
                              field("latency_s", &Slo::latency_s));
}

struct SummarizeOptions {
  PercentileMethod method = PercentileMethod::linear;
  Slo slo;
};

// Mergeable histograms of a level's samples (seconds), beside the exact summaries: shards of one run made by
// several processes merge into the histograms one process would have built (see LogHistogram's stated error).
struct LevelHistograms {
  std::optional<LogHistogram> latency, ttft, tpot, itl;
};

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelHistograms*) {
  using H = LevelHistograms;
  return field_list<Deferred>(field("latency", &H::latency), field("ttft", &H::ttft), field("tpot", &H::tpot),
                              field("itl", &H::itl));
}

// One level of one target. Durations in the summaries are seconds. A summary is absent (null in JSON) when it has
// no samples: for example TTFT when nothing was streamed, or latency when every request failed.
struct LevelSummary {
  std::string target;
  double level = 0;      // concurrency, or the request rate for open loop; set by whoever ran the level
  std::size_t sent = 0;  // successful + failed + interrupted
  std::size_t successful = 0;
  std::size_t failed = 0;
  std::size_t interrupted = 0;
  std::map<std::string, std::size_t> failed_by_kind;
  std::size_t connects = 0;            // requests that had to open a connection (RequestRecord::t_connect)
  double wall_s = 0;                   // first t_send to last t_end
  Nanos first_send = 0, last_end = 0;  // that window on the steady clock of the process that ran the level
  // The load the server saw, whatever was asked: requests in flight (t_send to t_end, failures included), at most
  // and on average over the wall time (the sum of their durations / wall, Little's law).
  std::size_t peak_in_flight = 0;
  double mean_in_flight = 0;
  double throughput_req_per_sec = 0;
  double output_tokens_per_sec = 0;
  std::int64_t total_output_tokens = 0;
  // Prompt tokens as the server reported them (usage.prompt_tokens), over the successful requests that carry a count.
  std::int64_t total_input_tokens = 0;
  std::size_t input_tokens_reported = 0;  // successful requests whose reply carried usage.prompt_tokens
  double input_tokens_per_sec = 0;
  double total_tokens_per_sec = 0;  // input + output
  // Prompts built to a length (Prompt::input_tokens) whose server count differs from it: never silently accepted.
  std::size_t input_length_checked = 0;
  std::size_t input_length_mismatches = 0;
  // Prefix cache, when the server reports it (usage.prompt_tokens_details.cached_tokens): the cached share of the
  // input tokens of the requests that say.
  std::int64_t cached_input_tokens = 0;
  std::optional<double> prefix_hit_rate;
  // Output lengths asked for (max_tokens) against those achieved, over the successful requests.
  std::int64_t requested_output_tokens = 0;
  std::size_t short_outputs = 0;  // successful requests that got fewer tokens than max_tokens (an early EOS)
  std::optional<double> goodput_req_per_sec;  // only when SLOs were given
  std::optional<Summary> latency, latency_from_sched, client_queue, ttft, tpot, itl;
  std::optional<Summary> ttfa;  // streamed requests whose reply had answer text
  // Per-token ITL (append_per_token_itl): only from requests whose server counted the tokens of every chunk.
  std::optional<Summary> itl_per_token;
  LevelHistograms histograms;  // latency, TTFT, TPOT and ITL of the successful requests
};

template <class Records = std::vector<RequestRecord>>
LevelSummary summarize(const Records& records, const SummarizeOptions& options = {}) {
  LevelSummary s;
  std::vector<double> latency, latency_from_sched, client_queue, ttft, tpot, itl, ttfa, itl_per_token;
  Nanos first_send = 0, last_end = 0;
  bool any_sent = false;
  std::size_t good = 0;
  std::int64_t cached_of = 0;  // input tokens of the requests that reported a cached count
  for (const auto& r : records) {
    if (r.warmup) continue;
    if (s.target.empty()) s.target = r.target;
    ++s.sent;
    if (r.t_connect) ++s.connects;
    if (r.t_send > 0) {
      first_send = any_sent ? std::min(first_send, r.t_send) : r.t_send;
      last_end = any_sent ? std::max(last_end, std::max(r.t_end, r.t_send)) : std::max(r.t_end, r.t_send);
      any_sent = true;
    }
    if (r.interrupted()) {
      ++s.interrupted;
      continue;
    }
    if (!r.ok()) {
      ++s.failed;
      ++s.failed_by_kind[to_string(r.error_kind)];
      continue;
    }
    ++s.successful;
    s.total_output_tokens += r.n_out;
    if (r.n_in >= 0) {
      s.total_input_tokens += r.n_in;
      ++s.input_tokens_reported;
      if (r.n_in_expected >= 0) {
        ++s.input_length_checked;
        if (r.n_in != r.n_in_expected) ++s.input_length_mismatches;
      }
    }
    if (r.n_in_cached >= 0 && r.n_in > 0) {
      cached_of += r.n_in;
      s.cached_input_tokens += r.n_in_cached;
    }
    if (r.n_out_requested > 0) {
      s.requested_output_tokens += r.n_out_requested;
      if (r.n_out < r.n_out_requested) ++s.short_outputs;
    }
    latency.push_back(r.latency_s());
    latency_from_sched.push_back(r.latency_from_sched_s());
    client_queue.push_back(r.client_queue_s());
    if (r.streamed) {
      ttft.push_back(r.ttft_s());
      if (auto t = r.ttfa_s()) ttfa.push_back(*t);
      if (auto t = r.tpot_s()) tpot.push_back(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i)
        itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
      append_per_token_itl(r, itl_per_token);
    }
    if (options.slo.met_by(r)) ++good;
  }
  s.wall_s = any_sent ? ns_to_s(last_end - first_send) : 0.0;
  s.first_send = first_send;
  s.last_end = last_end;
  // In flight: +1 at each t_send, -1 at each t_end; ends sort before sends at the same instant.
  std::vector<std::pair<Nanos, int>> edges;
  Nanos busy = 0;
  for (const auto& r : records) {
    if (r.warmup || r.t_send == 0) continue;
    const Nanos end = std::max(r.t_end, r.t_send);
    edges.emplace_back(r.t_send, 1);
    edges.emplace_back(end, -1);
    busy += end - r.t_send;
  }
  std::sort(edges.begin(), edges.end());
  std::size_t now_in_flight = 0;
  for (const auto& [t, step] : edges) {
    now_in_flight = step > 0 ? now_in_flight + 1 : now_in_flight - 1;
    s.peak_in_flight = std::max(s.peak_in_flight, now_in_flight);
  }
  if (s.wall_s > 0) s.mean_in_flight = ns_to_s(busy) / s.wall_s;
  if (s.wall_s > 0) {
    s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
    s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
    s.input_tokens_per_sec = static_cast<double>(s.total_input_tokens) / s.wall_s;
    s.total_tokens_per_sec = s.input_tokens_per_sec + s.output_tokens_per_sec;
    if (options.slo.any()) s.goodput_req_per_sec = static_cast<double>(good) / s.wall_s;
  } else if (options.slo.any()) {
    s.goodput_req_per_sec = 0.0;
  }
  auto histogram = [](const std::vector<double>& v) -> std::optional<LogHistogram> {
    if (v.empty()) return std::nullopt;
    LogHistogram h;
    for (double x : v) h.add(x);
    return h;
  };
  s.histograms = {histogram(latency), histogram(ttft), histogram(tpot), histogram(itl)};
  if (cached_of > 0) s.prefix_hit_rate = static_cast<double>(s.cached_input_tokens) / static_cast<double>(cached_of);
  auto maybe = [&](std::vector<double>& v) -> std::optional<Summary> {
    if (v.empty()) return std::nullopt;
    return summarize_samples(std::move(v), options.method);
  };
  s.latency = maybe(latency);
  s.latency_from_sched = maybe(latency_from_sched);
  s.client_queue = maybe(client_queue);
  s.ttft = maybe(ttft);
  s.ttfa = maybe(ttfa);
  s.tpot = maybe(tpot);
  s.itl = maybe(itl);
  s.itl_per_token = maybe(itl_per_token);
  return s;
}

template <class Deferred = void>  // see "deferred" in serialize.hpp
auto json_fields(const LevelSummary*) {
  using L = LevelSummary;
  return field_list<Deferred>(
      required("target", &L::target), required("level", &L::level), required("sent", &L::sent),
      required("successful", &L::successful), required("failed", &L::failed), field("interrupted", &L::interrupted),
      field("failed_by_kind", &L::failed_by_kind), field("connects", &L::connects), required("wall_s", &L::wall_s),
      field("first_send", &L::first_send), field("last_end", &L::last_end), field("peak_in_flight", &L::peak_in_flight),
      field("mean_in_flight", &L::mean_in_flight), required("throughput_req_per_sec", &L::throughput_req_per_sec),
      required("output_tokens_per_sec", &L::output_tokens_per_sec),
      field("total_output_tokens", &L::total_output_tokens), field("total_input_tokens", &L::total_input_tokens),
      field("input_tokens_reported", &L::input_tokens_reported),
      field("input_tokens_per_sec", &L::input_tokens_per_sec), field("total_tokens_per_sec", &L::total_tokens_per_sec),
      field("input_length_checked", &L::input_length_checked),
      field("input_length_mismatches", &L::input_length_mismatches),
      field("cached_input_tokens", &L::cached_input_tokens), field("prefix_hit_rate", &L::prefix_hit_rate),
      field("requested_output_tokens", &L::requested_output_tokens), field("short_outputs", &L::short_outputs),
      field("goodput_req_per_sec", &L::goodput_req_per_sec), field("latency", &L::latency),
      field("latency_from_sched", &L::latency_from_sched), field("client_queue", &L::client_queue),
      field("ttft", &L::ttft), field("tpot", &L::tpot), field("itl", &L::itl), field("ttfa", &L::ttfa),
      field("itl_per_token", &L::itl_per_token), field("histograms", &L::histograms));
}

}  // namespace servebench
