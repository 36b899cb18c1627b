// servebench — the server's own metrics: the Prometheus text format (metrics/prometheus.hpp), the series a level
// keeps of them (metrics/series.hpp, part of every LevelResult) and the scraper that gathers them while a level
// runs (metrics/scrape.hpp). Included on purpose, like the simulator: <servebench.hpp> brings only the data.
#pragma once

#include "metrics/prometheus.hpp"
#include "metrics/scrape.hpp"
#include "metrics/series.hpp"
