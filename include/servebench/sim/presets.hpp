// servebench::sim — presets: ServerOptions named after what they model, each with its provenance (the machine, the
// engine and the file or publication its numbers come from; the files are in shared/calibration/). Presets of one
// provenance make a pair whose ratios mean something: measured_pair() is the two servers measured side by side on
// one H200. A time-scale factor then runs them faster than real time in tests and demos.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"

namespace servebench {
namespace sim {

// Where a preset's numbers come from. Shown by --help, written into artifacts, listed in docs/simulator.md.
struct PresetInfo {
  const char* name;
  const char* machine;  // the GPU the numbers were taken on
  const char* engine;   // the serving engine modelled
  const char* source;   // the calibration file or publication
  const char* role;     // "hf" (the lab's baseline API) or "vllm" (OpenAI API)
};

inline const std::vector<PresetInfo>& preset_infos() {
  static const std::vector<PresetInfo> infos = {
      {"hf-transformers-h200", "1x NVIDIA H200",
       "HF transformers 5.17 eager generate, one per request (the lab's server)",
       "measured: h200-llama3-8b-transformers.json, h200-transformers-batching-vs-lab-server.json", "hf"},
      {"transformers-cb-h200", "1x NVIDIA H200",
       "transformers 5.17 ContinuousBatchingManager behind an OpenAI-compatible server",
       "measured: h200-transformers-batching-vs-lab-server.json, 2026-12-01-h200-rerun.json", "vllm"},
      {"vllm-h100", "1x NVIDIA H100-80GB", "vLLM 0.21 (CUDA graphs, paged attention)",
       "published: InferenceBench concurrency sweep (vllm-llama3-8b-published.json), not measured here", "vllm"},
  };
  return infos;
}

inline std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& i : preset_infos()) out.push_back(i.name);
  return out;
}

// Throws std::invalid_argument naming the valid presets.
inline const PresetInfo& preset_info(const std::string& name) {
  for (const auto& i : preset_infos())
    if (name == i.name) return i;
  std::string valid;
  for (const auto& n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown servebench::sim preset '" + name + "' (valid: " + valid + ")");
}

// "machine, engine; source": one line for logs and --help.
inline std::string provenance(const PresetInfo& i) {
  return std::string(i.machine) + ", " + i.engine + "; " + i.source;
}

// The pair of one provenance: the lab's HF server and a continuous-batching server measured side by side on one
// H200 through the lab's own client (h200-transformers-batching-vs-lab-server.json).
struct PresetPair {
  const char* hf;
  const char* vllm;
};
inline constexpr PresetPair measured_pair{"hf-transformers-h200", "transformers-cb-h200"};

inline ServerOptions preset(const std::string& name) {
  const PresetInfo& info = preset_info(name);  // throws for an unknown name
  ServerOptions o;
  EngineConfig e;
  if (info.name == std::string("hf-transformers-h200")) {
    // h200-llama3-8b-transformers.json: the lab's server. See the sequential model in engine.hpp.
    e.kind = EngineKind::sequential;
    e.request_overhead_ms = 30.0;
    e.host_step_ms = 35.0;
    e.device_step_ms = 29.2;
    e.host_contention_per_loop = 0.0048;
    e.prefill_ms_per_token = 0.034;  // prefill 22.4 ms at 512 tokens, 62.8 ms at 2048: +40 ms
    // h200-transformers-batching-vs-lab-server.json: its first 100-token request after start took 8.99 s, later ones
    // 6.36-6.61 s (this model: 6.45 s): 2.55 s of warm-up (CUDA context, kernel selection) in the first step.
    e.first_request_extra_ms = 2550.0;
    return o.engine_config(e).api(ApiFlavour::hf);
  }
  if (info.name == std::string("vllm-h100")) {
    // vllm-llama3-8b-published.json (InferenceBench, H100, vLLM 0.21): TPOT p50 6.48 / 6.59 / 10.94 / 46.91 ms at
    // 1 / 4 / 16 / 64 concurrent; TTFT p50 14 ms alone = 6 ms overhead + one 6.5 ms step + a short prompt.
    e.kind = EngineKind::continuous_batching;
    e.request_overhead_ms = 6.0;
    e.prefill_ms_per_token = 0.03;  // ~33k prompt tokens/s: compute-bound prefill of an 8B model
    e.step_ms_by_batch = detail::vllm_h100_step_times();
    e.max_num_seqs = 256;
    e.max_num_batched_tokens = 8192;
    e.kv_cache_tokens = 450000;  // (80 GB * 0.9 - 16 GB weights) / 128 KiB of KV per token
    e.max_model_len = 8192;
    return o.engine_config(e).api(ApiFlavour::openai);
  }
  // transformers-cb-h200. h200-transformers-batching-vs-lab-server.json, measured through the lab's client with
  // 50-token replies: mean latency 1.82 / 5.30 / 6.42 / 5.95 s at 1 / 5 / 10 / 20 concurrent and 3.05-3.83 s for
  // 100 tokens alone give about 200 ms overhead and steps of 32 / 102 / 124 / 115 ms; offline 50 tokens at batch
  // 64: 5.45 s (109 ms). The first request after start took 8.5 s instead of ~3.4: 5 s of warm-up in the first step.
  e.kind = EngineKind::continuous_batching;
  e.request_overhead_ms = 200.0;
  e.first_request_extra_ms = 5000.0;
  e.prefill_ms_per_token = 0.0;
  static const BatchStepTime measured[] = {{1, 32.0}, {5, 102.0}, {10, 124.0}, {20, 115.0}, {64, 109.0}};
  e.step_ms_by_batch = detail::step_table(measured);
  e.max_num_seqs = 64;
  e.max_num_batched_tokens = 8192;
  e.kv_cache_tokens = 400000;
  e.max_model_len = 8192;
  return o.engine_config(e).api(ApiFlavour::openai);
}

}  // namespace sim
}  // namespace servebench
