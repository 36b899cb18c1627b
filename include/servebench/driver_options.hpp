// servebench — DriverOptions: how to reach a server and what to ask of it (URL, model, headers, TLS, generation
// settings, timeouts and deadlines, reply limits), read by every transport; and target_label().
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "url.hpp"

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
  template <class = void>  // deferred: see serialize.hpp
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
    fixed_deadline_ = true;
    return *this;
  }
  template <class Deferred = void>  // deferred: see serialize.hpp
  std::optional<deferred<Duration, Deferred>> deadline() const noexcept {
    if (fixed_deadline_) return deadline_;
    return std::nullopt;
  }
  // Back to the derived deadline, with this base and per-token allowance.
  DriverOptions& derived_deadline(Duration base = std::chrono::seconds(60),
                                  Duration per_token = std::chrono::seconds(1)) {
    fixed_deadline_ = false;
    deadline_base_ = base;
    deadline_per_token_ = per_token;
    return *this;
  }
  Duration deadline_base() const noexcept { return deadline_base_; }
  Duration deadline_per_token() const noexcept { return deadline_per_token_; }
  // The deadline a request for `max_tokens` gets: the fixed one, or the derived one; zero means none.
  Duration deadline_for(int max_tokens) const noexcept {
    if (fixed_deadline_) return deadline_;
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
  Duration deadline_{0};
  bool fixed_deadline_ = false;  // false: derived per request (deadline_for)
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

}  // namespace servebench
