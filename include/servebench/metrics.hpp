// servebench — the server's own metrics: the Prometheus text format (metrics/prometheus.hpp), the series a level
// keeps of them (metrics/series.hpp, part of every LevelResult) and the scraper that gathers them while a level
// runs (metrics/scrape.hpp). Part of <servebench.hpp>; this header alone serves a program that needs nothing else.
#pragma once

#include "metrics/prometheus.hpp"
#include "metrics/scrape.hpp"
#include "metrics/series.hpp"
