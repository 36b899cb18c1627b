// servebench — one request's record, and the summary of a level (one concurrency level or rate, one target).
// Metric definitions follow docs/metrics.md exactly; they are the same in code, docs and artifacts.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
  connect_refused,      // nothing listens at the address
  name_resolution,      // the host name does not resolve
  connect_timeout,      // no TCP connection within the connect timeout
  read_timeout,         // the server went silent longer than the read timeout
  write_failed,         // the request could not be written
  deadline_exceeded,    // the whole-request deadline (or the level timeout) passed
  http_status,          // HTTP status >= 400; status and start of body kept
  invalid_json,         // a reply body or stream event was not valid JSON
  missing_field,        // valid JSON without the field the dialect needs
  incomplete_stream,    // the stream ended cleanly but without its terminator ([DONE] or final event)
  closed_mid_stream,    // the connection dropped after some of the reply arrived
  empty_reply,          // the server closed the connection without a reply
  interrupted,          // the run was stopped (Ctrl-C, SIGTERM) while this request was in flight
  other,
};

inline const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::none: return "none";
    case ErrorKind::connect_refused: return "connect_refused";
    case ErrorKind::name_resolution: return "name_resolution";
    case ErrorKind::connect_timeout: return "connect_timeout";
    case ErrorKind::read_timeout: return "read_timeout";
    case ErrorKind::write_failed: return "write_failed";
    case ErrorKind::deadline_exceeded: return "deadline_exceeded";
    case ErrorKind::http_status: return "http_status";
    case ErrorKind::invalid_json: return "invalid_json";
    case ErrorKind::missing_field: return "missing_field";
    case ErrorKind::incomplete_stream: return "incomplete_stream";
    case ErrorKind::closed_mid_stream: return "closed_mid_stream";
    case ErrorKind::empty_reply: return "empty_reply";
    case ErrorKind::interrupted: return "interrupted";
    case ErrorKind::other: return "other";
  }
  return "other";
}

inline ErrorKind error_kind_from_string(const std::string& name) {
  for (int k = static_cast<int>(ErrorKind::none); k <= static_cast<int>(ErrorKind::other); ++k)
    if (name == to_string(static_cast<ErrorKind>(k))) return static_cast<ErrorKind>(k);
  throw std::invalid_argument("unknown error kind '" + name + "'");
}

// Where n_out came from. Never a silent guess from words.
enum class TokenSource {
  none,    // unknown: the server reported no count and there were no stream events
  usage,   // the server's usage.completion_tokens (or the dialect's equivalent)
  events,  // the number of text-carrying stream events (the server sent no usage)
};

inline const char* to_string(TokenSource source) noexcept {
  switch (source) {
    case TokenSource::none: return "none";
    case TokenSource::usage: return "usage";
    case TokenSource::events: return "events";
  }
  return "none";
}

inline TokenSource token_source_from_string(const std::string& name) {
  if (name == "none") return TokenSource::none;
  if (name == "usage") return TokenSource::usage;
  if (name == "events") return TokenSource::events;
  throw std::invalid_argument("unknown token source '" + name + "'");
}

inline void to_json(nlohmann::json& j, ErrorKind kind) { j = to_string(kind); }
inline void from_json(const nlohmann::json& j, ErrorKind& kind) { kind = error_kind_from_string(j.get<std::string>()); }
inline void to_json(nlohmann::json& j, TokenSource source) { j = to_string(source); }
inline void from_json(const nlohmann::json& j, TokenSource& source) {
  source = token_source_from_string(j.get<std::string>());
}

struct RequestRecord {
  std::string target;         // label of the server it went to ("hf", "vllm", ...)
  std::uint64_t index = 0;    // position in the workload
  bool warmup = false;        // sent to warm the server; never enters statistics
  bool streamed = false;      // the reply was a stream of events (TTFT, TPOT and ITL are defined only then)

  Nanos t_sched = 0;          // when it was meant to go
  Nanos t_send = 0;           // just before the first request byte was written (0: never sent)
  Nanos t_first_token = 0;    // first text-carrying event (streaming) or t_end (not streaming)
  Nanos t_end = 0;            // last text-carrying event, or the last byte of a non-streaming reply
  std::vector<Nanos> event_times;  // arrival of every text-carrying event (streaming only)

  std::int64_t n_in = -1;     // prompt tokens when the server reported them, else -1
  std::int64_t n_out = 0;
  TokenSource token_source = TokenSource::none;

  int http_status = 0;
  ErrorKind error_kind = ErrorKind::none;
  std::string error_message;  // what went wrong, for a person
  std::string body_start;     // first 512 bytes of the reply body when it failed

  std::string text;           // the generated text (may be left empty to save memory)

  // Ground truth from a servebench::sim server, on the same steady clock when client and server share a process:
  // when it wrote its first and last token. 0 when the server does not report them.
  Nanos server_first_token = 0;
  Nanos server_end = 0;

  bool ok() const noexcept { return error_kind == ErrorKind::none; }
  bool interrupted() const noexcept { return error_kind == ErrorKind::interrupted; }

  double latency_s() const noexcept { return ns_to_s(t_end - t_send); }
  double latency_from_sched_s() const noexcept { return ns_to_s(t_end - t_sched); }
  double client_queue_s() const noexcept { return ns_to_s(t_send - t_sched); }
  double ttft_s() const noexcept { return ns_to_s(t_first_token - t_send); }
  // (latency - ttft) / (n_out - 1); only meaningful when n_out > 1.
  std::optional<double> tpot_s() const noexcept {
    if (n_out <= 1) return std::nullopt;
    return ns_to_s(t_end - t_first_token) / static_cast<double>(n_out - 1);
  }
};

inline void to_json(nlohmann::json& j, const RequestRecord& r) {
  j = nlohmann::json{{"target", r.target},
                     {"index", r.index},
                     {"warmup", r.warmup},
                     {"streamed", r.streamed},
                     {"t_sched", r.t_sched},
                     {"t_send", r.t_send},
                     {"t_first_token", r.t_first_token},
                     {"t_end", r.t_end},
                     {"event_times", r.event_times},
                     {"n_in", r.n_in},
                     {"n_out", r.n_out},
                     {"token_source", r.token_source},
                     {"http_status", r.http_status},
                     {"error_kind", r.error_kind},
                     {"error_message", r.error_message},
                     {"body_start", r.body_start},
                     {"text", r.text},
                     {"server_first_token", r.server_first_token},
                     {"server_end", r.server_end}};
}

inline void from_json(const nlohmann::json& j, RequestRecord& r) {
  j.at("target").get_to(r.target);
  j.at("index").get_to(r.index);
  r.warmup = j.value("warmup", false);
  r.streamed = j.value("streamed", false);
  j.at("t_sched").get_to(r.t_sched);
  j.at("t_send").get_to(r.t_send);
  j.at("t_first_token").get_to(r.t_first_token);
  j.at("t_end").get_to(r.t_end);
  r.event_times = j.value("event_times", std::vector<Nanos>{});
  r.n_in = j.value("n_in", std::int64_t{-1});
  j.at("n_out").get_to(r.n_out);
  r.token_source = j.value("token_source", TokenSource::none);
  r.http_status = j.value("http_status", 0);
  j.at("error_kind").get_to(r.error_kind);
  r.error_message = j.value("error_message", std::string{});
  r.body_start = j.value("body_start", std::string{});
  r.text = j.value("text", std::string{});
  r.server_first_token = j.value("server_first_token", Nanos{0});
  r.server_end = j.value("server_end", Nanos{0});
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

struct SummarizeOptions {
  PercentileMethod method = PercentileMethod::linear;
  Slo slo;
};

// One level of one target. Durations in the summaries are seconds. A summary is absent (null in JSON) when it has
// no samples: for example TTFT when nothing was streamed, or latency when every request failed.
struct LevelSummary {
  std::string target;
  double level = 0;           // concurrency, or the request rate for open loop; set by whoever ran the level
  std::size_t sent = 0;       // successful + failed + interrupted
  std::size_t successful = 0;
  std::size_t failed = 0;
  std::size_t interrupted = 0;
  std::map<std::string, std::size_t> failed_by_kind;
  double wall_s = 0;          // first t_send to last t_end
  double throughput_req_per_sec = 0;
  double output_tokens_per_sec = 0;
  std::int64_t total_output_tokens = 0;
  std::optional<double> goodput_req_per_sec;  // only when SLOs were given
  std::optional<Summary> latency, latency_from_sched, client_queue, ttft, tpot, itl;
};

inline LevelSummary summarize(const std::vector<RequestRecord>& records, const SummarizeOptions& options = {}) {
  LevelSummary s;
  std::vector<double> latency, latency_from_sched, client_queue, ttft, tpot, itl;
  Nanos first_send = 0, last_end = 0;
  bool any_sent = false;
  std::size_t good = 0;
  for (const auto& r : records) {
    if (r.warmup) continue;
    if (s.target.empty()) s.target = r.target;
    ++s.sent;
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
    latency.push_back(r.latency_s());
    latency_from_sched.push_back(r.latency_from_sched_s());
    client_queue.push_back(r.client_queue_s());
    if (r.streamed) {
      ttft.push_back(r.ttft_s());
      if (auto t = r.tpot_s()) tpot.push_back(*t);
      for (std::size_t i = 1; i < r.event_times.size(); ++i)
        itl.push_back(ns_to_s(r.event_times[i] - r.event_times[i - 1]));
    }
    if (options.slo.met_by(r)) ++good;
  }
  s.wall_s = any_sent ? ns_to_s(last_end - first_send) : 0.0;
  if (s.wall_s > 0) {
    s.throughput_req_per_sec = static_cast<double>(s.successful) / s.wall_s;
    s.output_tokens_per_sec = static_cast<double>(s.total_output_tokens) / s.wall_s;
    if (options.slo.any()) s.goodput_req_per_sec = static_cast<double>(good) / s.wall_s;
  } else if (options.slo.any()) {
    s.goodput_req_per_sec = 0.0;
  }
  auto maybe = [&](std::vector<double>& v) -> std::optional<Summary> {
    if (v.empty()) return std::nullopt;
    return summarize_samples(std::move(v), options.method);
  };
  s.latency = maybe(latency);
  s.latency_from_sched = maybe(latency_from_sched);
  s.client_queue = maybe(client_queue);
  s.ttft = maybe(ttft);
  s.tpot = maybe(tpot);
  s.itl = maybe(itl);
  return s;
}

// One level's outcome: its summary and (optionally) every record. What schedulers return and artifacts hold.
struct LevelResult {
  LevelSummary summary;
  std::vector<RequestRecord> records;
};

namespace detail {
template <class T>
void put_optional(nlohmann::json& j, const char* key, const std::optional<T>& value) {
  if (value)
    j[key] = *value;
  else
    j[key] = nullptr;
}
template <class T>
void get_optional(const nlohmann::json& j, const char* key, std::optional<T>& value) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    value.reset();
  else
    value = it->template get<T>();
}
}  // namespace detail

inline void to_json(nlohmann::json& j, const LevelSummary& s) {
  j = nlohmann::json{{"target", s.target},
                     {"level", s.level},
                     {"sent", s.sent},
                     {"successful", s.successful},
                     {"failed", s.failed},
                     {"interrupted", s.interrupted},
                     {"failed_by_kind", s.failed_by_kind},
                     {"wall_s", s.wall_s},
                     {"throughput_req_per_sec", s.throughput_req_per_sec},
                     {"output_tokens_per_sec", s.output_tokens_per_sec},
                     {"total_output_tokens", s.total_output_tokens}};
  detail::put_optional(j, "goodput_req_per_sec", s.goodput_req_per_sec);
  detail::put_optional(j, "latency", s.latency);
  detail::put_optional(j, "latency_from_sched", s.latency_from_sched);
  detail::put_optional(j, "client_queue", s.client_queue);
  detail::put_optional(j, "ttft", s.ttft);
  detail::put_optional(j, "tpot", s.tpot);
  detail::put_optional(j, "itl", s.itl);
}

inline void from_json(const nlohmann::json& j, LevelSummary& s) {
  j.at("target").get_to(s.target);
  j.at("level").get_to(s.level);
  j.at("sent").get_to(s.sent);
  j.at("successful").get_to(s.successful);
  j.at("failed").get_to(s.failed);
  s.interrupted = j.value("interrupted", std::size_t{0});
  s.failed_by_kind = j.value("failed_by_kind", std::map<std::string, std::size_t>{});
  j.at("wall_s").get_to(s.wall_s);
  j.at("throughput_req_per_sec").get_to(s.throughput_req_per_sec);
  j.at("output_tokens_per_sec").get_to(s.output_tokens_per_sec);
  s.total_output_tokens = j.value("total_output_tokens", std::int64_t{0});
  detail::get_optional(j, "goodput_req_per_sec", s.goodput_req_per_sec);
  detail::get_optional(j, "latency", s.latency);
  detail::get_optional(j, "latency_from_sched", s.latency_from_sched);
  detail::get_optional(j, "client_queue", s.client_queue);
  detail::get_optional(j, "ttft", s.ttft);
  detail::get_optional(j, "tpot", s.tpot);
  detail::get_optional(j, "itl", s.itl);
}

inline void to_json(nlohmann::json& j, const LevelResult& r) {
  j = nlohmann::json{{"summary", r.summary}, {"records", r.records}};
}
inline void from_json(const nlohmann::json& j, LevelResult& r) {
  j.at("summary").get_to(r.summary);
  r.records = j.value("records", std::vector<RequestRecord>{});
}

}  // namespace servebench
