#include "llm_log_exporter/parse/line_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "llm_log_exporter/core/line.h"

namespace lle {
namespace {

constexpr int kStatus = 0, kTotal = 1, kTokens = 2;

class LineParserTest : public testing::Test {
 protected:
  const Record& Parse(const std::string& line) {
    buffer_ = line + std::string(kLinePadding, ' ');
    parser_.Parse(std::string_view(buffer_.data(), line.size()), record_);
    return record_;
  }

  LineParser parser_{{"status", "total_time_ms", "input_tokens"}, {"status", "total_time_ms"}};
  std::string buffer_;
  Record record_;
};

TEST_F(LineParserTest, ClassifiesLines) {
  struct Case {
    std::string line;
    LineKind want;
  };
  const Case cases[] = {
      {R"({"status":"success","total_time_ms":12})", LineKind::kRequest},
      {R"({"total_time_ms":12})", LineKind::kRequest},
      {R"({"status":null})", LineKind::kRequest},
      {R"(  {"status":"ok"}  )", LineKind::kRequest},
      {R"({"level":"warning","message":"KV cache is 90% full"})", LineKind::kEvent},
      {R"({"message":"{\"status\": \"degraded\"}"})", LineKind::kEvent},
      {R"({"nested":{"status":"x"}})", LineKind::kEvent},  // only top-level keys count
      {R"({})", LineKind::kEvent},
      {"", LineKind::kNotJson},
      {"INFO:     Started server process [1234]", LineKind::kNotJson},
      {"Traceback (most recent call last):", LineKind::kNotJson},
      {"[1,2]", LineKind::kNotJson},
      {R"("status")", LineKind::kNotJson},
      {"42", LineKind::kNotJson},
      {"{'status': 'error', 'total_time_ms': 5}", LineKind::kNotJson},      // Python dict repr
      {R"({"status":"success","total_ti)", LineKind::kNotJson},             // truncated
      {R"({"status":"success"}{"status":"success"})", LineKind::kNotJson},  // two objects
      {R"({"status":"success"} x)", LineKind::kNotJson},
      {R"({"status":"success","total_time_ms":NaN})", LineKind::kNotJson},
      {R"({"status":"success","total_time_ms":Infinity})", LineKind::kNotJson},
      {R"({"status":"success","total_time_ms":-Infinity})", LineKind::kNotJson},
      {R"({"status":"success","x":tru})", LineKind::kNotJson},
      {R"({"status":"success","x":nul})", LineKind::kNotJson},
      {R"({"status":"success","x":01})", LineKind::kNotJson},
      {R"({"status":"success","x":1.})", LineKind::kNotJson},
      {R"({"status":"success","x":"\q"})", LineKind::kNotJson},  // bad escape in an unused field
      {R"({"status":"success",})", LineKind::kNotJson},
      {R"({"status" "success"})", LineKind::kNotJson},
      {"{\"status\":\"raw\ttab\"}", LineKind::kNotJson},  // control characters must be escaped
      {"{\"status\":\"ok\"}\t", LineKind::kRequest},  // ...but a tab is whitespace outside strings
      {"{\"status\":\"bad\xff\"}", LineKind::kInvalidUtf8},
      {"not json \xc3\x28", LineKind::kInvalidUtf8},
      {"{\"status\":\"caf\xc3\xa9\"}", LineKind::kRequest},
  };
  for (const Case& c : cases) EXPECT_EQ(Parse(c.line).kind, c.want) << c.line;
}

TEST_F(LineParserTest, ExtractsFieldsByType) {
  const Record& r = Parse(R"({"status":"success","total_time_ms":1876.5,"input_tokens":1240})");
  ASSERT_EQ(r.kind, LineKind::kRequest);
  EXPECT_EQ(r.fields[kStatus].state, FieldState::kString);
  EXPECT_EQ(r.fields[kStatus].text, "success");
  EXPECT_EQ(r.fields[kTotal].state, FieldState::kNumber);
  EXPECT_DOUBLE_EQ(r.fields[kTotal].number, 1876.5);
  EXPECT_DOUBLE_EQ(r.fields[kTokens].number, 1240);
}

TEST_F(LineParserTest, FieldStates) {
  struct Case {
    std::string value;
    FieldState want;
    double number;
  };
  const Case cases[] = {
      {"12", FieldState::kNumber, 12},
      {"-3.5e2", FieldState::kNumber, -350},
      {"0", FieldState::kNumber, 0},
      {"123456789012345678901234567890", FieldState::kNumber, 1.2345678901234568e29},
      {"18446744073709551616", FieldState::kNumber, 18446744073709551616.0},
      {"1e400", FieldState::kOutOfRange, 0},
      {"-1e400", FieldState::kOutOfRange, 0},
      {"1e-400", FieldState::kNumber, 0},
      {"\"1876\"", FieldState::kString, 0},
      {"true", FieldState::kWrongType, 0},
      {"null", FieldState::kWrongType, 0},
      {"[1]", FieldState::kWrongType, 0},
      {"{\"a\":1}", FieldState::kWrongType, 0},
  };
  for (const Case& c : cases) {
    const Record& r = Parse(R"({"status":"s","total_time_ms":)" + c.value + "}");
    ASSERT_EQ(r.kind, LineKind::kRequest) << c.value;
    EXPECT_EQ(r.fields[kTotal].state, c.want) << c.value;
    if (c.want == FieldState::kNumber) {
      EXPECT_DOUBLE_EQ(r.fields[kTotal].number, c.number) << c.value;
    }
  }
}

TEST_F(LineParserTest, MissingFieldsStayMissingBetweenLines) {
  Parse(R"({"status":"a","total_time_ms":5,"input_tokens":7})");
  const Record& r = Parse(R"({"status":"b"})");
  EXPECT_EQ(r.fields[kTotal].state, FieldState::kMissing);
  EXPECT_EQ(r.fields[kTokens].state, FieldState::kMissing);
}

TEST_F(LineParserTest, NothingIsExtractedFromRejectedLines) {
  const Record& r = Parse(R"({"status":"success","total_time_ms":5,"x":NaN})");
  EXPECT_EQ(r.kind, LineKind::kNotJson);
  EXPECT_EQ(r.fields[kStatus].state, FieldState::kMissing);
  EXPECT_EQ(r.fields[kTotal].state, FieldState::kMissing);
}

TEST_F(LineParserTest, DuplicateKeysLastWins) {
  const Record& r = Parse(R"({"status":"first","total_time_ms":1,"status":"second"})");
  EXPECT_EQ(r.fields[kStatus].text, "second");
}

TEST_F(LineParserTest, EscapedKeysAndValuesAreUnescaped) {
  const Record& r = Parse(R"({"st\u0061tus":"a\"b","total_time_ms":1})");
  ASSERT_EQ(r.kind, LineKind::kRequest);
  EXPECT_EQ(r.fields[kStatus].text, "a\"b");
}

TEST_F(LineParserTest, DeepNestingIsRejectedNotCrashing) {
  std::string deep = R"({"status":"s","x":)";
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(Parse(deep).kind, LineKind::kNotJson);
}

}  // namespace
}  // namespace lle
