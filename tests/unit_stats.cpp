// Expected values were computed independently with numpy 1.24 (Debian's python3-numpy):
//   linear       = np.percentile(x, p)                        (numpy's default method)
//   nearest_rank = np.percentile(x, p, method="inverted_cdf")  (the classic nearest-rank definition)
//   lab          = sorted(x)[int(len(x) * p / 100)]            (the lab's Python expression, clamped)
//   stddev       = np.std(x, ddof=1)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <servebench/stats.hpp>

using servebench::LogHistogram;
using servebench::PercentileMethod;
using servebench::summarize_samples;

namespace {
std::vector<double> million_samples() {
  // The same sequence as numpy's ((i * 7919) % 1000003) / 1000 for i in range(10**6).
  std::vector<double> values(1000000);
  for (std::int64_t i = 0; i < 1000000; ++i) values[static_cast<std::size_t>(i)] = ((i * 7919) % 1000003) / 1000.0;
  return values;
}
}  // namespace

TEST_CASE("a summary of a small set matches numpy for every percentile method") {
  const std::vector<double> x{3, 1, 4, 1, 5, 9, 2, 6};
  SUBCASE("linear") {
    const auto s = summarize_samples(x);
    CHECK(s.count == 8);
    CHECK(s.mean == doctest::Approx(3.875));
    CHECK(s.stddev == doctest::Approx(2.748376143938713));
    CHECK(s.min == 1);
    CHECK(s.max == 9);
    CHECK(s.p50 == doctest::Approx(3.5));
    CHECK(s.p90 == doctest::Approx(6.9));
    CHECK(s.p95 == doctest::Approx(7.95));
    CHECK(s.p99 == doctest::Approx(8.79));
  }
  SUBCASE("nearest rank") {
    const auto s = summarize_samples(x, PercentileMethod::nearest_rank);
    CHECK(s.p50 == 3);
    CHECK(s.p90 == 9);
    CHECK(s.p95 == 9);
  }
  SUBCASE("lab") {
    const auto s = summarize_samples(x, PercentileMethod::floor_rank);
    CHECK(s.p50 == 4);
    CHECK(s.p95 == 9);
  }
}

TEST_CASE("ties, one sample and two samples give numpy's values") {
  SUBCASE("ties") {
    const auto s = summarize_samples({2, 2, 2, 7, 7});
    CHECK(s.p50 == 2);
    CHECK(s.p90 == 7);
    CHECK(s.stddev == doctest::Approx(2.7386127875258306));
  }
  SUBCASE("one sample is reported as itself by every method, with zero spread") {
    for (auto method : {PercentileMethod::linear, PercentileMethod::nearest_rank, PercentileMethod::floor_rank}) {
      const auto s = summarize_samples({4.25}, method);
      CHECK(s.p50 == 4.25);
      CHECK(s.p99 == 4.25);
      CHECK(s.stddev == 0);
    }
  }
  SUBCASE("two samples") {
    const auto linear = summarize_samples({1, 3});
    CHECK(linear.p50 == doctest::Approx(2.0));
    CHECK(linear.p90 == doctest::Approx(2.8));
    CHECK(linear.p95 == doctest::Approx(2.9));
    CHECK(linear.p99 == doctest::Approx(2.98));
    const auto nearest = summarize_samples({1, 3}, PercentileMethod::nearest_rank);
    CHECK(nearest.p50 == 1);
    CHECK(nearest.p90 == 3);
    CHECK(summarize_samples({1, 3}, PercentileMethod::floor_rank).p50 == 3);
  }
}

TEST_CASE("the lab's p95 rule on 5, 10 and 20 samples picks the lab's element") {
  // sorted(lat)[int(len(lat) * 0.95)] on 1..n: n=5 -> index 4, n=10 -> index 9, n=20 -> index 19.
  for (int n : {5, 10, 20}) {
    std::vector<double> x;
    for (int i = n; i >= 1; --i) x.push_back(i);  // unsorted on purpose
    CHECK(servebench::percentile(x, 95, PercentileMethod::floor_rank) == n);
  }
  // while numpy's linear p95 differs: 4.8, 9.55, 19.05
  CHECK(servebench::percentile({1, 2, 3, 4, 5}, 95) == doctest::Approx(4.8));
  CHECK(servebench::percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95) == doctest::Approx(9.55));
}

TEST_CASE("a million samples summarize to numpy's values") {
  const auto s = summarize_samples(million_samples(), PercentileMethod::linear, {99.9});
  CHECK(s.count == 1000000);
  CHECK(s.mean == doctest::Approx(499.99954750799986).epsilon(1e-10));
  CHECK(s.stddev == doctest::Approx(288.67535969856476).epsilon(1e-9));
  CHECK(s.p50 == doctest::Approx(499.9995));
  CHECK(s.p90 == doctest::Approx(899.9991));
  CHECK(s.p95 == doctest::Approx(949.99905));
  CHECK(s.p99 == doctest::Approx(990.00101));
  REQUIRE(s.extra.size() == 1);
  CHECK(s.extra[0].p == 99.9);
  CHECK(s.extra[0].value == doctest::Approx(999.002001));
  const auto nearest = summarize_samples(million_samples(), PercentileMethod::nearest_rank);
  CHECK(nearest.p99 == doctest::Approx(990.001));
  const auto lab = summarize_samples(million_samples(), PercentileMethod::floor_rank);
  CHECK(lab.p99 == doctest::Approx(990.002));
}

TEST_CASE("empty input, NaN and out-of-range percentiles are clear errors") {
  CHECK_THROWS_WITH_AS(summarize_samples({}), "cannot summarize an empty sample set", std::invalid_argument);
  CHECK_THROWS_WITH_AS(summarize_samples({1.0, std::nan("")}), "sample set contains NaN", std::invalid_argument);
  CHECK_THROWS_AS(servebench::percentile({1.0}, 101), std::invalid_argument);
  CHECK_THROWS_AS(servebench::percentile({1.0}, -1), std::invalid_argument);
  CHECK_THROWS_WITH_AS(servebench::enum_from_string<PercentileMethod>("median"),
                       "unknown percentile method 'median' (valid: linear, nearest_rank, floor_rank)",
                       std::invalid_argument);
  // Artifacts of schema 1 called floor_rank "lab": still read, never written.
  CHECK(servebench::enum_from_string<PercentileMethod>("lab") == PercentileMethod::floor_rank);
  CHECK(std::string(servebench::to_string(PercentileMethod::floor_rank)) == "floor_rank");
}

TEST_CASE("a summary survives a JSON round trip") {
  const auto s = summarize_samples({1, 2, 3, 10}, PercentileMethod::floor_rank, {75});
  const auto back = nlohmann::json(s).get<servebench::Summary>();
  CHECK(back.count == s.count);
  CHECK(back.mean == s.mean);
  CHECK(back.p95 == s.p95);
  CHECK(back.method == PercentileMethod::floor_rank);
  REQUIRE(back.extra.size() == 1);
  CHECK(back.extra[0].value == s.extra[0].value);
}

TEST_CASE("the log histogram reports every percentile within 1% of the exact sample") {
  // A wide, skewed set: log-uniform over 10^-4 .. 10^2 seconds.
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(-4, 2);
  std::vector<double> values(200000);
  LogHistogram histogram;
  for (auto& v : values) {
    v = std::pow(10.0, exponent(rng));
    histogram.add(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    // The histogram's rank rule is floor(q * (n - 1)), the "lower" sample of numpy's linear interpolation.
    const auto rank = static_cast<std::size_t>(std::floor(p / 100.0 * static_cast<double>(values.size() - 1)));
    const double exact = values[rank];
    CAPTURE(p);
    CHECK(std::abs(histogram.percentile(p) - exact) <= 0.01 * exact);
  }
  CHECK(histogram.count() == values.size());
  CHECK(histogram.min() == values.front());
  CHECK(histogram.max() == values.back());
  CHECK(histogram.bucket_count() < 2000);  // fixed memory, whatever the sample count
}

TEST_CASE("merging histograms equals the histogram of both sample sets") {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> latency(2.0);
  LogHistogram a, b, both;
  for (int i = 0; i < 5000; ++i) {
    const double x = latency(rng);
    (i % 3 ? a : b).add(x);
    both.add(x);
  }
  CHECK(servebench::merge(a, b) == both);
  CHECK(servebench::merge(a, b).percentile(99) == both.percentile(99));
  CHECK_THROWS_AS(a.merge(LogHistogram(0.02)), std::invalid_argument);
}

TEST_CASE("a histogram survives a JSON round trip and rejects damaged JSON") {
  LogHistogram h;
  for (double x : {0.0, 1e-12, 0.003, 0.02, 0.02, 5.0, 2e7}) h.add(x);
  const nlohmann::json j = h;
  const auto back = j.get<LogHistogram>();
  CHECK(back == h);
  CHECK(back.percentile(50) == h.percentile(50));
  auto damaged = j;
  damaged["count"] = 99;
  CHECK_THROWS_AS(damaged.get<LogHistogram>(), std::invalid_argument);
  CHECK_THROWS_AS(h.add(std::nan("")), std::invalid_argument);
  CHECK_THROWS_AS(LogHistogram().percentile(50), std::invalid_argument);
}
