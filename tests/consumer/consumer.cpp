// The program every consumer project builds: it uses servebench through the umbrella header the way a user's
// program would, and exits non-zero when anything is off. Expected values are worked out by hand in the comments.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <httplib.h>  // servebench's link interface must carry cpp-httplib (a compiled library on Debian 12)

#include <servebench.hpp>

namespace {
int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

bool near(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::fmax(1.0, std::fabs(b)); }
}  // namespace

int main() {
  // 1..5 unordered: mean 3; linear p50 = 3; linear p90 = 1 + 0.9 * (5 - 1) = 4.6.
  const servebench::Summary s = servebench::summarize_samples({4, 1, 3, 2, 5});
  check(s.count == 5 && near(s.mean, 3) && near(s.p50, 3) && near(s.p90, 4.6), "summarize_samples of 1..5");

  const nlohmann::json summary_json = s;
  const auto s_back = summary_json.get<servebench::Summary>();
  check(s_back.count == s.count && near(s_back.p90, s.p90), "Summary JSON round trip");

  // Two successful requests sent at t = 1 s, ending at 2 s and 3 s with 10 and 30 tokens: wall 2 s,
  // throughput 2 / 2 = 1 req/s, output tokens 40 / 2 = 20 tokens/s.
  std::vector<servebench::RequestRecord> records(2);
  const servebench::Nanos second = 1000000000;
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].target = "sim";
    records[i].index = i;
    records[i].t_sched = records[i].t_send = second;
    records[i].t_first_token = records[i].t_end = static_cast<servebench::Nanos>(2 + i) * second;
    records[i].n_out = i == 0 ? 10 : 30;
    records[i].http_status = 200;
  }
  const nlohmann::json record_json = records;
  const auto records_back = record_json.get<std::vector<servebench::RequestRecord>>();
  check(records_back.size() == 2 && records_back[1].t_end == 3 * second && records_back[1].n_out == 30,
        "RequestRecord JSON round trip");
  const servebench::LevelSummary level = servebench::summarize(records_back);
  check(level.successful == 2 && near(level.wall_s, 2) && near(level.throughput_req_per_sec, 1) &&
            near(level.output_tokens_per_sec, 20),
        "summarize of two records");

  // Constructing a client needs cpp-httplib's library at link time; nothing is sent.
  httplib::Client client("127.0.0.1", 9);
  client.set_tcp_nodelay(true);

#ifdef SERVEBENCH_EXPECTED_VERSION
  // The version the build system reported for the package (CMake's servebench_VERSION, pkg-config --modversion,
  // Meson's subproject version) must be the one the header carries.
  check(std::strcmp(SERVEBENCH_EXPECTED_VERSION, SERVEBENCH_VERSION_STRING) == 0,
        "build-system version equals SERVEBENCH_VERSION_STRING");
  if (std::strcmp(SERVEBENCH_EXPECTED_VERSION, SERVEBENCH_VERSION_STRING) != 0)
    std::fprintf(stderr, "consumer: build system says %s, version.hpp says %s\n", SERVEBENCH_EXPECTED_VERSION,
                 SERVEBENCH_VERSION_STRING);
#endif

  if (failures) return 1;
  std::printf("consumer: servebench %s works\n", servebench::version_string());
  return 0;
}
