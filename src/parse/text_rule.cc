#include "llm_log_exporter/parse/text_rule.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "digits.h"
#include "find_bytes.h"
#include "literal_set.h"
#include "regex_plan.h"
#include "text_chars.h"

namespace lle {
namespace {

// m times 10^exponent when that is exact the cheap way (Clinger): m at most
// 2^53 and a power of ten that is itself a double (at most 10^22), so that
// one multiplication or division rounds once. Most numbers servers print
// (durations, throughputs) take this path.
bool FastDecimal(std::uint64_t m, long exponent, bool negative, double* value) {
  static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (m > (std::uint64_t{1} << 53) || exponent < -22 || exponent > 22) return false;
  const double d = static_cast<double>(m);
  const double v = exponent >= 0 ? d * kPowers[exponent] : d / kPowers[-exponent];
  *value = negative ? -v : v;
  return true;
}

// A decimal number at the start of `s`: [+-]?digits[.digits]([eE][+-]?digits)?
// or [+-]?.digits, times 10^shift. Returns its length (0: none); `*value`
// gets the double nearest the decimal value (read with the exponent shifted,
// not multiplied: "41.2" shifted by -2 is the double nearest 0.412, where
// 41.2 / 100 is not), infinite when beyond double range.
std::size_t DecimalPrefix(std::string_view s, double* value, int shift = 0) {
  std::size_t i = 0;
  const bool negative = i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  // The digits as an integer while they fit (19 significant digits), and
  // the power of ten that scales it.
  std::uint64_t m = 0;
  int digits = 0;
  long scale = 0;
  const char* const first = s.data();
  const char* const last = first + s.size();
  const std::size_t int_start = i;
  i = static_cast<std::size_t>(ReadDigitRun(first + i, last, &m, &digits) - first);
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_start = ++i;
    i = static_cast<std::size_t>(ReadDigitRun(first + i, last, &m, &digits) - first);
    scale = -static_cast<long>(i - frac_start);
  }
  if (digits == 0) return 0;
  const std::size_t mantissa_end = i;
  // Leading zeros do not count (rare: only a long number looks).
  int significant = digits;
  for (std::size_t k = int_start; significant > 19 && k < mantissa_end; ++k) {
    if (s[k] == '0') {
      --significant;
    } else if (s[k] != '.') {
      break;
    }
  }
  long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    const std::size_t exp_start = j;
    while (j < s.size() && IsDigit(s[j]) && j - exp_start < 6) ++j;
    if (j > exp_start) {
      const std::size_t sign = s[i + 1] == '-' ? 1 : 0;
      std::from_chars(s.data() + exp_start, s.data() + j, exponent);
      if (sign) exponent = -exponent;
      i = j;
    }
  }
  if (significant <= 19 && FastDecimal(m, scale + exponent + shift, negative, value)) return i;
  // "<mantissa>e<exponent + shift>", without a leading '+' (from_chars takes none).
  const std::size_t skip = s[0] == '+' ? 1 : 0;
  char buffer[96];
  const std::size_t mantissa = mantissa_end - skip;
  if (mantissa + 12 > sizeof buffer) return 0;
  std::memcpy(buffer, s.data() + skip, mantissa);
  std::size_t size = mantissa;
  buffer[size++] = 'e';
  size = static_cast<std::size_t>(
      std::to_chars(buffer + size, buffer + sizeof buffer, exponent + shift).ptr - buffer);
  const auto [end, ec] = std::from_chars(buffer, buffer + size, *value);
  if (ec == std::errc::result_out_of_range) {
    // Too small underflows to 0 (fine); too large is out of range.
    *value = exponent + shift > 0 ? HUGE_VAL : 0;
  } else if (ec != std::errc() || end != buffer + size) {
    return 0;
  }
  return i;
}

// 10^n for a scale that is one (1000, 0.001), else 0.
int PowerOfTen(double scale) {
  static constexpr double kPowers[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
  for (int n = 1; n <= 9; ++n) {
    if (scale == kPowers[n - 1]) return n;
    if (scale == 1 / kPowers[n - 1] || scale * kPowers[n - 1] == 1) return -n;
  }
  return 0;
}

void SetNumber(double value, double scale, FieldValue* out) {
  value *= scale;
  if (!std::isfinite(value)) {
    out->state = FieldState::kOutOfRange;
    return;
  }
  out->state = FieldState::kNumber;
  out->number = value;
}

// A decimal number that is all of `text`, times 10^shift, times `scale`
// (a power of ten shifts the exponent too).
void SetDecimal(std::string_view text, int shift, double scale, FieldValue* out) {
  // Most captures have no scale: no lookup for them.
  const int scale_shift = scale == 1 ? 0 : PowerOfTen(scale);
  if (scale_shift != 0 || scale == 1) {
    shift += scale_shift;
    scale = 1;
  }
  double value = 0;
  if (!text.empty() && DecimalPrefix(text, &value, shift) == text.size())
    SetNumber(value, scale, out);
}

// The unit of a duration term at `p` (before `end`): its length (0: none),
// and its size in 10^*ms_shift ms, or in *ms_factor ms when that is not 0.
// "ms" is read before "m" (minutes).
std::size_t UnitAt(const char* p, const char* end, int* ms_shift, double* ms_factor) {
  const auto next = [&](std::ptrdiff_t k, char c) { return end - p > k && p[k] == c; };
  *ms_factor = 0;
  switch (*p) {
    case 'n':  // ns
      *ms_shift = -6;
      return next(1, 's') ? 2 : 0;
    case 'u':  // us
      *ms_shift = -3;
      return next(1, 's') ? 2 : 0;
    case '\xc2':  // µs: µ U+00B5 (Go, Rust)
      *ms_shift = -3;
      return next(1, '\xb5') && next(2, 's') ? 3 : 0;
    case '\xce':  // μs: μ U+03BC (Go)
      *ms_shift = -3;
      return next(1, '\xbc') && next(2, 's') ? 3 : 0;
    case 'm':
      *ms_shift = 0;
      if (next(1, 's')) return 2;
      *ms_factor = 60000;
      return 1;
    case 's':
      *ms_shift = 3;
      return 1;
    case 'h':
      *ms_factor = 3600000;
      return 1;
    default:
      return 0;
  }
}

// Go's time.Duration.String() (`1h2m3.5s`, `8m44s`, `28.205µs`, `0s`) and
// Rust's Debug of Duration (`611.286748ms`, `1.000000001s`, `100ns`): one or
// more number+unit terms. Total in units of 10^shift ms (0: ms, 3: s); false if
// `text` is not one.
bool ParseDuration(std::string_view text, int shift, double* total) {
  *total = 0;
  if (text == "0") return true;
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  if (p == end) return false;
  while (p < end) {
    // The number, eight digits at a time: digits, at most one '.', digits.
    const char* const start = p;
    std::uint64_t m = 0;
    int digits = 0;
    p = ReadDigitRun(p, end, &m, &digits);
    long fraction = 0;
    if (p < end && *p == '.') {
      const char* const decimals = ++p;
      p = ReadDigitRun(p, end, &m, &digits);
      fraction = -(p - decimals);
    }
    if (digits == 0 || p == end) return false;
    const std::string_view number(start, static_cast<std::size_t>(p - start));
    int ms_shift = 0;
    double ms_factor = 0;
    const std::size_t unit = UnitAt(p, end, &ms_shift, &ms_factor);
    if (unit == 0) return false;
    p += unit;
    const int unit_shift = ms_factor == 0 ? ms_shift - shift : -shift;
    double value = 0;
    // At most 19 digits fit in m; longer numbers take the general path.
    if (!(digits <= 19 && FastDecimal(m, fraction + unit_shift, false, &value)) &&
        DecimalPrefix(number, &value, unit_shift) != number.size()) {
      return false;
    }
    if (ms_factor != 0) value *= ms_factor;
    *total += value;
  }
  if (negative) *total = -*total;
  return true;
}

const char* HttpStatusName(std::string_view code) {
  if (code.size() != 3 || !IsDigit(code[0]) || !IsDigit(code[1]) || !IsDigit(code[2]) ||
      code[0] < '1' || code[0] > '5') {
    return nullptr;
  }
  if (code[0] == '2') return "success";
  if (code == "408" || code == "504") return "timeout";
  return "error";
}

}  // namespace

std::string RegexLiteralPrefix(std::string_view pattern) {
  // A top-level alternative makes the first branch's text no prefix.
  int depth = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;  // []...] holds ']'
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return {};
    }
  }
  std::string prefix;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    char literal = 0;
    std::size_t next = i + 1;
    if (c == '\\') {
      // Escaped punctuation is the character; \d, \b, \Q ... are operators.
      if (i + 1 >= pattern.size() || IsAlnum(pattern[i + 1]) ||
          static_cast<unsigned char>(pattern[i + 1]) >= 0x80) {
        break;
      }
      literal = pattern[i + 1];
      next = i + 2;
    } else if (std::strchr(".^$|?*+()[]{}", c) != nullptr) {
      break;
    } else {
      literal = c;
    }
    // A quantifier makes its character optional or repeated.
    if (next < pattern.size() && std::strchr("?*+{", pattern[next]) != nullptr) break;
    prefix += literal;
    i = next - 1;
  }
  return prefix;
}

const std::vector<ConversionInfo>& TextConversions() {
  static const std::vector<ConversionInfo> kConversions = {
      {"string", Conversion::kString, "the captured text (the default)"},
      {"number", Conversion::kNumber, "a decimal number: 12, -3.5, 1e3"},
      {"duration_ms", Conversion::kDurationMs,
       "a Go or Rust duration (611.286748ms, 754.5µs, 1m2.5s, 0s) in milliseconds"},
      {"duration_s", Conversion::kDurationS, "the same in seconds"},
      {"percent", Conversion::kPercent, "7.4% (or 7.4) as the ratio 0.074"},
      {"http_status", Conversion::kHttpStatus,
       "an HTTP code as the status success (2xx), timeout (408, 504) or error"},
      {"list_length", Conversion::kListLength,
       "the number of items of [a, b, c]; None is no value"},
  };
  return kConversions;
}

void Convert(Conversion conversion, double scale, std::string_view text, FieldValue* out) {
  out->text = {};
  out->number = 0;
  out->state = FieldState::kWrongType;
  switch (conversion) {
    case Conversion::kString:
      out->state = FieldState::kString;
      out->text = text;
      return;
    case Conversion::kNumber:
      SetDecimal(text, 0, scale, out);
      return;
    case Conversion::kDurationMs:
    case Conversion::kDurationS: {
      double value = 0;
      if (ParseDuration(text, conversion == Conversion::kDurationS ? 3 : 0, &value)) {
        SetNumber(value, scale, out);
      }
      return;
    }
    case Conversion::kPercent:
      if (!text.empty() && text.back() == '%') text.remove_suffix(1);
      while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
      SetDecimal(text, -2, scale, out);
      return;
    case Conversion::kHttpStatus:
      if (const char* name = HttpStatusName(text)) {
        out->state = FieldState::kString;
        out->text = name;
      }
      return;
    case Conversion::kListLength: {
      if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
        out->state = FieldState::kMissing;
        return;
      }
      const std::string_view inside = text.substr(1, text.size() - 2);
      const bool blank = std::all_of(inside.begin(), inside.end(), [](char c) { return c == ' '; });
      const auto commas = static_cast<double>(CountByte(inside, ','));
      SetNumber(blank ? 0 : commas + 1, scale, out);
      return;
    }
  }
}

void ConvertJsonValue(Conversion conversion, double scale, FieldValue* value) {
  if (value->state == FieldState::kString) {
    if (conversion == Conversion::kHttpStatus && HttpStatusName(value->text) == nullptr) return;
    Convert(conversion, scale, value->text, value);
  } else if (value->state == FieldState::kNumber) {
    if (conversion == Conversion::kHttpStatus) {
      const double n = value->number;
      if (n >= 100 && n <= 599 && n == std::floor(n)) {
        const char digits[3] = {static_cast<char>('0' + static_cast<int>(n) / 100),
                                static_cast<char>('0' + static_cast<int>(n) / 10 % 10),
                                static_cast<char>('0' + static_cast<int>(n) % 10)};
        value->state = FieldState::kString;
        value->text = HttpStatusName(std::string_view(digits, 3));
      } else {
        value->state = FieldState::kWrongType;
      }
    } else if (conversion != Conversion::kString) {
      SetNumber(value->number, scale, value);
    }
  }
}

TextRegex MakeTextRegex(std::shared_ptr<const re2::RE2> re, std::string_view pattern) {
  TextRegex out;
  out.prefix = RegexLiteralPrefix(pattern);
  const RareBytes rare = RareBytesOf(out.prefix);
  out.prefix_rare[0] = rare.a;
  out.prefix_rare[1] = rare.b;
  out.plan = RegexPlan::Of(pattern);
  // A plan must see the groups RE2 sees, and begin where the prefix search finds.
  if (out.plan != nullptr &&
      (out.plan->num_groups() != re->NumberOfCapturingGroups() || out.prefix.empty())) {
    out.plan = nullptr;
  }
  out.re = std::move(re);
  return out;
}

TextMatcher::TextMatcher(const std::vector<TextRule>* rules) : rules_(rules) {
  int most = 0;
  std::vector<std::string> literals;
  for (const TextRule& rule : *rules_) {
    for (const TextRegex& regex : rule.regexes) most = std::max(most, regex.groups);
    auto it = std::find(literals.begin(), literals.end(), rule.literal);
    literal_.push_back(static_cast<std::size_t>(it - literals.begin()));
    if (it == literals.end()) literals.push_back(rule.literal);
  }
  many_literals_ = literals.size() > 64;
  if (!many_literals_ && rules_->size() <= 64) {
    rules_by_literal_.resize(literals.size());
    for (std::size_t i = 0; i < rules_->size(); ++i) {
      rules_by_literal_[literal_[i]] |= std::uint64_t{1} << i;
    }
  }
  literals_ = std::make_unique<LiteralSet>(std::move(literals));
  groups_ = std::make_unique<re2::StringPiece[]>(static_cast<std::size_t>(most) + 1);
}

TextMatcher::~TextMatcher() = default;

std::uint64_t TextMatcher::FindLiterals(std::string_view line) const {
  return literals_->Find(line);
}

bool TextMatcher::HasLiteral(std::size_t rule, std::uint64_t found, std::string_view line) const {
  return literals_->Has(literal_[rule], found, line);
}

bool TextMatcher::Search(const TextRegex& regex, std::string_view line) {
  const re2::StringPiece text(line.data(), line.size());
  const std::string& prefix = regex.prefix;
  std::size_t from = 0;
  if (!prefix.empty()) {
    // Where the prefix occurs, a match can start; near misses are retried a
    // few times, then one unanchored search over the rest keeps a long line
    // full of them linear.
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::size_t at =
          FindBytes(line.substr(from), prefix, {regex.prefix_rare[0], regex.prefix_rare[1]});
      if (at == std::string_view::npos) return false;
      const std::size_t pos = from + at;
      if (regex.plan != nullptr ? regex.plan->MatchAt(line, pos, groups_.get(), regex.groups)
                                : regex.re->Match(text, pos, line.size(), re2::RE2::ANCHOR_START,
                                                  groups_.get(), regex.groups + 1)) {
        return true;
      }
      from = pos + 1;
    }
  }
  return regex.re->Match(text, from, line.size(), re2::RE2::UNANCHORED, groups_.get(),
                         regex.groups + 1);
}

bool TextMatcher::Fill(std::size_t index, std::string_view line, Record& record) {
  const TextRule& rule = (*rules_)[index];
  auto capture = rule.captures.begin();
  for (std::size_t r = 0; r < rule.regexes.size(); ++r) {
    const TextRegex& regex = rule.regexes[r];
    const bool matched = Search(regex, line);
    if (r == 0) {
      if (!matched) return false;
      // Constants first: a capture of the same field overrides them.
      for (const TextConstant& k : rule.constants) {
        record.Set(k.field,
                   {k.is_number ? FieldState::kNumber : FieldState::kString, k.number, k.text});
      }
    }
    for (; capture != rule.captures.end() && capture->regex == r; ++capture) {
      const re2::StringPiece& piece = groups_[capture->group];
      // A group that took no part in the match (an optional one) is no value.
      if (!matched || piece.data() == nullptr) continue;
      FieldValue value;
      Convert(capture->conversion, capture->scale, std::string_view(piece.data(), piece.size()),
              &value);
      record.Set(capture->field, value);
    }
  }
  for (const TextQuotient& q : rule.quotients) {
    const FieldValue& a = record.Get(q.dividend);
    const FieldValue& b = record.Get(q.divisor);
    if (a.state != FieldState::kNumber || b.state != FieldState::kNumber || !(b.number > 0)) {
      continue;
    }
    const double quotient = a.number / b.number;
    FieldValue value;
    SetNumber(q.round ? std::nearbyint(quotient) : quotient, 1, &value);
    record.Set(q.field, value);
  }
  return true;
}

}  // namespace lle
