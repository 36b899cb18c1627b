// servebench — Driver<Api>: one HTTP exchange with an inference server becomes one RequestRecord, timed at the
// moments docs/metrics.md defines; and wait_until_ready(), which replaces a fixed `sleep 60` before a run.
//
// One Driver per worker thread: it owns one cpp-httplib Client (keep-alive, TCP_NODELAY) and one small watchdog
// thread that enforces the whole-request deadline and cancel() by stopping the client from outside.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "record.hpp"
#include "sse.hpp"
#include "workload.hpp"

namespace servebench {

// How to reach a server and what to ask of it. Fluent: setters return *this; a getter of the same name reads.
class DriverOptions {
 public:
  using Duration = std::chrono::milliseconds;

  // "http://host:port/prefix"; the dialect's path is appended to the prefix.
  DriverOptions& base_url(std::string url) { base_url_ = std::move(url); return *this; }
  const std::string& base_url() const noexcept { return base_url_; }
  // Sent as "Authorization: Bearer <key>" when not empty.
  DriverOptions& api_key(std::string key) { api_key_ = std::move(key); return *this; }
  const std::string& api_key() const noexcept { return api_key_; }
  DriverOptions& model(std::string name) { generation_.model = std::move(name); return *this; }
  const std::string& model() const noexcept { return generation_.model; }
  // The label records carry ("hf", "vllm", ...).
  DriverOptions& target(std::string label) { target_ = std::move(label); return *this; }
  const std::string& target() const noexcept { return target_; }
  DriverOptions& stream(bool on) { generation_.stream = on; return *this; }
  bool stream() const noexcept { return generation_.stream; }
  DriverOptions& temperature(double t) { generation_.temperature = t; return *this; }
  double temperature() const noexcept { return generation_.temperature; }
  DriverOptions& ignore_eos(bool on) { generation_.ignore_eos = on; return *this; }
  bool ignore_eos() const noexcept { return generation_.ignore_eos; }
  DriverOptions& min_tokens(std::optional<int> n) { generation_.min_tokens = n; return *this; }
  std::optional<int> min_tokens() const noexcept { return generation_.min_tokens; }
  DriverOptions& connect_timeout(Duration d) { connect_timeout_ = d; return *this; }
  Duration connect_timeout() const noexcept { return connect_timeout_; }
  // The longest the server may stay silent (between two reads), not the length of a whole reply.
  DriverOptions& read_timeout(Duration d) { read_timeout_ = d; return *this; }
  Duration read_timeout() const noexcept { return read_timeout_; }
  DriverOptions& write_timeout(Duration d) { write_timeout_ = d; return *this; }
  Duration write_timeout() const noexcept { return write_timeout_; }
  // The longest one whole request may take, from t_send; zero means none. A connect in progress is not
  // interrupted (cpp-httplib holds its socket lock while connecting): connect_timeout bounds that part.
  DriverOptions& deadline(Duration d) { deadline_ = d; return *this; }
  Duration deadline() const noexcept { return deadline_; }
  // Keep the generated text in each record; off saves memory in long runs.
  DriverOptions& keep_text(bool on) { keep_text_ = on; return *this; }
  bool keep_text() const noexcept { return keep_text_; }

  // The generation settings as dialects take them.
  const GenerationOptions& generation() const noexcept { return generation_; }

 private:
  std::string base_url_ = "http://127.0.0.1:8000";
  std::string api_key_;
  std::string target_;
  GenerationOptions generation_;
  Duration connect_timeout_ = std::chrono::seconds(10);
  Duration read_timeout_ = std::chrono::seconds(600);  // a non-streaming reply from a busy server is silent for long
  Duration write_timeout_ = std::chrono::seconds(30);
  Duration deadline_ = Duration::zero();
  bool keep_text_ = true;
};

namespace detail {

struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  int port = 0;
  std::string prefix;  // "" or "/something", no trailing slash
};

// Parses "http://host[:port][/prefix]"; throws std::invalid_argument with what is wrong.
inline BaseUrl parse_base_url(const std::string& url) {
  BaseUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw std::invalid_argument("base URL '" + url + "' has no scheme (expected http://host:port/prefix)");
  out.scheme = url.substr(0, scheme_end);
  if (out.scheme != "http" && out.scheme != "https")
    throw std::invalid_argument("base URL '" + url + "': scheme must be http or https");
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.prefix = rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("base URL '" + url + "': unclosed '['");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') throw std::invalid_argument("base URL '" + url + "': junk after ']'");
      has_port = true;
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) throw std::invalid_argument("base URL '" + url + "' has no host");
  if (!has_port) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    std::size_t used = 0;
    int port = -1;
    try {
      port = std::stoi(port_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port_text.size() || port <= 0 || port > 65535)
      throw std::invalid_argument("base URL '" + url + "': bad port '" + port_text + "'");
    out.port = port;
  }
  return out;
}

inline std::unique_ptr<httplib::Client> make_client(const BaseUrl& url) {
  if (url.scheme == "http") return std::make_unique<httplib::Client>(url.host, url.port);
  const bool v6 = url.host.find(':') != std::string::npos;
  return std::make_unique<httplib::Client>(url.scheme + "://" + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                                           std::to_string(url.port));
}

// cpp-httplib reports a failed name lookup and a refused connection alike (Error::Connection); asking the resolver
// again tells them apart. Only called after a failure, so it never costs a measured request anything.
inline bool host_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (result) freeaddrinfo(result);
  return rc == 0;
}

inline std::string first_bytes(std::string_view text, std::size_t limit = 512) {
  return std::string(text.substr(0, limit));
}

// Shared by the Driver and its watchdog thread. Kept behind a pointer so a Driver can move.
struct DriverState {
  std::unique_ptr<httplib::Client> client;
  std::mutex mutex;
  std::condition_variable wake;
  bool in_flight = false;
  bool stopping = false;
  Nanos deadline_at = 0;                  // 0: none
  std::atomic<bool> deadline_hit{false};
  std::atomic<int> cancel_reason{static_cast<int>(ErrorKind::none)};
  std::thread watchdog;

  ErrorKind cancelled() const noexcept { return static_cast<ErrorKind>(cancel_reason.load()); }

  void start() {
    watchdog = std::thread([this] { watch(); });
  }

  void shut_down() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  void begin(Nanos deadline) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      in_flight = true;
      deadline_at = deadline;
      deadline_hit = false;
    }
    // The watchdog needs waking only to arm a deadline (cancel() wakes it itself); waking it for every request cost
    // two context switches per request (bench/bench_client_overhead).
    if (deadline != 0) wake.notify_all();
  }

  // Taking the mutex waits out a stop() in progress, so a stop aimed at this request never hits the next one.
  void end() {
    std::lock_guard<std::mutex> lock(mutex);
    in_flight = false;
    deadline_at = 0;
  }

  void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (in_flight) {
        const bool cancel = cancelled() != ErrorKind::none;
        if (cancel || (deadline_at != 0 && now_ns() >= deadline_at)) {
          if (!cancel) deadline_hit = true;
          client->stop();
          // A stop() that lands before the request has its socket does nothing, so repeat until the request ends.
          wake.wait_for(lock, std::chrono::milliseconds(2));
          continue;
        }
        if (deadline_at != 0) {
          wake.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_at)));
          continue;
        }
      }
      wake.wait(lock);
    }
  }
};

// Applies the reply's counts and ground truth to the record.
template <class Counts>
void take_counts(const Counts& c, RequestRecord& r) {
  if (c.completion_tokens) {
    r.n_out = *c.completion_tokens;
    r.token_source = TokenSource::usage;
  }
  if (c.prompt_tokens) r.n_in = *c.prompt_tokens;
  if (c.server_first_token) r.server_first_token = c.server_first_token;
  if (c.server_end) r.server_end = c.server_end;
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
  // Throws std::invalid_argument when the base URL cannot be parsed; nothing else throws.
  explicit Driver(DriverOptions options, Api api = {})
      : options_(std::move(options)), api_(std::move(api)), url_(detail::parse_base_url(options_.base_url())),
        state_(std::make_unique<detail::DriverState>()) {
    auto& client = *(state_->client = detail::make_client(url_));
    client.set_tcp_nodelay(true);  // without it every POST waits ~40 ms on Nagle + delayed ACK
    client.set_keep_alive(true);
    client.set_follow_location(false);
    client.set_connection_timeout(options_.connect_timeout());
    client.set_read_timeout(options_.read_timeout());
    client.set_write_timeout(options_.write_timeout());
    if (!options_.api_key().empty()) client.set_bearer_token_auth(options_.api_key());
    state_->start();
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
      record.target = options_.target();
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

  // Thread-safe: aborts the request in flight so it ends with `reason`, and makes later sends return at once
  // with it, until clear_cancel().
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (reason == ErrorKind::none) reason = ErrorKind::interrupted;
    state_->cancel_reason = static_cast<int>(reason);
    state_->wake.notify_all();
  }
  void clear_cancel() { state_->cancel_reason = static_cast<int>(ErrorKind::none); }
  bool cancelled() const noexcept { return state_->cancelled() != ErrorKind::none; }

  const DriverOptions& options() const noexcept { return options_; }
  const Api& api() const noexcept { return api_; }

 private:
  static constexpr bool can_stream = api::streams_v<Api>;

  // Everything the content receiver touches. Its members are sized before the request so that the receiver takes
  // its timestamp first and allocates only afterwards.
  struct Exchange {
    const Api* api = nullptr;
    RequestRecord* record = nullptr;
    detail::DriverState* state = nullptr;
    bool streaming = false;
    bool keep_text = true;
    int status = -1;           // -1: no status line yet
    Nanos last_activity = 0;   // last byte (or header) arrival
    std::size_t bytes = 0;
    std::string body;          // non-streaming body, or the start of any failed one
    SseParser parser;
    bool terminated = false;
    std::int64_t text_events = 0;
    bool failed = false;

    bool on_bytes(Nanos arrived, const char* data, std::size_t n) noexcept {
      try {
        last_activity = arrived;
        bytes += n;
        if (state->cancelled() != ErrorKind::none || state->deadline_hit) return false;
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
        if (e.carries_text) {
          if (text_events == 0) record->t_first_token = arrived;
          record->t_end = arrived;
          record->event_times.push_back(arrived);
          ++text_events;
          if (keep_text) record->text += e.text;
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

    const api::HttpCall call = api_.request(prompt, generation);
    httplib::Request request;
    request.method = "POST";
    request.path = url_.prefix + call.path;
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", generation.stream ? "text/event-stream" : "application/json"}};
    // A prompt that is not valid UTF-8 is sent with replacement characters rather than failing the request.
    request.body = call.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    Exchange x;
    x.api = &api_;
    x.record = &record;
    x.state = &state;
    x.streaming = generation.stream;
    x.keep_text = options_.keep_text();
    if (x.streaming) {
      record.event_times.reserve(static_cast<std::size_t>(prompt.max_tokens > 0 ? prompt.max_tokens + 2 : 16));
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
    const Nanos deadline_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.deadline()).count();
    record.t_send = now_ns();  // just before the first byte: connect time counts, as a user waits for it too
    x.last_activity = record.t_send;
    state.begin(deadline_ns > 0 ? record.t_send + deadline_ns : 0);
    const bool completed = state.client->send(request, response, error);
    const Nanos returned = now_ns();
    state.end();

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
                     "no complete reply within the deadline of " + std::to_string(options_.deadline().count()) + " ms");
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
  std::unique_ptr<detail::DriverState> state_;
};

// One line for a person: why a request failed and what to try. For programs that send a request and stop.
inline std::string describe_failure(const RequestRecord& r, const std::string& base_url) {
  std::string line = std::string(to_string(r.error_kind)) + ": " + r.error_message;
  switch (r.error_kind) {
    case ErrorKind::connect_refused:
    case ErrorKind::connect_timeout:
      return line + " (is the server running at " + base_url + "? start it, or check the URL)";
    case ErrorKind::name_resolution: return line + " (check the host name in " + base_url + ")";
    case ErrorKind::http_status: {
      std::string body = r.body_start.substr(0, 200);
      for (char& c : body)
        if (c == '\n' || c == '\r') c = ' ';
      return line + (body.empty() ? "" : ": " + body) + " (check the API dialect, the model name and the URL's path)";
    }
    default: return line;
  }
}

// The outcome of wait_until_ready: ready or not, which probe answered, or why it never did.
struct ReadyResult {
  bool ready = false;
  std::string probe;   // "/health", "/v1/models" or "/v1/completions" when ready
  std::string reason;  // the last reason it was not ready
  double waited_s = 0;
  explicit operator bool() const noexcept { return ready; }
};

namespace detail {
inline std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "connection refused or host unknown";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "connection closed or read timed out";
    case httplib::Error::Write: return "write failed";
    default: return "cpp-httplib error " + std::to_string(static_cast<int>(error));
  }
}
}  // namespace detail

// Polls the server at base_url until it answers, or until `deadline` has passed: GET /health (vLLM, TGI), then
// GET /v1/models (OpenAI-compatible servers), then a 1-token POST /v1/completions (the lab's Flask server has only
// that). A 5xx from /health means "starting" and is waited on. Backs off from 100 ms to 2 s between rounds and
// says what it is waiting for on `log` (nullptr: silent) when the first round fails and every 10 s after.
inline ReadyResult wait_until_ready(const std::string& base_url, std::chrono::milliseconds deadline,
                                    std::ostream* log = &std::cerr) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  ReadyResult result;
  detail::BaseUrl url;
  try {
    url = detail::parse_base_url(base_url);
  } catch (const std::exception& e) {
    result.reason = e.what();
    return result;
  }
  auto client = detail::make_client(url);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  auto backoff = std::chrono::milliseconds(100);
  auto next_log = start;
  bool logged = false;
  for (;;) {
    const auto left = deadline - std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
    // A probe never outlives the deadline by much: reads are bounded by what is left (at least 1 s).
    client->set_read_timeout(std::max<std::chrono::milliseconds>(left, std::chrono::seconds(1)));
    std::string why;
    if (auto health = client->Get(url.prefix + "/health")) {
      if (health->status == 200) {
        result.probe = "/health";
      } else if (health->status >= 500) {
        why = "/health answered " + std::to_string(health->status) + " (starting)";
      } else if (auto models = client->Get(url.prefix + "/v1/models"); models && models->status == 200) {
        result.probe = "/v1/models";
      } else {
        const std::string body = R"({"prompt":"Hello","max_tokens":1})";
        auto one = client->Post(url.prefix + "/v1/completions", body, "application/json");
        if (one && one->status == 200)
          result.probe = "/v1/completions";
        else
          why = one ? "a 1-token request answered " + std::to_string(one->status) : detail::describe(one.error());
      }
    } else {
      why = detail::describe(health.error());
    }
    result.waited_s = std::chrono::duration<double>(clock::now() - start).count();
    if (!result.probe.empty()) {
      result.ready = true;
      if (log && logged)
        *log << "servebench: " << base_url << " is ready after " << result.waited_s << " s (" << result.probe
             << ")\n";
      return result;
    }
    result.reason = why;
    const auto now = clock::now();
    if (now - start >= deadline) {
      if (log)
        *log << "servebench: gave up waiting for " << base_url << " after " << result.waited_s << " s: " << why
             << "\n";
      return result;
    }
    if (log && now >= next_log) {
      *log << "servebench: waiting for " << base_url << " (" << why << "); " << static_cast<long>(result.waited_s)
           << " s of " << deadline.count() / 1000 << " s\n";
      logged = true;
      next_log = now + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::min<clock::duration>(backoff, deadline - (now - start)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace servebench
