// servebench::sim — the simulated server over HTTP: ServerState (one running server: its engine loop, its
// cpp-httplib server and its statistics), Reply (one reply while it is written, and the points where its drawn
// faults act), the routes, and the public Server. Requests are read and replies built by the wire formats in
// wire.hpp; this file only moves them through the engine and onto the connection.
//
// Routes, on 127.0.0.1 by default: api "hf" serves POST /v1/completions in the hf format; api "openai" serves POST
// /v1/completions and /v1/chat/completions in the completions and chat formats. Both: GET /health, GET /v1/models,
// and GET /metrics: the engine's state in vLLM's Prometheus format (metrics_text()); GET /sim/write_windows: the
// ground truth's own error, for each streamed reply since the last call (Server::take_write_windows()).
//
// Ground truth: every reply carries "sim_timing": {"first_token_ns", "last_token_ns"} on std::chrono::steady_clock
// (the same clock as servebench::now_ns() when client and server share a process). Streaming: taken just before
// writing the first and the last token's event, and carried by the last one. Not streaming: first_token_ns is when
// the engine produced the first token, last_token_ns is taken just before the body is written.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../metrics/prometheus.hpp"
#include "../record.hpp"
#include "config.hpp"
#include "engine.hpp"
#include "faults.hpp"
#include "random.hpp"
#include "tokens.hpp"
#include "wire.hpp"

namespace servebench {
namespace sim {
namespace detail {

class ServerState {
 public:
  explicit ServerState(ServerOptions options)
      : options_(std::move(options)), engine_(options_.engine_config(), options_.time_scale(), options_.seed()),
        created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                     .count()) {}

  ServerOptions options_;
  EngineLoop engine_;
  // Stateless; declared before http_ so that they outlive the handlers that hold them.
  const HfWire hf_wire_;
  const CompletionsWire completions_wire_;
  const ChatWire chat_wire_;
  httplib::Server http_;
  std::thread listen_thread_;
  std::int64_t created_;
  int port_ = 0;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;

  mutable std::mutex stats_mutex_;
  ServerStats stats_;
  std::size_t in_flight_ = 0;
  // For each streamed reply, its first and its last token write: the sim_timing stamp and how long the write took
  // from it to the write's return. The bytes left within that window, so it bounds the error of first_token_ns and
  // last_token_ns (a thread woken among thousands at an engine step and preempted between the stamp and the write).
  // Under stats_mutex_; at most a million of each are kept.
  WriteWindows write_windows_;
  void note_write(std::vector<WriteWindow> WriteWindows::*which, Nanos stamp) {
    const WriteWindow w{stamp, now_ns() - stamp};
    std::lock_guard<std::mutex> lock(stats_mutex_);
    if ((write_windows_.*which).size() < 1'000'000) (write_windows_.*which).push_back(w);
  }
  WriteWindows take_write_windows() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return std::exchange(write_windows_, {});
  }
  std::atomic<std::uint64_t> request_number_{0};

  // Sleeps until real time `deadline` or the server stops; false when it stopped.
  bool sleep_until(Nanos deadline) {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    stop_cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)),
                        [&] { return stopping_.load(); });
    return !stopping_.load();
  }
  bool sleep_for_s(double seconds) {
    if (seconds <= 0) return !stopping_.load();
    return sleep_until(now_ns() + static_cast<Nanos>(seconds * 1e9));
  }

  void count(std::uint64_t ServerStats::*field) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++(stats_.*field);
  }
  void count_fault(const char* kind) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.faults[kind];
  }
  void enter() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.requests;
    ++in_flight_;
    stats_.max_concurrency = std::max(stats_.max_concurrency, in_flight_);
  }
  void leave(std::uint64_t ServerStats::*outcome) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    --in_flight_;
    if (outcome) ++(stats_.*outcome);
  }

  // Tokens the reply will carry: max_tokens, or fewer when an early EOS is drawn (never with ignore_eos).
  std::int64_t tokens_to_generate(const GenRequest& g, std::uint64_t prompt_hash) const {
    const double p = options_.early_eos_rate();
    if (p <= 0 || g.ignore_eos) return g.max_tokens;
    Rng rng(splitmix64(options_.seed() ^ 0xE05ULL) ^ prompt_hash);
    for (std::int64_t i = 1; i < g.max_tokens; ++i)
      if (rng.uniform() < p) return i;
    return g.max_tokens;
  }

  void handle_generation(const httplib::Request& req, httplib::Response& res, const WireFormat& wire);

  // The engine's state as vLLM writes it on /metrics (the names vLLM 0.10 uses; both engines, so a chart reads the
  // lab's two servers alike): requests running and waiting, KV-cache usage (batching only: the sequential engine
  // has no KV cache of its own to speak of), preemptions (these engines never preempt), tokens generated and
  // requests finished.
  std::string metrics_text() const {
    namespace prom = servebench::prometheus;
    const EngineCounts c = engine_.counts();
    const std::vector<std::pair<std::string, std::string>> model{{"model_name", options_.model()}};
    std::uint64_t completed = 0;
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      completed = stats_.completed;
    }
    std::vector<prom::Family> families;
    auto add = [&](const char* name, const char* type, const char* help, double value) {
      families.push_back(prom::Family{name, type, help, {prom::Sample{name, model, value, std::nullopt}}});
    };
    add("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
        static_cast<double>(c.running));
    add("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
        static_cast<double>(c.waiting));
    if (options_.engine() == EngineKind::continuous_batching)
      add("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", c.kv_usage);
    add("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.",
        static_cast<double>(c.preemptions));
    // Prefix cache: vllm:prefix_cache_queries_total and vllm:prefix_cache_hits_total belong here once the engine
    // keeps a prefix cache (it has none yet).
    add("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
        static_cast<double>(engine_.tokens()));
    add("vllm:request_success_total", "counter", "Count of successfully processed requests.",
        static_cast<double>(completed));
    return prom::write(families);
  }

  void install_routes() {
    const bool hf = options_.api() == ApiFlavour::hf;
    if (hf) {
      route("/v1/completions", hf_wire_);
    } else {
      route("/v1/completions", completions_wire_);
      route("/v1/chat/completions", chat_wire_);
      install_tokenizer_routes();
    }
    http_.Get("/health", [hf](const httplib::Request&, httplib::Response& res) {
      // vLLM answers 200 with an empty body; the lab's HF server with a small JSON object.
      if (hf)
        res.set_content(R"({"status":"ok"})", "application/json");
      else
        res.status = 200;
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http_.Get("/sim/write_windows", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(write_windows_to_json(take_write_windows()).dump(), "application/json");
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      const nlohmann::json j{{"object", "list"},
                             {"data",
                              {{{"id", options_.model()},
                                {"object", "model"},
                                {"created", created_},
                                {"owned_by", "servebench-sim"},
                                {"root", options_.model()},
                                {"max_model_len", options_.max_model_len()}}}}};
      res.set_content(j.dump(), "application/json");
    });
  }

 private:
  // vLLM's and SGLang's POST /tokenize {"prompt"} or {"messages"} -> {"tokens", "count", "max_model_len"} (the
  // count is what usage.prompt_tokens will say, chat template included), and /detokenize {"tokens"} -> {"prompt"};
  // llama.cpp's {"content"} is read too, and /detokenize answers it under "content" as well.
  void install_tokenizer_routes() {
    auto bad = [this](httplib::Response& res, const std::string& message) {
      completions_wire_.error(res, 400, message);
    };
    http_.Post("/tokenize", [this, bad](const httplib::Request& req, httplib::Response& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object()) return bad(res, "request body must be a JSON object");
      std::vector<std::int64_t> ids;
      const auto messages = body.find("messages");
      const auto prompt = body.find("prompt") != body.end() ? body.find("prompt") : body.find("content");
      if (messages != body.end()) {
        if (!messages->is_array() || messages->empty()) return bad(res, "'messages' must be a non-empty list");
        for (const auto& m : *messages) {
          if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
            return bad(res, "each message needs a 'content' string");
          ids.insert(ids.end(), static_cast<std::size_t>(chat_template_tokens), 0);
          const auto content = tokenize(m["content"].get<std::string>());
          ids.insert(ids.end(), content.begin(), content.end());
        }
      } else if (prompt != body.end() && prompt->is_string()) {
        ids = tokenize(prompt->get<std::string>());
      } else {
        return bad(res, "'prompt' (string) or 'messages' is required");
      }
      const nlohmann::json out{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", options_.max_model_len()}};
      res.set_content(out.dump(), "application/json");
    });
    http_.Post("/detokenize", [bad](const httplib::Request& req, httplib::Response& res) {
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      const auto tokens = body.is_object() ? body.find("tokens") : body.end();
      if (!body.is_object() || tokens == body.end() || !tokens->is_array() ||
          !std::all_of(tokens->begin(), tokens->end(), [](const nlohmann::json& t) { return t.is_number_integer(); }))
        return bad(res, "'tokens' must be a list of integer token ids");
      std::string text;
      if (!detokenize(tokens->get<std::vector<std::int64_t>>(), text)) return bad(res, "unknown token id in 'tokens'");
      res.set_content(nlohmann::json{{"prompt", text}, {"content", text}}.dump(), "application/json");
    });
  }

  void route(const char* path, const WireFormat& wire) {
    http_.Post(path, [this, &wire](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, wire);
    });
  }
};

// The state of one reply while it is written.
struct Reply {
  Reply(ServerState* server_, const WireFormat& wire_, GenRequest gen_, FaultPlan plan_, JobPtr job_,
        std::uint64_t prompt_hash_, Nanos arrival_, std::uint64_t number_)
      : server(server_), wire(wire_), gen(std::move(gen_)), plan(plan_), job(std::move(job_)),
        prompt_hash(prompt_hash_), arrival(arrival_), number(number_) {}

  ServerState* server;
  const WireFormat& wire;
  GenRequest gen;
  FaultPlan plan;
  JobPtr job;
  std::uint64_t prompt_hash;
  Nanos arrival;
  std::uint64_t number;      // arrival number: the reply id ends in it, and the faults were drawn with it
  std::int64_t written = 0;  // tokens written or waiting in `pending` (streaming)
  std::string pending;       // the text of the event being gathered (tokens_per_chunk > 1)
  Nanos first_written = 0;
  Nanos first_answer_written = 0;  // with reasoning first: when the first answer token was written
  bool ended = false;              // the last token's event went out, with the usage chunk and [DONE] after it
  bool dropped = false;
  bool released = false;

  ReplyContext context() const {
    // Only chat replies carry reasoning (the completions API has no field for it).
    const std::int64_t reasoning = wire.has_reasoning()
                                       ? std::min<std::int64_t>(server->options_.reasoning_tokens(), job->target_tokens)
                                       : 0;
    const bool cache = server->options_.engine() == EngineKind::continuous_batching &&
                       server->options_.engine_config().prefix_block_tokens > 0;
    return {gen, number, server->created_, server->options_.model(), reasoning, cache ? job->cached_tokens.load() : -1};
  }

  std::string token(std::int64_t i) const {
    return token_text(server->options_.seed(), prompt_hash, i, wire.space_before_token(i));
  }

  const char* finish_reason() const { return job->target_tokens < gen.max_tokens ? "stop" : "length"; }

  // Adds "sim_timing" as the last member of the JSON object `json`: when the first and last token were written;
  // with reasoning first, also the first answer token. Text, not a document: it is written after the time is taken.
  static void add_sim_timing(std::string& json, Nanos first, Nanos last, Nanos first_answer = 0) {
    std::string t = ",\"sim_timing\":{\"first_token_ns\":" + std::to_string(first) +
                    ",\"last_token_ns\":" + std::to_string(last);
    if (first_answer) t += ",\"first_answer_token_ns\":" + std::to_string(first_answer);
    if (json.empty() || json.back() != '}') throw std::logic_error("servebench::sim: sim_timing needs a JSON object");
    json.insert(json.size() - 1, t + "}");
  }

  // Waits for the engine to produce more than `have` tokens (or finish, or abort). Returns (emitted, finished);
  // emitted < 0 when the server stops.
  std::pair<std::int64_t, bool> wait_tokens(std::int64_t have) {
    std::unique_lock<std::mutex> lock(job->mutex);
    job->cv.wait(lock, [&] { return job->emitted > have || job->finished || job->aborted; });
    if (job->aborted) return {-1, false};
    return {job->emitted, job->finished};
  }

  // Fault points that wait, in real time; false when the server stopped meanwhile.
  bool before_first_token() { return server->sleep_for_s(plan.first_token_wait_s()); }
  bool before_last_token() {
    const Nanos until = plan.last_token_held_until(arrival);
    return until == 0 || server->sleep_until(until);
  }

  // Non-streaming: waits for every token, then builds the body. False when the server stopped.
  bool wait_all(std::string& body) {
    std::int64_t have = 0;
    for (;;) {
      auto [emitted, finished] = wait_tokens(have);
      if (emitted < 0) return false;
      have = emitted;
      if (finished) break;
    }
    Nanos engine_first = 0;
    {
      std::lock_guard<std::mutex> lock(job->mutex);
      engine_first = job->first_token;
    }
    if (!before_first_token() || !before_last_token()) return false;
    WholeReply reply;
    const ReplyContext c = context();
    for (std::int64_t i = 0; i < have; ++i) (i < c.reasoning_tokens ? reply.reasoning : reply.text) += token(i);
    reply.completion_tokens = have;
    reply.finish_reason = finish_reason();
    // No token was written when the engine produced the first one; the last is "written" with the body.
    const Nanos last = now_ns();
    reply.elapsed_s = ns_to_s(last - arrival);
    nlohmann::json j = wire.whole_reply(c, reply);
    body = j.dump();
    add_sim_timing(body, std::max(engine_first, arrival), last);
    if (plan.mid_reply() == FaultPlan::MidReply::cut) cut_in_half(body);
    return true;
  }

  static std::string event_text(const std::string& data) { return "data: " + data + "\n\n"; }
  static bool write_event(httplib::DataSink& sink, const std::string& data) {
    const std::string event = event_text(data);
    return sink.write(event.data(), event.size());
  }

  // Streaming: called by cpp-httplib on the connection's thread until it returns false or calls sink.done().
  bool stream_more(httplib::DataSink& sink) {
    auto [emitted, finished] = wait_tokens(written);
    if (emitted < 0) return false;
    const StreamingWireFormat& stream = *wire.streaming();
    const ReplyContext c = context();
    const std::int64_t target = job->target_tokens;
    for (; written < emitted; ++written) {
      const std::int64_t i = written;
      const auto mid = FaultPlan::is_middle_token(i, target) ? plan.mid_reply() : FaultPlan::MidReply::intact;
      if (mid == FaultPlan::MidReply::drop) {
        dropped = true;
        job->cancelled = true;
        return false;
      }
      if (i == 0) {
        if (!before_first_token()) return false;
        const nlohmann::json opening = stream.opening_chunk(c);
        if (!opening.is_null() && !write_event(sink, opening.dump())) return client_left();
      }
      const bool last = i + 1 == target;
      const bool reasoning = i < c.reasoning_tokens;
      pending += token(i);
      // An event ends every tokens_per_chunk tokens, at the last token, and where reasoning gives way to the answer.
      if (!last && (i + 1) % server->options_.tokens_per_chunk() != 0 && reasoning == (i + 1 < c.reasoning_tokens))
        continue;
      if (last && !before_last_token()) return false;
      nlohmann::json event = stream.token_chunk(c, pending, last ? finish_reason() : nullptr, reasoning);
      pending.clear();
      if (gen.continuous_usage) event["usage"] = stream.usage_chunk(c, i + 1)["usage"];
      std::string data = event.dump();
      if (mid == FaultPlan::MidReply::cut) cut_in_half(data);
      // The stream's end goes out with the last token, in one write, as a server that has every piece at hand
      // sends it: the usage chunk and [DONE] cost the client no wake-up of their own.
      std::string tail;
      if (last) {
        if (gen.include_usage) tail = event_text(stream.usage_chunk(c, i + 1).dump());
        tail += event_text("[DONE]");
      }
      // The time is taken once the event is built, as close to its write as it can be; the last event's
      // sim_timing then goes in as its last member.
      const Nanos now = now_ns();
      const bool first = first_written == 0;
      if (first) first_written = now;
      if (c.reasoning_tokens > 0 && !reasoning && first_answer_written == 0) first_answer_written = now;
      if (last) {
        add_sim_timing(data, first_written, now, first_answer_written);
        const std::string text = event_text(data) + tail;
        if (!sink.write(text.data(), text.size())) return client_left();
        if (first) server->note_write(&WriteWindows::first, now);
        server->note_write(&WriteWindows::last, now);
        ended = true;
        continue;
      }
      if (!write_event(sink, data)) return client_left();
      if (first) server->note_write(&WriteWindows::first, now);
    }
    if (!finished) return true;
    if (!ended) {  // the engine finished short of the target (it cannot, but the stream still ends well-formed)
      if (gen.include_usage && !write_event(sink, stream.usage_chunk(c, written).dump())) return client_left();
      if (!write_event(sink, "[DONE]")) return client_left();
    }
    sink.done();
    return true;
  }

  bool client_left() {
    job->cancelled = true;
    dropped = true;
    return false;
  }

  void release() {
    if (released) return;
    released = true;
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock(job->mutex);
      complete = job->finished && !dropped && (!gen.stream || written == job->emitted);
    }
    if (!complete) job->cancelled = true;
    server->leave(complete ? &ServerStats::completed : &ServerStats::cancelled);
  }
};

inline void ServerState::handle_generation(const httplib::Request& req, httplib::Response& res,
                                           const WireFormat& wire) {
  const Nanos arrival = now_ns();
  GenRequest g;
  try {
    g = parse_request(wire, req.body, options_);
  } catch (const BadRequest& e) {
    count(&ServerStats::requests);
    count(&ServerStats::rejected);
    wire.error(res, e.status, e.message);
    return;
  }
  enter();
  const std::uint64_t number = request_number_++;
  const FaultPlan plan = draw_faults(options_.faults(), options_.seed(), number);
  for (const char* kind : plan.injected_kinds()) count_fault(kind);
  if (const int status = plan.status_before_generation()) {
    wire.injected_error(res, status);
    leave(nullptr);
    return;
  }

  const std::uint64_t prompt_hash = hash_text(g.prompt);
  auto job = std::make_shared<Job>();
  job->prompt_tokens = g.prompt_tokens;
  job->target_tokens = tokens_to_generate(g, prompt_hash);
  if (options_.engine() == EngineKind::continuous_batching)
    job->prefix_blocks = prefix_block_hashes(tokenize(g.prompt), options_.engine_config().prefix_block_tokens);
  // Tokenising and HTTP work happen on this thread, off the engine's shared resources.
  if (!sleep_for_s(options_.request_overhead_ms() / 1000.0 / options_.time_scale())) {
    wire.error(res, 503, "servebench sim: server stopping");
    leave(&ServerStats::cancelled);
    return;
  }
  engine_.submit(job);

  auto reply = std::make_shared<Reply>(this, wire, std::move(g), plan, std::move(job), prompt_hash, arrival, number);
  if (reply->gen.stream) {
    res.set_chunked_content_provider(
        "text/event-stream", [reply](std::size_t, httplib::DataSink& sink) { return reply->stream_more(sink); },
        [reply](bool) { reply->release(); });
    return;
  }
  std::string body;
  if (!reply->wait_all(body)) {
    reply->release();
    wire.error(res, 503, "servebench sim: server stopping");
    return;
  }
  if (plan.mid_reply() == FaultPlan::MidReply::drop) {
    // Content-Length promises the whole body; the connection closes after half of it.
    reply->dropped = true;
    res.set_content_provider(
        body.size(), "application/json",
        [reply, body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          if (offset == 0) sink.write(body.data(), body.size() / 2);
          return false;
        },
        [reply](bool) { reply->release(); });
    return;
  }
  reply->release();
  res.set_content(body, "application/json");
}

}  // namespace detail

// A simulated inference server on a cpp-httplib server of its own. start() returns once the port listens;
// stop() (or the destructor) aborts every reply in progress and returns when every thread has ended.
class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) { options_.validate(); }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start() {
    if (state_) throw std::logic_error("servebench::sim::Server: already started");
    auto state = std::make_unique<detail::ServerState>(options_);
    auto& http = state->http_;
    const std::size_t threads = options_.threads();
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_keep_alive_max_count(options_.keep_alive_max_count());
    http.set_keep_alive_timeout(options_.keep_alive_timeout_s());
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_tcp_nodelay(true);  // one SSE event per token: Nagle would hold each behind the previous one's ACK
    // cpp-httplib 0.11.4 listens with a backlog of 5: a burst of connects then waits on SYN retries (about 1 s).
    // Keep the listening socket's descriptor so it can listen again with a real backlog (Linux updates the backlog
    // of a socket that already listens). Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let a second
    // server bind a port already in use without an error.
    auto listen_fd = std::make_shared<std::atomic<int>>(-1);
    http.set_socket_options([listen_fd](auto sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      int expected = -1;
      listen_fd->compare_exchange_strong(expected, static_cast<int>(sock));
    });
    state->install_routes();

    errno = 0;
    int port = options_.port();
    bool bound = false;
    if (port == 0) {
      port = http.bind_to_any_port(options_.host());
      bound = port > 0;
    } else {
      bound = http.bind_to_port(options_.host(), port);
    }
    const int bind_errno = errno;
    if (!bound) {
      throw std::runtime_error("servebench::sim::Server: cannot listen on " + options_.host() + ":" +
                               std::to_string(options_.port()) + ": " +
                               (bind_errno ? std::strerror(bind_errno) : "bind failed"));
    }
    if (listen_fd->load() >= 0) ::listen(listen_fd->load(), options_.listen_backlog());
    state->port_ = port;
    state->engine_.start();
    auto* raw = state.get();
    auto listen_returned = std::make_shared<std::atomic<bool>>(false);
    state->listen_thread_ = std::thread([raw, listen_returned] {
      raw->http_.listen_after_bind();
      *listen_returned = true;
    });
    // cpp-httplib's stop() does nothing until its accept loop runs: wait for it, so stop() right after start()
    // cannot leave the loop running forever. (Connections that come meanwhile wait in the backlog.)
    while (!http.is_running() && !*listen_returned) std::this_thread::sleep_for(std::chrono::microseconds(200));
    state_ = std::move(state);
  }

  int port() const { return state_ ? state_->port_ : 0; }
  std::string url() const { return "http://" + url_host() + ":" + std::to_string(port()); }
  const ServerOptions& options() const { return options_; }
  bool running() const { return state_ != nullptr; }

  void stop() {
    if (!state_) return;
    auto& s = *state_;
    {
      std::lock_guard<std::mutex> lock(s.stop_mutex_);
      s.stopping_ = true;
    }
    s.stop_cv_.notify_all();
    s.engine_.stop();  // wakes every reply waiting for tokens
    s.http_.stop();
    if (s.listen_thread_.joinable()) s.listen_thread_.join();
    last_stats_ = stats();
    state_.reset();
  }

  ServerStats stats() const {
    if (!state_) return last_stats_;
    ServerStats st;
    {
      std::lock_guard<std::mutex> lock(state_->stats_mutex_);
      st = state_->stats_;
    }
    st.tokens = state_->engine_.tokens();
    st.max_batch = state_->engine_.max_batch();
    std::tie(st.prompt_tokens, st.cached_prompt_tokens) = state_->engine_.prompt_tokens();
    return st;
  }

  // For each streamed reply since the last call: its first and last token write, the sim_timing stamp and the
  // time from it to the write's return; what GET /sim/write_windows gives. Empty once stopped.
  WriteWindows take_write_windows() { return state_ ? state_->take_write_windows() : WriteWindows{}; }

  // Every change of the engine's running and waiting counts while it ran (the ground truth of /metrics); empty
  // once stopped.
  std::vector<detail::EngineCounts> engine_history() const {
    return state_ ? state_->engine_.counts_history() : std::vector<detail::EngineCounts>{};
  }

 private:
  std::string url_host() const {
    const auto& h = options_.host();
    return (h == "0.0.0.0" || h.empty()) ? "127.0.0.1" : h;
  }

  ServerOptions options_;
  std::unique_ptr<detail::ServerState> state_;
  ServerStats last_stats_;
};

}  // namespace sim
}  // namespace servebench
