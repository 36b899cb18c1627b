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
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "tokens.hpp"

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
