// servebench — what every transport shares about one exchange: the request a dialect and DriverOptions make
// (PreparedRequest), and the ReplyReader that turns the reply's status, bytes and end into one RequestRecord, timed
// at the moments docs/metrics.md defines and classified into one ErrorKind. The transport (Driver's cpp-httplib
// client, or the event loop of <servebench/event_loop.hpp>) only moves bytes and says how the exchange ended
// (TransportFailure); so the accounting, and every fault test of it, is the same whichever carried the request.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "driver_options.hpp"
#include "record.hpp"
#include "sse.hpp"
#include "url.hpp"
#include "workload.hpp"

namespace servebench::detail {

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

template <class = void>  // deferred: see serialize.hpp
void fail(RequestRecord& r, ErrorKind kind, std::string message) {
  if (!r.ok()) return;  // the first cause wins
  r.error_kind = kind;
  r.error_message = std::move(message);
}

// Why a request in flight must stop: cancel() (any thread) or its deadline (the watchdog, or the event loop).
struct RequestStop {
  std::atomic<int> cancel_reason{static_cast<int>(ErrorKind::none)};
  std::atomic<bool> deadline_hit{false};

  ErrorKind cancelled() const noexcept { return static_cast<ErrorKind>(cancel_reason.load()); }
  bool stopped() const noexcept { return cancelled() != ErrorKind::none || deadline_hit.load(); }
};

// How the transport ended an exchange that did not complete. `tls` and `other` come with the transport's own
// message (ReplyReader::finish's `detail`).
enum class TransportFailure { none, connect, connect_timeout, tls, write, read, other };

// Classifies a transport's failure into the record: `silent` is how long the socket had been quiet when it failed,
// `status` the reply's status (-1: none yet), `bytes` the body bytes read.
template <class = void>  // deferred: see serialize.hpp
void fail_transport(RequestRecord& record, TransportFailure failure, const std::string& detail,
                    const DriverOptions& options, const BaseUrl& url, Nanos silent, int status, std::size_t bytes) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  const Nanos read_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.read_timeout()).count();
  switch (failure) {
    case TransportFailure::connect:
      if (!host_resolves(url.host))
        fail(record, ErrorKind::name_resolution, "cannot resolve host '" + url.host + "'");
      else
        fail(record, ErrorKind::connect_refused, "cannot connect to " + where + " (refused or unreachable)");
      return;
    case TransportFailure::connect_timeout:
      fail(record, ErrorKind::connect_timeout,
           "no connection to " + where + " within " + std::to_string(options.connect_timeout().count()) + " ms");
      return;
    case TransportFailure::tls: fail(record, ErrorKind::tls, detail); return;
    case TransportFailure::write:
      fail(record, ErrorKind::write_failed, "could not write the request to " + where);
      return;
    case TransportFailure::read:
      // A read that failed is a timeout or a closed connection; how long the socket had been silent tells them
      // apart (a timeout waits the whole read timeout; a close ends sooner).
      if (silent >= read_timeout_ns - read_timeout_ns / 10) {
        fail(record, ErrorKind::read_timeout,
             "the server was silent for " + std::to_string(options.read_timeout().count()) + " ms");
      } else if (status < 0 && bytes == 0) {
        fail(record, ErrorKind::empty_reply, "the server closed the connection without a reply");
      } else {
        fail(record, ErrorKind::closed_mid_stream,
             "the connection closed after " + std::to_string(bytes) + " bytes of the reply");
      }
      return;
    case TransportFailure::none:
    case TransportFailure::other: fail(record, ErrorKind::other, detail + " talking to " + where); return;
  }
}

// Why a connection could not be opened, as a request's record would say it (a transport's connect() returns it).
template <class = void>  // deferred: see serialize.hpp
std::string connect_failure(const DriverOptions& options, const BaseUrl& url, TransportFailure failure,
                            const std::string& detail = {}) {
  RequestRecord record;
  fail_transport(record, failure, detail, options, url, 0, -1, 0);
  return record.error_message.empty() ? "cannot connect" : record.error_message;
}

// One request as the dialect and the options make it: what to POST where, and what kind of reply to expect.
struct PreparedRequest {
  std::string path;  // the base URL's prefix and the dialect's path
  std::string body;  // JSON
  bool streaming = false;
  bool continuous_usage = false;
};

template <class Api>
PreparedRequest prepare_request(const Api& api, const DriverOptions& options, const BaseUrl& url,
                                const Prompt& prompt) {
  GenerationOptions generation = options.generation();
  generation.stream = generation.stream && api::streams_v<Api>;
  api::HttpCall call = api.request(prompt, generation);
  if (call.body.is_object() && options.extra_body().is_object()) call.body.update(options.extra_body());
  PreparedRequest request;
  request.path = url.prefix + call.path;
  // A prompt that is not valid UTF-8 is sent with replacement characters rather than failing the request.
  request.body = call.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.streaming = generation.stream;
  request.continuous_usage = generation.continuous_usage;
  return request;
}

// The headers every request carries besides Host, Content-Length and the bearer token, in order.
template <class = void>  // deferred: see serialize.hpp
std::vector<std::pair<std::string, std::string>> request_headers(const DriverOptions& options, bool streaming) {
  std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Type", "application/json"}, {"Accept", streaming ? "text/event-stream" : "application/json"}};
  for (const auto& h : options.headers()) headers.push_back(h);
  return headers;
}

// Reads one reply into its record. The transport calls on_status() when the status line and headers are in,
// on_bytes() with each piece of the body as it arrives (timestamped first, in the reading thread), and finish() once
// when the exchange ended. Its members are sized before the request (expect()) so that on_bytes allocates only after
// taking its timestamp.
template <class Api>
class ReplyReader {
 public:
  static constexpr bool can_stream = api::streams_v<Api>;

  ReplyReader(const Api& api, const DriverOptions& options, const BaseUrl& url, const RequestStop& stop,
              RequestRecord& record)
      : api_(&api), options_(&options), url_(&url), stop_(&stop), record_(&record) {}

  // Before sending: what kind of reply comes, and room for it. Sets t_send and the record's `streamed`. `buffer`:
  // room for a body that an earlier reader gave back (release_buffer()), so that a transport sending request after
  // request on one connection allocates none.
  void expect(const PreparedRequest& request, const Prompt& prompt, std::string buffer = {}) {
    streaming_ = request.streaming;
    keep_text_ = options_->keep_text();
    max_bytes_ = options_->max_reply_bytes();
    deadline_ = options_->deadline_for(prompt.max_tokens);
    record_->streamed = streaming_;
    if (streaming_) {
      record_->event_times.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens + 2 : 16));
      if (request.continuous_usage) record_->event_tokens.reserve(record_->event_times.capacity());
      if (keep_text_)
        record_->text.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens : 0) * 8);
    } else {
      body_ = std::move(buffer);
      body_.clear();
      body_.reserve(4096);
    }
  }

  // This request's whole-request deadline; zero: none.
  DriverOptions::Duration deadline() const noexcept { return deadline_; }
  Nanos deadline_ns() const noexcept { return std::chrono::duration_cast<std::chrono::nanoseconds>(deadline_).count(); }

  // Just before the first byte goes out (connect time counts: a user waits for it too).
  void sent(Nanos at) noexcept {
    record_->t_send = at;
    last_activity_ = at;
  }

  Nanos last_activity() const noexcept { return last_activity_; }

  void on_status(int status, Nanos at) noexcept {
    last_activity_ = at;
    status_ = status;
  }

  // A piece of the body, arrived at `arrived`. False: stop reading (the record says why, or the request stopped).
  bool on_bytes(Nanos arrived, const char* data, std::size_t n) noexcept {
    try {
      last_activity_ = arrived;
      bytes_ += n;
      if (stop_->stopped()) return false;
      if (bytes_ > max_bytes_) {
        fail(*record_, ErrorKind::reply_too_large,
             "the reply passed " + std::to_string(max_bytes_) + " bytes (DriverOptions::max_reply_bytes)");
        failed_ = true;
        return false;
      }
      if (status_ >= 400) {  // an error page: only its start is kept
        keep_start(data, n);
        return true;
      }
      if (!streaming_) {
        body_.append(data, n);
        record_->t_end = arrived;  // the last call brings the last byte
        return true;
      }
      keep_start(data, n);
      parser_.feed(std::string_view(data, n), [&](const SseEvent& event) { on_event(event, arrived); });
      return !failed_;
    } catch (const std::exception& e) {
      fail(*record_, ErrorKind::other, std::string("while reading the reply: ") + e.what());
      failed_ = true;
      return false;
    }
  }

  // The exchange ended at `returned`: completed (failure none: the whole reply was read) or not, with the
  // transport's message for tls and other. Classifies the outcome into the record.
  void finish(TransportFailure failure, Nanos returned, const std::string& detail = {}) {
    RequestRecord& record = *record_;
    record.http_status = status_ > 0 ? status_ : 0;
    classify(failure, returned, detail);
    if (!record.ok()) {
      if (record.t_end == 0 || record.t_end < record.t_send) record.t_end = returned;
      if (record.body_start.empty()) record.body_start = first_bytes(body_);
    }
  }

 private:
  void keep_start(const char* data, std::size_t n) {
    if (body_.size() < 512) body_.append(data, std::min<std::size_t>(n, 512 - body_.size()));
  }

  void on_event(const SseEvent& event, Nanos arrived) {
    if (failed_ || terminated_) return;  // nothing after the terminator counts
    if constexpr (can_stream) {
      RequestRecord& record = *record_;
      auto parsed = api::read_event(*api_, event.data);
      if (!parsed.ok()) {
        fail(record, parsed.error, std::move(parsed.message));
        failed_ = true;
        return;
      }
      auto& e = parsed.value;
      if (e.carries_text && !record.t_first_answer_token) record.t_first_answer_token = arrived;
      if (e.carries_text || e.carries_other_tokens) {
        if (text_events_ == 0) record.t_first_token = arrived;
        record.t_end = arrived;
        record.event_times.push_back(arrived);
        // Counts per event only when every token-carrying event has one (continuous usage stats).
        if (e.completion_tokens && counts_per_event_)
          record.event_tokens.push_back(*e.completion_tokens);
        else if (counts_per_event_)
          counts_per_event_ = false, record.event_tokens.clear();
        ++text_events_;
        if (keep_text_ && e.carries_text) record.text += e.text;
      }
      take_counts(e, record);
      terminated_ = e.terminator;
    } else {
      (void)event;
      (void)arrived;
    }
  }

  void classify(TransportFailure failure, Nanos returned, const std::string& detail) {
    RequestRecord& record = *record_;
    if (!record.ok()) return;  // the receiver already classified it (a bad event)
    if (failure != TransportFailure::none && stop_->stopped()) {
      if (const auto reason = stop_->cancelled(); reason != ErrorKind::none)
        fail(record, reason, "cancelled while in flight");
      else
        fail(record, ErrorKind::deadline_exceeded,
             "no complete reply within the deadline of " + std::to_string(deadline_.count()) + " ms" +
                 (options_->deadline() ? "" : " (derived from max_tokens: DriverOptions::deadline)"));
      return;
    }
    if (failure != TransportFailure::none) {
      fail_transport(record, failure, detail, *options_, *url_, returned - last_activity_, status_, bytes_);
      return;
    }
    if (status_ >= 400) {
      record.body_start = first_bytes(body_);
      fail(record, ErrorKind::http_status, "HTTP status " + std::to_string(status_));
      return;
    }
    if (streaming_) {
      parser_.finish([&](const SseEvent& event) { on_event(event, last_activity_); });
      if (!record.ok()) return;
      if (!terminated_) {
        fail(record, bytes_ == 0 ? ErrorKind::empty_reply : ErrorKind::incomplete_stream,
             bytes_ == 0 ? "the stream had no body" : "the stream ended without its terminator");
        return;
      }
      if (record.token_source != TokenSource::usage && text_events_ > 0) {
        record.n_out = text_events_;
        record.token_source = TokenSource::events;
      }
      if (text_events_ == 0) record.t_first_token = record.t_end = last_activity_;
      return;
    }
    if (body_.empty()) {
      fail(record, ErrorKind::empty_reply, "HTTP " + std::to_string(status_) + " with an empty body");
      return;
    }
    auto parsed = api::read_reply(*api_, body_);
    if (!parsed.ok()) {
      fail(record, parsed.error, std::move(parsed.message));
      return;
    }
    record.t_first_token = record.t_end;
    if (!parsed.value.text.empty()) record.t_first_answer_token = record.t_end;
    take_counts(parsed.value, record);
    if (keep_text_) record.text = std::move(parsed.value.text);
  }

 public:
  // After finish(): the body's room, emptied, for the next reader's expect().
  std::string release_buffer() {
    body_.clear();
    return std::move(body_);
  }

 private:
  const Api* api_;
  const DriverOptions* options_;
  const BaseUrl* url_;
  const RequestStop* stop_;
  RequestRecord* record_;
  bool streaming_ = false;
  bool keep_text_ = true;
  std::size_t max_bytes_ = 0;
  DriverOptions::Duration deadline_{};  // this request's; zero: none
  int status_ = -1;                     // -1: no status line yet
  Nanos last_activity_ = 0;             // last byte (or header) arrival
  std::size_t bytes_ = 0;
  std::string body_;  // non-streaming body, or the start of any failed one
  SseParser parser_;
  bool terminated_ = false;
  std::int64_t text_events_ = 0;  // events that carried a generated token of any kind
  bool counts_per_event_ = true;  // every token-carrying event so far had a cumulative completion_tokens
  bool failed_ = false;
};

}  // namespace servebench::detail
