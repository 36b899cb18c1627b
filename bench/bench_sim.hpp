// servebench bench — the simulated engine the client benchmarks measure against: continuous batching with a flat
// step that admits every stream at once, so the client, not the engine's queue, is what is measured.
#pragma once

#include <cstdint>

#include <servebench/sim.hpp>

namespace servebench::bench {

inline sim::EngineConfig flat_step_engine(double step_ms) {
  sim::EngineConfig engine;
  engine.kind = sim::EngineKind::continuous_batching;
  engine.step_ms_by_batch = {{1, step_ms}, {4096, step_ms}};
  engine.max_num_seqs = 4096;
  engine.max_num_batched_tokens = 1 << 20;
  engine.kv_cache_tokens = std::int64_t{1} << 30;
  return engine;
}

}  // namespace servebench::bench
