#include "llm_log_exporter/config/config.h"

#include <prometheus/check_names.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/read_file.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/text_rule.h"
#include "llm_log_exporter/parse/traceback.h"
#include "llm_log_exporter/store/native_buckets.h"

namespace lle {
namespace {

// Bounds that keep memory and scrape size predictable: every series of a
// labelled metric is allocated up front in each writer's shard.
constexpr std::size_t kMaxValuesPerLabel = 10000;
constexpr std::size_t kMaxSeriesPerMetric = 100000;
constexpr std::size_t kMaxBuckets = 200;
constexpr std::size_t kMaxNativeBuckets = 4096;  // native.max_buckets
// Distinct exception classes kept as `type` values; later ones count as "other".
constexpr std::size_t kMaxExceptionTypes = 32;
// Distinct system prompts remembered as `hash` values (only the latest is shown).
constexpr std::size_t kMaxPromptHashes = 1000;

// The labels of the signal rules, with the values in the order the mapper
// indexes them (LogLevel after kNone; the bits of SensitiveKinds).
LabelSpec LevelLabel() {
  std::vector<std::string> levels;
  for (std::size_t l = 1; l < kNumLogLevels; ++l) {
    levels.emplace_back(LogLevelName(static_cast<LogLevel>(l)));
  }
  return FixedLabel("level", std::move(levels));
}

LabelSpec SensitiveKindLabel() {
  std::vector<std::string> kinds;
  for (std::size_t k = 0; k < kNumSensitiveKinds; ++k) kinds.emplace_back(SensitiveKindName(k));
  return FixedLabel("kind", std::move(kinds));
}

/// Thrown inside this file only: the first problem found, already formatted.
struct ConfigError {
  std::string message;
};

/// Reads one config text, remembering where each node came from.
class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& key,
                         const std::string& reason) const {
    std::ostringstream out;
    out << name_;
    const YAML::Mark mark = node.Mark();
    if (!mark.is_null()) out << ':' << mark.line + 1 << ':' << mark.column + 1;
    out << ": " << (key.empty() ? "" : key + ": ") << reason;
    throw ConfigError{out.str()};
  }

  // Refuses keys outside `allowed`: a typo must not silently mean "default".
  void CheckKeys(const YAML::Node& map, const std::string& key,
                 std::initializer_list<const char*> allowed) const {
    if (!map.IsMap()) Fail(map, key, "must be a mapping");
    for (const auto& entry : map) {
      const std::string k = entry.first.Scalar();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        Fail(entry.first, Join(key, k), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  std::string String(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) Fail(node, key, "must be a string");
    return node.Scalar();
  }

  double Number(const YAML::Node& node, const std::string& key) const {
    double value = 0;
    if (!node.IsScalar() || !ParseNumber(node.Scalar(), &value)) {
      Fail(node, key, "must be a number");
    }
    return value;
  }

  std::size_t Count(const YAML::Node& node, const std::string& key) const {
    const double value = Number(node, key);
    if (value < 1 || value != std::floor(value) || value > 1e9) {
      Fail(node, key, "must be a whole number of at least 1");
    }
    return static_cast<std::size_t>(value);
  }

  bool Bool(const YAML::Node& node, const std::string& key) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      Fail(node, key, "must be true or false");
    }
    return value;
  }

  std::vector<std::string> Strings(const YAML::Node& node, const std::string& key) const {
    if (!node.IsSequence()) Fail(node, key, "must be a list of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node.size(); ++i) {
      out.push_back(String(node[i], Index(key, i)));
    }
    return out;
  }

  static bool ParseNumber(const std::string& text, double* out) {
    if (text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    *out = std::strtod(text.c_str(), &end);
    return errno == 0 && end == text.c_str() + text.size() && std::isfinite(*out);
  }
  static std::string Join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }
  static std::string Index(const std::string& key, std::size_t i) {
    return key + "[" + std::to_string(i) + "]";
  }

 private:
  std::string name_;
};

class Builder {
 public:
  Builder(const Reader& reader, RuleSet* out) : r_(reader), out_(*out) {}

  void Build(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) r_.Fail(root, "", "the config is empty");
    r_.CheckKeys(root, "", {"namespace", "requests", "text", "metrics"});
    if (root["namespace"]) {
      prefix_ = r_.String(root["namespace"], "namespace");
      if (!prefix_.empty()) prefix_ += '_';
    } else {
      prefix_ = "qwen_";
    }
    out_.prefix = prefix_;
    const YAML::Node requests = root["requests"];
    if (!requests) r_.Fail(root, "requests", "missing: say which JSON lines are requests");
    r_.CheckKeys(
        requests, "requests",
        {"keys", "fields", "match", "trace_id_fields", "request_id_fields", "sample_rate_fields"});
    if (!requests["keys"]) r_.Fail(requests, "requests.keys", "missing");
    out_.request_keys = r_.Strings(requests["keys"], "requests.keys");
    if (out_.request_keys.empty()) r_.Fail(requests["keys"], "requests.keys", "must not be empty");
    for (std::size_t i = 0; i < out_.request_keys.size(); ++i) {
      CheckPath(requests["keys"][i], Reader::Index("requests.keys", i), out_.request_keys[i]);
    }
    if (requests["fields"]) {
      const YAML::Node fields = requests["fields"];
      if (!fields.IsMap()) r_.Fail(fields, "requests.fields", "must map fields to conversions");
      for (const auto& entry : fields) {
        const std::string path = entry.first.Scalar();
        const std::string fkey = "requests.fields." + path;
        CheckPath(entry.first, fkey, path);
        TextCapture capture;
        ReadConversion(entry.second, fkey, &capture);
        out_.request_conversions.push_back(
            {FieldIndex(path, entry.first, fkey), capture.conversion, capture.scale});
      }
    }
    if (requests["match"]) {
      const YAML::Node match = requests["match"];
      if (!match.IsSequence()) r_.Fail(match, "requests.match", "must be a list of conditions");
      for (std::size_t i = 0; i < match.size(); ++i) {
        out_.request_conditions.push_back(Match(match[i], Reader::Index("requests.match", i)));
      }
    }
    if (root["text"]) TextRules(root["text"], "text");
    const YAML::Node metrics = root["metrics"];
    if (!metrics || !metrics.IsSequence() || metrics.size() == 0) {
      r_.Fail(metrics ? metrics : root, "metrics", "must be a non-empty list of metric rules");
    }
    if (metrics.size() > kMaxRules) {
      r_.Fail(metrics, "metrics", "more than " + std::to_string(kMaxRules) + " rules");
    }
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      Metric(metrics[i], Reader::Index("metrics", i));
    }
    // Last, so that they leave the other fields' order (and the field
    // errors' label values) as they were.
    ExemplarFields(requests, "trace_id_fields", {"trace_id", "traceparent"}, "trace_id");
    // Request ids are opt-in: most request lines carry one, and an exemplar
    // costs a line about 45 % more (docs/metrics.md).
    ExemplarFields(requests, "request_id_fields", {}, "request_id");
    out_.sample_rate_fields = FieldList(requests, "sample_rate_fields", {"sample_rate"});
    CheckTextFieldsUsed();
  }

 private:
  void CheckPath(const YAML::Node& node, const std::string& key, const std::string& path) {
    if (path.empty() || path.front() == '.' || path.back() == '.' ||
        path.find("..") != std::string::npos) {
      r_.Fail(node, key, "\"" + path + "\" is not a field path (names joined by '.')");
    }
  }

  void ExemplarFields(const YAML::Node& requests, const std::string& name,
                      const std::vector<std::string>& defaults, const char* label) {
    for (const int field : FieldList(requests, name, defaults)) {
      out_.exemplar_fields.push_back({field, label});
    }
  }

  // requests.`name`, a list of field paths (`defaults` if not given), as
  // field indices.
  std::vector<int> FieldList(const YAML::Node& requests, const std::string& name,
                             const std::vector<std::string>& defaults) {
    const std::string key = "requests." + name;
    const YAML::Node node = requests[name];
    const std::vector<std::string> paths = node ? r_.Strings(node, key) : defaults;
    std::vector<int> fields;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      const std::string index = Reader::Index(key, i);
      const YAML::Node blame = node ? node[i] : requests;
      if (node) CheckPath(blame, index, paths[i]);
      fields.push_back(FieldIndex(paths[i], blame, index));
    }
    return fields;
  }

  int Field(const YAML::Node& node, const std::string& key) {
    const std::string path = r_.String(node, key);
    CheckPath(node, key, path);
    return FieldIndex(path, node, key);
  }

  int FieldIndex(const std::string& path, const YAML::Node& node, const std::string& key) {
    const auto it = std::find(out_.fields.begin(), out_.fields.end(), path);
    if (it != out_.fields.end()) return static_cast<int>(it - out_.fields.begin());
    if (out_.fields.size() == kMaxFields) {
      r_.Fail(node, key, "more than " + std::to_string(kMaxFields) + " distinct fields are used");
    }
    out_.fields.push_back(path);
    return static_cast<int>(out_.fields.size() - 1);
  }

  std::vector<double> Buckets(const YAML::Node& node, const std::string& key) {
    std::vector<double> b;
    if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i) {
        b.push_back(r_.Number(node[i], Reader::Index(key, i)));
      }
    } else if (node.IsMap() && node.size() == 1) {
      const std::string kind = node.begin()->first.Scalar();
      const YAML::Node g = node.begin()->second;
      const std::string gkey = Reader::Join(key, kind);
      if (kind == "linear") {
        r_.CheckKeys(g, gkey, {"start", "width", "count"});
        Require(g, gkey, {"start", "width", "count"});
        const double width = r_.Number(g["width"], gkey + ".width");
        if (!(width > 0)) r_.Fail(g["width"], gkey + ".width", "must be > 0");
        b = LinearBuckets(r_.Number(g["start"], gkey + ".start"), width,
                          r_.Count(g["count"], gkey + ".count"));
      } else if (kind == "exponential") {
        r_.CheckKeys(g, gkey, {"start", "factor", "count"});
        Require(g, gkey, {"start", "factor", "count"});
        const double start = r_.Number(g["start"], gkey + ".start");
        const double factor = r_.Number(g["factor"], gkey + ".factor");
        if (!(start > 0)) r_.Fail(g["start"], gkey + ".start", "must be > 0");
        if (!(factor > 1)) r_.Fail(g["factor"], gkey + ".factor", "must be > 1");
        b = ExponentialBuckets(start, factor, r_.Count(g["count"], gkey + ".count"));
      } else if (kind == "one_two_five") {
        r_.CheckKeys(g, gkey, {"start", "max"});
        Require(g, gkey, {"max"});
        const double start = g["start"] ? r_.Number(g["start"], gkey + ".start") : 1;
        const double max = r_.Number(g["max"], gkey + ".max");
        if (!(start > 0)) r_.Fail(g["start"], gkey + ".start", "must be > 0");
        if (!(max > start)) r_.Fail(g["max"], gkey + ".max", "must be > start");
        b = OneTwoFiveBuckets(max, start);
      } else {
        r_.Fail(node.begin()->first, gkey,
                "unknown bucket generator (expected linear, exponential or one_two_five)");
      }
    } else {
      r_.Fail(node, key,
              "must be a list of upper bounds or one of {linear: ...}, {exponential: ...}, "
              "{one_two_five: ...}");
    }
    if (b.empty()) r_.Fail(node, key, "must not be empty");
    if (b.size() > kMaxBuckets) {
      r_.Fail(node, key, "more than " + std::to_string(kMaxBuckets) + " buckets");
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (!std::isfinite(b[i])) r_.Fail(node, key, "bounds must be finite (+Inf is implied)");
      if (i > 0 && !(b[i - 1] < b[i])) {
        std::ostringstream reason;
        if (b[i - 1] == b[i]) {
          reason << "duplicate bound " << b[i];
        } else {
          reason << "not sorted ascending: " << b[i] << " after " << b[i - 1];
        }
        r_.Fail(node.IsSequence() ? node[i] : node, key, reason.str());
      }
    }
    return b;
  }

  // `native: true`, or `native: {bucket_factor, zero_threshold, max_buckets}`
  // (each optional), as client_golang's NativeHistogram* options.
  NativeSpec Native(const YAML::Node& node, const std::string& key) {
    NativeSpec native;
    if (node.IsScalar()) {
      native.enabled = r_.Bool(node, key);
      return native;
    }
    r_.CheckKeys(node, key, {"bucket_factor", "zero_threshold", "max_buckets"});
    native.enabled = true;
    if (node["bucket_factor"]) {
      const std::string fkey = key + ".bucket_factor";
      const double factor = r_.Number(node["bucket_factor"], fkey);
      if (!(factor > 1) || !std::isfinite(factor)) {
        r_.Fail(node["bucket_factor"], fkey, "must be a finite number > 1 (e.g. 1.1)");
      }
      native.schema = static_cast<std::int8_t>(NativeSchemaForFactor(factor));
    }
    if (node["zero_threshold"]) {
      const std::string zkey = key + ".zero_threshold";
      native.zero_threshold = r_.Number(node["zero_threshold"], zkey);
      if (!(native.zero_threshold >= 0) || !std::isfinite(native.zero_threshold)) {
        r_.Fail(node["zero_threshold"], zkey, "must be a finite number >= 0");
      }
    }
    if (node["max_buckets"]) {
      const std::string mkey = key + ".max_buckets";
      const std::size_t max = r_.Count(node["max_buckets"], mkey);
      if (max > kMaxNativeBuckets) {
        r_.Fail(node["max_buckets"], mkey, "at most " + std::to_string(kMaxNativeBuckets));
      }
      native.max_buckets = static_cast<std::uint32_t>(max);
    }
    return native;
  }

  void Require(const YAML::Node& map, const std::string& key,
               std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
      if (!map[k]) r_.Fail(map, Reader::Join(key, k), "missing");
    }
  }

  LabelSpec Label(const YAML::Node& node, const std::string& key, LabelSource* source) {
    r_.CheckKeys(node, key, {"name", "field", "values", "max_values", "overflow", "default"});
    Require(node, key, {"name"});
    LabelSpec label;
    label.name = r_.String(node["name"], key + ".name");
    if (!prometheus::CheckLabelName(label.name) || label.name.rfind("__", 0) == 0) {
      r_.Fail(node["name"], key + ".name", "\"" + label.name + "\" is not a valid label name");
    }
    if (label.name == "le" || label.name == "quantile") {
      r_.Fail(node["name"], key + ".name",
              "\"" + label.name + "\" is reserved for histograms and summaries");
    }
    source->field = node["field"] ? Field(node["field"], key + ".field") : Field(node["name"], key);
    if (node["default"]) source->default_value = r_.String(node["default"], key + ".default");
    if (node["overflow"]) label.overflow = r_.String(node["overflow"], key + ".overflow");
    if (node["values"]) {
      label.values = r_.Strings(node["values"], key + ".values");
      if (label.values.empty()) {
        r_.Fail(node["values"], key + ".values",
                "must not be empty (leave it out and set max_values for a cap instead)");
      }
      std::set<std::string> seen;
      for (std::size_t i = 0; i < label.values.size(); ++i) {
        const std::string& v = label.values[i];
        const std::string vkey = Reader::Index(key + ".values", i);
        if (v.empty()) r_.Fail(node["values"][i], vkey, "an empty label value means no label");
        if (!seen.insert(v).second) r_.Fail(node["values"][i], vkey, "duplicate \"" + v + "\"");
        if (v == label.overflow) {
          r_.Fail(node["values"][i], vkey, "\"" + v + "\" is the overflow value already");
        }
      }
    }
    if (node["max_values"]) {
      label.max_values = r_.Count(node["max_values"], key + ".max_values");
      if (label.max_values < label.values.size()) {
        r_.Fail(node["max_values"], key + ".max_values", "is less than the number of values");
      }
      if (label.max_values > kMaxValuesPerLabel) {
        r_.Fail(node["max_values"], key + ".max_values",
                "at most " + std::to_string(kMaxValuesPerLabel));
      }
    } else if (!label.values.empty()) {
      // An allowlist. The default stands for "no value" and is allowed too.
      const std::string& fallback = source->default_value;
      if (fallback != label.overflow &&
          std::find(label.values.begin(), label.values.end(), fallback) == label.values.end()) {
        label.values.push_back(fallback);
      }
      label.max_values = label.values.size();
    } else {
      r_.Fail(node, key,
              "unbounded label: give `values` (an allowlist) or `max_values` (a cap on "
              "distinct values)");
    }
    if (label.overflow.empty()) r_.Fail(node["overflow"], key + ".overflow", "must not be empty");
    if (source->default_value.empty()) {
      r_.Fail(node["default"], key + ".default", "must not be empty");
    }
    return label;
  }

  // --- Text rules -------------------------------------------------------------

  void TextRules(const YAML::Node& list, const std::string& key) {
    if (!list.IsSequence()) r_.Fail(list, key, "must be a list of text rules");
    for (std::size_t i = 0; i < list.size(); ++i) ReadTextRule(list[i], Reader::Index(key, i));
  }

  static bool IsIdentifier(const std::string& name) {
    if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
      return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  }

  void ReadTextRule(const YAML::Node& node, const std::string& key) {
    r_.CheckKeys(node, key,
                 {"name", "contains", "regex", "also", "fields", "set", "compute", "record"});
    Require(node, key, {"name", "contains", "regex"});
    lle::TextRule rule;
    rule.name = r_.String(node["name"], key + ".name");
    if (!IsIdentifier(rule.name)) {
      r_.Fail(node["name"], key + ".name",
              "\"" + rule.name + "\" is not a name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    for (const lle::TextRule& other : out_.text_rules) {
      if (other.name == rule.name) {
        r_.Fail(node["name"], key + ".name", "text rule \"" + rule.name + "\" is defined twice");
      }
    }
    rule.literal = r_.String(node["contains"], key + ".contains");
    if (rule.literal.empty()) {
      r_.Fail(node["contains"], key + ".contains",
              "must not be empty: a literal every matching line holds, checked before the regex");
    }
    // The regexes and their named groups, in order: regex, then also[i].
    std::vector<std::pair<const YAML::Node, std::string>> sources = {
        {node["regex"], key + ".regex"}};
    if (node["also"]) {
      const YAML::Node also = node["also"];
      if (!also.IsSequence() || also.size() == 0) {
        r_.Fail(also, key + ".also", "must be a non-empty list of regexes");
      }
      for (std::size_t i = 0; i < also.size(); ++i) {
        sources.emplace_back(also[i], Reader::Index(key + ".also", i));
      }
    }
    struct Group {
      std::string name;
      std::uint32_t regex;
      int number;
      YAML::Node node;
      std::string key;
    };
    std::vector<Group> groups;
    for (const auto& [source, skey] : sources) {
      const std::string pattern = r_.String(source, skey);
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(pattern, options);
      if (!re->ok()) r_.Fail(source, skey, "bad regex: " + re->error());
      const auto index = static_cast<std::uint32_t>(rule.regexes.size());
      for (const auto& [name, number] : re->NamedCapturingGroups()) {
        for (const Group& g : groups) {
          if (g.name == name) r_.Fail(source, skey, "the group " + name + " is captured twice");
        }
        groups.push_back({name, index, number, source, skey});
      }
      rule.regexes.push_back(MakeTextRegex(std::move(re), pattern));
    }
    const auto has_group = [&](const std::string& name) {
      return std::any_of(groups.begin(), groups.end(),
                         [&](const Group& g) { return g.name == name; });
    };
    const std::string record =
        node["record"] ? r_.String(node["record"], key + ".record") : "request";
    if (!IsIdentifier(record)) {
      r_.Fail(node["record"], key + ".record", "\"" + record + "\" is not a name");
    }
    if (IsSignal(record)) {
      r_.Fail(node["record"], key + ".record",
              "\"" + record + "\" names a built-in source; choose another record name");
    }
    const auto kind = std::find(out_.records.begin(), out_.records.end(), record);
    rule.record = static_cast<std::uint32_t>(kind - out_.records.begin());
    if (kind == out_.records.end()) out_.records.push_back(record);
    const YAML::Node fields = node["fields"];
    if (fields && !fields.IsMap()) {
      r_.Fail(fields, key + ".fields", "must map named groups to conversions");
    }
    if (fields) {
      for (const auto& entry : fields) {
        if (!has_group(entry.first.Scalar())) {
          r_.Fail(entry.first, key + ".fields." + entry.first.Scalar(),
                  "the regex has no group (?P<" + entry.first.Scalar() + ">...)");
        }
      }
    }
    for (const Group& g : groups) {
      TextCapture capture;
      capture.regex = g.regex;
      capture.group = g.number;
      capture.field = FieldIndex(g.name, g.node, g.key);
      if (fields && fields[g.name])
        ReadConversion(fields[g.name], key + ".fields." + g.name, &capture);
      rule.captures.push_back(capture);
      rule.regexes[g.regex].groups = std::max(rule.regexes[g.regex].groups, g.number);
      NoteTextField(capture.field, rule.record, g.node, g.key + ": (?P<" + g.name + ">)");
    }
    if (node["set"]) {
      const YAML::Node set = node["set"];
      if (!set.IsMap()) r_.Fail(set, key + ".set", "must map field names to values");
      for (const auto& entry : set) {
        const std::string name = entry.first.Scalar();
        const std::string skey = key + ".set." + name;
        if (!IsIdentifier(name)) r_.Fail(entry.first, skey, "\"" + name + "\" is not a name");
        TextConstant constant;
        constant.field = FieldIndex(name, entry.first, skey);
        constant.text = r_.String(entry.second, skey);
        constant.is_number =
            entry.second.Tag() == "?" && Reader::ParseNumber(constant.text, &constant.number);
        rule.constants.push_back(std::move(constant));
        NoteTextField(rule.constants.back().field, rule.record, entry.first, skey);
      }
    }
    if (node["compute"]) {
      const YAML::Node compute = node["compute"];
      if (!compute.IsMap()) r_.Fail(compute, key + ".compute", "must map field names to formulas");
      for (const auto& entry : compute) {
        const std::string name = entry.first.Scalar();
        const std::string ckey = key + ".compute." + name;
        if (!IsIdentifier(name)) r_.Fail(entry.first, ckey, "\"" + name + "\" is not a name");
        r_.CheckKeys(entry.second, ckey, {"divide", "round"});
        Require(entry.second, ckey, {"divide"});
        const YAML::Node divide = entry.second["divide"];
        if (!divide.IsSequence() || divide.size() != 2) {
          r_.Fail(divide, ckey + ".divide", "must be [dividend, divisor], two fields of this rule");
        }
        TextQuotient q;
        int* const operands[] = {&q.dividend, &q.divisor};
        for (std::size_t i = 0; i < 2; ++i) {
          const std::string operand = r_.String(divide[i], Reader::Index(ckey + ".divide", i));
          if (!has_group(operand)) {
            r_.Fail(divide[i], Reader::Index(ckey + ".divide", i),
                    "the rule captures no field \"" + operand + "\"");
          }
          *operands[i] = FieldIndex(operand, divide[i], ckey);
        }
        if (entry.second["round"]) q.round = r_.Bool(entry.second["round"], ckey + ".round");
        if (has_group(name)) r_.Fail(entry.first, ckey, "the rule captures this field already");
        q.field = FieldIndex(name, entry.first, ckey);
        rule.quotients.push_back(q);
        NoteTextField(q.field, rule.record, entry.first, ckey);
      }
    }
    out_.text_rules.push_back(std::move(rule));
    text_nodes_.push_back(node["record"] ? node["record"] : node);
  }

  void ReadConversion(const YAML::Node& node, const std::string& key, TextCapture* capture) {
    // yaml-cpp's Node assignment writes through to the node: pick, never assign.
    const bool map = node.IsMap();
    if (map) {
      r_.CheckKeys(node, key, {"as", "scale"});
      if (node["scale"]) {
        capture->scale = r_.Number(node["scale"], key + ".scale");
        if (capture->scale == 0) r_.Fail(node["scale"], key + ".scale", "must not be 0");
      }
    }
    const std::string name = !map         ? r_.String(node, key)
                             : node["as"] ? r_.String(node["as"], key + ".as")
                                          : "string";
    std::string names;
    for (const ConversionInfo& c : TextConversions()) {
      names += std::string(names.empty() ? "" : ", ") + std::string(c.name);
      if (c.name != name) continue;
      capture->conversion = c.conversion;
      const bool number =
          c.conversion != Conversion::kString && c.conversion != Conversion::kHttpStatus;
      if (capture->scale != 1 && !number) {
        r_.Fail(node["scale"], key + ".scale", "numbers only, not with " + name);
      }
      return;
    }
    r_.Fail(map && node["as"] ? node["as"] : node, map ? key + ".as" : key,
            "\"" + name + "\" is not a conversion (" + names + ")");
  }

  // A field a text rule of record kind `record` produces, remembered to check
  // that some metric rule of that kind reads it.
  void NoteTextField(int field, std::uint32_t record, const YAML::Node& node,
                     const std::string& key) {
    text_fields_.push_back({field, record, node, key, false});
  }

  // A metric rule of record kind `record` reads `field`.
  void NoteFieldRead(int field, std::uint32_t record, const YAML::Node& node,
                     const std::string& key) {
    if (field < 0) return;
    bool produced = record == kRequestRecord;  // JSON request lines may carry any field
    for (TextField& t : text_fields_) {
      if (t.field == field && t.record == record) produced = t.used = true;
    }
    if (!produced) {
      r_.Fail(node, key,
              "no text rule of record \"" + out_.records[record] +
                  "\" captures or sets the field \"" + out_.fields[field] + "\"");
    }
  }

  void CheckTextFieldsUsed() {
    for (std::size_t k = 1; k < out_.records.size(); ++k) {
      const bool read = std::any_of(out_.rules.begin(), out_.rules.end(), [k](const MetricRule& r) {
        return r.signal == Signal::kRecord && r.record == k;
      });
      if (read) continue;
      for (std::size_t i = 0; i < out_.text_rules.size(); ++i) {
        if (out_.text_rules[i].record != k) continue;
        r_.Fail(text_nodes_[i], Reader::Index("text", i) + ".record",
                "no metric rule reads from: " + out_.records[k]);
      }
    }
    // A request's exemplar or sample rate is a use too.
    std::vector<bool> request_use(out_.fields.size(), false);
    for (const RuleSet::ExemplarField& e : out_.exemplar_fields) request_use[e.field] = true;
    for (const int field : out_.sample_rate_fields) request_use[field] = true;
    for (const TextField& t : text_fields_) {
      if (!t.used && !(t.record == kRequestRecord && request_use[t.field])) {
        r_.Fail(t.node, t.key,
                "the field \"" + out_.fields[t.field] +
                    "\" is used by no metric rule from: " + out_.records[t.record]);
      }
    }
  }

  static bool IsSignal(const std::string& name) {
    for (const char* s :
         {"log_level", "exception", "sensitive", "system_prompt", "system_prompt_change"}) {
      if (name == s) return true;
    }
    return false;
  }

  Condition Match(const YAML::Node& node, const std::string& key) {
    r_.CheckKeys(node, key,
                 {"field", "equals", "not_equals", "exists", "regex", "not_regex", "in", "not_in"});
    Require(node, key, {"field"});
    Condition c;
    c.field = Field(node["field"], key + ".field");
    int ops = 0;
    for (const char* op :
         {"equals", "not_equals", "exists", "regex", "not_regex", "in", "not_in"}) {
      ops += node[op] ? 1 : 0;
    }
    if (ops != 1) {
      r_.Fail(node, key,
              "needs exactly one of equals, not_equals, exists, regex, not_regex, in, not_in");
    }
    if (node["exists"]) {
      c.op = r_.Bool(node["exists"], key + ".exists") ? Condition::Op::kExists
                                                      : Condition::Op::kAbsent;
    } else if (node["in"] || node["not_in"]) {
      const char* op = node["in"] ? "in" : "not_in";
      c.op = node["in"] ? Condition::Op::kIn : Condition::Op::kNotIn;
      c.strings = r_.Strings(node[op], key + "." + op);
      if (c.strings.empty()) r_.Fail(node[op], key + "." + op, "must not be empty");
      for (const std::string& v : c.strings) {
        c.string_lengths |= std::uint64_t{1} << std::min<std::size_t>(v.size(), 63);
      }
    } else if (node["regex"] || node["not_regex"]) {
      const char* op = node["regex"] ? "regex" : "not_regex";
      c.op = node["regex"] ? Condition::Op::kRegex : Condition::Op::kNotRegex;
      const std::string pattern = r_.String(node[op], key + "." + op);
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(pattern, options);
      if (!re->ok()) r_.Fail(node[op], key + "." + op, "bad regex: " + re->error());
      c.regex = std::move(re);
    } else {
      const char* op = node["equals"] ? "equals" : "not_equals";
      c.op = node["equals"] ? Condition::Op::kEquals : Condition::Op::kNotEquals;
      const YAML::Node v = node[op];
      const std::string text = r_.String(v, key + "." + op);
      // A plain (unquoted) number compares with number fields; anything else,
      // or a quoted "200", with string fields.
      c.has_number = v.Tag() == "?" && Reader::ParseNumber(text, &c.number);
      c.text = text;
    }
    return c;
  }

  // A rule fed by something other than request lines' fields (`from:`).
  void SignalMetric(const YAML::Node& node, const std::string& key, MetricSpec spec,
                    MetricRule rule) {
    const std::string from = r_.String(node["from"], key + ".from");
    r_.CheckKeys(node, key, {"name", "help", "type", "from", "value"});
    auto require_type = [&](MetricType type, const char* name) {
      if (spec.type != type) {
        r_.Fail(node["type"], key + ".type",
                std::string("must be ") + name + " with from: " + from);
      }
    };
    if (node["value"]) r_.Fail(node["value"], key + ".value", "not with from: " + from);
    if (from == "log_level") {
      require_type(MetricType::kCounter, "counter");
      rule.signal = Signal::kLogLevel;
      spec.labels = {LevelLabel()};
      // A JSON line names its level in one of these (the first that is a known level wins).
      for (const char* field : {"level", "levelname", "severity"}) {
        const int f = FieldIndex(field, node["from"], key + ".from");
        if (std::find(out_.level_fields.begin(), out_.level_fields.end(), f) ==
            out_.level_fields.end()) {
          out_.level_fields.push_back(f);
        }
      }
    } else if (from == "exception") {
      require_type(MetricType::kCounter, "counter");
      rule.signal = Signal::kException;
      spec.labels = {{"type", {}, kMaxExceptionTypes, "other"}};
      spec.dynamic = true;
    } else if (from == "sensitive") {
      require_type(MetricType::kCounter, "counter");
      rule.signal = Signal::kSensitive;
      spec.labels = {SensitiveKindLabel()};
    } else if (from == "system_prompt" || from == "system_prompt_change") {
      const bool change = from == "system_prompt_change";
      require_type(change ? MetricType::kCounter : MetricType::kGauge,
                   change ? "counter" : "gauge");
      rule.signal = change ? Signal::kSystemPromptChange : Signal::kSystemPrompt;
      if (!change) {
        spec.labels = {{"hash", {}, kMaxPromptHashes, "other"}};
        spec.dynamic = true;
        spec.latest_series_only = true;
      }
      out_.prompt_hash_field = FieldIndex("system_prompt_hash", node["from"], key + ".from");
      out_.prompt_field = FieldIndex("system_prompt", node["from"], key + ".from");
    }
    if (!node["help"]) spec.help = "From " + from + " lines";
    rule.metric = Family(std::move(spec), node, key);
    out_.rules.push_back(std::move(rule));
  }

  void Metric(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) r_.Fail(node, key, "must be a mapping");
    Require(node, key, {"name", "type"});
    MetricSpec spec;
    MetricRule rule;
    spec.name = prefix_ + r_.String(node["name"], key + ".name");
    if (!prometheus::CheckMetricName(spec.name)) {
      r_.Fail(node["name"], key + ".name", "\"" + spec.name + "\" is not a valid metric name");
    }
    if (spec.name.rfind("llm_log_exporter_", 0) == 0) {
      r_.Fail(node["name"], key + ".name", "the prefix llm_log_exporter_ is the exporter's own");
    }
    const std::string type = r_.String(node["type"], key + ".type");
    if (type == "counter") {
      spec.type = MetricType::kCounter;
    } else if (type == "gauge") {
      spec.type = MetricType::kGauge;
    } else if (type == "histogram") {
      spec.type = MetricType::kHistogram;
    } else {
      r_.Fail(node["type"], key + ".type",
              "\"" + type + "\" is not a type (counter, gauge or histogram)");
    }
    if (node["help"]) spec.help = r_.String(node["help"], key + ".help");
    std::vector<std::uint32_t> kinds = {kRequestRecord};
    if (node["from"]) {
      const YAML::Node from = node["from"];
      if (from.IsScalar() && IsSignal(from.Scalar())) {
        SignalMetric(node, key, std::move(spec), std::move(rule));
        return;
      }
      kinds = Kinds(from, key + ".from");
    }
    r_.CheckKeys(node, key,
                 {"name", "help", "type", "from", "value", "per", "plus", "read_time", "scale",
                  "mode", "buckets", "native", "labels", "match"});
    const bool histogram = spec.type == MetricType::kHistogram;
    const bool gauge = spec.type == MetricType::kGauge;
    if (node["buckets"] && !histogram)
      r_.Fail(node["buckets"], key + ".buckets", "histograms only");
    if (node["native"] && !histogram) r_.Fail(node["native"], key + ".native", "histograms only");
    if (node["mode"] && !gauge) r_.Fail(node["mode"], key + ".mode", "gauges only");
    if (node["value"] && node["read_time"]) {
      r_.Fail(node["read_time"], key + ".read_time", "a rule has `value` or `read_time`, not both");
    }
    if (node["value"]) {
      rule.source = ValueSource::kField;
      rule.field = Field(node["value"], key + ".value");
      if (node["per"] && node["plus"]) {
        r_.Fail(node["plus"], key + ".plus", "a rule has `per` or `plus`, not both");
      }
      if (node["per"]) {
        rule.source = ValueSource::kRatio;
        rule.divisor_field = Field(node["per"], key + ".per");
      }
      if (node["plus"]) {
        rule.source = ValueSource::kSum;
        rule.divisor_field = Field(node["plus"], key + ".plus");
      }
    } else if (node["per"]) {
      r_.Fail(node["per"], key + ".per", "needs `value` (value per this field)");
    } else if (node["plus"]) {
      r_.Fail(node["plus"], key + ".plus", "needs `value` (value plus this field)");
    } else if (node["read_time"] && r_.Bool(node["read_time"], key + ".read_time")) {
      rule.source = ValueSource::kReadTime;
    }
    if (node["scale"]) {
      const double scale = r_.Number(node["scale"], key + ".scale");
      if (scale == 0) r_.Fail(node["scale"], key + ".scale", "must not be 0");
      // A scale of 1/n divides by n: 300 / 1000 is exactly the bucket bound
      // 0.3, while 300 × 0.001 is not.
      const double inverse = 1 / scale;
      if (std::fabs(scale) < 1 &&
          std::fabs(inverse - std::round(inverse)) < 1e-9 * std::fabs(inverse)) {
        rule.divide_by = std::round(inverse);
      } else {
        rule.scale = scale;
      }
    }
    if (gauge) {
      const std::string mode = node["mode"] ? r_.String(node["mode"], key + ".mode") : "set";
      if (mode == "set") {
        spec.gauge_mode = GaugeMode::kSet;
      } else if (mode == "max") {
        spec.gauge_mode = GaugeMode::kMax;
      } else if (mode == "inc") {
        spec.gauge_mode = GaugeMode::kAdd;
      } else {
        r_.Fail(node["mode"], key + ".mode", "\"" + mode + "\" is not a mode (set, max or inc)");
      }
      if (rule.source == ValueSource::kOne && spec.gauge_mode != GaugeMode::kAdd) {
        r_.Fail(node, key,
                "a gauge needs `value` or `read_time: true` (or mode: inc to count lines)");
      }
    }
    if (histogram) {
      if (rule.source == ValueSource::kOne || rule.source == ValueSource::kReadTime) {
        r_.Fail(node, key + ".value", "missing: a histogram observes a field");
      }
      if (!node["buckets"]) r_.Fail(node, key + ".buckets", "missing");
      spec.buckets = Buckets(node["buckets"], key + ".buckets");
      if (node["native"]) spec.native = Native(node["native"], key + ".native");
    }
    if (spec.type == MetricType::kCounter && rule.source == ValueSource::kReadTime) {
      r_.Fail(node["read_time"], key + ".read_time", "gauges only");
    }
    spec.help = node["help"]      ? r_.String(node["help"], key + ".help")
                : rule.field >= 0 ? "From the field " + out_.fields[rule.field]
                                  : "Request lines";
    if (node["labels"]) {
      const YAML::Node labels = node["labels"];
      if (!labels.IsSequence()) r_.Fail(labels, key + ".labels", "must be a list");
      if (labels.size() > kMaxLabels) {
        r_.Fail(labels, key + ".labels", "at most " + std::to_string(kMaxLabels) + " labels");
      }
      std::size_t series = 1;
      for (std::size_t i = 0; i < labels.size(); ++i) {
        const std::string lkey = Reader::Index(key + ".labels", i);
        LabelSource source;
        spec.labels.push_back(Label(labels[i], lkey, &source));
        rule.labels.push_back(std::move(source));
        for (std::size_t j = 0; j < i; ++j) {
          if (spec.labels[j].name == spec.labels[i].name) {
            r_.Fail(labels[i]["name"], lkey + ".name",
                    "label \"" + spec.labels[i].name + "\" appears twice");
          }
        }
        series *= spec.labels[i].max_values + 1;
      }
      if (series > kMaxSeriesPerMetric) {
        r_.Fail(labels, key + ".labels",
                "the label caps allow " + std::to_string(series) + " series; at most " +
                    std::to_string(kMaxSeriesPerMetric));
      }
      spec.dynamic = true;
    }
    if (node["match"]) {
      const YAML::Node match = node["match"];
      if (!match.IsSequence()) r_.Fail(match, key + ".match", "must be a list of conditions");
      for (std::size_t i = 0; i < match.size(); ++i) {
        rule.conditions.push_back(Match(match[i], Reader::Index(key + ".match", i)));
      }
    }
    rule.metric = Family(std::move(spec), node, key);
    // One rule per record kind it reads; each field it reads must come with
    // that kind's records.
    const std::string fkey = key + (node["from"] ? ".from" : "");
    const YAML::Node fnode = node["from"] ? node["from"] : node;
    for (const std::uint32_t kind : kinds) {
      rule.record = kind;
      NoteFieldRead(rule.field, kind, fnode, fkey);
      NoteFieldRead(rule.divisor_field, kind, fnode, fkey);
      for (const LabelSource& label : rule.labels) NoteFieldRead(label.field, kind, fnode, fkey);
      for (const lle::Condition& c : rule.conditions) NoteFieldRead(c.field, kind, fnode, fkey);
      out_.rules.push_back(rule);
    }
    const auto request_rules =
        std::count_if(out_.rules.begin(), out_.rules.end(), [](const MetricRule& r) {
          return r.signal == Signal::kRecord && r.record == kRequestRecord;
        });
    if (out_.rules.size() > kMaxRules) {
      r_.Fail(node, key, "more than " + std::to_string(kMaxRules) + " rules");
    }
    if (static_cast<std::size_t>(request_rules) > kMaxRequestRules) {
      r_.Fail(node, key, "more than " + std::to_string(kMaxRequestRules) + " rules from: request");
    }
  }

  // The record kinds a `from:` names: one, or a list.
  std::vector<std::uint32_t> Kinds(const YAML::Node& from, const std::string& key) {
    std::vector<YAML::Node> names;
    if (from.IsSequence()) {
      if (from.size() == 0) r_.Fail(from, key, "must not be empty");
      for (std::size_t i = 0; i < from.size(); ++i) names.push_back(from[i]);
    } else {
      names.push_back(from);
    }
    std::vector<std::uint32_t> kinds;
    for (const YAML::Node& n : names) {
      const std::string name = r_.String(n, key);
      const auto kind = std::find(out_.records.begin(), out_.records.end(), name);
      if (kind == out_.records.end()) {
        std::string records;
        for (std::size_t i = 1; i < out_.records.size(); ++i) records += ", " + out_.records[i];
        r_.Fail(
            n, key,
            "\"" + name +
                "\" is not a source (request, log_level, exception, sensitive, system_prompt, "
                "system_prompt_change" +
                records + ")" +
                (name == "vllm_stats"
                     ? "; vLLM's stats line is read by the text rule vllm_stats of "
                       "config/qwen.yaml: copy it into this config"
                     : "") +
                (IsSignal(name) && from.IsSequence() ? "; a list names record kinds only" : ""));
      }
      const auto index = static_cast<std::uint32_t>(kind - out_.records.begin());
      if (std::find(kinds.begin(), kinds.end(), index) != kinds.end()) {
        r_.Fail(n, key, "\"" + name + "\" is listed twice");
      }
      kinds.push_back(index);
    }
    return kinds;
  }

  // The family a rule feeds: several rules may feed one name if they agree on
  // its type, labels and buckets.
  std::uint32_t Family(MetricSpec spec, const YAML::Node& node, const std::string& key) {
    for (std::size_t i = 0; i < out_.metrics.size(); ++i) {
      const MetricSpec& other = out_.metrics[i];
      if (other.name == spec.name) {
        const bool same_labels =
            other.labels.size() == spec.labels.size() &&
            std::equal(other.labels.begin(), other.labels.end(), spec.labels.begin(),
                       [](const LabelSpec& a, const LabelSpec& b) {
                         return a.name == b.name && a.values == b.values &&
                                a.max_values == b.max_values && a.overflow == b.overflow;
                       });
        if (other.type != spec.type || other.buckets != spec.buckets ||
            other.native != spec.native || other.gauge_mode != spec.gauge_mode || !same_labels) {
          r_.Fail(
              node["name"], key + ".name",
              "\"" + spec.name + "\" is used twice with a different type, mode, buckets or labels");
        }
        return static_cast<std::uint32_t>(i);
      }
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const bool clash =
            (other.type == MetricType::kHistogram && spec.name == other.name + suffix) ||
            (spec.type == MetricType::kHistogram && other.name == spec.name + suffix);
        if (clash) {
          r_.Fail(node["name"], key + ".name",
                  "\"" + spec.name + "\" clashes with the series of histogram \"" +
                      (spec.type == MetricType::kHistogram ? spec.name : other.name) + "\"");
        }
      }
    }
    out_.metrics.push_back(std::move(spec));
    return static_cast<std::uint32_t>(out_.metrics.size() - 1);
  }

  // A field a text rule produces (a named group or a `set`), and whether a
  // metric rule of its record kind reads it.
  struct TextField {
    int field;
    std::uint32_t record;
    YAML::Node node;
    std::string key;
    bool used;
  };

  const Reader& r_;
  RuleSet& out_;
  std::string prefix_;
  std::vector<TextField> text_fields_;
  std::vector<YAML::Node> text_nodes_;  // per text rule: where to point at in errors
};

}  // namespace

bool LoadConfigText(const std::string& text, const std::string& name, RuleSet* out,
                    std::string* error) {
  Reader reader(name);
  RuleSet rules;
  try {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      std::ostringstream message;
      message << name;
      if (!e.mark.is_null()) message << ':' << e.mark.line + 1 << ':' << e.mark.column + 1;
      message << ": not valid YAML: " << e.msg;
      *error = EscapeControlBytes(message.str());
      return false;
    }
    Builder(reader, &rules).Build(root);
  } catch (const ConfigError& e) {
    // Keys and values are quoted as written: a control byte in them must not
    // split the one-line message or reach a terminal (found by
    // tests/fuzz/config_fuzz).
    *error = EscapeControlBytes(e.message);
    return false;
  } catch (const YAML::Exception& e) {
    *error = EscapeControlBytes(name + ": " + e.msg);
    return false;
  }
  *out = std::move(rules);
  return true;
}

bool LoadConfigFile(const std::string& path, RuleSet* out, std::string* error) {
  std::string text;
  if (!ReadWholeFile(path, kMaxConfigFileBytes, &text, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return LoadConfigText(text, path, out, error);
}

void AddSensitiveAudit(RuleSet* rules) {
  for (const MetricRule& rule : rules->rules) {
    if (rule.signal == Signal::kSensitive) return;
  }
  MetricSpec spec;
  spec.name = rules->prefix + "log_sensitive_lines_total";
  spec.help = "Lines that look like they carry secrets or personal data, by kind (never stored)";
  spec.labels = {SensitiveKindLabel()};
  rules->metrics.push_back(std::move(spec));
  MetricRule rule;
  rule.metric = static_cast<std::uint32_t>(rules->metrics.size() - 1);
  rule.signal = Signal::kSensitive;
  rules->rules.push_back(std::move(rule));
}

RuleSet QwenPreset() {
  RuleSet rules;
  std::string error;
  // Checked by the tests; a broken built-in preset cannot be shipped.
  if (!LoadConfigText(QwenPresetText(), "built-in qwen preset", &rules, &error)) {
    throw std::logic_error(error);
  }
  return rules;
}

}  // namespace lle
