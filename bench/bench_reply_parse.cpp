// Benchmark — what reading one reply or stream event costs the client: api::read_reply / read_event with the
// dialect's pruned document (only the keys it reads are built, pruned_json.hpp) against the same dialect reading the
// whole document (a dialect derived from it, which names no keys of its own), on texts shaped like vLLM's and TGI's.
// Both reads run in this process, interleaved over 5 rounds; the figure is the median round's ns per read, and the
// two reads are checked to agree. --seconds S (default 2): each read runs S/10 a round, 5 rounds, in each case.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <servebench/api.hpp>

#include "bench_support.hpp"

using namespace servebench;
using namespace servebench::bench;

namespace {

template <class Api>
struct whole_document : Api {};  // inherits reads_keys_of naming Api: read from the whole document

template <class Read>
double ns_per_read(Read read, double seconds) {
  using clock = std::chrono::steady_clock;
  std::size_t n = 0, sink = 0;
  const auto start = clock::now();
  const auto end = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  while (clock::now() < end)
    for (int i = 0; i < 64; ++i, ++n) sink += read();
  if (sink == 0) std::puts("");  // keeps the reads
  return std::chrono::duration<double, std::nano>(clock::now() - start).count() / static_cast<double>(n);
}

template <class Api, bool event>
std::string text_of(const std::string& text) {
  if constexpr (event)
    return api::read_event(Api{}, text).value.text;
  else
    return api::read_reply(Api{}, text).value.text;
}

// One text read by one dialect: a read's cost, pruned or whole, and whether both reads agree.
struct Case {
  const char* what;
  const std::string* text;
  std::size_t (*pruned)(const std::string&);
  std::size_t (*whole)(const std::string&);
  bool (*agree)(const std::string&);
};

template <class Api, bool event>
Case make_case(const char* what, const std::string& text) {
  return {what, &text, [](const std::string& t) { return text_of<Api, event>(t).size() + 1; },
          [](const std::string& t) { return text_of<whole_document<Api>, event>(t).size() + 1; },
          [](const std::string& t) { return text_of<Api, event>(t) == text_of<whole_document<Api>, event>(t); }};
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const double seconds = o.seconds / 10;  // a round of one read
  constexpr int rounds = 5;
  const std::string vllm_completion =
      R"({"id":"cmpl-3f9c2a4b8d1e4f7a","object":"text_completion","created":1733140000,)"
      R"("model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" Paris is the capital and most )"
      R"(populous city of France.","logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null}],)"
      R"("usage":{"prompt_tokens":12,"total_tokens":44,"completion_tokens":32,"prompt_tokens_details":null}})";
  const std::string vllm_chat_chunk =
      R"({"id":"chatcmpl-3f9c2a4b8d1e4f7a","object":"chat.completion.chunk","created":1733140000,)"
      R"("model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" the"},)"
      R"("logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})";
  const std::string tgi_event =
      R"({"index":7,"token":{"id":279,"text":" the","logprob":-0.12,"special":false},"generated_text":null,)"
      R"("details":null,"top_tokens":null})";
  const std::vector<Case> cases{make_case<api::openai_completions, false>("vLLM /v1/completions reply",
                                                                          vllm_completion),
                                make_case<api::openai_chat, true>("vLLM chat stream chunk", vllm_chat_chunk),
                                make_case<api::tgi, true>("TGI stream event", tgi_event)};
  nlohmann::json points = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : cases) {
    if (!c.agree(*c.text)) {
      std::fprintf(stderr, "bench_reply_parse: the pruned and whole reads of the %s disagree\n", c.what);
      return 1;
    }
    std::vector<double> pruned, whole;
    for (int r = 0; r < rounds; ++r) {
      pruned.push_back(ns_per_read([&] { return c.pruned(*c.text); }, seconds));
      whole.push_back(ns_per_read([&] { return c.whole(*c.text); }, seconds));
    }
    std::sort(pruned.begin(), pruned.end());
    std::sort(whole.begin(), whole.end());
    const double p = pruned[rounds / 2], w = whole[rounds / 2];
    points.push_back(
        {{"text", c.what}, {"bytes", c.text->size()}, {"pruned_ns", p}, {"whole_ns", w}, {"ratio", p / w}});
    rows.push_back({c.what, std::to_string(c.text->size()), fmt(p, 0), fmt(w, 0), fmt(p / w, 2)});
  }
  print_table("Reading one reply or event (ns per read, median of 5 rounds)",
              {"text", "bytes", "pruned", "whole document", "x whole"}, rows);
  write_result(o, "reply_parse",
               {{"benchmark", "reply_parse"}, {"rounds", rounds}, {"seconds_per_round", seconds}, {"points", points}});
  return 0;
}
