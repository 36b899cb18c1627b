// servebench — the event-loop transport, a part of its own (included on purpose, like <servebench/sim.hpp>): a few
// epoll threads carry every stream of a level, where the default transport gives each stream a thread and a
// cpp-httplib client. Same DriverOptions, dialects, records and results; for thousands of streams or tens of
// thousands of requests a second from one client host (docs/performance.md, "Scale"). Linux, plain http.
//
//   auto target = servebench::make_event_loop_target<servebench::api::openai_completions>(
//       servebench::DriverOptions().label("vllm").base_url("http://127.0.0.1:8000").model("m"));
//   auto result = servebench::run_closed_loop(servebench::ClosedLoop().concurrency(10000), workload, target);
//
// run_closed_loop and run_open_loop (and the sweeps over them) hand this target's levels to the event loop
// (Target::runs_levels); a single request through its make_sender goes over the default transport.
#pragma once

#include <memory>
#include <stdexcept>
#include <utility>

#include "servebench.hpp"
#include "servebench/event_loop/http1.hpp"
#include "servebench/event_loop/levels.hpp"
#include "servebench/event_loop/loop.hpp"
#include "servebench/event_loop/stream.hpp"

namespace servebench {

// A target speaking dialect `Api` whose levels run on the event loop. Throws std::invalid_argument when the base URL
// cannot be parsed or is not http://.
template <class Api>
Target make_event_loop_target(DriverOptions options, EventLoopOptions loop = {}, Api api = {}) {
  if (detail::parse_base_url(options.base_url()).scheme != "http")
    throw std::invalid_argument("servebench: the event-loop transport speaks plain http only (" + options.base_url() +
                                "); use the default transport (make_target) for https");
  Target target = make_target<Api>(options, api);
  options.label(target.info.label);
  struct Settings {
    DriverOptions options;
    EventLoopOptions loop;
    Api api;
  };
  auto settings = std::make_shared<const Settings>(Settings{std::move(options), loop, std::move(api)});
  target.runs_levels.closed_loop = [settings](const ClosedLoop& o, const Workload& w, const TargetInfo& info) {
    if (o.concurrency() == 0) throw std::invalid_argument("servebench::run_closed_loop: concurrency must be > 0");
    detail::EventClosedLoop<Api> level(o, w, info, settings->api, settings->options, settings->loop);
    return level.run();
  };
  target.runs_levels.open_loop = [settings](const OpenLoop& o, const Workload& w, const TargetInfo& info) {
    detail::EventOpenLoop<Api> level(o, w, info, settings->api, settings->options, settings->loop);
    return level.run();
  };
  return target;
}

}  // namespace servebench
