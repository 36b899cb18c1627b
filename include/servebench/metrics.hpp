// servebench — the server's own metrics: the Prometheus text format (metrics/prometheus.hpp), the series a level
// keeps of them (metrics/series.hpp, part of every LevelResult) and the scraper that gathers them while a level
// runs (metrics/scrape.hpp). A part of its own, included on purpose (single header servebench_metrics.hpp): the core
// keeps only the series (LevelResult::server_metrics), so a program that never scrapes never compiles the parser.
#pragma once

#include "metrics/prometheus.hpp"
#include "metrics/scrape.hpp"
#include "metrics/series.hpp"
