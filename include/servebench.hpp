// servebench — umbrella header: includes the whole toolkit.
#pragma once

#include "servebench/version.hpp"
#include "servebench/stats.hpp"
#include "servebench/record.hpp"
#include "servebench/artifact.hpp"
#include "servebench/workload.hpp"
#include "servebench/scheduler.hpp"
#include "servebench/sse.hpp"
#include "servebench/api.hpp"
#include "servebench/chart.hpp"
#include "servebench/driver.hpp"
#include "servebench/sim.hpp"
#include "servebench/cli.hpp"
#include "servebench/lab.hpp"
