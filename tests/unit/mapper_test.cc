#include "llm_log_exporter/map/mapper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "llm_log_exporter/config/config.h"

namespace lle {
namespace {

class MapperTest : public testing::Test {
 protected:
  MapperTest() : mapper_(QwenPreset(), 0) {
    for (std::size_t i = 0; i < mapper_.Specs().size(); ++i) ids_[mapper_.Specs()[i].name] = i;
    for (std::size_t i = 0; i < mapper_.Rules().fields.size(); ++i) {
      fields_[mapper_.Rules().fields[i]] = i;
    }
  }

  void Set(const std::string& field, double v) {
    record_.Set(fields_.at(field), {FieldState::kNumber, v, {}});
  }
  void SetState(const std::string& field, FieldState s) {
    record_.Set(fields_.at(field), {s, 0, {}});
  }
  const UpdateBatch& Map() {
    batch_.Clear();
    mapper_.Map(record_, 1700000000.5, batch_);
    return batch_;
  }
  // Values of the updates to `metric`.
  std::vector<double> Values(const std::string& metric) {
    std::vector<double> out;
    for (std::size_t i = 0; i < batch_.size; ++i) {
      if (batch_.items[i].metric == ids_.at(metric)) out.push_back(batch_.items[i].value);
    }
    return out;
  }
  // Field-error updates as "field/reason" strings.
  // "field/reason" of each field error, sorted (the order follows the preset's fields).
  std::vector<std::string> FieldErrors() {
    const MetricSpec& spec = mapper_.Specs()[ids_.at("llm_log_exporter_field_errors_total")];
    std::vector<std::string> out;
    for (std::size_t i = 0; i < batch_.size; ++i) {
      if (batch_.items[i].metric != ids_.at("llm_log_exporter_field_errors_total")) continue;
      const std::uint32_t series = batch_.items[i].series;
      const std::size_t reasons = spec.labels.at(1).values.size();
      out.push_back(spec.labels.at(0).values.at(series / reasons) + "/" +
                    spec.labels.at(1).values.at(series % reasons));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Mapper mapper_;
  std::map<std::string, std::uint32_t> ids_;
  std::map<std::string, std::size_t> fields_;
  Record record_;
  UpdateBatch batch_;
};

TEST_F(MapperTest, FullRequestFeedsEverySeries) {
  record_.Set(fields_.at("status"), {FieldState::kString, 0, "success"});
  Set("total_time_ms", 1876);
  Set("queue_time_ms", 120);
  Set("inference_time_ms", 1756);
  Set("input_tokens", 1240);
  Set("output_tokens", 320);
  Set("gpu_memory_mb", 18432);
  Map();
  EXPECT_EQ(Values("qwen_requests_total"), std::vector<double>{1});
  EXPECT_EQ(Values("qwen_request_duration_ms"), std::vector<double>{1876});
  // Exactly the decimal value: a bound like 0.3 must catch 300 ms.
  EXPECT_EQ(Values("qwen_request_duration_seconds"), std::vector<double>{1.876});
  EXPECT_EQ(Values("qwen_request_queue_duration_seconds"), std::vector<double>{0.12});
  EXPECT_EQ(Values("qwen_request_inference_duration_seconds"), std::vector<double>{1.756});
  EXPECT_EQ(Values("qwen_time_per_output_token_seconds"),
            std::vector<double>{1756.0 / 320.0 / 1000});
  EXPECT_EQ(Values("qwen_input_tokens"), std::vector<double>{1240});
  EXPECT_EQ(Values("qwen_prompt_tokens_total"), std::vector<double>{1240});
  EXPECT_EQ(Values("qwen_generation_tokens_total"), std::vector<double>{320});
  EXPECT_EQ(Values("qwen_gpu_memory_mb"), std::vector<double>{18432});
  EXPECT_EQ(Values("qwen_gpu_memory_used_bytes"), std::vector<double>{18432.0 * 1048576});
  EXPECT_EQ(Values("qwen_last_request_timestamp_seconds"), std::vector<double>{1700000000.5});
  EXPECT_TRUE(FieldErrors().empty());
  for (std::size_t i = 0; i < batch_.size; ++i) {
    if (batch_.items[i].metric == ids_.at("qwen_requests_total")) {
      EXPECT_EQ(batch_.items[i].series, kDynamicSeries);
      EXPECT_EQ(batch_.items[i].labels[0], "success");
    }
  }
}

TEST_F(MapperTest, MissingFieldsAreNotObservedButCounted) {
  Set("total_time_ms", 100);
  Map();
  EXPECT_EQ(Values("qwen_request_duration_ms"), std::vector<double>{100});
  EXPECT_TRUE(Values("qwen_input_tokens").empty());
  EXPECT_TRUE(Values("qwen_gpu_memory_mb").empty());
  EXPECT_TRUE(Values("qwen_time_per_output_token_seconds").empty());
  EXPECT_EQ(FieldErrors(),
            (std::vector<std::string>{"gpu_memory_mb/missing", "inference_time_ms/missing",
                                      "input_tokens/missing", "output_tokens/missing",
                                      "queue_time_ms/missing"}));
  for (std::size_t i = 0; i < batch_.size; ++i) {
    if (batch_.items[i].metric == ids_.at("qwen_requests_total")) {
      EXPECT_EQ(batch_.items[i].labels[0], "unknown");
    }
  }
}

TEST_F(MapperTest, BadFieldsAreCountedOnceAndDoNotAffectOthers) {
  record_.Set(fields_.at("status"), {FieldState::kString, 0, "error"});
  SetState("total_time_ms", FieldState::kString);  // "1876": a string is not a number
  SetState("input_tokens", FieldState::kOutOfRange);
  Set("output_tokens", 0);
  Set("inference_time_ms", 50);
  Set("queue_time_ms", 1);
  Set("gpu_memory_mb", 1);
  Map();
  // total_time_ms feeds two histograms but its error counts once.
  EXPECT_EQ(FieldErrors(),
            (std::vector<std::string>{"input_tokens/out_of_range", "total_time_ms/wrong_type"}));
  EXPECT_TRUE(Values("qwen_request_duration_ms").empty());
  EXPECT_EQ(Values("qwen_output_tokens"), std::vector<double>{0});
  // No per-token time without generated tokens.
  EXPECT_TRUE(Values("qwen_time_per_output_token_seconds").empty());
}

TEST_F(MapperTest, MillisecondsBecomeTheExactDecimalSeconds) {
  for (double ms : {300.0, 800.0, 1500.0, 7680000.0}) {
    Set("queue_time_ms", ms);
    Map();
    EXPECT_EQ(Values("qwen_request_queue_duration_seconds"), std::vector<double>{ms / 1000}) << ms;
  }
  Set("queue_time_ms", 300);
  Map();
  EXPECT_EQ(Values("qwen_request_queue_duration_seconds").at(0), 0.3);  // the bucket bound itself
}

TEST_F(MapperTest, EmptyStatusIsUnknown) {
  record_.Set(fields_.at("status"), {FieldState::kString, 0, ""});
  Map();
  for (std::size_t i = 0; i < batch_.size; ++i) {
    if (batch_.items[i].metric == ids_.at("qwen_requests_total")) {
      EXPECT_EQ(batch_.items[i].labels[0], "unknown");
    }
  }
}

TEST_F(MapperTest, NonStringStatusIsUnknown) {
  SetState("status", FieldState::kNumber);
  Set("total_time_ms", 1);
  Map();
  // (The pipeline turns a numeric status into an HTTP status first, by the
  // preset's requests.fields; the mapper alone sees a number.)
  const auto errors = FieldErrors();
  EXPECT_NE(std::find(errors.begin(), errors.end(), "status/wrong_type"), errors.end());
}

TEST_F(MapperTest, NegativeTokensAreObservedButNeverDecreaseACounter) {
  record_.Set(fields_.at("status"), {FieldState::kString, 0, "success"});
  Set("input_tokens", -5);
  Map();
  EXPECT_EQ(Values("qwen_input_tokens"), std::vector<double>{-5});
  EXPECT_TRUE(Values("qwen_prompt_tokens_total").empty());
  const auto errors = FieldErrors();
  EXPECT_NE(std::find(errors.begin(), errors.end(), "input_tokens/negative"), errors.end());
}

TEST(QwenPresetTest, SeedSeriesKeepTheirNamesAndBuckets) {
  const RuleSet r = QwenPreset();
  std::map<std::string, std::vector<double>> buckets;
  for (const MetricSpec& m : r.metrics) buckets[m.name] = m.buckets;
  EXPECT_EQ(buckets.at("qwen_request_duration_ms"),
            (std::vector<double>{100, 500, 1000, 2000, 5000}));
  EXPECT_EQ(buckets.at("qwen_input_tokens"),
            (std::vector<double>{256, 512, 1024, 2048, 4096, 8192}));
  EXPECT_EQ(buckets.at("qwen_output_tokens"), (std::vector<double>{64, 128, 256, 512, 1024, 2048}));
  EXPECT_TRUE(buckets.count("qwen_gpu_memory_mb"));
  EXPECT_TRUE(buckets.count("qwen_requests_total"));
  for (const MetricSpec& m : r.metrics) {
    EXPECT_TRUE(std::is_sorted(m.buckets.begin(), m.buckets.end())) << m.name;
  }
}

TEST(OneTwoFiveBucketsTest, EndsAtTheMax) {
  EXPECT_EQ(OneTwoFiveBuckets(100), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(OneTwoFiveBuckets(8192),
            (std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 8192}));
}

// With DirectValues, rules without labels leave their values there instead of
// in updates (the pipeline's path); together they must be the same updates.
TEST_F(MapperTest, DirectValuesAndUpdatesTogetherEqualTheUpdatesAlone) {
  const auto as_set = [](const UpdateBatch& batch) {
    std::multiset<std::pair<std::uint32_t, double>> out;
    for (std::size_t i = 0; i < batch.size; ++i) {
      out.insert({batch.items[i].metric, batch.items[i].value});
    }
    return out;
  };
  const std::vector<std::uint32_t> direct_metrics = mapper_.DirectMetrics();
  DirectValues direct;  // reused, as a worker does: Map clears what the last line set
  for (const double tokens : {320.0, -5.0, 0.0}) {
    record_ = Record();
    record_.Set(fields_.at("status"), {FieldState::kString, 0, "error"});
    Set("total_time_ms", 1876);
    Set("inference_time_ms", 1756);
    Set("input_tokens", 1240);
    Set("output_tokens", tokens);
    SetState("gpu_memory_mb", FieldState::kWrongType);
    const auto expected = as_set(Map());

    batch_.Clear();
    mapper_.Map(record_, 1700000000.5, batch_, &direct);
    auto got = as_set(batch_);
    for (std::size_t k = 0; k < direct_metrics.size(); ++k) {
      if ((direct.fired >> k & 1) == 0) continue;
      ASSERT_NE(direct_metrics[k], Mapper::kNoMetric) << k;
      got.insert({direct_metrics[k], direct.value[k]});
    }
    EXPECT_GT(direct.fired, 0u);
    EXPECT_EQ(got, expected) << "output_tokens " << tokens;
  }
}

// Map remembers in DirectValues which rules the last line's fields let fire:
// lines of other shapes through the same DirectValues, and another mapper's
// lines, must each fire exactly what they fire without that memory.
TEST_F(MapperTest, LinesOfChangingShapesFireWhatTheyFireAlone) {
  RuleSet reversed = QwenPreset();  // the same rules in another order
  std::reverse(reversed.rules.begin(), reversed.rules.end());
  Mapper other(std::move(reversed), 0);
  DirectValues direct;
  const auto map_both = [&](const Mapper& mapper, const std::string& what) {
    const auto as_set = [](const UpdateBatch& batch) {
      std::multiset<std::pair<std::uint32_t, double>> out;
      for (std::size_t i = 0; i < batch.size; ++i) {
        out.insert({batch.items[i].metric, batch.items[i].value});
      }
      return out;
    };
    batch_.Clear();
    mapper.Map(record_, 1700000000.5, batch_);
    const auto expected = as_set(batch_);
    batch_.Clear();
    mapper.Map(record_, 1700000000.5, batch_, &direct);
    auto got = as_set(batch_);
    const auto direct_metrics = mapper.DirectMetrics();
    for (std::size_t k = 0; k < direct_metrics.size(); ++k) {
      if ((direct.fired >> k & 1) != 0) got.insert({direct_metrics[k], direct.value[k]});
    }
    EXPECT_EQ(got, expected) << what;
    return expected.size();
  };
  const auto line = [&](bool per_token, bool tokens_as_string) {
    record_ = Record();
    record_.Set(fields_.at("status"), {FieldState::kString, 0, "success"});
    Set("total_time_ms", 1876);
    Set("inference_time_ms", 1756);
    Set("input_tokens", 1240);
    if (tokens_as_string) {
      record_.Set(fields_.at("output_tokens"), {FieldState::kString, 0, "87"});
    } else {
      Set("output_tokens", 87);
    }
    if (per_token) Set("time_per_token_ms", 20.2);
  };
  // One mapper, the shape changing from line to line: with and without a
  // field an `exists` condition names, a field present as a number or not.
  std::set<std::size_t> sizes;
  for (int round = 0; round < 2; ++round) {
    for (const bool per_token : {false, true}) {
      for (const bool as_string : {false, true}) {
        line(per_token, as_string);
        sizes.insert(map_both(mapper_, "round " + std::to_string(round) + " per_token " +
                                           std::to_string(per_token) + " as_string " +
                                           std::to_string(as_string)));
      }
    }
  }
  EXPECT_GE(sizes.size(), 3u);  // the shapes do fire different rules
  // Another mapper, lines of the same shape.
  line(false, false);
  map_both(mapper_, "this mapper");
  map_both(other, "another mapper after this one");
  map_both(mapper_, "this mapper after another");
}
}  // namespace
}  // namespace lle
