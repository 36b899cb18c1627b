// servebench — a server under test, built once: make_target<Api>(DriverOptions) gives the sender factory the
// schedulers call once per worker and the TargetInfo that results and artifacts record. Label, URL, model and the
// dialect's name come from the same DriverOptions, so they cannot disagree.
//
// A *sender* is anything with
//     RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched);
//     void cancel(ErrorKind reason);   // thread-safe; aborts the request in flight and every later one (sticky)
// and optionally
//     std::string connect();           // opens its connection now; "" or why it could not (see Driver::connect)
// servebench::Driver<Api> is one; tests use in-process fakes. AnySender holds any sender, so one sweep can compare
// targets that speak different dialects.
//
//   auto hf   = servebench::make_target<servebench::api::hf_simple>(DriverOptions().label("hf").base_url(url));
//   auto vllm = servebench::make_target<servebench::api::openai_completions>(DriverOptions().label("vllm")...);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "api.hpp"
#include "driver.hpp"
#include "record.hpp"
#include "result.hpp"
#include "workload.hpp"

namespace servebench {

namespace detail {
template <class Sender, class = void>
struct can_connect : std::false_type {};
template <class Sender>
struct can_connect<Sender, std::void_t<decltype(std::declval<Sender&>().connect())>> : std::true_type {};
// The sender's connect(), or "" for a sender without one (it connects as it sends).
template <class Sender>
std::string connect_sender(Sender& sender) {
  if constexpr (can_connect<Sender>::value)
    return sender.connect();
  else
    return {};
}
}  // namespace detail

// Holds any sender (see the top of this file) behind one type. Move-only; an empty AnySender throws on send.
class AnySender {
 public:
  AnySender() = default;
  AnySender(AnySender&& other) noexcept : self_(std::exchange(other.self_, nullptr)) {}
  AnySender& operator=(AnySender&& other) noexcept {
    if (this != &other) {
      delete self_;
      self_ = std::exchange(other.self_, nullptr);
    }
    return *this;
  }
  ~AnySender() { delete self_; }

  template <class Sender, class = std::enable_if_t<!std::is_same<std::decay_t<Sender>, AnySender>::value>>
  AnySender(Sender&& sender)  // NOLINT(google-explicit-constructor): wrapping is the whole point
      : self_(new Model<std::decay_t<Sender>>(std::forward<Sender>(sender))) {}

  // Builds the sender in place, for senders that cannot be moved.
  template <class Sender, class... Args>
  static AnySender make(Args&&... args) {
    AnySender any;
    any.self_ = new Model<Sender>(std::forward<Args>(args)...);
    return any;
  }

  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    if (!self_) throw std::logic_error("servebench::AnySender: empty");
    return self_->send(prompt, index, t_sched);
  }
  void cancel(ErrorKind reason = ErrorKind::interrupted) {
    if (self_) self_->cancel(reason);
  }
  // The held sender's connect(), or "" when it has none (it connects as it sends).
  std::string connect() { return self_ ? self_->connect() : std::string{}; }
  explicit operator bool() const noexcept { return self_ != nullptr; }

 private:
  struct Interface {
    virtual ~Interface() = default;
    virtual RequestRecord send(const Prompt&, std::uint64_t, Nanos) = 0;
    virtual void cancel(ErrorKind) = 0;
    virtual std::string connect() = 0;
  };
  template <class Sender>
  struct Model final : Interface {
    template <class... Args>
    explicit Model(Args&&... args) : sender(std::forward<Args>(args)...) {}
    RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) override {
      return sender.send(prompt, index, t_sched);
    }
    void cancel(ErrorKind reason) override { sender.cancel(reason); }
    std::string connect() override { return detail::connect_sender(sender); }
    Sender sender;
  };
  // Owned. A plain pointer, not std::unique_ptr: one more unique_ptr type costs every translation unit that includes
  // <servebench.hpp> about 1.4 MB of the compiler's memory and 25 ms (see "Deferred" in serialize.hpp).
  Interface* self_ = nullptr;
};

class ClosedLoop;
class OpenLoop;

// A transport that runs whole levels itself, many requests to a thread (the event loop, <servebench/event_loop.hpp>):
// run_closed_loop and run_open_loop hand a level to it instead of starting a worker thread per sender.
struct LevelRunner {
  std::function<LevelResult(const ClosedLoop&, const Workload&, const TargetInfo&)> closed_loop;
  std::function<LevelResult(const OpenLoop&, const Workload&, const TargetInfo&)> open_loop;
};

// One server under test: what results call it, and how to make a sender for it (called once per worker per level,
// never from two threads at once); a transport of its own may run its levels (runs_levels).
struct Target {
  TargetInfo info;
  std::function<AnySender()> make_sender;
  LevelRunner runs_levels;  // empty: each of a level's worker threads sends with one sender of make_sender

  const std::string& label() const noexcept { return info.label; }
};

// A target speaking dialect `Api`, every worker with its own Driver (one connection, kept alive).
template <class Api>
Target make_target(DriverOptions options, Api api = {}) {
  TargetInfo info{target_label(options), options.base_url(), api::dialect_name<Api>(), options.model(),
                  options.tls().insecure};
  options.label(info.label);
  return Target{std::move(info),
                [options = std::move(options), api = std::move(api)] { return AnySender(Driver<Api>(options, api)); },
                {}};
}

namespace detail {
// A sender whose records carry its target's label, whatever the wrapped sender writes.
template <class Sender>
struct LabelledSender {
  Sender sender;
  std::string label;
  RequestRecord send(const Prompt& prompt, std::uint64_t index, Nanos t_sched) {
    RequestRecord r = sender.send(prompt, index, t_sched);
    r.target = label;
    return r;
  }
  void cancel(ErrorKind reason) { sender.cancel(reason); }
  std::string connect() { return connect_sender(sender); }
};
}  // namespace detail

// A target of your own sender type: `make_sender` returns one (a Driver of a custom transport, a fake in a test).
// The records carry info.label: the target is the one place a label is given.
template <class MakeSender>
Target make_target(TargetInfo info, MakeSender make_sender) {
  std::string label = info.label;
  return Target{std::move(info),
                [make = std::move(make_sender), label = std::move(label)]() mutable {
                  using Sender = std::decay_t<decltype(make())>;
                  return AnySender(detail::LabelledSender<Sender>{make(), label});
                },
                {}};
}

}  // namespace servebench
