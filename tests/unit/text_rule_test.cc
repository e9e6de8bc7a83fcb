// Text rules (parse/text_rule.h): the conversions on what servers really print,
// and the matcher's literal guard, regexes and fields.

#include "llm_log_exporter/parse/text_rule.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "find_bytes.h"

namespace lle {
namespace {

FieldValue Converted(Conversion conversion, std::string_view text, double scale = 1) {
  FieldValue v;
  Convert(conversion, scale, text, &v);
  return v;
}

double Number(Conversion conversion, std::string_view text, double scale = 1) {
  const FieldValue v = Converted(conversion, text, scale);
  EXPECT_EQ(v.state, FieldState::kNumber) << text;
  return v.number;
}

TEST(ConvertTest, DurationsAsGoAndRustPrintThem) {
  // Rust's Debug of Duration (TGI's span fields).
  EXPECT_EQ(Number(Conversion::kDurationMs, "611.286748ms"), 611.286748);
  EXPECT_EQ(Number(Conversion::kDurationMs, "754.5\u00b5s"), 0.7545);
  EXPECT_EQ(Number(Conversion::kDurationMs, "127.337\u00b5s"), 0.127337);
  EXPECT_EQ(Number(Conversion::kDurationMs, "2.520979735s"), 2520.979735);
  EXPECT_EQ(Number(Conversion::kDurationMs, "100ns"), 0.0001);
  // Go's time.Duration (Ollama's GIN lines): µ as U+00B5 or U+03BC, m and h terms.
  EXPECT_EQ(Number(Conversion::kDurationMs, "35.684791792s"), 35684.791792);
  EXPECT_EQ(Number(Conversion::kDurationMs, "28.205\u03bcs"), 0.028205);
  EXPECT_EQ(Number(Conversion::kDurationMs, "70us"), 0.07);
  EXPECT_EQ(Number(Conversion::kDurationMs, "8m44s"), 524000);
  EXPECT_EQ(Number(Conversion::kDurationMs, "1m2.5s"), 62500);
  EXPECT_EQ(Number(Conversion::kDurationMs, "1h2m3s"), 3723000);
  EXPECT_EQ(Number(Conversion::kDurationMs, "0s"), 0);
  EXPECT_EQ(Number(Conversion::kDurationMs, "0"), 0);
  EXPECT_EQ(Number(Conversion::kDurationMs, "-1.5s"), -1500);
  // In seconds: the nearest double to the decimal, not a product.
  EXPECT_EQ(Number(Conversion::kDurationS, "611.286748ms"), 0.611286748);
  EXPECT_EQ(Number(Conversion::kDurationS, "300ms"), 0.3);
  EXPECT_EQ(Number(Conversion::kDurationS, "8m44s"), 524);
  for (const char* bad : {"", "ms", "12", "1.5", "5 ms", "1.2.3s", "1d", "s5", "-", "1s2"}) {
    EXPECT_EQ(Converted(Conversion::kDurationMs, bad).state, FieldState::kWrongType) << bad;
  }
}

TEST(ConvertTest, DurationTermsAreTheNearestDoubleOnEveryPath) {
  // One term of up to 19 digits is read as it is scanned; longer ones take
  // the general path: both give strtod's double for the decimal in ms (or s).
  std::mt19937_64 random(11);
  const auto digits = [&](int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += static_cast<char>('0' + random() % 10);
    return out;
  };
  const struct {
    const char* name;
    int ms_shift;
  } kUnits[] = {{"ns", -6}, {"us", -3}, {"\u00b5s", -3}, {"ms", 0}, {"s", 3}};
  for (int i = 0; i < 20000; ++i) {
    const std::string whole = digits(static_cast<int>(random() % 14));
    const std::string fraction = digits(static_cast<int>(random() % 14));
    if (whole.empty() && fraction.empty()) continue;
    std::string number = whole;
    if (!fraction.empty() || random() % 2 == 0) number += "." + fraction;
    if (number == ".") continue;
    const auto& unit = kUnits[random() % 5];
    const bool seconds = random() % 2 == 0;
    const int shift = unit.ms_shift - (seconds ? 3 : 0);
    const double expected = std::strtod((number + "e" + std::to_string(shift)).c_str(), nullptr);
    EXPECT_EQ(Number(seconds ? Conversion::kDurationS : Conversion::kDurationMs, number + unit.name),
              expected)
        << number << unit.name;
  }
}

TEST(ConvertTest, PercentagesAreTheNearestRatio) {
  EXPECT_EQ(Number(Conversion::kPercent, "41.2%"), 0.412);
  EXPECT_EQ(Number(Conversion::kPercent, "7.4%"), 0.074);
  EXPECT_EQ(Number(Conversion::kPercent, "84.5"), 0.845);
  EXPECT_EQ(Number(Conversion::kPercent, "0.0%"), 0);
  EXPECT_EQ(Converted(Conversion::kPercent, "%").state, FieldState::kWrongType);
  EXPECT_EQ(Converted(Conversion::kPercent, "high").state, FieldState::kWrongType);
}

TEST(ConvertTest, NumbersAndScales) {
  EXPECT_EQ(Number(Conversion::kNumber, "12"), 12);
  EXPECT_EQ(Number(Conversion::kNumber, "-3.5"), -3.5);
  EXPECT_EQ(Number(Conversion::kNumber, "+.5"), 0.5);
  EXPECT_EQ(Number(Conversion::kNumber, "1e3"), 1000);
  // A power-of-ten scale shifts the decimal exponent: SGLang's seconds in ms.
  EXPECT_EQ(Number(Conversion::kNumber, "1201.9242150001228", 1000), 1201924.2150001228);
  EXPECT_EQ(Number(Conversion::kNumber, "0.0021", 1000), 2.1);
  EXPECT_EQ(Number(Conversion::kNumber, "3", 2.5), 7.5);
  // Leading zeros are no significant digits, however many (read 8 at a time).
  EXPECT_EQ(Number(Conversion::kNumber, "0000000000000000000000042.5"), 42.5);
  EXPECT_EQ(Number(Conversion::kNumber, "0.00000000000000000000012345"), 1.2345e-22);
  EXPECT_EQ(Number(Conversion::kNumber, "12345678.87654321"), 12345678.87654321);
  for (const char* bad : {"", "inf", "nan", "0x10", "1,000", "12 ", "-", "."}) {
    EXPECT_EQ(Converted(Conversion::kNumber, bad).state, FieldState::kWrongType) << bad;
  }
  EXPECT_EQ(Converted(Conversion::kNumber, "1e400").state, FieldState::kOutOfRange);
  EXPECT_EQ(Number(Conversion::kNumber, "1e-400"), 0);
}

TEST(ConvertTest, NumbersAreTheNearestDoubleOnEveryPath) {
  // Short mantissas take a cheap exact path, long ones or far exponents the
  // general one: both must give the double nearest the decimal (strtod's).
  std::mt19937_64 random(7);
  const auto digits = [&](int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += static_cast<char>('0' + random() % 10);
    return out;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string whole = digits(static_cast<int>(random() % 21));
    const std::string fraction = digits(static_cast<int>(random() % 21));
    if (whole.empty() && fraction.empty()) continue;
    std::string text = (random() % 4 == 0 ? "-" : "") + whole;
    if (!fraction.empty() || random() % 2 == 0) text += "." + fraction;
    if (text == "." || text == "-.") continue;
    const int exponent = static_cast<int>(random() % 61) - 30;
    if (random() % 3 == 0) text += "e" + std::to_string(exponent);
    const int shift = static_cast<int>(random() % 5) * 3 - 6;  // scales 1e-6 .. 1e6
    const double scale = std::pow(10.0, shift);
    const std::string shifted = "(" + text + ")e" + std::to_string(shift);
    // strtod of the same decimal with the exponent shifted.
    std::string expected_text = text;
    long e = shift;
    if (const auto at = expected_text.find('e'); at != std::string::npos) {
      e += std::stol(expected_text.substr(at + 1));
      expected_text.resize(at);
    }
    expected_text += "e" + std::to_string(e);
    const double expected = std::strtod(expected_text.c_str(), nullptr);
    EXPECT_EQ(Number(Conversion::kNumber, text, scale), expected) << shifted;
  }
}

TEST(ConvertTest, HttpCodesBecomeTheDesignsStatus) {
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "200").text, "success");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "201").text, "success");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "408").text, "timeout");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "504").text, "timeout");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "404").text, "error");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "500").text, "error");
  EXPECT_EQ(Converted(Conversion::kHttpStatus, "302").text, "error");
  for (const char* bad : {"20", "2000", "OK", "600", "099"}) {
    EXPECT_EQ(Converted(Conversion::kHttpStatus, bad).state, FieldState::kWrongType) << bad;
  }
}

TEST(ConvertTest, ListLengths) {
  EXPECT_EQ(Number(Conversion::kListLength, "[105988]"), 1);
  EXPECT_EQ(Number(Conversion::kListLength, "[9707, 0, 2585, 646]"), 4);
  EXPECT_EQ(Number(Conversion::kListLength, "[]"), 0);
  EXPECT_EQ(Converted(Conversion::kListLength, "None").state, FieldState::kMissing);
}

TEST(ConvertTest, JsonValues) {
  FieldValue code{FieldState::kNumber, 503, {}};
  ConvertJsonValue(Conversion::kHttpStatus, 1, &code);
  EXPECT_EQ(code.state, FieldState::kString);
  EXPECT_EQ(code.text, "error");
  FieldValue word{FieldState::kString, 0, "success"};  // the original design's status
  ConvertJsonValue(Conversion::kHttpStatus, 1, &word);
  EXPECT_EQ(word.text, "success");
  FieldValue odd{FieldState::kNumber, 200.5, {}};
  ConvertJsonValue(Conversion::kHttpStatus, 1, &odd);
  EXPECT_EQ(odd.state, FieldState::kWrongType);
  FieldValue duration{FieldState::kString, 0, "2.5s"};  // TGI --json-output
  ConvertJsonValue(Conversion::kDurationMs, 1, &duration);
  EXPECT_EQ(duration.state, FieldState::kNumber);
  EXPECT_EQ(duration.number, 2500);
}

TEST(FindBytesTest, FindsWhatStringViewFindFinds) {
  // Every length around the 32- and 16-byte steps, needles of 1 to 20 bytes, near
  // misses (first and last byte right, middle wrong) and matches at both ends.
  std::mt19937 random(3);
  for (int round = 0; round < 20000; ++round) {
    const std::string alphabet = round % 2 ? "ab" : "abcdefgh\"=";
    std::string needle;
    const std::size_t m = 1 + random() % 20;
    while (needle.size() < m) needle += alphabet[random() % alphabet.size()];
    std::string haystack;
    const std::size_t n = random() % 160;  // past the 32- and 16-byte steps
    while (haystack.size() < n) {
      if (random() % 8 == 0) {
        std::string piece = needle;
        if (random() % 2 && piece.size() > 2) piece[1 + random() % (piece.size() - 2)] ^= 1;
        haystack += piece;
      } else {
        haystack += alphabet[random() % alphabet.size()];
      }
    }
    EXPECT_EQ(FindBytes(haystack, needle), std::string_view(haystack).find(needle))
        << '"' << haystack << "\" / \"" << needle << '"';
  }
  EXPECT_EQ(FindBytes("abc", ""), 0u);
  EXPECT_EQ(FindBytes("", "a"), std::string_view::npos);
}

TEST(FindBytesTest, CountByteCountsWhatStdCountCounts) {
  // Lengths around the 16-byte blocks and past 255 of them (a lane's limit).
  std::mt19937 random(5);
  for (const std::size_t n : {0, 1, 15, 16, 17, 31, 33, 200, 4079, 4080, 4081, 4096, 10000}) {
    for (const int percent : {0, 10, 100}) {
      std::string text(n, 'x');
      for (char& c : text) {
        if (static_cast<int>(random() % 100) < percent) c = ',';
      }
      EXPECT_EQ(CountByte(text, ','), static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')))
          << n << " " << percent;
    }
  }
}

TEST(RegexLiteralPrefixTest, TheTextEveryMatchStartsWith) {
  EXPECT_EQ(RegexLiteralPrefix(R"X("POST (?P<path>/v1/\S+))X"), "\"POST ");
  EXPECT_EQ(RegexLiteralPrefix(R"X(total_time="(?P<t>[^"]+)")X"), "total_time=\"");
  EXPECT_EQ(RegexLiteralPrefix(R"(\[GIN\] [0-9/]+)"), "[GIN] ");
  EXPECT_EQ(RegexLiteralPrefix(R"(Engine \(running/waiting\): (?P<r>[0-9]+))"),
            "Engine (running/waiting): ");
  EXPECT_EQ(RegexLiteralPrefix("abc?d"), "ab");  // c is optional
  EXPECT_EQ(RegexLiteralPrefix("ab{2}"), "a");
  EXPECT_EQ(RegexLiteralPrefix(R"(ab\d)"), "ab");  // \d is a class
  EXPECT_EQ(RegexLiteralPrefix("abc|abd"), "");    // top-level alternative
  EXPECT_EQ(RegexLiteralPrefix("ab(c|d)"), "ab");  // a nested one is fine
  EXPECT_EQ(RegexLiteralPrefix("a[|]b"), "a");
  EXPECT_EQ(RegexLiteralPrefix("(?i)abc"), "");
  EXPECT_EQ(RegexLiteralPrefix("^abc"), "");
  EXPECT_EQ(RegexLiteralPrefix(".*abc"), "");
  EXPECT_EQ(RegexLiteralPrefix(""), "");
}

TEST(RegexLiteralPrefixTest, AnchoredAtThePrefixFindsWhatASearchFinds) {
  // Near misses before the match, more of them than the anchored tries.
  const std::string pattern = R"(id=(?P<n>[0-9]+);)";
  std::vector<TextRule> rules(1);
  rules[0].name = "r";
  rules[0].literal = "id=";
  rules[0].regexes.push_back({std::make_shared<const re2::RE2>(pattern), "id=", 1, nullptr});
  rules[0].captures.push_back({0, 1, 0, Conversion::kNumber, 1});
  TextMatcher matcher(&rules);
  for (int misses : {0, 1, 7, 8, 9, 100}) {
    std::string line;
    for (int i = 0; i < misses; ++i) line += "id=x ";
    line += "id=42; id=7;";
    Record record;
    std::vector<double> seen;
    matcher.Match(line, record, [&](const TextRule&) { seen.push_back(record.Get(0).number); });
    EXPECT_EQ(seen, std::vector<double>{42}) << misses;
  }
}

// A rule from patterns, its named groups numbered as the config would.
class TextMatcherTest : public ::testing::Test {
 protected:
  TextRule& Add(std::string name, std::string literal, std::vector<std::string> patterns,
                std::vector<std::pair<std::string, Conversion>> captures) {
    TextRule rule;
    rule.name = std::move(name);
    rule.literal = std::move(literal);
    for (const std::string& p : patterns) {
      rule.regexes.push_back(MakeTextRegex(std::make_shared<const re2::RE2>(p), p));
      EXPECT_TRUE(rule.regexes.back().re->ok()) << p;
      if (!plans_) rule.regexes.back().plan = nullptr;
    }
    for (std::uint32_t r = 0; r < rule.regexes.size(); ++r) {
      for (const auto& [group_name, group] : rule.regexes[r].re->NamedCapturingGroups()) {
        TextCapture c;
        c.regex = r;
        c.group = group;
        c.field = Field(group_name);
        for (const auto& [n, conversion] : captures) {
          if (n == group_name) c.conversion = conversion;
        }
        rule.captures.push_back(c);
        rule.regexes[r].groups = std::max(rule.regexes[r].groups, group);
      }
    }
    rules_.push_back(std::move(rule));
    return rules_.back();
  }
  int Field(const std::string& name) {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i] == name) return static_cast<int>(i);
    }
    fields_.push_back(name);
    return static_cast<int>(fields_.size() - 1);
  }
  // Each match: rule name, then name=value of its fields.
  std::vector<std::string> Match(std::string_view line) {
    TextMatcher matcher(&rules_);
    std::vector<std::string> out;
    matcher.Match(line, record_, [&](const TextRule& rule) {
      std::string m = rule.name;
      for (std::size_t f = 0; f < fields_.size(); ++f) {
        const FieldValue& v = record_.Get(f);
        if (v.state == FieldState::kString) m += " " + fields_[f] + "=" + std::string(v.text);
        if (v.state == FieldState::kNumber) {
          m += " " + fields_[f] + "=" + std::to_string(v.number);
        }
        if (v.state == FieldState::kWrongType) m += " " + fields_[f] + "=!";
      }
      out.push_back(m);
    });
    EXPECT_EQ(record_.present(), 0u);
    return out;
  }

  std::vector<TextRule> rules_;
  std::vector<std::string> fields_;
  Record record_;
  bool plans_ = true;  // false: every regex through RE2
};

TEST_F(TextMatcherTest, TheFirstRegexMustMatchTheOthersAddWhatTheyFind) {
  Add("stats", "Avg prompt throughput: ",
      {"Avg prompt throughput: (?P<p>[0-9.]+) tokens/s", "Running: (?P<r>[0-9]+) reqs",
       "Waiting: (?P<w>[0-9]+) reqs"},
      {{"p", Conversion::kNumber}, {"r", Conversion::kNumber}, {"w", Conversion::kNumber}});
  EXPECT_EQ(Match("INFO [loggers.py:80] Avg prompt throughput: 13.5 tokens/s, Running: 2 reqs"),
            std::vector<std::string>{"stats p=13.500000 r=2.000000"});
  // Fields in another order are found too.
  EXPECT_EQ(Match("Waiting: 4 reqs, Avg prompt throughput: 1 tokens/s"),
            std::vector<std::string>{"stats p=1.000000 w=4.000000"});
  // The literal is there, the first regex does not match: nothing.
  EXPECT_TRUE(Match("Avg prompt throughput: fast, Running: 2 reqs").empty());
  EXPECT_TRUE(Match("Running: 2 reqs").empty());
}

TEST_F(TextMatcherTest, LiteralsAreFoundWhereverTheyStartAsASearchWouldFindThem) {
  // With SIMD the literal scan looks at 16 or 32 positions at a time by each
  // literal's rarest 3 bytes, 8 buckets of literals sharing nibble tables (12
  // literals of 4+ bytes here: buckets shared), then at the last positions
  // from a padded copy; without, at every stride-th position only (here the
  // shortest literal of 4+ bytes, 4, gives a stride of 1; then 6 gives 3).
  // Every literal must still be found at every offset, near both ends of
  // lines shorter and longer than a block, and overlapping others. A rule
  // with an empty regex fires when its literal occurs.
  const std::vector<std::string> literals = {
      "ab",       "abcab",      "bcabc",       "cab ca",         "aaaaaa",
      ": Success", "Avg prompt", "abcabcabcab", "bbbbbbbbbbbbbbbbbbbbb", "Success",
      "prompt S", "ca ab",      "vgpr",        "u"};
  for (const bool without_short : {false, true}) {
    rules_.clear();
    for (const std::string& literal : literals) {
      if (without_short && literal.size() < 6) continue;
      Add(literal, literal, {""}, {});
    }
    std::mt19937 random(without_short ? 2 : 1);
    const std::string alphabet = "abc :Sucesvgprmot";
    for (int round = 0; round < 6000; ++round) {
      std::string line;
      const std::size_t size = random() % (round % 2 ? 40 : 130);
      while (line.size() < size) {
        // Pieces of literals, so that near misses and overlaps are common.
        if (random() % 3 == 0) {
          const std::string& l = literals[random() % literals.size()];
          line += l.substr(random() % l.size(), 1 + random() % l.size());
        } else {
          line += alphabet[random() % alphabet.size()];
        }
      }
      std::vector<std::string> expected;
      for (const TextRule& rule : rules_) {
        if (line.find(rule.literal) != std::string::npos) expected.push_back(rule.name);
      }
      EXPECT_EQ(Match(line), expected) << '"' << line << '"';
    }
  }
}

TEST(RegexPlanTest, SimpleShapesHaveAPlanOthersDoNot) {
  const auto plan = [](const std::string& p) {
    return MakeTextRegex(std::make_shared<const re2::RE2>(p), p).plan != nullptr;
  };
  for (
      const char* p :
      {R"re(total_time="(?P<t>[^"]+)" validation_time="(?P<v>[^"]+)" )re",
       "Running: (?P<r>[0-9]+) reqs", "GPU KV cache usage: (?P<u>[0-9.]+%)",
       R"re(Sequence group \S+ is preempted by)re",
       R"re("finish_reason": \{"type": "(?P<f>[a-z_]+)")re", "#queue-req: (?P<w>[0-9]+)",
       "\"e2e_latency\": (?P<t>[0-9.e-]+)", "x=(?P<a>[^ ]*)", "a(?P<x>(?P<y>b))", "a$",
       // The uvicorn access line: alternations, an optional query, single bytes.
       R"re("POST (?P<path>/v1/(?:chat/completions|completions)|/generate)(?:\?[^ "]*)? HTTP/1\.[01]" (?P<status>(?P<code>[1-5][0-9][0-9])))re",
       "x(?P<a>ab|a)b", "x(?:y(?P<a>[0-9]+))? z", "x(?:a|[0-9])", "x(?:a|)",
       // vLLM's response line: an alternation of a class run and a word.
       R"re(, ids: (?P<o>\[[0-9, ]*\]|None), reason: (?P<f>[a-z_]+)$)re",
       // A run that gives back the literal's first bytes (`:`), up to its space.
       R"re(Generated response \S+: output: )re", "id (?P<i>[a-z:]*):: x"}) {
    EXPECT_TRUE(plan(p)) << p;
  }
  for (const char* p : {"x\\S+ab",  // the run takes all of the literal: where it ends is a search
                        "x\\S+(?:: |;)",  // a choice after a run that takes its first byte
                        "(?:Pending|Waiting): (?P<w>[0-9]+) reqs",
                        "Running: (?P<r>[0-9]+)?",
                        "a|b",
                        "(?P<x>[0-9]+) reqs",  // no leading literal
                        "total time += +(?P<t>[0-9.]+)",
                        "x=.*y",
                        "(?i)abc",
                        "ab{2}",
                        "x(?:a|b)*",
                        "x(?:a|b)??",
                        "x(?:[0-9]+)? ",
                        "a$b",
                        "x(?:a|b)?",
                        "a|b(?P<x>c)",
                        "x(?:a(?:b|c)|d|e|f)(?:g|h)(?:i|j)(?:k|l)",
                        "x=(?P<a>[0-9]+)(?P<b>[0-9]+)",
                        "\xc2\xb5s=(?P<a>[0-9]+)",
                        "x=(?P<a>[^\\d]+)",
                        "a[]b]+"}) {
    EXPECT_FALSE(plan(p)) << p;
  }
}

TEST_F(TextMatcherTest, PlansMatchWhatRe2Matches) {
  // The preset's shapes, on lines made of their pieces: near misses, runs
  // cut short, empty runs, delimiters missing, UTF-8.
  const std::vector<std::string> patterns = {
      R"re(total_time="(?P<a>[^"]+)" validation_time="(?P<b>[^"]*)" q="(?P<c>[^"]+)" )re",
      "Running: (?P<r>[0-9]+) reqs", "usage: (?P<u>[0-9.]+%)", R"re(group \S+ is (?P<w>\w+) by)re",
      R"re("type": "(?P<f>[a-z_]+)")re", R"re(e2e: (?P<e>[0-9.e-]+))re",
      R"re(\[GIN\] (?P<s>[^|]+)\| (?P<d>\S*))re",
      // Alternations (retried in order), optional groups, single bytes, nesting, `$`.
      R"re("POST (?P<p>/v1/(?:chat/completions|completions|c)|/gen)(?:\?[^ "]*)? HTTP/1\.[01]" (?P<s>(?P<c>[1-5][0-9][0-9])))re",
      "xa(?P<a>bc|b)c", "k(?:y(?P<n>[0-9]+))? z",
      "q(?:y(?P<n>[0-9]*)z)?y",       // a group set, then its optional given up
      "w(?:(?P<g>[0-9]+)y|[0-9]+z)",  // a group set, then its branch given up
      "end: (?P<f>[a-z_]+)$",
      R"re(, ids: (?P<o>\[[0-9, ]*\]|None|(?P<n>[0-9]+)x), reason: (?P<r>[a-z_]+)$)re",
      // Runs that give back the bytes of the literal they took.
      R"re(resp (?P<i>\S+): out: )re", "id (?P<i>[a-z:]*):: x"};
  const std::vector<std::string> pieces = {
      "total_time=\"", "\" validation_time=\"", "\" q=\"", "\" ", "Running: ", " reqs",
      "usage: ", "%", "group ", " is ", " by", "\"type\": \"", "e2e: ", "[GIN] ", "| ", "12", "3.5",
      "e-3", "ab_c", "x", " ", "\"", "µs", "é", "|", "\t", ":", "-", ".", "\"POST ", "/v1/",
      "chat/completions", "completions", "c", "/gen", "?", "a=1", " HTTP/1.", "0", "200", "600",
      "\" ", "xa", "bc", "b", "k", "y", " z", "q", "w", "z", "end: ", "stop", ", ids: ", "[", "]",
      ", ", "None", ", reason: ", "resp ", ": out: ", "id ", "::", ":: x", "a:b",
      // Runs longer than a SIMD block (16 or 32 bytes).
      "1, 22, 333, 4444, 55555, 666666, 7777777, 88888888",
      "µséµséµséµséµséµséµséµséµséµséµs-µséµséµséµs",
      "abcdefghijklmnopqrstuvwxyz_abcdefghijklmnop"};
  const std::string& long_list = pieces[pieces.size() - 3];
  const std::string& long_utf8 = pieces[pieces.size() - 2];
  const std::string& long_word = pieces.back();
  // Half the lines: a line one pattern matches, with up to two pieces
  // replaced, dropped or added; the rest: pieces at random.
  const std::vector<std::vector<std::string>> matching = {
      {"\"POST ", "/v1/", "chat/completions", "?", "a=1", " HTTP/1.", "0", "\" ", "200"},
      {"\"POST ", "/v1/", "c", " HTTP/1.", "0", "\" ", "200"},
      {"\"POST ", "/gen", " HTTP/1.", "0", "\" ", "200"},
      {"xa", "bc", "c"},
      {"xa", "b", "c"},
      {"k", "y", "12", " z"},
      {"k", " z"},
      {"q", "y", "12", "z", "y"},
      {"q", "y", "y"},
      {"w", "12", "z"},
      {"w", "12", "y"},
      {"end: ", "stop"},
      {", ids: ", "[", "12", ", ", "3", "]", ", reason: ", "stop"},
      {", ids: ", "None", ", reason: ", "ab_c"},
      {", ids: ", "12", "x", ", reason: ", "stop"},
      {"Running: ", "12", " reqs"},
      {"usage: ", "3.5", "%"},
      {"group ", "ab_c", " is ", "x", " by"},
      {"\"type\": \"", "ab_c", "\""},
      {"total_time=\"", "3.5", "\" validation_time=\"", "x", "\" q=\"", "12", "\" "},
      {", ids: ", "[", long_list, ", ", long_list, "]", ", reason: ", "stop"},
      {"[GIN] ", "x", "| ", long_utf8, long_word},
      {"group ", long_word, " is ", long_word, " by"},
      {"resp ", "a:b", ": out: "},
      {"resp ", long_word, "::", ": out: "},
      {"id ", "ab", ":: x"},
      {"id ", "a:b", "::", ":: x"}};
  std::mt19937 random(3);
  std::vector<std::string> lines;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::string> parts;
    if (i % 2 == 0) {
      parts = matching[random() % matching.size()];
      for (std::size_t edits = random() % 3; edits > 0; --edits) {
        const std::size_t at = random() % (parts.size() + 1);
        const std::string& piece = pieces[random() % pieces.size()];
        switch (random() % 3) {
          case 0:
            if (at < parts.size()) parts[at] = piece;
            break;
          case 1:
            if (at < parts.size()) parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          default:
            parts.insert(parts.begin() + static_cast<std::ptrdiff_t>(at), piece);
        }
      }
    } else {
      for (std::size_t k = random() % 14; k > 0; --k) parts.push_back(pieces[random() % pieces.size()]);
    }
    std::string line;
    for (const std::string& part : parts) line += part;
    lines.push_back(line);
  }
  std::vector<std::vector<std::string>> by_plan;
  for (const bool plans : {true, false}) {
    plans_ = plans;
    rules_.clear();
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      const std::string name = "r" + std::to_string(i);
      Add(name, RegexLiteralPrefix(patterns[i]), {patterns[i]}, {});
      // Group names are unique per rule, not across rules: keep fields apart.
      for (TextCapture& c : rules_.back().captures) {
        c.field = Field(name + "." + fields_[static_cast<std::size_t>(c.field)]);
      }
      EXPECT_EQ(rules_.back().regexes[0].plan != nullptr, plans) << patterns[i];
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::vector<std::string> matches = Match(lines[i]);
      if (plans) {
        by_plan.push_back(matches);
      } else {
        EXPECT_EQ(by_plan[i], matches) << '"' << lines[i] << '"';
      }
    }
  }
  // The lines do exercise every rule.
  std::map<std::string, int> matches_by_rule;
  for (const auto& matches : by_plan) {
    for (const std::string& m : matches) ++matches_by_rule[m.substr(0, m.find(' '))];
  }
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    EXPECT_GT(matches_by_rule["r" + std::to_string(i)], 50) << patterns[i];
  }
}

TEST_F(TextMatcherTest, ConstantsAreDefaultsThatACaptureOverrides) {
  TextRule& rule =
      Add("finish", " finished", {"session [0-9]+ finished(, status (?P<status>\\w+))?"}, {});
  rule.constants.push_back({Field("status"), "success", false, 0});
  EXPECT_EQ(Match("session 1 finished"), std::vector<std::string>{"finish status=success"});
  EXPECT_EQ(Match("session 1 finished, status error"),
            std::vector<std::string>{"finish status=error"});
}

TEST_F(TextMatcherTest, RulesSharingALiteralAllMatchInOrder) {
  Add("whole", "Generated response ", {"Generated response \\S+: .*ids: (?P<n>\\[[0-9, ]*\\])"},
      {{"n", Conversion::kListLength}});
  Add("delta", "Generated response ",
      {"Generated response \\S+ \\(streaming delta\\): .*ids: (?P<n>\\[[0-9, ]*\\])"},
      {{"n", Conversion::kListLength}});
  EXPECT_EQ(Match("Generated response chatcmpl-1: output: 'x', ids: [1, 2, 3]"),
            std::vector<std::string>{"whole n=3.000000"});
  EXPECT_EQ(Match("Generated response chatcmpl-1 (streaming delta): output: 'y', ids: [7]"),
            std::vector<std::string>{"delta n=1.000000"});
  EXPECT_TRUE(Match("Received request chatcmpl-1: ids: [1]").empty());
}

TEST_F(TextMatcherTest, RulesFireInTheirOrderWhateverTheirLiterals) {
  // Rules sharing literals in turn; up to 64 rules are picked by the literals
  // found, more are all looked at: the order is the rules' either way.
  for (const std::size_t count : {5, 64, 65, 70}) {
    rules_.clear();
    const std::vector<std::string> literals = {"Success", "ab", "cd "};
    std::vector<std::string> expected;
    for (std::size_t i = 0; i < count; ++i) {
      const std::string name = "r" + std::to_string(i);
      Add(name, literals[i % 3], {""}, {});
      if (i % 3 != 2) expected.push_back(name);
    }
    EXPECT_EQ(Match("x ab Success y"), expected) << count;
  }
}

TEST_F(TextMatcherTest, AConversionThatFailsIsAWrongType) {
  Add("gin", "[GIN] ", {"\\[GIN\\] .* \\| *(?P<t>[^ |]+) \\|"}, {{"t", Conversion::kDurationMs}});
  EXPECT_EQ(Match("[GIN] 2025/02/10 - 11:20:29 | 200 | 35.684791792s |"),
            std::vector<std::string>{"gin t=35684.791792"});
  EXPECT_EQ(Match("[GIN] 2025/02/10 - 11:20:29 | 200 | forever |"),
            std::vector<std::string>{"gin t=!"});
}

TEST_F(TextMatcherTest, ALongLineThatMatchesNothingIsCheap) {
  // Linear in the line: the literal is searched once, the regex never runs.
  Add("a", "needle", {"needle (?P<n>[0-9]+)"}, {{"n", Conversion::kNumber}});
  const std::string line(1 << 20, 'x');
  EXPECT_TRUE(Match(line).empty());
  EXPECT_EQ(Match(line + "needle 5"), std::vector<std::string>{"a n=5.000000"});
}

}  // namespace
}  // namespace lle
