// servebench — Driver<Api>, the default transport: one HTTP exchange with an inference server becomes one
// RequestRecord, over cpp-httplib. What is asked (DriverOptions, driver_options.hpp) and how the reply becomes a
// record, timed at the moments docs/metrics.md defines (ReplyReader, reply.hpp), are shared with the event-loop
// transport (<servebench/event_loop.hpp>).
//
// One Driver per worker thread: it owns one cpp-httplib client (keep-alive, TCP_NODELAY; connection.hpp: it can
// open its connection before the first request); the process's one watchdog thread (watchdog.hpp) enforces the
// whole-request deadline and cancel() by stopping the client from outside.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "connection.hpp"
#include "driver_options.hpp"
#include "record.hpp"
#include "reply.hpp"
#include "url.hpp"
#include "watchdog.hpp"
#include "workload.hpp"

namespace servebench {

template <class Api>
class Driver {
 public:
  // Throws std::invalid_argument when the base URL cannot be parsed or https cannot be used (a cpp-httplib without
  // TLS, a client certificate without its key); nothing else throws.
  explicit Driver(DriverOptions options, Api api = {})
      : options_(std::move(options)), api_(std::move(api)), url_(detail::parse_base_url(options_.base_url())),
        label_(target_label(options_)), state_(std::make_unique<deferred<detail::WatchedRequest, Api>>()) {
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
      const auto [failure, detail] = transport_failure(error);
      return detail::connect_failure(options_, url_, failure, detail);
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
  void send_into(const Prompt& prompt, RequestRecord& record) {
    auto& state = *state_;
    if (const auto reason = state.cancelled(); reason != ErrorKind::none) {
      detail::fail(record, reason, "cancelled before sending");
      return;
    }
    const detail::PreparedRequest prepared = detail::prepare_request(api_, options_, url_, prompt);
    httplib::Request request;
    request.method = "POST";
    request.path = prepared.path;
    for (auto& [name, value] : detail::request_headers(options_, prepared.streaming))
      request.headers.emplace(std::move(name), std::move(value));
    request.body = prepared.body;

    detail::ReplyReader<Api> reader(api_, options_, url_, state, record);
    reader.expect(prepared, prompt);
    request.response_handler = [&reader](const httplib::Response& response) {
      reader.on_status(response.status, now_ns());
      return true;
    };
    request.content_receiver = [&reader](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      const Nanos arrived = now_ns();  // first: before any allocation or parsing
      return reader.on_bytes(arrived, data, n);
    };

    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const Nanos deadline_ns = reader.deadline_ns();
    reader.sent(now_ns());  // just before the first byte: connect time counts, as a user waits for it too
    state.begin(deadline_ns > 0 ? record.t_send + deadline_ns : 0);
    const bool completed = state.client->send(request, response, error);
    const Nanos returned = now_ns();
    state.end();
    record.t_connect = state.connect->take_connected();
    if (completed) {
      reader.finish(detail::TransportFailure::none, returned);
    } else {
      const auto [failure, message] = transport_failure(error);
      reader.finish(failure, returned, message);
    }
  }

  // What cpp-httplib's error means in the terms every transport shares, with the message for tls and other.
  std::pair<detail::TransportFailure, std::string> transport_failure(httplib::Error error) const {
    using detail::TransportFailure;
    switch (error) {
      case httplib::Error::Success: return {TransportFailure::none, {}};
      case httplib::Error::Connection: return {TransportFailure::connect, {}};
      case httplib::Error::ConnectionTimeout: return {TransportFailure::connect_timeout, {}};
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        return {TransportFailure::tls, detail::tls_failure(url_, error, options_.tls())};
      case httplib::Error::Write: return {TransportFailure::write, {}};
      // cpp-httplib 0.11.4 reports a timeout and a closed connection both as Read (the reader tells them apart).
      case httplib::Error::Read: return {TransportFailure::read, {}};
      default: return {TransportFailure::other, "cpp-httplib error " + std::to_string(static_cast<int>(error))};
    }
  }

  DriverOptions options_;
  Api api_;
  detail::BaseUrl url_;
  std::string label_;
  std::unique_ptr<deferred<detail::WatchedRequest, Api>> state_;  // deferred: see serialize.hpp
};

}  // namespace servebench
