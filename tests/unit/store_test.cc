#include "llm_log_exporter/store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "llm_log_exporter/exposition/text_format.h"

namespace lle {
namespace {

MetricSpec Histogram(std::vector<double> buckets) {
  MetricSpec s;
  s.name = "h";
  s.type = MetricType::kHistogram;
  s.buckets = std::move(buckets);
  return s;
}

MetricSpec Gauge() {
  MetricSpec s;
  s.name = "g";
  s.type = MetricType::kGauge;
  return s;
}

MetricSpec Status(std::size_t cap) {
  MetricSpec s;
  s.name = "requests_total";
  s.labels = {{"status", {"success", "error"}, cap, "other"}};
  s.dynamic = true;
  return s;
}

const Family& FindFamily(const std::vector<Family>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  throw std::runtime_error("no family " + name);
}

// An update naming its label values (kept alive until the next call).
Update Labelled(std::uint32_t metric, double value, std::vector<std::string_view> labels) {
  static std::vector<std::string_view> kept;
  kept = std::move(labels);
  return {metric, kDynamicSeries, value, kept.data()};
}

std::map<std::string, double> CounterByLabel(const Family& f) {
  std::map<std::string, double> out;
  for (const auto& m : f.series) out[m.labels.at(0).value] = m.value;
  return out;
}

ExemplarRef Trace(std::string_view id, double seconds) { return {"trace_id", id, seconds}; }

// Exemplars: a counter keeps the latest increment that carried one, a
// histogram bucket the latest value that landed in it; gauges none; each
// cell's newest over the shards wins at a scrape.
TEST(StoreTest, KeepsTheLatestExemplarPerCounterAndBucketNewestOverShards) {
  MetricSpec counter;
  counter.name = "c_total";
  Store store({Histogram({1, 2}), counter, Gauge(), Status(4)});
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  const Update h{0, 0, 1.5, nullptr};
  a->Apply(&h, 1, Trace("a-old", 10));
  const Update h2{0, 0, 1.7, nullptr};
  b->Apply(&h2, 1, Trace("b-new", 20));  // same bucket (le=2), newer: wins
  const Update h3{0, 0, 0.5, nullptr};
  b->Apply(&h3, 1, Trace("b-older", 5));  // le=1, alone there
  a->Apply({0, 0, 7, nullptr});           // +Inf without an exemplar
  const BoundSeries c = a->Bind(1, 0);
  const double three = 3;
  a->Write(&c, &three, 1, Trace("counted", 30));
  const Update g{2, 0, 9, nullptr};
  a->Apply(&g, 1, Trace("gauge", 40));
  const Update labelled = Labelled(3, 1, {"error"});
  b->Apply(&labelled, 1, {"request_id", "req-1", 50});
  b->Apply(Labelled(3, 1, {"error"}));  // later, without: the exemplar stays

  const std::vector<Family> all = store.Collect();
  const Series& hist = FindFamily(all, "h").series.at(0);
  ASSERT_EQ(hist.buckets.size(), 3u);
  ASSERT_TRUE(hist.buckets[0].exemplar);
  EXPECT_EQ(hist.buckets[0].exemplar->label.value, "b-older");
  EXPECT_EQ(hist.buckets[0].exemplar->value, 0.5);
  ASSERT_TRUE(hist.buckets[1].exemplar);
  EXPECT_EQ(hist.buckets[1].exemplar->label.value, "b-new");
  EXPECT_EQ(hist.buckets[1].exemplar->value, 1.7);
  EXPECT_EQ(hist.buckets[1].exemplar->timestamp_seconds, 20);
  EXPECT_FALSE(hist.buckets[2].exemplar);
  const Series& c_series = FindFamily(all, "c_total").series.at(0);
  ASSERT_TRUE(c_series.exemplar);
  EXPECT_EQ(c_series.exemplar->label.name, "trace_id");
  EXPECT_EQ(c_series.exemplar->label.value, "counted");
  EXPECT_EQ(c_series.exemplar->value, 3);
  EXPECT_FALSE(FindFamily(all, "g").series.at(0).exemplar);
  for (const Series& series : FindFamily(all, "requests_total").series) {
    if (series.labels.at(0).value != "error") {
      EXPECT_FALSE(series.exemplar) << series.labels.at(0).value;
      continue;
    }
    EXPECT_EQ(series.value, 2);
    ASSERT_TRUE(series.exemplar);
    EXPECT_EQ(series.exemplar->label.name, "request_id");
    EXPECT_EQ(series.exemplar->label.value, "req-1");
  }
  // The 0.0.4 text shows none of it.
  EXPECT_EQ(SerializeText(all).find('#' + std::string(" {")), std::string::npos);
}

// Series met in an order unlike the one a scrape shows them in (by their
// label values' text), spread over two shards, each with an exemplar that
// names it: each series shows its own, on a counter and in a histogram's
// buckets alike.
TEST(StoreTest, EachSeriesShowsItsOwnExemplarWhateverOrderItCameIn) {
  MetricSpec counter;
  counter.name = "c_total";
  counter.labels = {{"model", {}, 1000, "other"}, {"route", {}, 10, "other"}};
  counter.dynamic = true;
  MetricSpec histogram = Histogram({1, 2});
  histogram.labels = {{"model", {}, 1000, "other"}};
  histogram.dynamic = true;
  Store store({counter, histogram});
  Shard* shards[] = {store.AddShard(), store.AddShard()};
  constexpr int kModels = 300;
  std::vector<std::string> models;
  std::vector<std::string> traces;
  for (int i = 0; i < kModels; ++i) models.push_back("m" + std::to_string(i * 7919 % 1000));
  for (int i = 0; i < kModels; ++i) {
    for (const char* route : {"b", "a"}) {
      traces.push_back(models[i] + "/" + route);
      const Update u = Labelled(0, 1, {models[i], route});
      shards[i % 2]->Apply(&u, 1, Trace(traces.back(), i));
    }
    traces.push_back(models[i] + "/h");
    const Update h = Labelled(1, i % 2 == 0 ? 0.5 : 1.5, {models[i]});
    shards[(i + 1) % 2]->Apply(&h, 1, Trace(traces.back(), i));
  }
  for (int scrape = 0; scrape < 2; ++scrape) {  // the second over the first's scratch
    const std::vector<Family> all = store.Collect();
    const Family& c = FindFamily(all, "c_total");
    ASSERT_EQ(c.series.size(), 2u * kModels);
    for (const Series& series : c.series) {
      const std::string want = series.labels.at(0).value + "/" + series.labels.at(1).value;
      ASSERT_TRUE(series.exemplar) << want;
      EXPECT_EQ(series.exemplar->label.value, want);
    }
    const Family& h = FindFamily(all, "h");
    ASSERT_EQ(h.series.size(), static_cast<std::size_t>(kModels));
    for (const Series& series : h.series) {
      const std::string& model = series.labels.at(0).value;
      const int i =
          static_cast<int>(std::find(models.begin(), models.end(), model) - models.begin());
      const std::size_t bucket = i % 2 == 0 ? 0 : 1;
      for (std::size_t b = 0; b < series.buckets.size(); ++b) {
        if (b != bucket) {
          EXPECT_FALSE(series.buckets[b].exemplar) << model << " bucket " << b;
          continue;
        }
        ASSERT_TRUE(series.buckets[b].exemplar) << model;
        EXPECT_EQ(series.buckets[b].exemplar->label.value, model + "/h");
        EXPECT_EQ(series.buckets[b].exemplar->timestamp_seconds, i);
      }
    }
  }
}

// A writer meeting new label values (which takes the store's mutex) with
// exemplars, while scrapes run (which take the store's, then each shard's
// exemplar mutex): no deadlock, and every series keeps its exemplar.
TEST(StoreTest, ExemplarsOfNewLabelValuesWhileScraping) {
  MetricSpec spec = Status(1000);
  Store store({spec});
  Shard* shard = store.AddShard();
  constexpr int kValues = 900;
  std::vector<std::string> values;
  for (int i = 0; i < kValues; ++i) values.push_back("v" + std::to_string(i));
  std::thread writer([&] {
    for (int i = 0; i < kValues; ++i) {
      const std::string_view label = values[i];
      const Update u{0, kDynamicSeries, 1, &label};
      shard->Apply(&u, 1, {"trace_id", values[i], 1.0 * i});
    }
  });
  // With success and error, created at 0. A deadlock fails here (the writer
  // is then stuck too: the process ends with the test's failure).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::size_t shown = 0;
  while (shown < kValues + 2) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << shown << " series";
    shown = FindFamily(store.Collect(), "requests_total").series.size();
  }
  writer.join();
  const std::vector<Family> all = store.Collect();
  for (const Series& series : FindFamily(all, "requests_total").series) {
    const std::string& value = series.labels.at(0).value;
    if (value == "success" || value == "error") continue;
    ASSERT_TRUE(series.exemplar) << value;
    EXPECT_EQ(series.exemplar->label.value, value);
  }
}

// OpenMetrics: a W3C traceparent gives its trace id; at most 128 code points
// with the label name; no control characters, valid UTF-8.
TEST(StoreTest, ExemplarFromChecksTheSpecsLimits) {
  ExemplarRef out;
  EXPECT_EQ(ExemplarFrom("trace_id", "", 1, &out), ExemplarCheck::kAbsent);
  ASSERT_EQ(ExemplarFrom("trace_id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1.5,
                         &out),
            ExemplarCheck::kUsed);
  EXPECT_EQ(out.value, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(out.timestamp_seconds, 1.5);
  // A later version may append fields; version ff and an all-zero trace id are invalid.
  EXPECT_EQ(ExemplarFrom("trace_id",
                         "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", 1, &out),
            ExemplarCheck::kUsed);
  EXPECT_EQ(out.value, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(
      ExemplarFrom("trace_id", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, &out),
      ExemplarCheck::kRefused);
  EXPECT_EQ(
      ExemplarFrom("trace_id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", 1, &out),
      ExemplarCheck::kRefused);
  EXPECT_EQ(
      ExemplarFrom("trace_id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 1, &out),
      ExemplarCheck::kRefused);
  // Not traceparent-shaped: taken as it is (a request id with dashes, say).
  ASSERT_EQ(ExemplarFrom("request_id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1,
                         &out),
            ExemplarCheck::kUsed);
  EXPECT_EQ(out.value.size(), 55u);
  // 8 (trace_id) + 120 code points is the most; é is 2 bytes, one code point.
  std::string longest(119, 'a');
  longest += "\xc3\xa9";
  EXPECT_EQ(ExemplarFrom("trace_id", longest, 1, &out), ExemplarCheck::kUsed);
  EXPECT_EQ(ExemplarFrom("trace_id", longest + "a", 1, &out), ExemplarCheck::kTooLong);
  EXPECT_EQ(ExemplarFrom("trace_id", std::string(100000, 'x'), 1, &out), ExemplarCheck::kTooLong);
  EXPECT_EQ(ExemplarFrom("trace_id", "a\nb", 1, &out), ExemplarCheck::kRefused);
  EXPECT_EQ(ExemplarFrom("trace_id", std::string("a\0b", 3), 1, &out), ExemplarCheck::kRefused);
  EXPECT_EQ(ExemplarFrom("trace_id", "\xc3", 1, &out), ExemplarCheck::kRefused);
  EXPECT_EQ(ExemplarFrom("trace_id", "\xff\xfe", 1, &out), ExemplarCheck::kRefused);
}

// Printable ASCII is checked 8 bytes at a time: a bad byte is found
// wherever it stands, and the bounds of the printable range pass.
TEST(StoreTest, ExemplarFromFindsAnUnprintableByteAnywhere) {
  ExemplarRef out;
  for (std::size_t size = 1; size <= 40; ++size) {
    for (std::size_t at = 0; at < size; ++at) {
      for (const char bad : {'\0', '\t', '\x1f', '\x7f', '\x80', '\xff'}) {
        std::string text(size, 'a');
        text[at] = bad;
        EXPECT_EQ(ExemplarFrom("request_id", text, 1, &out), ExemplarCheck::kRefused)
            << size << " bytes, " << static_cast<int>(bad) << " at " << at;
      }
      for (const char fine : {' ', '~'}) {
        std::string text(size, 'a');
        text[at] = fine;
        EXPECT_EQ(ExemplarFrom("request_id", text, 1, &out), ExemplarCheck::kUsed)
            << size << " bytes, " << static_cast<int>(fine) << " at " << at;
      }
      std::string text(size, 'a');
      text.replace(at, 1, "\xc3\xa9");  // é: valid UTF-8
      EXPECT_EQ(ExemplarFrom("request_id", text, 1, &out), ExemplarCheck::kUsed) << at;
    }
  }
}

// A shard keeps each label once, counted by the cells showing it, and reuses
// it when none does: every cell still shows its own latest label, through
// lines that repeat the last label, and scrapes between them.
TEST(StoreTest, ExemplarLabelsReusedKeepEveryCellsLatest) {
  MetricSpec counter;
  counter.name = "c_total";
  Store store({Histogram({1, 2, 3}), counter});
  Shard* shard = store.AddShard();
  const BoundSeries c = shard->Bind(1, 0);
  const double values[] = {0.5, 1.5, 2.5, 9};  // one per bucket, +Inf last
  std::string last[4];
  std::string last_counted;
  for (int i = 0; i < 300; ++i) {
    const int bucket = (i * 7 + i / 5) % 4;
    const int n = i % 50 == 0 ? i - 1 : i;  // some repeat the last
    std::string id = "t" + std::to_string(n);
    // Some longer than a pooled label holds in itself: entries reused go
    // from their own bytes to a string beside them and back.
    if (n % 7 == 3) id.resize(120, 'x');
    const Update u{0, 0, values[bucket], nullptr};
    shard->Apply(&u, 1, Trace(id, i));
    last[bucket] = id;
    if (i % 3 == 0) {
      const double one = 1;
      shard->Write(&c, &one, 1, Trace(id, i));
      last_counted = id;
    }
    if (i % 37 != 0) continue;
    const std::vector<Family> all = store.Collect();
    const Series& hist = FindFamily(all, "h").series.at(0);
    for (int b = 0; b < 4; ++b) {
      if (last[b].empty()) continue;
      ASSERT_TRUE(hist.buckets.at(b).exemplar) << i << " " << b;
      EXPECT_EQ(hist.buckets[b].exemplar->label.value, last[b]) << i << " " << b;
    }
    ASSERT_TRUE(FindFamily(all, "c_total").series.at(0).exemplar);
    EXPECT_EQ(FindFamily(all, "c_total").series.at(0).exemplar->label.value, last_counted);
  }
  const std::vector<Family> all = store.Collect();
  const Series& hist = FindFamily(all, "h").series.at(0);
  for (int b = 0; b < 4; ++b) {
    ASSERT_TRUE(hist.buckets.at(b).exemplar) << b;
    EXPECT_EQ(hist.buckets[b].exemplar->label.value, last[b]) << b;
  }
}

// A scrape's exemplars are copied into a block that a later scrape writes
// over only once no family shows it: families still held (a scrape being
// written, another thread's) keep their exemplars whatever comes after.
TEST(StoreTest, ExemplarsShownStayWhileLaterScrapesRun) {
  MetricSpec counter;
  counter.name = "c_total";
  counter.labels = {{"route", {}, 50, "other"}};
  Store store({counter});
  Shard* shard = store.AddShard();
  const auto write_round = [&](int round) {
    for (int r = 0; r < 40; ++r) {
      const std::string route = "r" + std::to_string(r);
      const Update u = Labelled(0, 1, {route});
      const std::string id = "round" + std::to_string(round) + "-" + route;
      shard->Apply(&u, 1, Trace(id, round));
    }
  };
  const auto expect_round = [](const std::vector<Family>& families, std::size_t first, int round) {
    const Family& family = families.at(first);
    ASSERT_EQ(family.series.size(), 40u);
    for (const Series& series : family.series) {
      ASSERT_TRUE(series.exemplar) << round;
      EXPECT_EQ(series.exemplar->label.value,
                "round" + std::to_string(round) + "-" + series.labels.at(0).value);
      EXPECT_EQ(series.exemplar->timestamp_seconds, round);
    }
  };
  write_round(0);
  const std::vector<Family> held = store.Collect();  // kept through all below
  std::vector<Family> reused;                        // written over, as a scraping thread's
  std::vector<Family> other;                         // another thread's, scraping in turn
  for (int round = 1; round <= 12; ++round) {
    write_round(round);
    store.Collect(true, &reused, 1);
    expect_round(reused, 1, round);
    if (round % 3 == 0) {
      store.Collect(true, &other, 0);
      expect_round(other, 0, round);
    }
    expect_round(held, 0, 0);
    store.Collect(false, &reused, 1);  // a format without exemplars takes no block
    EXPECT_FALSE(reused.at(1).series.at(0).exemplar);
  }
  expect_round(other, 0, 12);
}

// The budget's estimate: every series the caps allow (the overflow value
// included) in every shard, and every label value at its longest.
TEST(StoreTest, MaxBytesCountsEverySeriesInEveryShard) {
  MetricSpec h = Histogram({1, 2, 3});  // 3 buckets, +Inf and the sum: 5 cells
  EXPECT_EQ(Store::MaxBytes(h, 2), 1 + 2 * 5 * 8u);
  h.labels = {{"status", {"success", "error"}, 9, "other"}};  // 10 values with "other"
  const std::size_t per_value = sizeof(std::string) + 129 + 2 * sizeof(std::string_view);
  EXPECT_EQ(Store::MaxBytes(h, 2), 10 * (1 + 2 * 5 * 8u) + 9 * per_value);
  EXPECT_EQ(Store::MaxBytes(Gauge(), 3), 1 + 3 * 2 * 8u);
}

// Shards asked for up front are allocated by the constructor and handed out
// first: a writer's AddShard then allocates nothing.
TEST(StoreTest, ShardsAllocatedUpFrontAreHandedOutFirst) {
  Store store({Status(4)}, SumMode::kFast, 2);
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  Shard* c = store.AddShard();  // allocated now
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  a->Apply(Labelled(0, 1, {"success"}));
  c->Apply(Labelled(0, 2, {"success"}));
  EXPECT_EQ(CounterByLabel(FindFamily(store.Collect(), "requests_total"))["success"], 3);
}

// Every kind of cell: a histogram with `bounds`, gauges of each mode, a counter.
std::vector<MetricSpec> EveryCellKind(std::vector<double> bounds) {
  std::vector<MetricSpec> specs = {Histogram(std::move(bounds)), Gauge()};
  MetricSpec counter;
  counter.name = "c_total";
  specs.push_back(counter);
  for (const GaugeMode mode : {GaugeMode::kMax, GaugeMode::kAdd}) {
    MetricSpec g = Gauge();
    g.name = mode == GaugeMode::kMax ? "g_max" : "g_add";
    g.gauge_mode = mode;
    specs.push_back(g);
  }
  return specs;
}

TEST(StoreTest, BoundWritesEqualApply) {
  // Every kind of cell, including a histogram with more than four bounds and
  // values on, between and past them; the two stores must show the same text.
  const std::vector<MetricSpec> specs = EveryCellKind({0.1, 0.3, 0.5, 1, 2.5, 5, 10});
  Store applied(specs), written(specs);
  Shard* a = applied.AddShard();
  Shard* w = written.AddShard();
  std::vector<BoundSeries> bound;
  for (std::uint32_t m = 0; m < specs.size(); ++m) bound.push_back(w->Bind(m, 0));
  bound.push_back(w->Bind(99, 0));  // unknown metric: ignored
  bound.push_back(w->Bind(0, 1));   // unknown series: ignored
  const double kValues[] = {0.1, 0.2, 0.3, 4.9, 5, 10, 11, -1, 0, 1e300};
  for (const double v : kValues) {
    double values[7];
    for (std::uint32_t m = 0; m < 7; ++m) {
      values[m] = v;
      if (m < specs.size()) a->Apply({m, 0, v, {}});
    }
    w->Write(bound.data(), values, 0x7f);
  }
  w->Write(bound.data(), kValues, 0);  // no bit: nothing
  EXPECT_EQ(SerializeText(written.Collect()), SerializeText(applied.Collect()));
  EXPECT_NE(SerializeText(written.Collect()).find("h_bucket{le=\"5\"} 7\n"), std::string::npos)
      << SerializeText(written.Collect());
}

TEST(StoreTest, ASampledWriteCountsAsManyTimesAsItsLineStandsFor) {
  // Writing with times=3 equals writing 3 times, but for gauges that keep a
  // last value or a maximum, written once; with or without an exemplar.
  const std::vector<MetricSpec> specs = EveryCellKind({0.5, 1, 2.5, 5, 10});
  Store thrice(specs), applied(specs), written(specs);
  Shard* t = thrice.AddShard();
  Shard* a = applied.AddShard();
  Shard* w = written.AddShard();
  std::vector<BoundSeries> bound;
  for (std::uint32_t m = 0; m < specs.size(); ++m) bound.push_back(w->Bind(m, 0));
  const ExemplarRef exemplar{"trace_id", "abc", 1700000000};
  const double kValues[] = {0.25, 0.5, 4.75, 5, 10, 11, -1, 0};
  for (std::size_t i = 0; i < std::size(kValues); ++i) {
    const double v = kValues[i];
    double values[5];
    for (std::uint32_t m = 0; m < specs.size(); ++m) {
      values[m] = v;
      for (int k = 0; k < 3; ++k) t->Apply({m, 0, v, {}});
      const Update update{m, 0, v, {}};
      a->Apply(&update, 1, i % 2 == 0 ? &exemplar : nullptr, 3);
    }
    w->Write(bound.data(), values, 0x1f, i % 2 == 0 ? &exemplar : nullptr, 3);
  }
  const std::string want = SerializeText(thrice.Collect());
  EXPECT_EQ(SerializeText(applied.Collect()), want);
  EXPECT_EQ(SerializeText(written.Collect()), want);
  EXPECT_NE(want.find("h_bucket{le=\"5\"} 18\n"), std::string::npos) << want;
  EXPECT_NE(want.find("g_max 11\n"), std::string::npos) << want;
  // The exemplar keeps the line's value (the last with one: 10), not 3 times it.
  const auto all = applied.Collect();
  const auto& c = FindFamily(all, "c_total").series.at(0);
  ASSERT_TRUE(c.exemplar != nullptr);
  EXPECT_EQ(c.exemplar->value, 10);
}

TEST(StoreTest, HistogramBoundsAreInclusive) {
  Store store({Histogram({1, 2, 5})});
  Shard* shard = store.AddShard();
  for (double v : {0.0, 1.0, 1.5, 2.0, 5.0, 5.001, -3.0}) shard->Apply({0, 0, v, {}});
  const auto all = store.Collect();
  const auto& h = FindFamily(all, "h").series.at(0);
  ASSERT_EQ(h.buckets.size(), 4u);
  EXPECT_EQ(h.buckets[0].cumulative_count, 3u);  // -3, 0, 1
  EXPECT_EQ(h.buckets[1].cumulative_count, 5u);  // 1.5, 2
  EXPECT_EQ(h.buckets[2].cumulative_count, 6u);  // 5
  EXPECT_TRUE(std::isinf(h.buckets[3].upper_bound));
  EXPECT_EQ(h.buckets[3].cumulative_count, 7u);
  EXPECT_EQ(h.count, 7u);
  EXPECT_DOUBLE_EQ(h.sum, 0 + 1 + 1.5 + 2 + 5 + 5.001 - 3);
}

TEST(StoreTest, ShardsAreMerged) {
  Store store({Histogram({10}), Status(4)});
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  a->Apply({0, 0, 1, {}});
  b->Apply({0, 0, 100, {}});
  a->Apply(Labelled(1, 1, {"success"}));
  b->Apply(Labelled(1, 1, {"success"}));
  b->Apply(Labelled(1, 1, {"new"}));
  a->Apply(Labelled(1, 1, {"new"}));  // learns b's series, no duplicate
  const auto all = store.Collect();
  EXPECT_EQ(FindFamily(all, "h").series.at(0).count, 2u);
  EXPECT_EQ(CounterByLabel(FindFamily(all, "requests_total")),
            (std::map<std::string, double>{{"success", 2}, {"error", 0}, {"new", 2}}));
}

TEST(StoreTest, GaugeLatestStampWinsAndUnsetIsAbsent) {
  Store store({Gauge()});
  EXPECT_TRUE(FindFamily(store.Collect(), "g").series.empty());
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  a->SetStamp(20);
  a->Apply({0, 0, 1, {}});
  b->SetStamp(10);
  b->Apply({0, 0, 2, {}});
  EXPECT_EQ(FindFamily(store.Collect(), "g").series.at(0).value, 1);
  b->SetStamp(30);
  b->Apply({0, 0, 3, {}});
  EXPECT_EQ(FindFamily(store.Collect(), "g").series.at(0).value, 3);
}

TEST(StoreTest, LabelCapSendsTheRestToOtherAndCountsThem) {
  Store store({Status(4)});
  Shard* shard = store.AddShard();
  const std::vector<std::string> values = {"success", "a", "b",     "c",
                                           "d",       "a", "other", std::string(200, 'x')};
  for (const std::string& v : values) shard->Apply(Labelled(0, 1, {v}));
  const auto all = store.Collect();
  EXPECT_EQ(CounterByLabel(FindFamily(all, "requests_total")),
            (std::map<std::string, double>{
                {"success", 1}, {"error", 0}, {"a", 2}, {"b", 1}, {"other", 4}}));
  // "c", "d" and the 200-byte value were refused; a literal "other" was not.
  EXPECT_EQ(CounterByLabel(FindFamily(all, "llm_log_exporter_label_overflow_total")),
            (std::map<std::string, double>{{"requests_total", 3}}));
}

// A log line's NUL, ESC or DEL never reaches /metrics (a terminal that shows
// the page would run the escape): the value counts as the overflow value.
TEST(StoreTest, LabelValuesWithControlBytesGoToOther) {
  Store store({Status(8)});
  Shard* shard = store.AddShard();
  for (const std::string& v :
       {std::string("\x1b[2Jok"), std::string("a\0b", 3), std::string("tab\there"),
        std::string("del\x7f"), std::string("caf\xc3\xa9")}) {
    shard->Apply(Labelled(0, 1, {v}));
  }
  const auto all = store.Collect();
  EXPECT_EQ(CounterByLabel(FindFamily(all, "requests_total")),
            (std::map<std::string, double>{
                {"success", 0}, {"error", 0}, {"caf\xc3\xa9", 1}, {"other", 4}}));
  EXPECT_EQ(CounterByLabel(FindFamily(all, "llm_log_exporter_label_overflow_total")),
            (std::map<std::string, double>{{"requests_total", 4}}));
}

TEST(StoreTest, CountersRefuseNegativeAndIgnoreUnknownMetrics) {
  Store store({Status(4)});
  Shard* shard = store.AddShard();
  shard->Apply({0, 0, -1, {}});
  shard->Apply({0, 0, 2, {}});
  shard->Apply({7, 0, 1, {}});
  shard->Apply({0, 99, 1, {}});
  EXPECT_EQ(CounterByLabel(FindFamily(store.Collect(), "requests_total"))["success"], 2);
}

TEST(StoreTest, ScrapesDuringWritesSeeConsistentHistograms) {
  Store store({Histogram({1, 2})});
  Shard* shard = store.AddShard();
  constexpr int kWrites = 200000;
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) shard->Apply({0, 0, static_cast<double>(i % 3), {}});
  });
  std::uint64_t last = 0;
  for (;;) {
    const auto all = store.Collect();
    const auto& h = FindFamily(all, "h").series.at(0);
    // Cumulative buckets never decrease and +Inf equals _count in every scrape.
    EXPECT_LE(h.buckets[0].cumulative_count, h.buckets[1].cumulative_count);
    EXPECT_EQ(h.buckets[2].cumulative_count, h.count);
    EXPECT_GE(h.count, last);
    last = h.count;
    if (last == kWrites) break;
  }
  writer.join();
}

TEST(StoreTest, GaugeModesMaxAndAddMergeAcrossShards) {
  MetricSpec max = Gauge();
  max.name = "max";
  max.gauge_mode = GaugeMode::kMax;
  MetricSpec add = Gauge();
  add.name = "add";
  add.gauge_mode = GaugeMode::kAdd;
  Store store({max, add});
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  for (double v : {-5.0, 3.0, 1.0}) a->Apply({0, 0, v, {}});
  b->Apply({0, 0, -7, {}});
  a->Apply({1, 0, 2, {}});
  b->Apply({1, 0, -5, {}});
  const auto all = store.Collect();
  EXPECT_EQ(FindFamily(all, "max").series.at(0).value, 3);
  EXPECT_EQ(FindFamily(all, "add").series.at(0).value, -3);
}

// The totals of a counter, an `add` gauge and a histogram sum after `values`
// were dealt round-robin over `shards` shards, as text.
std::string DealtTotals(const std::vector<double>& values, std::size_t shards, SumMode sums) {
  MetricSpec counter;
  counter.name = "c";
  MetricSpec add = Gauge();
  add.gauge_mode = GaugeMode::kAdd;
  Store store({counter, add, Histogram({1, 10})}, sums);
  std::vector<Shard*> all;
  for (std::size_t i = 0; i < shards; ++i) all.push_back(store.AddShard());
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::uint32_t metric = 0; metric < 3; ++metric) {
      all[i % shards]->Apply({metric, 0, values[i], {}});
    }
  }
  return SerializeText(store.Collect());
}

TEST(StoreTest, ExactSumsDoNotDependOnHowValuesAreSplit) {
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(0.1 * i + 1e-3 * (i % 7) + 1234.567);
  const std::string one = DealtTotals(values, 1, SumMode::kExact);
  for (std::size_t shards : {2, 3, 7}) {
    EXPECT_EQ(DealtTotals(values, shards, SumMode::kExact), one) << shards << " shards";
  }
  // The same values as doubles do depend on it (else this test proves nothing).
  EXPECT_NE(DealtTotals(values, 3, SumMode::kFast), DealtTotals(values, 1, SumMode::kFast));
}

TEST(StoreTest, ExactSumsFallBackToDoublesForValuesTheyCannotHold) {
  // Too small (bits below 2^-80), too large (2^126 and up), and not finite.
  for (double odd : {1e-30, 1e40, std::numeric_limits<double>::infinity()}) {
    const std::vector<double> values = {2.5, odd, 4.0};
    const std::string exact = DealtTotals(values, 2, SumMode::kExact);
    EXPECT_EQ(exact, DealtTotals(values, 2, SumMode::kFast)) << odd;
  }
  // Negative values in an `add` gauge are exact too.
  const std::string text = DealtTotals({5.25, -7.5, 0.125}, 2, SumMode::kExact);
  EXPECT_NE(text.find("g -2.125\n"), std::string::npos) << text;
}

TEST(StoreTest, SeriesAreOrderedByLabelValuesWhicheverShardMetThemFirst) {
  Store store({Status(8)});
  Shard* a = store.AddShard();
  a->Apply(Labelled(0, 1, {"timeout"}));
  a->Apply(Labelled(0, 1, {"aborted"}));
  a->Apply(Labelled(0, 1, {"error"}));
  const auto all = store.Collect();
  const auto& metrics = FindFamily(all, "requests_total").series;
  std::vector<std::string> order;
  for (const auto& m : metrics) order.push_back(m.labels.at(0).value);
  EXPECT_EQ(order, (std::vector<std::string>{"aborted", "error", "success", "timeout"}));
}

// The label values of each series of `f`, in the order shown.
std::vector<std::vector<std::string>> LabelTuples(const Family& f) {
  std::vector<std::vector<std::string>> out;
  for (const Series& series : f.series) {
    out.emplace_back();
    for (const Label& label : series.labels) out.back().push_back(label.value);
  }
  return out;
}

// Series are ordered without comparing strings per series (each label's
// values are ranked): the order must be that of their label values' text,
// byte by byte, for values that are prefixes of others, empty, non-ASCII,
// the overflow value among the others, and whatever the order and shard in
// which they were met.
TEST(StoreTest, SeriesOrderIsThatOfTheLabelValuesTextForTrickyValues) {
  MetricSpec s;
  s.name = "r";
  s.labels = {{"a", {"m"}, 6, "other"}, {"b", {}, 5, "overflow"}, {"c", {"x", ""}, 2, "z"}};
  s.dynamic = true;
  Store store({s});
  Shard* shards[] = {store.AddShard(), store.AddShard()};
  const std::vector<std::string> a = {"ab", "a", "", "\xc3\xa9", "other2", "A", "b", "zz"};
  const std::vector<std::string> b = {"10", "9", "1", "b a", "~", "", "x", "y"};
  const std::vector<std::string> c = {"x", "", "w", "y"};
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < b.size(); ++j) {
      for (std::size_t k = 0; k < c.size(); ++k) {
        if ((i * 7 + j * 3 + k) % 4 == 0) continue;  // some combinations never met
        shards[n++ % 2]->Apply(Labelled(0, 1, {a[(i * 5) % a.size()], b[j], c[k]}));
      }
    }
  }
  const std::vector<Family> all = store.Collect();
  const std::vector<std::vector<std::string>> got = LabelTuples(FindFamily(all, "r"));
  std::vector<std::vector<std::string>> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(got, sorted);
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "a series twice";
  // The overflow values are among them.
  bool other = false;
  for (const auto& tuple : got) other |= tuple[0] == "other" || tuple[1] == "overflow";
  EXPECT_TRUE(other);
  double total = 0;
  for (const Series& series : FindFamily(all, "r").series) total += series.value;
  EXPECT_EQ(total, static_cast<double>(n));
}

// Two values of the same text (a spec made in code; the config refuses
// them): series are still in the order of their values' text.
TEST(StoreTest, SeriesOfValuesWithTheSameTextAreStillOrderedByText) {
  MetricSpec s;
  s.name = "r";
  s.labels = {FixedLabel("a", {"x", "w", "x"}), FixedLabel("b", {"2", "1"})};
  Store store({s});
  Shard* shard = store.AddShard();
  for (std::uint32_t i = 0; i < 6; ++i) shard->Apply({0, i, 1.0 + i, {}});
  const std::vector<std::vector<std::string>> got = LabelTuples(FindFamily(store.Collect(), "r"));
  ASSERT_EQ(got.size(), 6u);
  std::vector<std::vector<std::string>> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(got, sorted);
}

// Series created while scrapes run: every scrape shows each series once, in
// order, and the last one all of them.
TEST(StoreTest, SeriesCreatedWhileScrapingAreShownOnceAndInOrder) {
  MetricSpec s;
  s.name = "r";
  s.labels = {{"a", {}, 40, "other"}, {"b", {}, 40, "other"}};
  s.dynamic = true;
  Store store({s});
  Shard* shard = store.AddShard();
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(std::to_string((i * 17) % 40));
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      for (int j = 0; j < 40; ++j) shard->Apply(Labelled(0, 1, {values[i], values[j]}));
    }
  });
  std::size_t shown = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (shown < 40 * 40) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << shown << " series";
    const std::vector<std::vector<std::string>> got = LabelTuples(FindFamily(store.Collect(), "r"));
    std::vector<std::vector<std::string>> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(got, sorted);
    ASSERT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "a series twice";
    ASSERT_GE(got.size(), shown);
    shown = got.size();
  }
  writer.join();
}

// Collect(false), for a format without exemplars: the same series and
// values, no exemplar. An exemplar handed out outlives the families.
TEST(StoreTest, CollectWithoutExemplarsAndExemplarsOutliveTheirFamilies) {
  Store store({Status(4), Histogram({1})});
  Shard* shard = store.AddShard();
  const Update u = Labelled(0, 1, {"error"});
  shard->Apply(&u, 1, Trace("t-1", 1));
  const Update h{1, 0, 0.5, nullptr};
  shard->Apply(&h, 1, Trace("t-2", 2));
  std::shared_ptr<const Exemplar> kept;
  {
    const std::vector<Family> with = store.Collect();
    const std::vector<Family> without = store.Collect(false);
    EXPECT_EQ(SerializeText(with), SerializeText(without));
    EXPECT_NE(SerializeOpenMetrics(with), SerializeOpenMetrics(without));
    for (const Family& f : without) {
      for (const Series& series : f.series) {
        EXPECT_FALSE(series.exemplar);
        for (const Bucket& bucket : series.buckets) EXPECT_FALSE(bucket.exemplar);
      }
    }
    kept = FindFamily(with, "h").series.at(0).buckets.at(0).exemplar;
  }
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->label.value, "t-2");
  EXPECT_EQ(kept->value, 0.5);
}

// Collect into the families of a previous scrape (more series, other
// types, exemplars, native buckets, more families): written over, the same
// families as a fresh Collect.
TEST(StoreTest, CollectWrittenOverAPreviousScrapeEqualsAFreshOne) {
  MetricSpec native = Histogram({1, 2});
  native.name = "n";
  native.native.enabled = true;
  Store store({Status(8), Gauge(), Histogram({1, 2}), native});
  Shard* shard = store.AddShard();
  const Update u = Labelled(0, 1, {"timeout"});
  shard->Apply(&u, 1, Trace("t-1", 1));
  shard->Apply({2, 0, 1.5, nullptr});
  shard->Apply({3, 0, 0.5, nullptr});

  MetricSpec other = Status(8);
  other.name = "other_total";
  Store big({Histogram({1, 2, 3}), other, Gauge(), Histogram({5}), Status(2)});
  Shard* big_shard = big.AddShard();
  for (const char* value : {"a", "b", "c", "d", "e"}) {
    const Update v = Labelled(1, 2, {value});
    big_shard->Apply(&v, 1, Trace(value, 2));
  }
  big_shard->Apply({0, 0, 2.5, nullptr});
  const Update h{3, 0, 4, nullptr};
  big_shard->Apply(&h, 1, Trace("h", 3));
  big_shard->Apply({2, 0, 7, nullptr});

  for (const bool with_exemplars : {true, false}) {
    std::vector<Family> reused = big.Collect();
    reused.emplace_back();  // one more, as HttpServer adds its own
    reused.back().name = "extra";
    const std::size_t end = store.Collect(with_exemplars, &reused, 0);
    ASSERT_EQ(end, store.families());
    reused.resize(end);
    const std::vector<Family> fresh = store.Collect(with_exemplars);
    EXPECT_EQ(SerializeOpenMetrics(reused), SerializeOpenMetrics(fresh));
    EXPECT_EQ(SerializeProtobuf(reused), SerializeProtobuf(fresh));
    EXPECT_EQ(SerializeText(reused), SerializeText(fresh));
  }
  // At an offset, after other families: those stay.
  std::vector<Family> both = big.Collect();
  const std::size_t end = store.Collect(true, &both, big.families());
  EXPECT_EQ(end, big.families() + store.families());
  std::vector<Family> expected = big.Collect();
  for (Family& f : store.Collect()) expected.push_back(std::move(f));
  EXPECT_EQ(SerializeOpenMetrics(both), SerializeOpenMetrics(expected));
}

TEST(StoreTest, TwoLabelsEachWithItsOwnCap) {
  MetricSpec s;
  s.name = "r";
  s.labels = {{"path", {"/a"}, 1, "other"}, {"method", {}, 2, "other"}};
  s.dynamic = true;
  Store store({s});
  Shard* shard = store.AddShard();
  shard->Apply(Labelled(0, 1, {"/a", "GET"}));
  shard->Apply(Labelled(0, 1, {"/b", "POST"}));
  shard->Apply(Labelled(0, 1, {"/a", "PUT"}));  // third method: over the cap
  std::map<std::string, double> got;
  const auto all = store.Collect();
  for (const auto& m : FindFamily(all, "r").series) {
    got[m.labels.at(0).value + " " + m.labels.at(1).value] = m.value;
  }
  EXPECT_EQ(got,
            (std::map<std::string, double>{{"/a GET", 1}, {"other POST", 1}, {"/a other", 1}}));
  EXPECT_EQ(CounterByLabel(FindFamily(all, "llm_log_exporter_label_overflow_total")),
            (std::map<std::string, double>{{"r", 2}}));
}

// A reload: values of metrics that keep their shape carry over, others start
// again (changed buckets) or vanish (values the new allowlist leaves out).
TEST(StoreTest, AbsorbKeepsWhatTheNewSpecsStillHave) {
  MetricSpec kept = Status(4);
  MetricSpec allow = Status(2);
  allow.name = "allow_total";
  Store old({kept, Histogram({1, 2}), Gauge(), allow});
  Shard* w = old.AddShard();
  w->Apply(Labelled(0, 3, {"success"}));
  w->Apply(Labelled(0, 2, {"new"}));
  w->Apply({1, 0, 1.5, {}});
  w->SetStamp(7);
  w->Apply({2, 0, 42, {}});
  w->Apply(Labelled(3, 5, {"error"}));

  MetricSpec narrowed = allow;
  narrowed.labels = {{"status", {"success"}, 1, "other"}};  // "error" is gone
  Store next({kept, Histogram({1, 5}), Gauge(), narrowed});
  next.Absorb(old);
  Shard* after = next.AddShard();
  after->Apply(Labelled(0, 1, {"success"}));
  const auto all = next.Collect();
  EXPECT_EQ(CounterByLabel(FindFamily(all, "requests_total")),
            (std::map<std::string, double>{{"success", 4}, {"error", 0}, {"new", 2}}));
  EXPECT_EQ(FindFamily(all, "h").series.at(0).count, 0u);  // other buckets
  EXPECT_EQ(FindFamily(all, "g").series.at(0).value, 42);
  EXPECT_EQ(CounterByLabel(FindFamily(all, "allow_total")),
            (std::map<std::string, double>{{"success", 0}}));
}

}  // namespace
}  // namespace lle
