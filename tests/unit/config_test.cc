#include "llm_log_exporter/config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "llm_log_exporter/core/read_file.h"
#include "support/temp_dir.h"

namespace lle {
namespace {

// A valid config around one metric rule, given as YAML lines at the indent of a list item.
std::string WithMetric(const std::string& metric) {
  return "requests: {keys: [status]}\nmetrics:\n" + metric;
}

// A valid config around one text rule (a flow mapping on one line) and one metric rule.
std::string WithText(const std::string& text, const std::string& metric) {
  return "requests: {keys: [status]}\ntext:\n  - " + text + "\nmetrics:\n  - " + metric + "\n";
}

struct BadCase {
  const char* name;
  std::string text;
  std::string error;  // exact message; the text is named "c.yaml"
};

class BadConfigTest : public testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, IsRefusedWithThisMessage) {
  RuleSet rules;
  rules.fields = {"untouched"};
  std::string error;
  EXPECT_FALSE(LoadConfigText(GetParam().text, "c.yaml", &rules, &error));
  EXPECT_EQ(error, GetParam().error);
  EXPECT_EQ(rules.fields, std::vector<std::string>{"untouched"}) << "a failed load changed *out";
}

const BadCase kBadCases[] = {
    {"Empty", "", "c.yaml: the config is empty"},
    {"NotYaml", "metrics: [", "c.yaml:1:1: not valid YAML: end of sequence flow not found"},
    {"TopLevelList", "- a", "c.yaml:1:1: must be a mapping"},
    {"UnknownTopKey", "requests: {keys: [a]}\nmetric: []",
     "c.yaml:2:1: metric: unknown key (expected one of: namespace, requests, text, metrics)"},
    // A control byte in a key is escaped: the message stays one line and puts
    // no terminal escape on stderr (found by tests/fuzz/config_fuzz).
    {"ControlBytesInKey", "requests: {keys: [a]}\n\"m\\x1b[31m\\nx\": []",
     "c.yaml:2:1: m\\x1b[31m\\x0ax: unknown key (expected one of: namespace, requests, text, "
     "metrics)"},
    {"NoRequests", "metrics: []",
     "c.yaml:1:1: requests: missing: say which JSON lines are requests"},
    {"EmptyRequestKeys", "requests: {keys: []}\nmetrics: []",
     "c.yaml:1:18: requests.keys: must not be empty"},
    {"TraceIdFieldsNotAList",
     "requests: {keys: [a], trace_id_fields: trace}\nmetrics: [{name: r_total, type: counter}]",
     "c.yaml:1:40: requests.trace_id_fields: must be a list of strings"},
    {"RequestIdFieldBadPath",
     "requests: {keys: [a], request_id_fields: [.id]}\nmetrics: [{name: r_total, type: counter}]",
     "c.yaml:1:43: requests.request_id_fields[0]: \".id\" is not a field path (names joined by "
     "'.')"},
    {"SampleRateFieldsNotAList",
     "requests: {keys: [a], sample_rate_fields: rate}\nmetrics: [{name: r_total, type: counter}]",
     "c.yaml:1:43: requests.sample_rate_fields: must be a list of strings"},
    {"BadPath", "requests: {keys: [a..b]}\nmetrics: []",
     "c.yaml:1:19: requests.keys[0]: \"a..b\" is not a field path (names joined by '.')"},
    {"NoMetrics", "requests: {keys: [a]}\nmetrics: []",
     "c.yaml:2:10: metrics: must be a non-empty list of metric rules"},
    {"UnknownMetricKey", WithMetric("  - {name: x, type: counter, valu: a}"),
     "c.yaml:3:30: metrics[0].valu: unknown key (expected one of: name, help, type, from, value, "
     "per, plus, "
     "read_time, scale, mode, buckets, native, labels, match)"},
    {"MissingType", WithMetric("  - {name: x}"), "c.yaml:3:5: metrics[0].type: missing"},
    {"BadType", WithMetric("  - {name: x, type: summary}"),
     "c.yaml:3:21: metrics[0].type: \"summary\" is not a type (counter, gauge or histogram)"},
    {"BadMetricName", WithMetric("  - {name: a-b, type: counter}"),
     "c.yaml:3:12: metrics[0].name: \"qwen_a-b\" is not a valid metric name"},
    {"BadMetricNameNoNamespace", "namespace: ''\n" + WithMetric("  - {name: 2x, type: counter}"),
     "c.yaml:4:12: metrics[0].name: \"2x\" is not a valid metric name"},
    {"ReservedPrefix", "namespace: llm_log_exporter\n" + WithMetric("  - {name: x, type: counter}"),
     "c.yaml:4:12: metrics[0].name: the prefix llm_log_exporter_ is the exporter's own"},
    {"HistogramWithoutValue", WithMetric("  - {name: h, type: histogram, buckets: [1]}"),
     "c.yaml:3:5: metrics[0].value: missing: a histogram observes a field"},
    {"HistogramWithoutBuckets", WithMetric("  - {name: h, type: histogram, value: a}"),
     "c.yaml:3:5: metrics[0].buckets: missing"},
    {"UnsortedBuckets", WithMetric("  - {name: h, type: histogram, value: a, buckets: [1, 5, 2]}"),
     "c.yaml:3:58: metrics[0].buckets: not sorted ascending: 2 after 5"},
    {"DuplicateBuckets", WithMetric("  - {name: h, type: histogram, value: a, buckets: [1, 1]}"),
     "c.yaml:3:55: metrics[0].buckets: duplicate bound 1"},
    {"NativeOnACounter", WithMetric("  - {name: c, type: counter, native: true}"),
     "c.yaml:3:38: metrics[0].native: histograms only"},
    {"NativeFactorOne",
     WithMetric(
         "  - {name: h, type: histogram, value: a, buckets: [1], native: {bucket_factor: 1}}"),
     "c.yaml:3:80: metrics[0].native.bucket_factor: must be a finite number > 1 (e.g. 1.1)"},
    {"NativeFactorNotANumber",
     WithMetric(
         "  - {name: h, type: histogram, value: a, buckets: [1], native: {bucket_factor: x}}"),
     "c.yaml:3:80: metrics[0].native.bucket_factor: must be a number"},
    {"NativeNegativeZeroThreshold",
     WithMetric(
         "  - {name: h, type: histogram, value: a, buckets: [1], native: {zero_threshold: -1}}"),
     "c.yaml:3:81: metrics[0].native.zero_threshold: must be a finite number >= 0"},
    {"NativeNoBuckets",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: [1], native: {max_buckets: 0}}"),
     "c.yaml:3:78: metrics[0].native.max_buckets: must be a whole number of at least 1"},
    {"NativeTooManyBuckets",
     WithMetric(
         "  - {name: h, type: histogram, value: a, buckets: [1], native: {max_buckets: 5000}}"),
     "c.yaml:3:78: metrics[0].native.max_buckets: at most 4096"},
    {"NativeUnknownKey",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: [1], native: {schema: 3}}"),
     "c.yaml:3:65: metrics[0].native.schema: unknown key (expected one of: bucket_factor, "
     "zero_threshold, max_buckets)"},
    {"NativeNotABool",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: [1], native: on_}"),
     "c.yaml:3:64: metrics[0].native: must be true or false"},
    {"NativeDiffersBetweenRules",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: [1], native: true}\n"
                "  - {name: h, type: histogram, value: b, buckets: [1]}"),
     "c.yaml:4:12: metrics[1].name: \"qwen_h\" is used twice with a different type, mode, "
     "buckets or labels"},
    {"BucketNotANumber", WithMetric("  - {name: h, type: histogram, value: a, buckets: [1, x]}"),
     "c.yaml:3:55: metrics[0].buckets[1]: must be a number"},
    {"UnknownGenerator",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: {log: {max: 1}}}"),
     "c.yaml:3:52: metrics[0].buckets.log: unknown bucket generator (expected linear, "
     "exponential or one_two_five)"},
    {"ExponentialFactor",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: {exponential: "
                "{start: 1, factor: 1, count: 3}}}"),
     "c.yaml:3:84: metrics[0].buckets.exponential.factor: must be > 1"},
    {"LinearCount",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: {linear: "
                "{start: 1, width: 1, count: 0}}}"),
     "c.yaml:3:88: metrics[0].buckets.linear.count: must be a whole number of at least 1"},
    {"BucketsOnACounter", WithMetric("  - {name: c, type: counter, buckets: [1]}"),
     "c.yaml:3:39: metrics[0].buckets: histograms only"},
    {"ModeOnACounter", WithMetric("  - {name: c, type: counter, mode: max}"),
     "c.yaml:3:36: metrics[0].mode: gauges only"},
    {"BadMode", WithMetric("  - {name: g, type: gauge, value: a, mode: last}"),
     "c.yaml:3:44: metrics[0].mode: \"last\" is not a mode (set, max or inc)"},
    {"GaugeWithoutValue", WithMetric("  - {name: g, type: gauge}"),
     "c.yaml:3:5: metrics[0]: a gauge needs `value` or `read_time: true` (or mode: inc to count "
     "lines)"},
    {"PerWithoutValue", WithMetric("  - {name: c, type: counter, per: b}"),
     "c.yaml:3:35: metrics[0].per: needs `value` (value per this field)"},
    {"ZeroScale", WithMetric("  - {name: c, type: counter, value: a, scale: 0}"),
     "c.yaml:3:47: metrics[0].scale: must not be 0"},
    {"UnboundedLabel", WithMetric("  - {name: c, type: counter, labels: [{name: model}]}"),
     "c.yaml:3:39: metrics[0].labels[0]: unbounded label: give `values` (an allowlist) or "
     "`max_values` (a cap on distinct values)"},
    {"EmptyAllowlist",
     WithMetric("  - {name: c, type: counter, labels: [{name: model, values: []}]}"),
     "c.yaml:3:61: metrics[0].labels[0].values: must not be empty (leave it out and set "
     "max_values for a cap instead)"},
    {"ReservedLabel",
     WithMetric("  - {name: c, type: counter, labels: [{name: le, max_values: 3}]}"),
     "c.yaml:3:46: metrics[0].labels[0].name: \"le\" is reserved for histograms and summaries"},
    {"BadLabelName",
     WithMetric("  - {name: c, type: counter, labels: [{name: a-b, max_values: 3}]}"),
     "c.yaml:3:46: metrics[0].labels[0].name: \"a-b\" is not a valid label name"},
    {"DoubleUnderscoreLabel",
     WithMetric("  - {name: c, type: counter, labels: [{name: __x, max_values: 3}]}"),
     "c.yaml:3:46: metrics[0].labels[0].name: \"__x\" is not a valid label name"},
    {"LabelTwice",
     WithMetric("  - {name: c, type: counter, labels: [{name: a, max_values: 3}, "
                "{name: a, max_values: 2}]}"),
     "c.yaml:3:72: metrics[0].labels[1].name: label \"a\" appears twice"},
    {"CapBelowValues",
     WithMetric("  - {name: c, type: counter, labels: [{name: a, values: [x, y], max_values: 1}]}"),
     "c.yaml:3:77: metrics[0].labels[0].max_values: is less than the number of values"},
    {"TooManySeries",
     WithMetric("  - {name: c, type: counter, labels: [{name: a, max_values: 1000}, "
                "{name: b, max_values: 1000}]}"),
     "c.yaml:3:38: metrics[0].labels: the label caps allow 1002001 series; at most 100000"},
    {"DuplicateValue",
     WithMetric("  - {name: c, type: counter, labels: [{name: a, values: [x, x]}]}"),
     "c.yaml:3:61: metrics[0].labels[0].values[1]: duplicate \"x\""},
    {"SameNameOtherType",
     WithMetric("  - {name: c, type: counter}\n  - {name: c, type: gauge, value: a}"),
     "c.yaml:4:12: metrics[1].name: \"qwen_c\" is used twice with a different type, mode, "
     "buckets or labels"},
    {"SameNameOtherLabels",
     WithMetric("  - {name: c, type: counter}\n"
                "  - {name: c, type: counter, labels: [{name: a, max_values: 2}]}"),
     "c.yaml:4:12: metrics[1].name: \"qwen_c\" is used twice with a different type, mode, "
     "buckets or labels"},
    {"ClashWithHistogramSeries",
     WithMetric("  - {name: h, type: histogram, value: a, buckets: [1]}\n"
                "  - {name: h_count, type: counter}"),
     "c.yaml:4:12: metrics[1].name: \"qwen_h_count\" clashes with the series of histogram "
     "\"qwen_h\""},
    {"BadRegex", WithMetric("  - {name: c, type: counter, match: [{field: a, regex: \"(\"}]}"),
     "c.yaml:3:56: metrics[0].match[0].regex: bad regex: missing ): ("},
    {"TwoOps",
     WithMetric("  - {name: c, type: counter, match: [{field: a, equals: x, exists: true}]}"),
     "c.yaml:3:38: metrics[0].match[0]: needs exactly one of equals, not_equals, exists, regex, "
     "not_regex, in, not_in"},
    {"ExistsNotBool",
     WithMetric("  - {name: c, type: counter, match: [{field: a, exists: maybe}]}"),
     "c.yaml:3:57: metrics[0].match[0].exists: must be true or false"},
    {"UnknownSource", WithMetric("  - {name: x, type: counter, from: syslog}"),
     "c.yaml:3:36: metrics[0].from: \"syslog\" is not a source (request, log_level, exception, "
     "sensitive, system_prompt, system_prompt_change)"},
    {"LevelsAreCounted", WithMetric("  - {name: x, type: gauge, from: log_level}"),
     "c.yaml:3:21: metrics[0].type: must be counter with from: log_level"},
    {"LevelsTakeNoLabels",
     WithMetric("  - {name: x, type: counter, from: log_level, labels: [{name: a}]}"),
     "c.yaml:3:47: metrics[0].labels: unknown key (expected one of: name, help, type, from, "
     "value)"},
    // vllm_stats was a built-in source; it is a text rule of the preset now.
    {"VllmStatsIsATextRule", WithMetric("  - {name: x, type: gauge, from: vllm_stats, value: r}"),
     "c.yaml:3:34: metrics[0].from: \"vllm_stats\" is not a source (request, log_level, "
     "exception, sensitive, system_prompt, system_prompt_change); vLLM's stats line is read by "
     "the text rule vllm_stats of config/qwen.yaml: copy it into this config"},
    // Text rules.
    {"TextWithoutLiteral",
     WithText("{name: t, regex: 'n=(?P<n>[0-9]+)'}", "{name: c, type: counter, value: n}"),
     "c.yaml:3:5: text[0].contains: missing"},
    {"TextEmptyLiteral",
     WithText("{name: t, contains: '', regex: 'n=(?P<n>[0-9]+)'}",
              "{name: c, type: counter, value: n}"),
     "c.yaml:3:25: text[0].contains: must not be empty: a literal every matching line holds, "
     "checked before the regex"},
    {"TextBadRegex",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+'}",
              "{name: c, type: counter, value: n}"),
     "c.yaml:3:36: text[0].regex: bad regex: missing ): n=(?P<n>[0-9]+"},
    {"TextCaptureUsedByNoMetric",
     WithText(
         "{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+) m=(?P<m>[0-9]+)', fields: {n: number}}",
         "{name: c, type: counter, value: n}"),
     "c.yaml:3:36: text[0].regex: (?P<m>): the field \"m\" is used by no metric rule from: "
     "request"},
    {"TextTraceIdOfNoRequestRecord",
     "requests: {keys: [status]}\ntext:\n  - {name: t, contains: n=, regex: "
     "'n=(?P<n>[0-9]+) (?P<trace_id>[0-9a-f]+)', record: r}\nmetrics:\n"
     "  - {name: c, type: counter, value: n, from: r}\n",
     "c.yaml:3:36: text[0].regex: (?P<trace_id>): the field \"trace_id\" is used by no metric "
     "rule from: r"},
    {"TextUnknownConversion",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', fields: {n: seconds}}",
              "{name: c, type: counter, value: n}"),
     "c.yaml:3:67: text[0].fields.n: \"seconds\" is not a conversion (string, number, "
     "duration_ms, duration_s, percent, http_status, list_length)"},
    {"TextFieldsNameNoGroup",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', fields: {x: number}}",
              "{name: c, type: counter, value: n}"),
     "c.yaml:3:64: text[0].fields.x: the regex has no group (?P<x>...)"},
    {"TextScaleOfAString",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', fields: {n: {scale: 2}}}",
              "{name: c, type: counter, labels: [{name: n, max_values: 2}]}"),
     "c.yaml:3:75: text[0].fields.n.scale: numbers only, not with string"},
    {"TextRecordNobodyReads",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', record: stats}",
              "{name: c, type: counter}"),
     "c.yaml:3:63: text[0].record: no metric rule reads from: stats"},
    {"TextRecordIsASignal",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', record: exception}",
              "{name: c, type: counter}"),
     "c.yaml:3:63: text[0].record: \"exception\" names a built-in source; choose another record "
     "name"},
    {"TextComputeFromAFieldItDoesNotCapture",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', fields: {n: number}, compute: {q: "
              "{divide: [n, m]}}}",
              "{name: c, type: counter, value: q}"),
     "c.yaml:3:102: text[0].compute.q.divide[1]: the rule captures no field \"m\""},
    {"TextTwice",
     "requests: {keys: [a]}\ntext:\n  - {name: t, contains: x, regex: x}\n"
     "  - {name: t, contains: y, regex: y}\nmetrics:\n  - {name: c, type: counter}\n",
     "c.yaml:4:12: text[1].name: text rule \"t\" is defined twice"},
    {"FieldNotCapturedForItsRecord",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', record: stats}",
              "{name: g, type: gauge, from: stats, value: other}"),
     "c.yaml:5:34: metrics[0].from: no text rule of record \"stats\" captures or sets the field "
     "\"other\""},
    {"FromListNamesSignal",
     WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+)', record: stats}",
              "{name: g, type: counter, from: [stats, log_level]}"),
     "c.yaml:5:44: metrics[0].from: \"log_level\" is not a source (request, log_level, "
     "exception, sensitive, system_prompt, system_prompt_change, stats); a list names record "
     "kinds only"},
    {"NameNotString", WithMetric("  - {name: [x], type: counter}"),
     "c.yaml:3:12: metrics[0].name: must be a string"},
};

INSTANTIATE_TEST_SUITE_P(Config, BadConfigTest, testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase>& param) {
                           return std::string(param.param.name);
                         });

TEST(ConfigTest, AtMost128RulesAnd64FromRequest) {
  std::string metrics;
  for (int i = 0; i < 129; ++i) {
    metrics += "  - {name: c" + std::to_string(i) + ", type: counter, from: log_level}\n";
  }
  RuleSet rules;
  std::string error;
  EXPECT_FALSE(LoadConfigText(WithMetric(metrics), "c.yaml", &rules, &error));
  EXPECT_EQ(error, "c.yaml:3:3: metrics: more than 128 rules");
  metrics.clear();
  for (int i = 0; i < 65; ++i) metrics += "  - {name: c" + std::to_string(i) + ", type: counter}\n";
  EXPECT_FALSE(LoadConfigText(WithMetric(metrics), "c.yaml", &rules, &error));
  EXPECT_EQ(error, "c.yaml:67:5: metrics[64]: more than 64 rules from: request");
}

TEST(ConfigTest, TheShippedPresetLoads) {
  const RuleSet rules = QwenPreset();
  EXPECT_EQ(rules.metrics.size(), 38u);
  EXPECT_EQ(rules.records, (std::vector<std::string>{"request", "engine_stats", "request_details",
                                                     "generated_tokens", "preemption"}));
  EXPECT_EQ(rules.request_keys, (std::vector<std::string>{"status", "total_time_ms"}));
}

TEST(ConfigTest, JsonIsAcceptedToo) {
  RuleSet rules;
  std::string error;
  ASSERT_TRUE(LoadConfigText(
      R"({"namespace": "gw", "requests": {"keys": ["usage.total_tokens"]},
          "metrics": [{"name": "tokens_total", "type": "counter",
                       "value": "usage.total_tokens"}]})",
      "c.json", &rules, &error))
      << error;
  EXPECT_EQ(rules.metrics.at(0).name, "gw_tokens_total");
  // The exemplar and sample-rate fields (defaults) come after the rules' own.
  EXPECT_EQ(rules.fields, (std::vector<std::string>{"usage.total_tokens", "trace_id", "traceparent",
                                                    "sample_rate"}));
}

// A config of one counter whose `requests:` has `more` after its keys.
RuleSet WithRequests(const std::string& more) {
  RuleSet rules;
  std::string error;
  EXPECT_TRUE(LoadConfigText(
      "requests: {keys: [status]" + more + "}\nmetrics: [{name: r_total, type: counter}]",
      "c.yaml", &rules, &error))
      << error;
  return rules;
}

TEST(ConfigTest, ExemplarFieldsAreNamedOrTurnedOff) {
  const auto exemplar_fields = [](const std::string& requests) {
    const RuleSet rules = WithRequests(requests);
    std::vector<std::string> out;
    for (const RuleSet::ExemplarField& f : rules.exemplar_fields) {
      out.push_back(std::string(f.label) + "=" + rules.fields.at(f.field));
    }
    return out;
  };
  EXPECT_EQ(exemplar_fields(""),
            (std::vector<std::string>{"trace_id=trace_id", "trace_id=traceparent"}));
  EXPECT_EQ(exemplar_fields(", request_id_fields: [request_id]"),
            (std::vector<std::string>{"trace_id=trace_id", "trace_id=traceparent",
                                      "request_id=request_id"}));
  EXPECT_EQ(exemplar_fields(", trace_id_fields: [span.trace], request_id_fields: []"),
            std::vector<std::string>{"trace_id=span.trace"});
  EXPECT_TRUE(exemplar_fields(", trace_id_fields: [], request_id_fields: []").empty());
}

TEST(ConfigTest, SampleRateFieldsAreNamedOrTurnedOff) {
  const auto sample_rate_fields = [](const std::string& requests) {
    const RuleSet rules = WithRequests(requests);
    std::vector<std::string> out;
    for (const int field : rules.sample_rate_fields) out.push_back(rules.fields.at(field));
    return out;
  };
  EXPECT_EQ(sample_rate_fields(""), std::vector<std::string>{"sample_rate"});
  EXPECT_EQ(sample_rate_fields(", sample_rate_fields: [meta.rate, sample_rate]"),
            (std::vector<std::string>{"meta.rate", "sample_rate"}));
  EXPECT_TRUE(sample_rate_fields(", sample_rate_fields: []").empty());
}

TEST(ConfigTest, ATextRequestRuleMayCaptureTheExemplarAndTheSampleRate) {
  RuleSet rules;
  std::string error;
  EXPECT_TRUE(LoadConfigText(
      WithText("{name: t, contains: n=, regex: 'n=(?P<n>[0-9]+) (?P<trace_id>[0-9a-f]+) "
               "(?P<sample_rate>[0-9.]+)', fields: {n: number, sample_rate: number}}",
               "{name: c, type: counter, value: n}"),
      "c.yaml", &rules, &error))
      << error;
  // Unless they are no exemplar or sample-rate fields.
  EXPECT_FALSE(LoadConfigText(
      "requests: {keys: [status], trace_id_fields: []}\ntext:\n  - {name: t, contains: n=, "
      "regex: 'n=(?P<n>[0-9]+) (?P<trace_id>[0-9a-f]+)'}\nmetrics:\n"
      "  - {name: c, type: counter, value: n}\n",
      "c.yaml", &rules, &error));
  EXPECT_NE(error.find("the field \"trace_id\" is used by no metric rule"), std::string::npos)
      << error;
}

TEST(ConfigTest, ScaleOfOneOverNDividesExactly) {
  RuleSet rules;
  std::string error;
  ASSERT_TRUE(LoadConfigText(WithMetric("  - {name: a, type: counter, value: x, scale: 0.001}\n"
                                        "  - {name: b, type: counter, value: x, scale: 1024}\n"
                                        "  - {name: c, type: counter, value: x, scale: 0.3}"),
                             "c.yaml", &rules, &error))
      << error;
  EXPECT_EQ(rules.rules[0].divide_by, 1000);
  EXPECT_EQ(rules.rules[0].scale, 1);
  EXPECT_EQ(rules.rules[1].scale, 1024);
  EXPECT_EQ(rules.rules[2].scale, 0.3);
  EXPECT_EQ(rules.rules[2].divide_by, 1);
}

TEST(ConfigTest, EqualsTakesAPlainNumberAsANumberAndAQuotedOneAsAString) {
  RuleSet rules;
  std::string error;
  ASSERT_TRUE(LoadConfigText(
      WithMetric("  - {name: a, type: counter, match: [{field: code, equals: 200}]}\n"
                 "  - {name: b, type: counter, match: [{field: code, equals: \"200\"}]}"),
      "c.yaml", &rules, &error))
      << error;
  EXPECT_TRUE(rules.rules[0].conditions.at(0).has_number);
  EXPECT_EQ(rules.rules[0].conditions.at(0).number, 200);
  EXPECT_FALSE(rules.rules[1].conditions.at(0).has_number);
  EXPECT_EQ(rules.rules[1].conditions.at(0).text, "200");
}

TEST(ConfigTest, RulesSharingANameFeedOneFamily) {
  RuleSet rules;
  std::string error;
  ASSERT_TRUE(LoadConfigText(WithMetric("  - {name: t, type: counter, value: a}\n"
                                        "  - {name: t, type: counter, value: b}"),
                             "c.yaml", &rules, &error))
      << error;
  EXPECT_EQ(rules.metrics.size(), 1u);
  EXPECT_EQ(rules.rules.size(), 2u);
  EXPECT_EQ(rules.rules[1].metric, 0u);
}

// As client_golang: the largest schema whose growth is at most the factor.
TEST(ConfigTest, NativeBucketsAreOptInWithClientGolangDefaults) {
  RuleSet rules;
  std::string error;
  ASSERT_TRUE(LoadConfigText(
      WithMetric("  - {name: a, type: histogram, value: a, buckets: [1]}\n"
                 "  - {name: b, type: histogram, value: a, buckets: [1], native: true}\n"
                 "  - {name: c, type: histogram, value: a, buckets: [1], native: {bucket_factor: "
                 "1.01, zero_threshold: 0.001, max_buckets: 20}}\n"
                 "  - {name: d, type: histogram, value: a, buckets: [1], native: {bucket_factor: "
                 "1e9}}"),
      "c.yaml", &rules, &error))
      << error;
  ASSERT_EQ(rules.metrics.size(), 4u);
  EXPECT_FALSE(rules.metrics[0].native.enabled);
  EXPECT_TRUE(rules.metrics[1].native.enabled);
  EXPECT_EQ(rules.metrics[1].native.schema, 3);
  EXPECT_EQ(rules.metrics[1].native.zero_threshold, 0x1p-128);
  EXPECT_EQ(rules.metrics[1].native.max_buckets, 160u);
  EXPECT_EQ(rules.metrics[2].native.schema, 7);  // 2^(1/64) = 1.0109 > 1.01 >= 2^(1/128)
  EXPECT_EQ(rules.metrics[2].native.zero_threshold, 0.001);
  EXPECT_EQ(rules.metrics[2].native.max_buckets, 20u);
  EXPECT_EQ(rules.metrics[3].native.schema, -4);
}

TEST(ConfigTest, GeneratedBucketsAreTheDecimalValues) {
  EXPECT_EQ(OneTwoFiveBuckets(0.1, 0.001),
            (std::vector<double>{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1}));
  EXPECT_EQ(LinearBuckets(100, 100, 3), (std::vector<double>{100, 200, 300}));
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(ConfigTest, AnUnreadableFileIsNamed) {
  RuleSet rules;
  std::string error;
  EXPECT_FALSE(LoadConfigFile("/nonexistent/c.yaml", &rules, &error));
  EXPECT_EQ(error, "/nonexistent/c.yaml: No such file or directory");
}

// Only a regular file of at most 16 MiB is read: a FIFO would block the
// reload (and SIGTERM after it), a device or a huge file would fill memory.
TEST(ConfigTest, AFileThatIsNotARegularFileOrTooLargeIsRefusedUnread) {
  test::TempDir dir;
  const std::string fifo = dir.File("fifo.yaml");
  const std::string directory = dir.File("dir.yaml");
  const std::string big = dir.Write("big.yaml", "");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(mkdir(directory.c_str(), 0700), 0);
  ASSERT_EQ(truncate(big.c_str(), kMaxConfigFileBytes + 1), 0);  // sparse: no disk used
  ASSERT_EQ(symlink(fifo.c_str(), dir.File("link.yaml").c_str()), 0);
  RuleSet rules;
  std::string error;
  EXPECT_FALSE(LoadConfigFile(fifo, &rules, &error));
  EXPECT_EQ(error, fifo + ": not a regular file");
  EXPECT_FALSE(LoadConfigFile(dir.File("link.yaml"), &rules, &error));
  EXPECT_EQ(error, dir.File("link.yaml") + ": not a regular file");
  EXPECT_FALSE(LoadConfigFile(directory, &rules, &error));
  EXPECT_EQ(error, directory + ": not a regular file");
  EXPECT_FALSE(LoadConfigFile(big, &rules, &error));
  EXPECT_EQ(error, big + ": larger than 16777216 bytes");
  // At the cap, it is read (and parsed: all blanks is an empty config).
  ASSERT_EQ(truncate(big.c_str(), 0), 0);
  { std::ofstream(big) << std::string(kMaxConfigFileBytes, '\n'); }
  EXPECT_FALSE(LoadConfigFile(big, &rules, &error));
  EXPECT_EQ(error, big + ": the config is empty");
}

}  // namespace
}  // namespace lle
