// servebench — the measurement core in one include: statistics, records, dialects, the driver, workloads, the
// scheduler, artifacts, reports (text, markdown, HTML), charts, and the servers' own metrics (scraped from /metrics).
// The simulated servers are a part of their own, included on purpose: <servebench/sim.hpp> (CMake target
// servebench::sim), so a program that never starts one never compiles it.
#pragma once

#include "servebench/api.hpp"
#include "servebench/artifact.hpp"
#include "servebench/chart.hpp"
#include "servebench/driver.hpp"
#include "servebench/files.hpp"
#include "servebench/html_report.hpp"
#include "servebench/metrics.hpp"
#include "servebench/modelled_time.hpp"
#include "servebench/ready.hpp"
#include "servebench/record.hpp"
#include "servebench/record_stream.hpp"
#include "servebench/repetitions.hpp"
#include "servebench/report.hpp"
#include "servebench/result.hpp"
#include "servebench/scheduler.hpp"
#include "servebench/serialize.hpp"
#include "servebench/sse.hpp"
#include "servebench/stats.hpp"
#include "servebench/target.hpp"
#include "servebench/url.hpp"
#include "servebench/version.hpp"
#include "servebench/workload.hpp"
#include "servebench/workload/datasets.hpp"
#include "servebench/workload/lengths.hpp"
#include "servebench/workload/multiturn.hpp"
#include "servebench/workload/tokenizer.hpp"
#include "servebench/workload/trace.hpp"
