// libFuzzer target: the line parser (include/llm_log_exporter/parse/line_parser.h).
//
// Each '\n'-separated piece of the input is one line, parsed by a LineParser
// with the flat-object fast path and by one without it (simdjson only); both
// must give the same kind and fields. Where the fast path claims a line, a
// reference walk of simdjson's DOM, written here independently of the parser,
// must agree too: the line is a JSON object, of the same kind, and every
// field has the same state and the same value (numbers bit for bit, strings
// byte for byte). Any disagreement aborts. Two field sets: synthetic names
// that reach the key table's edges (8, 16, 17, 24+ bytes, nested paths) and
// the built-in preset's own.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/parse/line_parser.h"
#include "llm_log_exporter/parse/record.h"

namespace {

using lle::FieldState;
using lle::FieldValue;
using lle::LineKind;
using lle::fuzz::Check;
using lle::fuzz::Fail;

struct FieldSet {
  std::vector<std::string> fields;
  std::vector<std::string> request_keys;
};

const FieldSet& Synthetic() {
  static const FieldSet set{
      {"status", "output_tokens", "input_tokens", "a", "b", "latency_ms", "abcdefgh",
       "abcdefghijklmnop", "abcdefghijklmnopq", "a_field_name_longer_than_24_bytes", "usage",
       "usage.prompt_tokens", "usage.completion_tokens", "x.y.z", "level", "model", "msg",
       "finish_reason", "request_id"},
      {"status", "request_id", "usage.total_tokens", "ok"}};
  return set;
}

const FieldSet& Preset() {
  static const FieldSet set = [] {
    const lle::RuleSet rules = lle::QwenPreset();
    return FieldSet{rules.fields, rules.request_keys};
  }();
  return set;
}

const char* KindName(LineKind kind) {
  switch (kind) {
    case LineKind::kRequest:
      return "request";
    case LineKind::kEvent:
      return "event";
    case LineKind::kNotJson:
      return "not json";
    case LineKind::kInvalidUtf8:
      return "invalid utf-8";
  }
  return "?";
}

bool SameValue(const FieldValue& a, const FieldValue& b) {
  if (a.state != b.state) return false;
  switch (a.state) {
    case FieldState::kNumber:
    case FieldState::kOutOfRange:
      // Bit for bit: the fast path claims exactly simdjson's rounding.
      return std::memcmp(&a.number, &b.number, sizeof a.number) == 0;
    case FieldState::kString:
      return a.text == b.text;
    default:
      return true;
  }
}

void CompareRecords(const lle::Record& got, const lle::Record& want, std::size_t num_fields,
                    const FieldSet& set, std::string_view line, const char* what) {
  if (got.kind != want.kind) {
    std::string detail = std::string(what) + ": kind " + KindName(got.kind) + " against " +
                         KindName(want.kind) + " on ";
    Fail(detail.c_str(), line);
  }
  // The fields of a line that is no object are not read (LineParser::Parse).
  if (got.kind != LineKind::kRequest && got.kind != LineKind::kEvent) return;
  for (std::size_t i = 0; i < num_fields; ++i) {
    if (!SameValue(got.Get(i), want.Get(i))) {
      const std::string detail = std::string(what) + ": field " + set.fields[i] + " differs on";
      Fail(detail.c_str(), line);
    }
  }
}

FieldValue FromDom(simdjson::dom::element value) {
  int64_t i;
  uint64_t u;
  double d;
  std::string_view s;
  switch (value.type()) {
    case simdjson::dom::element_type::INT64:
      if (value.get(i)) Fail("simdjson: an element of its own type unreadable");
      return {FieldState::kNumber, static_cast<double>(i), {}};
    case simdjson::dom::element_type::UINT64:
      if (value.get(u)) Fail("simdjson: an element of its own type unreadable");
      return {FieldState::kNumber, static_cast<double>(u), {}};
    case simdjson::dom::element_type::DOUBLE:
      if (value.get(d)) Fail("simdjson: an element of its own type unreadable");
      return {FieldState::kNumber, d, {}};
    case simdjson::dom::element_type::STRING:
      if (value.get(s)) Fail("simdjson: an element of its own type unreadable");
      return {FieldState::kString, 0, s};
    default:
      return {FieldState::kWrongType, 0, {}};
  }
}

// Visits every value at dotted `path` in `object`, in document order (a
// duplicate key's later value comes later; a parent that is no object holds
// nothing). Independent of the parser's own key tree.
template <typename Visit>
void AtPath(simdjson::dom::object object, std::string_view path, Visit&& visit) {
  const std::size_t dot = path.find('.');
  const std::string_view name = path.substr(0, dot);
  for (const simdjson::dom::key_value_pair field : object) {
    if (field.key != name) continue;
    if (dot == std::string_view::npos) {
      visit(field.value);
    } else if (field.value.type() == simdjson::dom::element_type::OBJECT) {
      simdjson::dom::object child;
      if (field.value.get(child)) Fail("simdjson: an object unreadable");
      AtPath(child, path.substr(dot + 1), visit);
    }
  }
}

// The record the DOM says the line is, for a line the fast path claimed
// (a JSON object). Fails if simdjson does not read it as one.
void ReferenceRecord(simdjson::dom::parser& parser, std::string_view line, const FieldSet& set,
                     std::size_t num_fields, lle::Record* out) {
  simdjson::dom::element doc;
  const auto err = parser.parse(line.data(), line.size(), false).get(doc);
  if (err) {
    const std::string detail =
        std::string("fast path accepted a line simdjson refuses (") +
        simdjson::error_message(err) + ")";
    Fail(detail.c_str(), line);
  }
  simdjson::dom::object object;
  if (doc.get(object)) Fail("fast path accepted a line that is no JSON object", line);
  bool request = false;
  for (const std::string& key : set.request_keys) {
    AtPath(object, key, [&](simdjson::dom::element) { request = true; });
  }
  out->kind = request ? LineKind::kRequest : LineKind::kEvent;
  for (std::size_t i = 0; i < num_fields; ++i) {
    out->Set(static_cast<int>(i), FieldValue{});
    AtPath(object, set.fields[i],
           [&](simdjson::dom::element v) { out->Set(static_cast<int>(i), FromDom(v)); });
  }
}

void Run(const FieldSet& set, const std::vector<std::string_view>& lines, char fill) {
  lle::LineParser fast(set.fields, set.request_keys, /*fast_path=*/true);
  lle::LineParser slow(set.fields, set.request_keys, /*fast_path=*/false);
  simdjson::dom::parser reference_parser;
  const std::size_t num_fields = set.fields.size() < lle::kMaxFields ? set.fields.size()
                                                                      : lle::kMaxFields;
  // Records are large (64 fields): on the heap, not libFuzzer's stack.
  auto got = std::make_unique<lle::Record>();
  auto want = std::make_unique<lle::Record>();
  auto reference = std::make_unique<lle::Record>();
  for (const std::string_view raw : lines) {
    const lle::fuzz::PaddedText line(raw, fill);
    const std::size_t before = fast.fast_path_lines();
    fast.Parse(line.view(), *got);
    const bool claimed = fast.fast_path_lines() != before;
    slow.Parse(line.view(), *want);
    CompareRecords(*got, *want, num_fields, set, raw, "fast path against simdjson-only parser");
    if (claimed) {
      // Checked after the other parser ran: its views must still hold.
      ReferenceRecord(reference_parser, line.view(), set, num_fields, reference.get());
      CompareRecords(*got, *reference, num_fields, set, raw, "fast path against simdjson DOM");
    }
    Check(slow.fast_path_lines() == 0, "a parser without fast path used it");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = lle::fuzz::SplitLines(input);
  // The padding's content is unspecified: a quote or digits there must not
  // change what a line is.
  const char fill = size % 3 == 0 ? '\0' : size % 3 == 1 ? '"' : '7';
  Run(Synthetic(), lines, fill);
  Run(Preset(), lines, fill);
  return 0;
}
