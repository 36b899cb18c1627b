// The servebench command: benchmark servers from the shell, with the library's public headers only.
//
//   servebench run --target vllm=openai@http://127.0.0.1:8000 --concurrency 1,4,16 --requests 100 --out runs/a
//   servebench run --target a=openai@http://h1:8000 --rate 5,10 --arrival poisson --duration 60 --stream --out runs/b
//   servebench run --from runs/a/results.json --target vllm=openai@http://127.0.0.1:9000 --out runs/c
//   servebench compare runs/a/results.json runs/c/results.json
//   servebench merge -o run.json shard-0/results.json shard-1/results.json   (from --shard 0/2 and --shard 1/2)
//   servebench export runs/a/results.json --csv runs/a/requests.csv
//   servebench report runs/a/results.json --as vllm      (vLLM's benchmark_serving definitions beside ours)
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <servebench.hpp>

#include "common/cli.hpp"
#include "servebench/peers.hpp"
#include "servebench/run.hpp"
#include "servebench/tools.hpp"

namespace {

using namespace servebench;
using command::RunOptions;

void add_run_flags(CLI::App& run, RunOptions& o, std::string& from) {
  run.add_option("--from", from, "repeat the run recorded in this results.json; flags given override it")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  run.add_option("--target", o.target,
                 "a server: NAME=DIALECT@URL, DIALECT one of hf, openai, chat, tgi (repeatable; the first is the "
                 "baseline)")
      ->type_name("NAME=DIALECT@URL");
  run.add_option("--model", o.model, "model name sent in every request")->capture_default_str();
  run.add_flag("--stream", o.stream, "stream replies (records TTFT, TPOT and ITL)");
  run.add_option("--concurrency", o.concurrency, "closed loop: concurrency levels, e.g. 1,4,16")
      ->check(examples::distinct_list(1, 100000))
      ->type_name("LIST");
  run.add_option("--rate", o.rate, "open loop: request rates per second, e.g. 2,5,10")->type_name("LIST");
  run.add_option("--arrival", o.arrival, "open loop arrivals")
      ->check(CLI::IsMember({"poisson", "gamma", "constant"}))
      ->capture_default_str();
  run.add_option("--burstiness", o.burstiness, "gamma shape (below 1 burstier than Poisson)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run.add_option("--seed", o.seed, "seed of the arrival schedule")->capture_default_str();
  run.add_option("--requests", o.requests, "measured requests per level (default: 100)")
      ->check(CLI::Range(1, 100000000));
  run.add_option("--duration", o.duration, "seconds per level instead of a request count")
      ->check(CLI::Range(0.001, 1e7));
  run.add_option("--warmup", o.warmup, "requests sent first at each level, not measured")->capture_default_str();
  run.add_option("--repeat", o.repeat, "run every level K times (compare shows intervals)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  run.add_option("--slo", o.slo, "goodput objectives in seconds, e.g. ttft=0.5,tpot=0.05,latency=10")
      ->type_name("ttft=S,tpot=S,latency=S");
  run.add_option("--prompts", o.prompts, "prompts from a JSONL file: {\"prompt\": ..., \"max_tokens\": ...} a line")
      ->type_name("FILE");
  run.add_option("--prompt-template", o.prompt_template, "prompts from a template ({i}: the request's index)")
      ->capture_default_str();
  run.add_option("--max-tokens", o.max_tokens, "tokens per reply")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  run.add_option("--wait", o.wait, "seconds to wait for each target to become ready")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  run.add_option("--shard", o.shard, "this process sends share I of N of the requests or rate (see merge)")
      ->type_name("I/N")
      ->capture_default_str();
  run.add_option("--start-at", o.start_at, "start the first level at this UTC instant (shards start together)")
      ->type_name("UTC_TIME");
  run.add_flag("--no-records", o.no_records, "keep summaries and histograms only in results.json");
  run.add_option("--transport", o.transport,
                 "threads: a thread and a connection per stream (cpp-httplib); event-loop: a few epoll threads carry "
                 "every stream, each arrival timed by the kernel's receive timestamp (thousands of streams; plain "
                 "http only)")
      ->check(CLI::IsMember({"threads", "event-loop"}))
      ->capture_default_str();
  run.add_option("--loop-threads", o.loop_threads, "event-loop transport: its threads (0: one per core)")
      ->capture_default_str();
  lab::add_endpoint_flags(run, o.endpoint);
  lab::add_metrics_flags(run, o.endpoint);
  lab::add_dataset_flags(run, o.workload, false);  // its --seed is run's own
  run.add_option("--out", o.out, "write DIR/results.json, DIR/report.md, DIR/report.html and the charts")
      ->type_name("DIR");
  run.add_flag("--quiet", o.quiet, "no progress lines");
  run.add_option("--progress-interval", o.progress_interval, "seconds between plain progress lines off a terminal")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
}

// The flags given on the command line replace the recorded ones; the rest come from the recording.
RunOptions merged_with_recording(const CLI::App& run, const RunOptions& given, const std::string& from) {
  const Artifact recorded = read_artifact(from);
  const auto& configuration = recorded.metadata.configuration;
  if (!configuration.is_object() || !configuration.contains("run"))
    throw examples::UsageError("--from " + from + ": not written by servebench run (no configuration.run); " +
                               "give the run's flags instead");
  nlohmann::json options = configuration["run"];
  const nlohmann::json now = command::to_json(given);
  for (const auto* option : run.get_options()) {
    std::string name = option->get_name();
    if (name.rfind("--", 0) != 0 || option->count() == 0) continue;
    name = name.substr(2);
    if (now.contains(name)) options[name] = now[name];
  }
  RunOptions out = command::run_options_from_json(options);
  out.out = given.out, out.quiet = given.quiet, out.progress_interval = given.progress_interval;
  if (run.count("--concurrency")) out.rate.clear();
  if (run.count("--rate")) out.concurrency.clear();
  if (run.count("--requests") && !run.count("--duration")) out.duration = 0;
  if (run.count("--duration") && !run.count("--requests")) out.requests = 0;
  return out;
}

// Parses; returns the exit code when the program should stop now: 0 after --help or --version, 2 after a bad
// command line, told in one line that names the problem and where the flags are listed.
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    const auto used = app.get_subcommands();
    const std::string name = "servebench" + (used.empty() ? std::string() : " " + used.front()->get_name());
    std::cerr << name << ": error: " << e.what() << " (see " << name << " --help)\n";
    return 2;
  }
  return std::nullopt;
}

const char* run_example =
    "\nExamples:\n"
    "  servebench run --target vllm=openai@http://127.0.0.1:8000 --concurrency 1,4,16 --requests 100 --out runs/a\n"
    "  servebench run --target a=chat@http://127.0.0.1:8000 --target b=tgi@http://127.0.0.1:8080 --stream \\\n"
    "                 --rate 2,5 --arrival gamma --burstiness 0.5 --duration 30 --slo ttft=0.5 --out runs/b\n"
    "  servebench run --from runs/a/results.json --requests 500 --out runs/c\n"
    "Exit codes: 0 the run completed (failed requests are reported, not fatal), 2 bad usage or a server that never\n"
    "became ready, 130 after Ctrl-C (the partial results are written).\n";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("servebench: benchmark LLM inference servers over HTTP.", "servebench");
  app.set_version_flag("--version", std::string("servebench ") + SERVEBENCH_VERSION_STRING);
  app.require_subcommand(1);
  app.footer(
      "\nExample:\n  servebench run --target vllm=openai@http://127.0.0.1:8000 --concurrency 1,4,16 --out runs/a\n"
      "Every subcommand has --help.");

  RunOptions run_options;
  std::string from;
  CLI::App* run = app.add_subcommand("run", "benchmark servers at concurrency levels or request rates");
  add_run_flags(*run, run_options, from);
  run->footer(run_example);

  command::CompareOptions compare_options;
  CLI::App* compare = app.add_subcommand("compare", "the same levels of several results.json side by side");
  command::add_compare_flags(*compare, compare_options);

  command::MergeOptions merge_options;
  CLI::App* merge = app.add_subcommand("merge", "shards of one run (--shard I/N) into one results.json");
  command::add_merge_flags(*merge, merge_options);

  command::ExportOptions export_options;
  CLI::App* export_ = app.add_subcommand("export", "a results.json as CSV: one row per request and per level");
  command::add_export_flags(*export_, export_options);

  command::ReportAsOptions report_options;
  CLI::App* report = app.add_subcommand("report", "a results.json by a peer benchmark's definitions, beside ours");
  command::add_report_flags(*report, report_options);

  if (auto exit_code = parse(app, argc, argv)) return *exit_code;
  CLI::App& used = *app.get_subcommands().front();
  try {
    if (run->parsed()) {
      RunOptions o = from.empty() ? run_options : merged_with_recording(*run, run_options, from);
      return command::run_command(o, argc, argv, std::cout);
    }
    if (compare->parsed()) return command::compare_command(compare_options, std::cout);
    if (merge->parsed()) return command::merge_command(merge_options, std::cout);
    if (report->parsed()) {
      report_options.as_given = report->count("--as") > 0;
      return command::report_command(report_options, std::cout);
    }
    return command::export_command(export_options, std::cout);
  } catch (const std::exception& e) {  // one line: what is wrong and the fix
    std::cerr << "servebench " << used.get_name() << ": error: " << e.what() << "\n";
    return 2;
  }
}
