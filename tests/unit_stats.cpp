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

// ---------------------------------------------------------------------------------------------------------------
// Student's t and intervals across repetitions. Expected values from scipy 1.10.1 (stats.t.ppf, stats.t.cdf,
// stats.t.interval with stats.sem), printed to 12 digits; scipy's t.ppf is itself accurate to about 5e-9 relative.

TEST_CASE("Student's t quantiles and CDF match scipy.stats.t for small, large and fractional df") {
  struct Row {
    double df, q90, q975, q995, cdf_at_1_5;
  };
  const Row rows[] = {
      {1, 3.07768353721, 12.7062047364, 63.6567411629, 0.812832958189},
      {2, 1.88561808316, 4.30265272991, 9.92484320092, 0.863803437554},
      {3, 1.63774435722, 3.18244630528, 5.84090929976, 0.884708067378},
      {4, 1.53320627371, 2.7764451052, 4.60409487142, 0.896},
      {5, 1.47588404878, 2.57058183661, 4.03214298356, 0.903048159879},
      {9, 1.3830287384, 2.26215716274, 3.24983554402, 0.916074671971},
      {29, 1.31143364395, 2.04522964213, 2.75638590367, 0.92778815198},
      {30, 1.31041502257, 2.0422724563, 2.74999565357, 0.927967035436},
      {31, 1.3094635471, 2.0395134464, 2.74404191929, 0.928134459288},
      {100, 1.29007476134, 1.98397151845, 2.62589052059, 0.931617470938},
      {7.3, 1.40892231775, 2.34506673615, 3.45103165562, 0.912218453598},
  };
  for (const auto& r : rows) {
    CAPTURE(r.df);
    CHECK(servebench::student_t_quantile(0.9, r.df) == doctest::Approx(r.q90).epsilon(1e-8));
    CHECK(servebench::student_t_quantile(0.975, r.df) == doctest::Approx(r.q975).epsilon(1e-8));
    CHECK(servebench::student_t_quantile(0.995, r.df) == doctest::Approx(r.q995).epsilon(1e-8));
    CHECK(servebench::student_t_quantile(0.025, r.df) == doctest::Approx(-r.q975).epsilon(1e-8));
    CHECK(servebench::student_t_cdf(1.5, r.df) == doctest::Approx(r.cdf_at_1_5).epsilon(1e-10));
    CHECK(servebench::student_t_cdf(-1.5, r.df) == doctest::Approx(1 - r.cdf_at_1_5).epsilon(1e-10));
  }
  CHECK(servebench::student_t_quantile(0.5, 4) == 0);
  // Near the centre the CDF keeps its precision (x close to 1 is passed as 1 - x): t ~ 2.5e-7 for p = 0.5 + 1e-7.
  CHECK(servebench::student_t_quantile(0.5000001, 30) == doctest::Approx(2.5276002193917644e-07).epsilon(1e-6));
  CHECK_THROWS_AS(servebench::student_t_quantile(1, 3), std::invalid_argument);
  CHECK_THROWS_AS(servebench::student_t_quantile(0.9, 0), std::invalid_argument);
  CHECK_THROWS_AS(servebench::student_t_cdf(std::nan(""), 3), std::invalid_argument);
}

TEST_CASE("the mean's interval across repetitions is scipy's t.interval with n - 1 degrees of freedom") {
  const auto m = servebench::mean_interval(std::vector<double>{12.1, 11.4, 13.0, 12.6});
  CHECK(m.n == 4);
  CHECK(m.mean == doctest::Approx(12.275));
  CHECK(m.stddev == doctest::Approx(0.689806736219).epsilon(1e-10));
  CHECK(m.low == doctest::Approx(11.1773635505).epsilon(1e-9));
  CHECK(m.high == doctest::Approx(13.3726364495).epsilon(1e-9));
  CHECK(m.half_width == doctest::Approx(13.3726364495 - 12.275).epsilon(1e-8));
  CHECK(m.has_interval());
  const auto one = servebench::mean_interval(std::vector<double>{3.5});
  CHECK_FALSE(one.has_interval());
  CHECK(one.low == 3.5);
  CHECK(one.high == 3.5);
  CHECK(servebench::mean_interval(std::vector<double>{}).n == 0);
  CHECK_THROWS_AS(servebench::mean_interval(std::vector<double>{1, 2}, 1.0), std::invalid_argument);
  // A 99% interval is wider: t_{0.995, 3} = 5.84090929976.
  const auto wide = servebench::mean_interval(std::vector<double>{12.1, 11.4, 13.0, 12.6}, 0.99);
  CHECK(wide.half_width == doctest::Approx(5.84090929976 * 0.689806736219 / 2).epsilon(1e-8));
}
