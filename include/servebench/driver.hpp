// servebench — Driver<Api>: one HTTP exchange with an inference server becomes one RequestRecord, timed at the
// moments docs/metrics.md defines; and wait_until_ready(), which replaces a fixed `sleep 60` before a run.
//
// One Driver per worker thread: it owns one cpp-httplib client (keep-alive, TCP_NODELAY; connection.hpp: it can
// open its connection before the first request); the process's one watchdog thread (watchdog.hpp) enforces the
// whole-request deadline and cancel() by stopping the client from outside.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "connection.hpp"
#include "record.hpp"
#include "sse.hpp"
#include "url.hpp"
#include "watchdog.hpp"
#include "workload.hpp"

namespace servebench {

// How to reach a server and what to ask of it. Fluent: setters return *this; a getter of the same name reads.
class DriverOptions {
 public:
  using Duration = std::chrono::milliseconds;

  // "http://host:port/prefix"; the dialect's path is appended to the prefix.
  // clang-format off: one line per fluent setter, as everywhere in the library
  DriverOptions& base_url(std::string url) {
    base_url_ = std::move(url);
    return *this;
  }
  const std::string& base_url() const noexcept { return base_url_; }
  // Sent as "Authorization: Bearer <key>" when not empty.
  DriverOptions& api_key(std::string key) {
    api_key_ = std::move(key);
    return *this;
  }
  const std::string& api_key() const noexcept { return api_key_; }
  DriverOptions& model(std::string name) {
    generation_.model = std::move(name);
    return *this;
  }
  const std::string& model() const noexcept { return generation_.model; }
  // Another header sent with every request ("X-Api-Version", "2"); repeatable.
  DriverOptions& header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
  // JSON fields merged into every request body, over the dialect's own ({"top_p": 0.9, "seed": 1}, vendor fields).
  DriverOptions& extra_body(nlohmann::json fields) {
    extra_body_ = std::move(fields);
    return *this;
  }
  const nlohmann::json& extra_body() const noexcept { return extra_body_; }
  // https: the CA to trust, a client certificate, or no verification at all (insecure).
  DriverOptions& tls(TlsOptions options) {
    tls_ = std::move(options);
    return *this;
  }
  const TlsOptions& tls() const noexcept { return tls_; }
  // What records, results, tables and charts call this server. Empty: the host and port of base_url.
  DriverOptions& label(std::string name) {
    label_ = std::move(name);
    return *this;
  }
  const std::string& label() const noexcept { return label_; }
  DriverOptions& stream(bool on) {
    generation_.stream = on;
    return *this;
  }
  bool stream() const noexcept { return generation_.stream; }
  DriverOptions& temperature(double t) {
    generation_.temperature = t;
    return *this;
  }
  double temperature() const noexcept { return generation_.temperature; }
  DriverOptions& ignore_eos(bool on) {
    generation_.ignore_eos = on;
    return *this;
  }
  bool ignore_eos() const noexcept { return generation_.ignore_eos; }
  DriverOptions& min_tokens(std::optional<int> n) {
    generation_.min_tokens = n;
    return *this;
  }
  std::optional<int> min_tokens() const noexcept { return generation_.min_tokens; }
  // Ask for a usage object in every stream chunk (vLLM's stream_options.continuous_usage_stats): the record then
  // holds each event's token count (event_tokens) and the summary a per-token ITL. Only for servers that accept it.
  DriverOptions& continuous_usage_stats(bool on) {
    generation_.continuous_usage = on;
    return *this;
  }
  bool continuous_usage_stats() const noexcept { return generation_.continuous_usage; }
  // Every reply exactly max_tokens long where the dialect can ask for it (GenerationOptions::force_output_length).
  DriverOptions& force_output_length(bool on) {
    generation_.force_output_length = on;
    return *this;
  }
  bool force_output_length() const noexcept { return generation_.force_output_length; }
  DriverOptions& connect_timeout(Duration d) {
    connect_timeout_ = d;
    return *this;
  }
  Duration connect_timeout() const noexcept { return connect_timeout_; }
  // The longest the server may stay silent (between two reads), not the length of a whole reply.
  DriverOptions& read_timeout(Duration d) {
    read_timeout_ = d;
    return *this;
  }
  Duration read_timeout() const noexcept { return read_timeout_; }
  DriverOptions& write_timeout(Duration d) {
    write_timeout_ = d;
    return *this;
  }
  Duration write_timeout() const noexcept { return write_timeout_; }
  // The longest one whole request may take, from t_send. Unset (the default), each request's own is derived:
  //   deadline = deadline_base + deadline_per_token x max_tokens   (60 s + 1 s per token; max_tokens <= 0 counts 4096)
  // so a server dripping a byte at a time, never silent for a whole read timeout, still ends as deadline_exceeded.
  // deadline(d) fixes it for every request; deadline(0ms) means none (only the read timeout and the level timeout
  // bound a request then). A deadline ends its request within about 5 ms of passing (the watchdog looks every
  // 5 ms, watchdog.hpp). A connect in progress is not interrupted (cpp-httplib holds its socket lock while
  // connecting): connect_timeout bounds that part.
  DriverOptions& deadline(Duration d) {
    deadline_ = d;
    return *this;
  }
  std::optional<Duration> deadline() const noexcept { return deadline_; }
  // Back to the derived deadline, with this base and per-token allowance.
  DriverOptions& derived_deadline(Duration base = std::chrono::seconds(60),
                                  Duration per_token = std::chrono::seconds(1)) {
    deadline_.reset();
    deadline_base_ = base;
    deadline_per_token_ = per_token;
    return *this;
  }
  Duration deadline_base() const noexcept { return deadline_base_; }
  Duration deadline_per_token() const noexcept { return deadline_per_token_; }
  // The deadline a request for `max_tokens` gets: the fixed one, or the derived one; zero means none.
  Duration deadline_for(int max_tokens) const noexcept {
    if (deadline_) return *deadline_;
    return deadline_base_ + deadline_per_token_ * (max_tokens > 0 ? max_tokens : unbounded_reply_tokens);
  }
  // What the derived deadline assumes of a request without max_tokens (the server decides its length).
  static constexpr int unbounded_reply_tokens = 4096;
  // The most bytes one reply may bring; past it the request ends as reply_too_large, so a server that sends without
  // end cannot take the client's memory. 64 MiB by default: thousands of times a long LLM reply.
  DriverOptions& max_reply_bytes(std::size_t n) {
    max_reply_bytes_ = n;
    return *this;
  }
  std::size_t max_reply_bytes() const noexcept { return max_reply_bytes_; }
  // Keep the generated text in each record; off saves memory in long runs.
  DriverOptions& keep_text(bool on) {
    keep_text_ = on;
    return *this;
  }
  // clang-format on
  bool keep_text() const noexcept { return keep_text_; }

  // The generation settings as dialects take them.
  const GenerationOptions& generation() const noexcept { return generation_; }

 private:
  std::string base_url_ = "http://127.0.0.1:8000";
  std::string api_key_;
  std::string label_;
  std::vector<std::pair<std::string, std::string>> headers_;
  nlohmann::json extra_body_ = nlohmann::json(nlohmann::json::value_t::object);
  TlsOptions tls_;
  GenerationOptions generation_;
  Duration connect_timeout_ = std::chrono::seconds(10);
  Duration read_timeout_ = std::chrono::seconds(600);  // a non-streaming reply from a busy server is silent for long
  Duration write_timeout_ = std::chrono::seconds(30);
  std::optional<Duration> deadline_;  // unset: derived per request (deadline_for)
  Duration deadline_base_ = std::chrono::seconds(60);
  Duration deadline_per_token_ = std::chrono::seconds(1);
  bool keep_text_ = true;
  std::size_t max_reply_bytes_ = std::size_t{64} << 20;
};

// What records call the server of `options`: its label, or host:port of its base URL when the label is empty.
// Throws std::invalid_argument when the base URL cannot be parsed.
inline std::string target_label(const DriverOptions& options) {
  if (!options.label().empty()) return options.label();
  const auto url = detail::parse_base_url(options.base_url());
  return url.host + ":" + std::to_string(url.port);
}

namespace detail {

inline std::string first_bytes(std::string_view text, std::size_t limit = 512) {
  return std::string(text.substr(0, limit));
}

// Applies the reply's counts and ground truth to the record.
template <class Counts>
void take_counts(const Counts& c, RequestRecord& r) {
  if (c.completion_tokens) {
    r.n_out = *c.completion_tokens;
    r.token_source = TokenSource::usage;
  }
  if (c.prompt_tokens) r.n_in = *c.prompt_tokens;
  if (c.reasoning_tokens) r.n_reasoning = *c.reasoning_tokens;
  if (c.cached_prompt_tokens) r.n_in_cached = *c.cached_prompt_tokens;
  if (c.server_timing) r.server_timing = c.server_timing;
}

inline void fail(RequestRecord& r, ErrorKind kind, std::string message) {
  if (!r.ok()) return;  // the first cause wins
  r.error_kind = kind;
  r.error_message = std::move(message);
}

}  // namespace detail

template <class Api>
class Driver {
 public:
  // Throws std::invalid_argument when the base URL cannot be parsed or https cannot be used (a cpp-httplib without
  // TLS, a client certificate without its key); nothing else throws.
  explicit Driver(DriverOptions options, Api api = {})
      : options_(std::move(options)), api_(std::move(api)), url_(detail::parse_base_url(options_.base_url())),
        label_(target_label(options_)), state_(std::make_unique<detail::WatchedRequest>()) {
    auto connection = detail::make_connection(url_, options_.tls());
    state_->connect = connection.control;
    auto& client = *(state_->client = std::move(connection.client));
    client.set_tcp_nodelay(true);  // without it every POST waits ~40 ms on Nagle + delayed ACK
    client.set_keep_alive(true);
    client.set_follow_location(false);
    client.set_connection_timeout(options_.connect_timeout());
    client.set_read_timeout(options_.read_timeout());
    client.set_write_timeout(options_.write_timeout());
    if (!options_.api_key().empty()) client.set_bearer_token_auth(options_.api_key());
    state_->watch();
  }
  ~Driver() {
    if (state_) state_->shut_down();
  }
  Driver(Driver&&) noexcept = default;
  Driver& operator=(Driver&& other) noexcept {
    if (this != &other) {
      if (state_) state_->shut_down();
      options_ = std::move(other.options_);
      api_ = std::move(other.api_);
      url_ = std::move(other.url_);
      label_ = std::move(other.label_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Sends one request and waits for the whole reply. t_sched = 0 means "now". Never throws: every outcome is in
  // the record (ok(), or one error_kind with a message).
  RequestRecord send(const Prompt& prompt, std::uint64_t index = 0, Nanos t_sched = 0) noexcept {
    RequestRecord record;
    try {
      record.target = label_;
      record.index = index;
      record.t_sched = t_sched != 0 ? t_sched : now_ns();
      send_into(prompt, record);
    } catch (const std::exception& e) {
      detail::fail(record, ErrorKind::other, std::string("unexpected: ") + e.what());
    } catch (...) {
      detail::fail(record, ErrorKind::other, "unexpected exception");
    }
    return record;
  }

  // Opens the connection now, unless one is open, so that the next request does not wait for it (the schedulers
  // call this before a level's clock starts; docs/metrics.md, "Connections"). For https the TLS handshake still
  // comes with the first request. Returns an empty string, or why no connection could be opened (the message a
  // request's record would carry: refused, timed out, unknown host). Bounded by connect_timeout; never throws.
  std::string connect() noexcept {
    try {
      httplib::Error error = httplib::Error::Success;
      if (state_->connect->open(error)) return {};
      RequestRecord record;
      Exchange x;
      classify_transport(x, error, now_ns(), record);
      return record.error_message.empty() ? "cannot connect" : record.error_message;
    } catch (const std::exception& e) {
      return std::string("unexpected: ") + e.what();
    }
  }

  // Thread-safe: aborts the request in flight so it ends with `reason`, and makes later sends return at once
  // with it, until clear_cancel().
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (reason == ErrorKind::none) reason = ErrorKind::interrupted;
    state_->cancel(reason);
  }
  void clear_cancel() { state_->cancel_reason = static_cast<int>(ErrorKind::none); }
  bool cancelled() const noexcept { return state_->cancelled() != ErrorKind::none; }

  const DriverOptions& options() const noexcept { return options_; }
  const Api& api() const noexcept { return api_; }
  // The label records carry: options().label(), or host:port when that is empty.
  const std::string& label() const noexcept { return label_; }

 private:
  static constexpr bool can_stream = api::streams_v<Api>;

  // Everything the content receiver touches. Its members are sized before the request so that the receiver takes
  // its timestamp first and allocates only afterwards.
  struct Exchange {
    const Api* api = nullptr;
    RequestRecord* record = nullptr;
    detail::WatchedRequest* state = nullptr;
    bool streaming = false;
    bool keep_text = true;
    std::size_t max_bytes = 0;
    DriverOptions::Duration deadline{};  // this request's; zero: none
    int status = -1;                     // -1: no status line yet
    Nanos last_activity = 0;             // last byte (or header) arrival
    std::size_t bytes = 0;
    std::string body;  // non-streaming body, or the start of any failed one
    SseParser parser;
    bool terminated = false;
    std::int64_t text_events = 0;  // events that carried a generated token of any kind
    bool counts_per_event = true;  // every token-carrying event so far had a cumulative completion_tokens
    bool failed = false;

    bool on_bytes(Nanos arrived, const char* data, std::size_t n) noexcept {
      try {
        last_activity = arrived;
        bytes += n;
        if (state->cancelled() != ErrorKind::none || state->deadline_hit) return false;
        if (bytes > max_bytes) {
          detail::fail(*record, ErrorKind::reply_too_large,
                       "the reply passed " + std::to_string(max_bytes) + " bytes (DriverOptions::max_reply_bytes)");
          failed = true;
          return false;
        }
        if (status >= 400) {  // an error page: only its start is kept
          if (body.size() < 512) body.append(data, std::min<std::size_t>(n, 512 - body.size()));
          return true;
        }
        if (!streaming) {
          body.append(data, n);
          record->t_end = arrived;  // the last call brings the last byte
          return true;
        }
        if (body.size() < 512) body.append(data, std::min<std::size_t>(n, 512 - body.size()));
        parser.feed(std::string_view(data, n), [&](const SseEvent& event) { on_event(event, arrived); });
        return !failed;
      } catch (const std::exception& e) {
        detail::fail(*record, ErrorKind::other, std::string("while reading the reply: ") + e.what());
        failed = true;
        return false;
      }
    }

    void on_event(const SseEvent& event, Nanos arrived) {
      if (failed || terminated) return;  // nothing after the terminator counts
      if constexpr (can_stream) {
        auto parsed = api::read_event(*api, event.data);
        if (!parsed.ok()) {
          detail::fail(*record, parsed.error, std::move(parsed.message));
          failed = true;
          return;
        }
        auto& e = parsed.value;
        if (e.carries_text && !record->t_first_answer_token) record->t_first_answer_token = arrived;
        if (e.carries_text || e.carries_other_tokens) {
          if (text_events == 0) record->t_first_token = arrived;
          record->t_end = arrived;
          record->event_times.push_back(arrived);
          // Counts per event only when every token-carrying event has one (continuous usage stats).
          if (e.completion_tokens && counts_per_event)
            record->event_tokens.push_back(*e.completion_tokens);
          else if (counts_per_event)
            counts_per_event = false, record->event_tokens.clear();
          ++text_events;
          if (keep_text && e.carries_text) record->text += e.text;
        }
        detail::take_counts(e, *record);
        terminated = e.terminator;
      } else {
        (void)event;
        (void)arrived;
      }
    }
  };

  void send_into(const Prompt& prompt, RequestRecord& record) {
    auto& state = *state_;
    if (const auto reason = state.cancelled(); reason != ErrorKind::none) {
      detail::fail(record, reason, "cancelled before sending");
      return;
    }
    GenerationOptions generation = options_.generation();
    generation.stream = generation.stream && can_stream;
    record.streamed = generation.stream;

    api::HttpCall call = api_.request(prompt, generation);
    if (call.body.is_object() && options_.extra_body().is_object()) call.body.update(options_.extra_body());
    httplib::Request request;
    request.method = "POST";
    request.path = url_.prefix + call.path;
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", generation.stream ? "text/event-stream" : "application/json"}};
    for (const auto& [name, value] : options_.headers()) request.headers.emplace(name, value);
    // A prompt that is not valid UTF-8 is sent with replacement characters rather than failing the request.
    request.body = call.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    Exchange x;
    x.api = &api_;
    x.record = &record;
    x.state = &state;
    x.streaming = generation.stream;
    x.keep_text = options_.keep_text();
    x.max_bytes = options_.max_reply_bytes();
    if (x.streaming) {
      record.event_times.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens + 2 : 16));
      if (generation.continuous_usage) record.event_tokens.reserve(record.event_times.capacity());
      if (x.keep_text) record.text.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens : 0) * 8);
    } else {
      x.body.reserve(4096);
    }
    request.response_handler = [&x](const httplib::Response& response) {
      x.last_activity = now_ns();
      x.status = response.status;
      return true;
    };
    request.content_receiver = [&x](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      const Nanos arrived = now_ns();  // first: before any allocation or parsing
      return x.on_bytes(arrived, data, n);
    };

    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    x.deadline = options_.deadline_for(prompt.max_tokens);
    const Nanos deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(x.deadline).count();
    record.t_send = now_ns();  // just before the first byte: connect time counts, as a user waits for it too
    x.last_activity = record.t_send;
    state.begin(deadline_ns > 0 ? record.t_send + deadline_ns : 0);
    const bool completed = state.client->send(request, response, error);
    const Nanos returned = now_ns();
    state.end();
    record.t_connect = state.connect->take_connected();

    record.http_status = x.status > 0 ? x.status : 0;
    finish(x, completed, error, returned, record);
    if (!record.ok()) {
      if (record.t_end == 0 || record.t_end < record.t_send) record.t_end = returned;
      if (record.body_start.empty()) record.body_start = detail::first_bytes(x.body);
    }
  }

  void finish(Exchange& x, bool completed, httplib::Error error, Nanos returned, RequestRecord& record) {
    if (!record.ok()) return;  // the receiver already classified it (a bad event)
    auto& state = *state_;
    const bool stopped = state.cancelled() != ErrorKind::none || state.deadline_hit;
    if (!completed && stopped) {
      if (const auto reason = state.cancelled(); reason != ErrorKind::none)
        detail::fail(record, reason, "cancelled while in flight");
      else
        detail::fail(record, ErrorKind::deadline_exceeded,
                     "no complete reply within the deadline of " + std::to_string(x.deadline.count()) + " ms" +
                         (options_.deadline() ? "" : " (derived from max_tokens: DriverOptions::deadline)"));
      return;
    }
    if (!completed) {
      classify_transport(x, error, returned, record);
      return;
    }
    if (x.status >= 400) {
      record.body_start = detail::first_bytes(x.body);
      detail::fail(record, ErrorKind::http_status, "HTTP status " + std::to_string(x.status));
      return;
    }
    if (x.streaming) {
      x.parser.finish([&](const SseEvent& event) { x.on_event(event, x.last_activity); });
      if (!record.ok()) return;
      if (!x.terminated) {
        detail::fail(record, x.bytes == 0 ? ErrorKind::empty_reply : ErrorKind::incomplete_stream,
                     x.bytes == 0 ? "the stream had no body" : "the stream ended without its terminator");
        return;
      }
      if (record.token_source != TokenSource::usage && x.text_events > 0) {
        record.n_out = x.text_events;
        record.token_source = TokenSource::events;
      }
      if (x.text_events == 0) record.t_first_token = record.t_end = x.last_activity;
      return;
    }
    if (x.body.empty()) {
      detail::fail(record, ErrorKind::empty_reply, "HTTP " + std::to_string(x.status) + " with an empty body");
      return;
    }
    auto parsed = api::read_reply(api_, x.body);
    if (!parsed.ok()) {
      detail::fail(record, parsed.error, std::move(parsed.message));
      return;
    }
    record.t_first_token = record.t_end;
    if (!parsed.value.text.empty()) record.t_first_answer_token = record.t_end;
    detail::take_counts(parsed.value, record);
    if (options_.keep_text()) record.text = std::move(parsed.value.text);
  }

  void classify_transport(const Exchange& x, httplib::Error error, Nanos returned, RequestRecord& record) {
    const std::string where = url_.host + ":" + std::to_string(url_.port);
    const Nanos silent = returned - x.last_activity;
    const Nanos read_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.read_timeout()).count();
    switch (error) {
      case httplib::Error::Connection:
        if (!detail::host_resolves(url_.host))
          detail::fail(record, ErrorKind::name_resolution, "cannot resolve host '" + url_.host + "'");
        else
          detail::fail(record, ErrorKind::connect_refused, "cannot connect to " + where + " (refused or unreachable)");
        return;
      case httplib::Error::ConnectionTimeout:
        detail::fail(record, ErrorKind::connect_timeout,
                     "no connection to " + where + " within " + std::to_string(options_.connect_timeout().count()) +
                         " ms");
        return;
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        detail::fail(record, ErrorKind::tls, detail::tls_failure(url_, error, options_.tls()));
        return;
      case httplib::Error::Write:
        detail::fail(record, ErrorKind::write_failed, "could not write the request to " + where);
        return;
      case httplib::Error::Read:
        // cpp-httplib 0.11.4 reports a timeout and a closed connection both as Read; how long the socket had been
        // silent tells them apart (a timeout waits the whole read timeout; a close ends sooner).
        if (silent >= read_timeout_ns - read_timeout_ns / 10) {
          detail::fail(record, ErrorKind::read_timeout,
                       "the server was silent for " + std::to_string(options_.read_timeout().count()) + " ms");
        } else if (x.status < 0 && x.bytes == 0) {
          detail::fail(record, ErrorKind::empty_reply, "the server closed the connection without a reply");
        } else {
          detail::fail(record, ErrorKind::closed_mid_stream,
                       "the connection closed after " + std::to_string(x.bytes) + " bytes of the reply");
        }
        return;
      default: {
        std::ostringstream text;
        text << "cpp-httplib error " << static_cast<int>(error) << " talking to " << where;
        detail::fail(record, ErrorKind::other, text.str());
        return;
      }
    }
  }

  DriverOptions options_;
  Api api_;
  detail::BaseUrl url_;
  std::string label_;
  std::unique_ptr<detail::WatchedRequest> state_;
};

}  // namespace servebench
