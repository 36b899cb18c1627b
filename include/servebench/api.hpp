// servebench — request/response dialects: how a prompt becomes an HTTP request body, and how a reply (a whole JSON
// body, or one Server-Sent-Event at a time) becomes text and token counts.
//
// A dialect is a small struct a user can write themselves (examples/custom_dialect.cpp shows one):
//
//   struct my_server {
//     static constexpr const char* name = "my_server";                     // what artifacts call the dialect
//     api::HttpCall request(const Prompt&, const GenerationOptions&) const;  // path + JSON body
//     api::Reply reply(const nlohmann::json& body) const;                   // a whole non-streaming reply
//     api::Event event(const nlohmann::json& data) const;                   // optional: one stream event's data
//     std::optional<ServerTiming> server_timing(const nlohmann::json&) const;  // optional: the server's own times
//     static bool reads_key(std::string_view key);                         // optional: the keys it reads,
//     using reads_keys_of = my_server;                                      //   with its own type named
//   };
//
// A dialect without `event` does not stream: the driver then sends a plain request even when streaming was asked
// for, and the record says `streamed = false`. Dialects read JSON with `.at(...)` and `.get<T>()`; the exceptions
// those throw become ErrorKind::missing_field, and text that is not JSON at all becomes ErrorKind::invalid_json,
// in api::read_reply / api::read_event — a dialect never parses or classifies errors itself. Those two functions
// also handle what every dialect shares: the `[DONE]` stream terminator, and the optional server_timing hook (a
// dialect for a server that reports when it wrote its tokens, such as servebench::sim's, reads them there).
// A dialect with `reads_key` and `reads_keys_of` naming itself is handed a JSON value holding only the object members
// under keys it accepts (at any depth; pruned_json.hpp): the text is still validated whole, but a reply's ids,
// logprobs and the like are never built. Without them the dialect gets the whole document -- so does one derived from
// a built-in dialect (it inherits `reads_keys_of` naming the base) until it names its own keys: a hook it adds may
// read any field.
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "pruned_json.hpp"
#include "record.hpp"
#include "workload.hpp"

namespace servebench {

// Generation settings shared by every request of a run (the prompt and its max_tokens come from Prompt).
struct GenerationOptions {
  std::string model;              // empty: not sent (servers with one model use it)
  double temperature = 0;         // 0: greedy, so runs are repeatable
  bool stream = false;            // ask for a stream of events (only dialects with `event` can)
  bool ignore_eos = false;        // vLLM extension: generate exactly max_tokens
  std::optional<int> min_tokens;  // vLLM extension
  // vLLM extension: stream_options.continuous_usage_stats, a cumulative usage in every stream chunk, so a chunk's
  // token count is known (per-token ITL). Off by default: other servers may reject the unknown field.
  bool continuous_usage = false;
  // Generate exactly each prompt's max_tokens: ignore_eos and min_tokens = max_tokens (vLLM, SGLang, llama.cpp).
  // TGI has no equivalent; the summary's short_outputs then says how many replies ended early.
  bool force_output_length = false;
};

namespace api {

// What to send: a path below the base URL's prefix, and a JSON body to POST there.
struct HttpCall {
  std::string path;
  nlohmann::json body;
};

// A whole non-streaming reply.
struct Reply {
  std::string text;
  std::optional<std::int64_t> completion_tokens;  // the server's count of generated tokens, when it sends one
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> reasoning_tokens;      // of completion_tokens, reasoning (when the server says)
  std::optional<std::int64_t> cached_prompt_tokens;  // of prompt_tokens, found in the server's prefix cache
  std::optional<ServerTiming> server_timing;         // from the dialect's server_timing hook, when it has one
};

// One stream event.
struct Event {
  bool carries_text = false;  // it delivered answer text (role-only deltas, usage chunks, [DONE] do not)
  // It delivered generated tokens that are not answer text: reasoning (`reasoning_content` / `reasoning`) or a tool
  // call. TTFT counts from the first event with either; TTFA from the first with answer text.
  bool carries_other_tokens = false;
  std::string text;
  std::optional<std::int64_t> completion_tokens;
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> reasoning_tokens;
  std::optional<std::int64_t> cached_prompt_tokens;
  bool terminator = false;  // the stream is complete after this event
  std::optional<ServerTiming> server_timing;
};

// A parse outcome: the value, or why there is none.
template <class T>
struct Parsed {
  T value;
  ErrorKind error = ErrorKind::none;
  std::string message;
  bool ok() const noexcept { return error == ErrorKind::none; }
};

// True when the dialect can read stream events (has `Event event(const nlohmann::json&) const`).
template <class Api, class = void>
struct streams : std::false_type {};
template <class Api>
struct streams<Api, std::void_t<decltype(std::declval<const Api&>().event(std::declval<const nlohmann::json&>()))>>
    : std::true_type {};
template <class Api>
inline constexpr bool streams_v = streams<Api>::value;

// The dialect's name as artifacts record it: Api::name, or "custom" for a dialect without one.
template <class Api, class = void>
struct has_name : std::false_type {};
template <class Api>
struct has_name<Api, std::void_t<decltype(Api::name)>> : std::true_type {};
template <class Api>
const char* dialect_name() noexcept {
  if constexpr (has_name<Api>::value)
    return Api::name;
  else
    return "custom";
}

// True when the dialect reads the server's own timing (has `std::optional<ServerTiming> server_timing(json) const`).
template <class Api, class = void>
struct reports_server_timing : std::false_type {};
template <class Api>
struct reports_server_timing<
    Api, std::void_t<decltype(std::declval<const Api&>().server_timing(std::declval<const nlohmann::json&>()))>>
    : std::true_type {};

// True when the dialect names the keys it reads: `static bool reads_key(std::string_view)`, and `reads_keys_of` naming
// the dialect itself (not a base it derives from, whose keys may not be all it reads).
template <class Api, class = void>
struct reads_keys : std::false_type {};
template <class Api>
struct reads_keys<Api, std::void_t<decltype(bool{Api::reads_key(std::string_view())}), typename Api::reads_keys_of>>
    : std::is_same<typename Api::reads_keys_of, Api> {};
template <class Api>
inline constexpr bool reads_keys_v = reads_keys<Api>::value;

// Helpers for dialect writers: whether a value is an integer of int64 range, and an optional integer that may be
// absent or null. A count that is not an integer of
// int64 range (1e30, 5.5, 2^64 - 1) is a type_error, i.e. missing_field: nlohmann's get<std::int64_t>() would convert
// a float out of range with undefined behaviour and wrap a large unsigned into a negative count (found by fuzzing).
template <class Json>
bool is_int64(const Json& value) {
  return value.is_number_integer() &&
         !(value.is_number_unsigned() && value.template get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX));
}
template <class Json>
std::optional<std::int64_t> optional_int(const Json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!is_int64(*it))
    throw nlohmann::json::type_error::create(302, std::string(key) + " is not an integer count", &*it);
  return it->template get<std::int64_t>();
}

namespace detail {

inline bool key_in(std::string_view key, std::initializer_list<std::string_view> keys) noexcept {
  for (const auto k : keys)
    if (k == key) return true;
  return false;
}

// The keys read_usage reads.
inline bool usage_key(std::string_view key) noexcept {
  return key_in(key, {"usage", "completion_tokens", "prompt_tokens", "completion_tokens_details", "reasoning_tokens",
                      "prompt_tokens_details", "cached_tokens"});
}

// The OpenAI-style `usage` object (absent or null in all but the last chunk of a stream).
template <class Out, class Json>
void read_usage(const Json& body, Out& out) {
  const auto it = body.find("usage");
  if (it == body.end() || it->is_null()) return;
  out.completion_tokens = optional_int(*it, "completion_tokens");
  out.prompt_tokens = optional_int(*it, "prompt_tokens");
  if (const auto details = it->find("completion_tokens_details"); details != it->end() && details->is_object())
    out.reasoning_tokens = optional_int(*details, "reasoning_tokens");
  // vLLM and SGLang with prefix caching, OpenAI: usage.prompt_tokens_details.cached_tokens.
  if (const auto details = it->find("prompt_tokens_details"); details != it->end() && details->is_object())
    out.cached_prompt_tokens = optional_int(*details, "cached_tokens");
}

inline std::string excerpt(std::string_view text, std::size_t limit = 120) {
  std::string out(text.substr(0, limit));
  if (text.size() > limit) out += "...";
  return out;
}

template <class T, class Api, class Read>
Parsed<T> parse_with(const Api& api, std::string_view text, const char* what, Read&& read) {
  using Json = deferred<nlohmann::json, Api>;
  Parsed<T> out;
  // Parsing without exceptions keeps the common failure (a truncated or HTML body) cheap and exact.
  Json j;
  bool valid = false;
  if constexpr (reads_keys_v<Api>) {
    valid = servebench::detail::parse_pruned(text, j, [](std::string_view key) { return Api::reads_key(key); });
  } else {
    j = Json::parse(text.begin(), text.end(), nullptr, false);
    valid = !j.is_discarded();
  }
  if (!valid) {
    out.error = ErrorKind::invalid_json;
    out.message = std::string(what) + " is not valid JSON: " + excerpt(text);
    return out;
  }
  try {
    out.value = read(j);
  } catch (const typename Json::exception& e) {
    // out_of_range: a key is missing; type_error: it is there but null or of another type. Both mean the
    // dialect's field is not where it must be.
    out.error = ErrorKind::missing_field;
    out.message = std::string(what) + " lacks a field the dialect needs (" + e.what() + "): " + excerpt(text);
    return out;
  } catch (const std::exception& e) {
    out.error = ErrorKind::other;
    out.message = std::string(what) + ": " + e.what();
    return out;
  }
  if constexpr (reports_server_timing<Api>::value) {
    try {
      out.value.server_timing = api.server_timing(j);
    } catch (const std::exception&) {
      // A malformed report of the server's own timing never fails a request the server did serve.
    }
  }
  return out;
}

// The first element of `choices`, or nullptr when the list is empty (a usage-only chunk).
template <class Json>
const Json* first_choice(const Json& body) {
  const auto& choices = body.at("choices");
  if (!choices.is_array()) throw nlohmann::json::type_error::create(302, "choices is not an array", &choices);
  return choices.empty() ? nullptr : &choices.front();
}

// The first element of `choices` in a whole reply, where an empty list means the field the dialect needs is missing.
template <class Json>
const Json& required_first_choice(const Json& body) {
  const auto* choice = first_choice(body);
  if (!choice) throw nlohmann::json::out_of_range::create(401, "choices is empty", &body);
  return *choice;
}

// A text field that may be absent or null in a delta (role-only chunk, tool call): empty then.
template <class Json>
std::string optional_text(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return it->template get<std::string>();
}

template <class Json>
void put_openai_options(Json& body, const Prompt& prompt, const GenerationOptions& g) {
  if (!g.model.empty()) body["model"] = g.model;
  body["max_tokens"] = prompt.max_tokens;
  body["temperature"] = g.temperature;
  if (g.ignore_eos || g.force_output_length) body["ignore_eos"] = true;
  if (g.min_tokens) body["min_tokens"] = *g.min_tokens;
  if (g.force_output_length) body["min_tokens"] = prompt.max_tokens;
  if (g.stream) {
    body["stream"] = true;
    // Without it an OpenAI-style stream carries no token count and n_out would fall back to counting events.
    body["stream_options"] = {{"include_usage", true}};
    if (g.continuous_usage) body["stream_options"]["continuous_usage_stats"] = true;
  }
}

}  // namespace detail

// Reads a whole non-streaming reply body with `api`.
template <class Api>
Parsed<Reply> read_reply(const Api& api, std::string_view body) {
  return detail::parse_with<Reply>(api, body, "reply", [&](const nlohmann::json& j) { return api.reply(j); });
}

// Reads one stream event's data with `api`. `[DONE]` ends every dialect's stream and is never passed to it.
template <class Api>
Parsed<Event> read_event(const Api& api, std::string_view data) {
  if (data == "[DONE]") {
    Parsed<Event> out;
    out.value.terminator = true;
    return out;
  }
  return detail::parse_with<Event>(api, data, "stream event", [&](const nlohmann::json& j) { return api.event(j); });
}

// The lab's Flask server around transformers' model.generate: POST /v1/completions {"prompt", "max_tokens"} ->
// {"text", "usage": {"completion_tokens"}, "elapsed_sec"}. It does not stream, and reads nothing else.
struct hf_simple {
  static constexpr const char* name = "hf_simple";
  using reads_keys_of = hf_simple;
  static bool reads_key(std::string_view key) noexcept { return key == "text" || detail::usage_key(key); }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions&) const {
    Json body = {{"prompt", prompt.text}, {"max_tokens", prompt.max_tokens}};
    return {"/v1/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = body.at("text").template get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
};

// OpenAI /v1/completions as vLLM serves it.
struct openai_completions {
  static constexpr const char* name = "openai_completions";
  using reads_keys_of = openai_completions;
  static bool reads_key(std::string_view key) noexcept {
    return key == "choices" || key == "text" || detail::usage_key(key);
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json body = {{"prompt", prompt.text}};
    detail::put_openai_options(body, prompt, g);
    return {"/v1/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = detail::required_first_choice(body).at("text").template get<std::string>();
    detail::read_usage(body, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      e.text = choice->at("text").template get<std::string>();
      e.carries_text = !e.text.empty();
    }
    detail::read_usage(data, e);
    return e;
  }
};

// OpenAI /v1/chat/completions: the prompt's messages, or one user message of its text; streamed text arrives in
// choices[0].delta.content.
struct openai_chat {
  static constexpr const char* name = "openai_chat";
  using reads_keys_of = openai_chat;
  static bool reads_key(std::string_view key) noexcept {
    return detail::key_in(key,
                          {"choices", "message", "delta", "content", "reasoning_content", "reasoning", "tool_calls"}) ||
           detail::usage_key(key);
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json messages = Json::array();
    for (const auto& m : prompt.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    if (messages.empty()) messages.push_back({{"role", "user"}, {"content", prompt.text}});
    Json body = {{"messages", std::move(messages)}};
    detail::put_openai_options(body, prompt, g);
    return {"/v1/chat/completions", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    Reply r;
    r.text = detail::optional_text(detail::required_first_choice(body).at("message"), "content");
    detail::read_usage(body, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    if (const auto* choice = detail::first_choice(data)) {
      const auto& delta = choice->at("delta");
      e.text = detail::optional_text(delta, "content");  // the first delta often has only a role
      e.carries_text = !e.text.empty();
      // Reasoning models stream their reasoning first: vLLM and SGLang as `reasoning_content`, others (and newer
      // vLLM) as `reasoning`; a tool call's arguments arrive in `tool_calls`. All are generated tokens.
      const auto tools = delta.find("tool_calls");
      e.carries_other_tokens = !detail::optional_text(delta, "reasoning_content").empty() ||
                               !detail::optional_text(delta, "reasoning").empty() ||
                               (tools != delta.end() && tools->is_array() && !tools->empty());
    }
    detail::read_usage(data, e);
    return e;
  }
};

// Hugging Face text-generation-inference: POST /generate and /generate_stream. Its stream has no [DONE]: the
// event whose `generated_text` is set is the last one, and with `details` it carries the token count.
struct tgi {
  static constexpr const char* name = "tgi";
  using reads_keys_of = tgi;
  static bool reads_key(std::string_view key) noexcept {
    return detail::key_in(key, {"generated_text", "token", "special", "text", "details", "generated_tokens"});
  }
  template <class Json = nlohmann::json>  // deferred: see serialize.hpp
  HttpCall request(const Prompt& prompt, const GenerationOptions& g) const {
    Json parameters = {{"max_new_tokens", prompt.max_tokens}, {"details", true}};
    // TGI rejects temperature 0; greedy decoding is do_sample = false.
    if (g.temperature > 0) {
      parameters["temperature"] = g.temperature;
      parameters["do_sample"] = true;
    } else {
      parameters["do_sample"] = false;
    }
    Json body = {{"inputs", prompt.text}, {"parameters", std::move(parameters)}};
    return {g.stream ? "/generate_stream" : "/generate", std::move(body)};
  }
  template <class Json>
  Reply reply(const Json& body) const {
    // Older TGI releases answer with a one-element list.
    const Json& result = body.is_array() ? body.at(0) : body;
    Reply r;
    r.text = result.at("generated_text").template get<std::string>();
    read_details(result, r);
    return r;
  }
  template <class Json>
  Event event(const Json& data) const {
    Event e;
    const auto& token = data.at("token");
    const bool special = token.value("special", false);
    e.text = token.at("text").template get<std::string>();
    if (special) e.text.clear();  // an end-of-sequence token is a token but not text
    e.carries_text = !e.text.empty();
    const auto generated = data.find("generated_text");
    e.terminator = generated != data.end() && !generated->is_null();
    read_details(data, e);
    return e;
  }

 private:
  template <class Json, class Out>
  static void read_details(const Json& body, Out& out) {
    const auto it = body.find("details");
    if (it == body.end() || it->is_null()) return;
    out.completion_tokens = optional_int(*it, "generated_tokens");
  }
};

}  // namespace api
}  // namespace servebench
