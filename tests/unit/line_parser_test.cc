#include "llm_log_exporter/parse/line_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

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
  EXPECT_EQ(r.Get(kStatus).state, FieldState::kString);
  EXPECT_EQ(r.Get(kStatus).text, "success");
  EXPECT_EQ(r.Get(kTotal).state, FieldState::kNumber);
  EXPECT_DOUBLE_EQ(r.Get(kTotal).number, 1876.5);
  EXPECT_DOUBLE_EQ(r.Get(kTokens).number, 1240);
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
    EXPECT_EQ(r.Get(kTotal).state, c.want) << c.value;
    if (c.want == FieldState::kNumber) {
      EXPECT_DOUBLE_EQ(r.Get(kTotal).number, c.number) << c.value;
    }
  }
}

TEST_F(LineParserTest, MissingFieldsStayMissingBetweenLines) {
  Parse(R"({"status":"a","total_time_ms":5,"input_tokens":7})");
  const Record& r = Parse(R"({"status":"b"})");
  EXPECT_EQ(r.Get(kTotal).state, FieldState::kMissing);
  EXPECT_EQ(r.Get(kTokens).state, FieldState::kMissing);
}

TEST_F(LineParserTest, NothingIsExtractedFromRejectedLines) {
  const Record& r = Parse(R"({"status":"success","total_time_ms":5,"x":NaN})");
  EXPECT_EQ(r.kind, LineKind::kNotJson);
  EXPECT_EQ(r.Get(kStatus).state, FieldState::kMissing);
  EXPECT_EQ(r.Get(kTotal).state, FieldState::kMissing);
}

TEST_F(LineParserTest, DuplicateKeysLastWins) {
  const Record& r = Parse(R"({"status":"first","total_time_ms":1,"status":"second"})");
  EXPECT_EQ(r.Get(kStatus).text, "second");
}

TEST_F(LineParserTest, EscapedKeysAndValuesAreUnescaped) {
  const Record& r = Parse(R"({"st\u0061tus":"a\"b","total_time_ms":1})");
  ASSERT_EQ(r.kind, LineKind::kRequest);
  EXPECT_EQ(r.Get(kStatus).text, "a\"b");
}

TEST_F(LineParserTest, DeepNestingIsRejectedNotCrashing) {
  std::string deep = R"({"status":"s","x":)";
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(Parse(deep).kind, LineKind::kNotJson);
}

// The flat fast path against the DOM path: same kind, same fields, bit for bit.
class FastPathTest : public testing::Test {
 protected:
  static std::vector<std::string> Fields() {
    // Strings, numbers, a nested parent, keys that prefix others, an empty
    // key, keys of 17 and 31 bytes.
    return {"status",
            "total_time_ms",
            "input_tokens",
            "request_id",
            "usage",
            "usage.prompt_tokens",
            "queue_time_ms",
            "input",
            "gpu_memory_mb",
            "x",
            "",
            "output_tokens_x",
            "inference_time_ms",
            "a_key_longer_than_sixteen_bytes"};
  }
  static std::vector<std::string> RequestKeys() {
    return {"status", "total_time_ms", "usage.completion_tokens",
            "a_key_longer_than_sixteen_bytes"};
  }

  // Parses `line` with both parsers, its padding filled with `pad`, and
  // returns whether they agree; the fast path must not read the padding.
  ::testing::AssertionResult Agree(const std::string& line, char pad = '}') {
    buffer_ = line + std::string(kLinePadding, pad);
    const std::string_view view(buffer_.data(), line.size());
    fast_.Parse(view, fast_record_);
    dom_.Parse(view, dom_record_);
    if (fast_record_.kind != dom_record_.kind) {
      return ::testing::AssertionFailure() << "kind differs: " << Escaped(line);
    }
    // The fields of a line that is no object are not read (nor cleared).
    if (fast_record_.kind != LineKind::kRequest && fast_record_.kind != LineKind::kEvent) {
      return ::testing::AssertionSuccess();
    }
    for (std::size_t i = 0; i < Fields().size(); ++i) {
      const FieldValue& f = fast_record_.Get(i);
      const FieldValue& d = dom_record_.Get(i);
      std::uint64_t f_bits, d_bits;
      std::memcpy(&f_bits, &f.number, sizeof(f_bits));
      std::memcpy(&d_bits, &d.number, sizeof(d_bits));
      if (f.state != d.state || f_bits != d_bits || f.text != d.text) {
        return ::testing::AssertionFailure()
               << "field " << Fields()[i] << " differs (fast " << static_cast<int>(f.state) << " "
               << f.number << " '" << f.text << "', dom " << static_cast<int>(d.state) << " "
               << d.number << " '" << d.text << "'): " << Escaped(line);
      }
    }
    return ::testing::AssertionSuccess();
  }

  static std::string Escaped(const std::string& line) {
    std::string out;
    for (unsigned char c : line) {
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "\\x%02x", c);
        out += hex;
      }
    }
    return out;
  }

  LineParser fast_{Fields(), RequestKeys(), true};
  LineParser dom_{Fields(), RequestKeys(), false};
  std::string buffer_;
  Record fast_record_, dom_record_;
};

constexpr const char* kRequestLine =
    R"({"timestamp":"2025-04-05T10:00:00Z","request_id":"req_fpkh1dnmm","method":"POST",)"
    R"("path":"/v1/chat/completions","input_tokens":1088,"output_tokens":672,)"
    R"("total_time_ms":7621,"queue_time_ms":3,"inference_time_ms":7618,"gpu_memory_mb":18383,)"
    R"("status":"success"})";

// TGI --json-output (3.x): the span's figures as text (with "µs"), a nested
// object and an array of them.
constexpr const char* kTgiJsonLine =
    R"({"timestamp":"2026-07-04T06:43:07.624455Z","level":"INFO","message":"Success",)"
    R"("target":"text_generation_router::server","filename":"router/src/server.rs",)"
    R"("line_number":432,"span":{"inference_time":"18.081996697s","parameters":)"
    R"("GenerateParameters { best_of: None, max_new_tokens: Some(512), stop: [] }",)"
    "\"queue_time\":\"257.509\xc2\xb5s\",\"seed\":\"None\",\"name\":\"chat_completions\"},"
    "\"spans\":[{\"queue_time\":\"257.509\xc2\xb5s\",\"name\":\"chat_completions\"}]}";

TEST_F(FastPathTest, NestedValuesNoFieldIsInTakeTheFastPath) {
  ASSERT_TRUE(Agree(kTgiJsonLine));
  EXPECT_EQ(fast_record_.kind, LineKind::kEvent);
  EXPECT_EQ(fast_.fast_path_lines(), 1u);
  // A wanted key's parent (usage, for usage.prompt_tokens) is left to simdjson.
  ASSERT_TRUE(Agree(R"({"usage":{"prompt_tokens":12},"status":"s"})"));
  EXPECT_EQ(fast_.fast_path_lines(), 1u);
  EXPECT_EQ(fast_record_.Get(5).number, 12);
  // Deeper than simdjson goes: both refuse it.
  std::string deep = R"({"x":)";
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  ASSERT_TRUE(Agree(deep + "}"));
  EXPECT_EQ(fast_record_.kind, LineKind::kNotJson);
}

TEST_F(FastPathTest, RequestLinesTakeTheFastPath) {
  ASSERT_TRUE(Agree(kRequestLine));
  EXPECT_EQ(fast_record_.kind, LineKind::kRequest);
  EXPECT_EQ(fast_.fast_path_lines(), 1u);
  EXPECT_EQ(dom_.fast_path_lines(), 0u);
  EXPECT_EQ(fast_record_.Get(0).text, "success");
  EXPECT_EQ(fast_record_.Get(1).number, 7621);
}

TEST_F(FastPathTest, EdgeCasesAgreeWithDom) {
  // clang-format off
  const std::string numbers[] = {
      "0", "-0", "-0.0", "-0.5", "0.0", "0.1", "0.5", "1", "-1", "12", "-12", "1.5", "-1.5",
      "1876.5", "0.000001", "1e5", "1E5", "1e-5", "-1e5", "1.5e3", "1.", ".5", "01", "-01", "00",
      "-", "+1", "1.2.3", "0x10", "3.14159265358979", "0.3", "2.675", "1.0000000000001",
      "7618.000", "1 ", " 1", "1\t", "1\n",
      // 15 digits at most; 16 and more go to simdjson.
      "123456789012345", "-123456789012345", "999999999999999", "-999999999999999",
      "100000000000000", "1234567890123456", "0.00000000000001", "0.000000000000001",
      "1.23456789012345", "12345678901234.5", "123456789012345.6", "9007199254740993",
      "9007199254740992", "18446744073709551616", "1e400",
      // 16 and 17 digits where w / 10^k, w rounded to a double first, is one ulp off.
      "95142426273599.37", "984575670374010.3", "955430966832521.1", "9214555895.4727276",
      "827.37886539498228", "69724.867562804803"};
  // clang-format on
  for (const std::string& n : numbers) {
    EXPECT_TRUE(Agree(R"({"total_time_ms":)" + n + "}"));
    EXPECT_TRUE(Agree(R"({"total_time_ms":)" + n + R"(,"status":"s"})"));
    EXPECT_TRUE(Agree(R"({"other":)" + n + "}"));
    EXPECT_TRUE(Agree(R"({"total_time_ms":)" + n));
  }
  const std::string lines[] = {
      kRequestLine,
      "{}",
      "  {  }  ",
      "{ }",
      "{",
      "}",
      "{\"status\"}",
      "{\"status\":}",
      "{\"status\":\"a\",}",
      "{,}",
      "{\"a\":1}x",
      "{\"a\":1} x",
      "{\"a\":1}}",
      "{\"a\":1}{}",
      "{\"a\":1,\"b\":2",
      "{\"a\":1,",
      "{\"a\":",
      "{\"a\"",
      "{\"a",
      "{\"status\":\"succ",
      " \t\r\n{ \t\r\n\"status\" \t\r\n: \t\r\n\"ok\" \t\r\n, \t\r\n\"total_time_ms\""
      " \t\r\n:\t\r\n 5 \t\r\n} \t\r\n",
      "{\"status\":\"a\",\"status\":\"b\"}",
      "{\"status\":\"a\",\"status\":5}",
      "{\"status\":\"a\",\"status\":null}",
      "{\"total_time_ms\":1,\"total_time_ms\":{\"a\":1}}",
      "{\"status\":true}",
      "{\"status\":false}",
      "{\"status\":null}",
      "{\"status\":tru}",
      "{\"status\":truex}",
      "{\"status\":nul}",
      "{\"status\":nulll}",
      "{\"status\":fals}",
      "{\"status\":True}",
      "{\"status\":\"ok\",\"x\":true,\"y\":false,\"z\":null}",
      "{\"status\":true",
      "{\"status\":nu",
      "{\"status\":{\"a\":1}}",
      "{\"status\":[1,2]}",
      "{\"status\":[]}",
      "{\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}",
      "{\"usage\":{\"prompt_tokens\":12},\"usage\":5}",
      "{\"usage\":5}",
      "{\"usage\":\"text\"}",
      "{\"usage\":null,\"status\":\"x\"}",
      "{\"prompt_tokens\":7}",
      "{\"usage.prompt_tokens\":7}",
      "{\"status\":\"a\\\"b\"}",
      "{\"st\\u0061tus\":\"a\"}",
      "{\"status\":\"a\\nb\"}",
      "{\"status\":\"\\\\\"}",
      "{\"status\":\"caf\xc3\xa9\"}",
      "{\"caf\xc3\xa9\":\"x\"}",
      "{\"status\":\"bad\xff\"}",
      "{\"status\":\"bad\xc3\"}",
      "{\"status\":\"tab\there\"}",
      std::string("{\"status\":\"nul\0here\"}", 21),
      std::string("{\"status\":\"x\"}\0", 15),
      "{\"status\":\"del\x7f\"}",
      "{\"status\":\"\x1f\"}",
      "{\"status\":\"\"}",
      "{\"\":\"empty key\"}",
      "{\"\":1,\"status\":2}",
      "{\"a_key_longer_than_sixteen_bytes\":\"long\"}",
      "{\"a_key_longer_than_sixteen_bytez\":\"long\"}",
      "{\"a_key_longer_than_sixteen_bytes_\":\"long\"}",
      "{\"a_key_longer_than_sixteen\":\"long\"}",
      "{\"a_key_longer_tha\":1,\"a_key_longer_th\":2,\"a_key_longer_than\":3}",
      "{\"statu\":1,\"statuss\":2,\"stat\":3,\"Status\":4}",
      "{\"input\":1,\"input_tokens\":2,\"input_tokens_\":3}",
      "{\"input_tokens\":2,\"input\":1}",
      "{\"output_tokens\":5,\"output_tokens_x\":6,\"output_tokens_xy\":7}",
      "{\"gpu_memory_m\":1,\"gpu_memory_mb\":2,\"gpu_memory_mbb\":3}",
      "{\"x\":1,\"y\":2,\"xx\":3}",
      "{\"request_id\":\"a very long string value that goes on past thirty-two bytes and more\"}",
      "{\"request_id\":\"a very long string value that goes on past thirty-two bytes\\\" esc\"}",
      "{\"request_id\":\"long string value with a late non-ASCII byte ............ \xc3\xa9\"}",
      "{\"request_id\":\"long string value without its closing quote ................",
      "{\"status\" : \"ok\" , \"total_time_ms\" : 1.25 }",
      "{\"status\":\"ok\"} \t\r\n",
      "{\"status\":\"ok\"}\x0b",
      "{\"status\":\"ok\"}\x0c",
      "\x0c{\"status\":\"ok\"}",
      "{\"status\":'ok'}",
      "{status:\"ok\"}",
      "{\"status\":\"ok\";\"x\":1}",
      "{\"status\":\"ok\" \"x\":1}",
      "{\"status\"\"ok\"}",
      "{\"status\"::\"ok\"}",
      "{\"total_time_ms\":1e5,\"status\":\"s\"}",
      "{\"total_time_ms\":-}",
      "{\"total_time_ms\":--1}",
      "{\"total_time_ms\":1-}",
      "{\"total_time_ms\":NaN}",
      "{\"total_time_ms\":Infinity}",
      // Objects and arrays no wanted key is inside: checked and skipped.
      "{\"span\":{\"a\":1,\"b\":[true,false,null,\"x\",-2.5,{}],\"c\":{}},\"status\":\"s\"}",
      "{\"x\":[],\"y\":{},\"z\":[[]],\"w\":[{}],\"status\":1}",
      "{\"x\":[ 1 , 2 ],\"y\":{ \"a\" : [ ] } }",
      "{\"x\":[1,]}",
      "{\"x\":[,1]}",
      "{\"x\":{\"a\":1,}}",
      "{\"x\":{\"a\"}}",
      "{\"x\":{\"a\":}}",
      "{\"x\":{1:2}}",
      "{\"x\":[1}",
      "{\"x\":{\"a\":1]}",
      "{\"x\":[1]]}",
      "{\"x\":[[1]}",
      "{\"x\":[",
      "{\"x\":{\"a\":[1,2",
      "{\"x\":[1e5,2E-3,-0,0.5]}",
      "{\"x\":[01]}",
      "{\"x\":[1.]}",
      "{\"x\":[tru]}",
      "{\"x\":[truex]}",
      "{\"x\":[NaN]}",
      "{\"x\":[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]}",
      "{\"x\":[\"\\q\"]}",
      "{\"x\":[\"\\u00e9\\ud83d\\ude00\"]}",
      "{\"x\":[\"\\ud83d\"]}",
      "{\"x\":[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xb5s\"]}",
      "{\"x\":[\"\xc3\"]}",
      "{\"x\":[\"\xc0\xaf\"]}",
      "{\"x\":[\"\xe0\x80\xaf\"]}",
      "{\"x\":[\"\xed\xa0\x80\"]}",
      "{\"x\":[\"\xf4\x90\x80\x80\"]}",
      "{\"x\":[\"\xf0\x8f\xbf\xbf\"]}",
      "{\"x\":[\"\xff\"]}",
      "{\"x\":[\"tab\there\"]}",
      "{\"x\":{\"caf\xc3\xa9\":1}}",
      "{\"usage\":{\"prompt_tokens\":[1,2]},\"x\":{\"usage\":{\"prompt_tokens\":3}}}",
      "{\"status\":{\"a\":[1,{\"b\":\"\xc2\xb5\"}]},\"total_time_ms\":[2]}",
  };
  for (const std::string& line : lines) {
    for (const char pad : {'}', ' ', '"', '0', '\0'}) EXPECT_TRUE(Agree(line, pad));
  }
  // Every prefix of a realistic line: truncated lines of every kind.
  const std::string request = kRequestLine;
  for (std::size_t n = 0; n <= request.size(); ++n) {
    EXPECT_TRUE(Agree(request.substr(0, n), request[n % request.size()]));
  }
}

// The fast path remembers the keys of the last line by position: a line whose
// keys differ from the last one's must still read as the DOM path reads it.
TEST_F(FastPathTest, RememberedKeysAreCheckedNotTrusted) {
  const std::string usual = R"({"status":"a","inference_time_ms":1,"input_tokens":2})";
  const std::string others[] = {
      R"({"statu":"a","inference_time_mss":1,"input_token":2})",
      R"({"statusx":"a","inference_time_m":1,"input_tokens_":2})",
      R"({"input_tokens":"a","status":1,"inference_time_ms":2})",
      R"({"Status":"a","inference_time_mS":1,"input_tokenz":2})",
      R"({"stat\u0075s":"a","inference_time_ms":1,"input_tokens":2})",
      "{\"status\":\"a\",\"inference_time_ms\xc3\xa9\":1}",
      "{\"status\":\"a\",\"inference_time_ms\t\":1}",
      R"({"status")",
      R"({"status)",
      R"({"status":"a","inference_time_ms)",
  };
  for (const std::string& other : others) {
    for (const char pad : {'"', '}'}) {
      EXPECT_TRUE(Agree(usual, pad));
      EXPECT_TRUE(Agree(other, pad));
    }
  }
}

TEST_F(FastPathTest, RandomMutationsAgreeWithDom) {
  const std::string templates[] = {
      kRequestLine,
      R"({"timestamp":"2025-04-05T10:00:01Z","level":"warning","message":"KV cache is 90% full"})",
      R"({"request_id":"r1","usage":{"prompt_tokens":12,"completion_tokens":3},"total_time_ms":12.5})",
      R"({"status": "error", "total_time_ms": -0.25, "input_tokens": 0, "x": true, "y": null})",
      R"({"a_key_longer_than_sixteen_bytes":"v","input":1.5,"gpu_memory_mb":18383.75,"":"e"})",
      R"({"status":"success","queue_time_ms":0.0123,"total_time_ms":123456789012345,"x":[1,2]})",
      kTgiJsonLine,
  };
  const char alphabet[] = {'{', '}', '[', ']',  '"',    ':',    ',',    '\\',   ' ',    '\t', '0',
                           '1', '5', '9', '.',  '-',    'e',    'E',    't',    'f',    'n',  'u',
                           'l', 'a', 's', '\0', '\x1f', '\x7f', '\x80', '\xc3', '\xff', '\n', '\r'};
  std::mt19937 rng(20250405);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  std::size_t fast_before = fast_.fast_path_lines();
  constexpr int kMutations = 60000;
  for (int i = 0; i < kMutations; ++i) {
    std::string line = templates[pick(std::size(templates))];
    const std::size_t edits = 1 + pick(3);
    for (std::size_t e = 0; e < edits; ++e) {
      const char c = alphabet[pick(sizeof(alphabet))];
      const std::size_t at = pick(line.size() + 1);
      switch (pick(3)) {
        case 0:
          line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 1:
          if (at < line.size()) line.erase(at, 1);
          break;
        default:
          if (at < line.size()) line[at] = c;
          break;
      }
    }
    ASSERT_TRUE(Agree(line, alphabet[pick(sizeof(alphabet))])) << "mutation " << i;
  }
  // The mutations must exercise the fast path, not only the fallback.
  EXPECT_GT(fast_.fast_path_lines() - fast_before, kMutations / 10);
}

}  // namespace
}  // namespace lle
