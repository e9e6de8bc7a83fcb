#include "llm_log_exporter/parse/line_header.h"

#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "digits.h"
#include "llm_log_exporter/core/line.h"
#include "text_chars.h"

namespace lle {
namespace {

constexpr char kEsc = '\x1b';

// The end of the escape sequence that starts at s[i] (an ESC): CSI `ESC [`
// parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte
// 0x40-0x7E; OSC `ESC ]` ... BEL or `ESC \`; else ESC, intermediate bytes
// 0x20-0x2F and a final byte (`ESC ( B`, `ESC =`). A
// sequence cut off by the end of the line runs to it.
std::size_t EscapeEnd(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  if (i + 1 >= n) return n;
  const char kind = s[i + 1];
  std::size_t j = i + 2;
  if (kind == '[') {
    while (j < n && s[j] >= 0x30 && s[j] <= 0x3f) ++j;
    while (j < n && s[j] >= 0x20 && s[j] <= 0x2f) ++j;
    if (j < n && s[j] >= 0x40 && s[j] <= 0x7e) ++j;
    return j;
  }
  if (kind == ']') {
    for (; j < n; ++j) {
      if (s[j] == '\a') return j + 1;
      if (s[j] == kEsc && j + 1 < n && s[j + 1] == '\\') return j + 2;
    }
    return n;
  }
  // nF escapes (`ESC ( B`): intermediate bytes, then one final byte.
  j = i + 1;
  while (j < n && s[j] >= 0x20 && s[j] <= 0x2f) ++j;
  if (j < n && s[j] >= 0x30 && s[j] <= 0x7e) ++j;
  return j;
}

// hh:mm:ss at p.
bool ClockAt(std::string_view s, std::size_t p) {
  return DigitsAt(s, p, 2) && p + 8 <= s.size() && s[p + 2] == ':' && DigitsAt(s, p + 3, 2) &&
         s[p + 5] == ':' && DigitsAt(s, p + 6, 2);
}

// `YYYY-MM-DD` then `sep` then `hh:mm:ss`, optionally `.fraction` (any length
// when `fraction` is set) and a zone (`Z`, `+hh:mm`, `+hhmm`) when `zone` is
// set. Returns the position after it, or `p`.
std::size_t StampAt(std::string_view s, std::size_t p, char sep, bool zone) {
  if (p + 19 > s.size() || !DateTimeAt(s.data() + p, sep)) return p;
  std::size_t q = p + 19;
  if (!zone) return q;
  if (q < s.size() && s[q] == '.') {
    const std::size_t f = ++q;
    while (q < s.size() && IsDigit(s[q])) ++q;
    if (q == f) return p;
  }
  if (q < s.size() && s[q] == 'Z') return q + 1;
  if (q < s.size() && (s[q] == '+' || s[q] == '-') && DigitsAt(s, q + 1, 2)) {
    q += 3;
    if (q < s.size() && s[q] == ':') ++q;
    return DigitsAt(s, q, 2) ? q + 2 : p;
  }
  return p;
}

// A token of non-space bytes at p, at most `max` long: its end, or p.
std::size_t TokenEnd(std::string_view s, std::size_t p, std::size_t max) {
  std::size_t q = p;
  while (q < s.size() && q - p < max && s[q] != ' ' && s[q] != '\t') ++q;
  return q < s.size() && q - p == max ? p : q;
}

// A timestamp wrapper's end, if it is one: exactly one space after it, then
// something that is no separator and no `name - ` header of the server's own
// (`%(asctime)s %(name)s - %(levelname)s`), which needs its timestamp.
std::size_t AfterStamp(std::string_view s, std::size_t p, std::size_t q) {
  if (q == p || q + 1 >= s.size() || s[q] != ' ') return p;
  const char next = s[q + 1];
  if (next == ' ' || next == '\t' || next == '-' || next == '|' || next == ',') return p;
  const std::size_t token_end = TokenEnd(s, q + 1, 256);
  if (s.compare(token_end, 3, " - ") == 0) return p;
  return q + 1;
}

// Each wrapper below gets the line, the position p to look at, and where an
// RFC 3339 stamp at p ends (StampAt(s, p, 'T', true), computed once for all).

// The CRI container log format (Kubernetes node files, /var/log/pods):
// `2016-10-06T00:17:09.669794202Z stdout F `.
std::size_t SkipCri(std::string_view s, std::size_t p, std::size_t iso) {
  std::size_t q = iso;
  if (q == p || q >= s.size() || s[q] != ' ') return p;
  ++q;
  if (s.compare(q, 7, "stdout ") != 0 && s.compare(q, 7, "stderr ") != 0) return p;
  q += 7;
  if (q + 1 >= s.size() || (s[q] != 'F' && s[q] != 'P') || s[q + 1] != ' ') return p;
  return q + 2;
}

// `docker logs -t` (RFC 3339, nine fraction digits), `kubectl logs
// --timestamps`, Docker Desktop's `YYYY-MM-DD hh:mm:ss `.
std::size_t SkipStamp(std::string_view s, std::size_t p, std::size_t iso) {
  std::size_t q = iso;
  if (q == p) q = StampAt(s, p, ' ', false);
  return AfterStamp(s, p, q);
}

// `host ident: ` or `host ident[pid]: ` at p (after a journald/syslog stamp).
std::size_t SkipHostAndIdent(std::string_view s, std::size_t p, bool need_pid) {
  const std::size_t host_end = TokenEnd(s, p, 256);
  if (host_end == p || host_end >= s.size() || s[host_end] != ' ') return 0;
  const std::size_t ident = host_end + 1;
  const std::size_t ident_end = TokenEnd(s, ident, 128);
  if (ident_end < ident + 2 || s[ident_end - 1] != ':') return 0;
  if (need_pid && (ident_end < ident + 5 || s[ident_end - 2] != ']')) return 0;
  if (ident_end == s.size()) return ident_end;
  return s[ident_end] == ' ' ? ident_end + 1 : 0;
}

// `ident[pid]: ` at p, or 0.
std::size_t SkipIdentWithPid(std::string_view s, std::size_t p) {
  const std::size_t end = TokenEnd(s, p, 128);
  if (end < p + 5 || s[end - 1] != ':' || s[end - 2] != ']' || !IsDigit(s[end - 3])) return 0;
  if (s.substr(p, end - p).find('[') == std::string_view::npos) return 0;
  if (end == s.size()) return end;
  return s[end] == ' ' ? end + 1 : 0;
}

// journald's default `short` format (as syslog): `Dec 08 19:56:13 host
// ollama[1066]: `, the month in the locale's abbreviation (`janv.`, `févr.`,
// `Mär`), the day maybe space-padded; `short-precise` adds microseconds;
// `short-iso` is `2023-12-08T19:56:13+0100 host ollama[1066]: `.
std::size_t SkipJournald(std::string_view s, std::size_t p, std::size_t iso) {
  std::size_t q = p;
  if (q < s.size() && IsDigit(s[q])) {
    q = iso;
    if (q == p || q >= s.size() || s[q] != ' ') return p;
    const std::size_t end = SkipHostAndIdent(s, q + 1, true);
    return end == 0 ? p : end;
  }
  // The month: letters, UTF-8 bytes and a final '.', 2 to 8 bytes.
  while (q < s.size() && q - p < 9 &&
         (IsAlpha(s[q]) || static_cast<unsigned char>(s[q]) >= 0x80 || s[q] == '.')) {
    ++q;
  }
  if (q - p < 2 || q - p > 8 || q >= s.size() || s[q] != ' ') return p;
  ++q;
  if (q < s.size() && s[q] == ' ') ++q;
  const std::size_t day = q;
  while (q < s.size() && q - day < 2 && IsDigit(s[q])) ++q;
  if (q == day || q >= s.size() || s[q] != ' ' || !ClockAt(s, q + 1)) return p;
  q += 9;
  if (q < s.size() && s[q] == '.') {
    ++q;
    while (q < s.size() && IsDigit(s[q])) ++q;
  }
  if (q >= s.size() || s[q] != ' ') return p;
  std::size_t end = SkipHostAndIdent(s, q + 1, false);
  // Pastes often drop the host: `Nov 02 22:57:57 ollama[1011]: `.
  if (end == 0) end = SkipIdentWithPid(s, q + 1);
  return end == 0 ? p : end;
}

bool IsNameChar(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; }

// docker compose: `vllm-1  | ` (the service name padded to the longest one),
// `[text-generation-inference] | `. A name in capitals only is a level word
// (`INFO     | ...`), not a service; a name that is a stamp ends at its ':'.
std::size_t SkipCompose(std::string_view s, std::size_t p, std::size_t iso) {
  if (iso != p) return p;
  std::size_t q = p;
  const bool bracket = q < s.size() && s[q] == '[';
  if (bracket) ++q;
  const std::size_t name = q;
  bool lower_or_digit = false;
  while (q < s.size() && q - name < 128 && IsNameChar(s[q])) {
    lower_or_digit = lower_or_digit || !IsUpper(s[q]);
    ++q;
  }
  if (q == name || !lower_or_digit) return p;
  if (bracket) {
    if (q >= s.size() || s[q] != ']') return p;
    ++q;
  }
  const std::size_t spaces = q;
  while (q < s.size() && q - spaces < 128 && s[q] == ' ') ++q;
  if (q == spaces || q >= s.size() || s[q] != '|') return p;
  ++q;
  if (q == s.size()) return q;
  return s[q] == ' ' ? q + 1 : p;
}

#if defined(__AVX2__)
// For each mask of 8 bytes to keep, the pshufb indices that gather them to
// the front (0x80: a zero byte).
struct Gather {
  std::uint8_t index[256][8];
};
constexpr Gather MakeGather() {
  Gather g{};
  for (int keep = 0; keep < 256; ++keep) {
    int n = 0;
    for (int b = 0; b < 8; ++b) {
      if ((keep >> b & 1) != 0) g.index[keep][n++] = static_cast<std::uint8_t>(b);
    }
    for (; n < 8; ++n) g.index[keep][n] = 0x80;
  }
  return g;
}
constexpr Gather kGather = MakeGather();

// Copies in[*i ..] to out[*n ..] without its colours of one or two digits
// (`ESC [ 1 m`, `ESC [ 32 m`: TGI's dim, italic, bold, reset and level
// colours), 32 bytes at a time, while the escapes in a block are only those
// and 4 bytes past it can be read; advances *i and *n. A block's start does
// not depend on its bytes (a colour that runs past a block is dropped from
// the next one's start), so that the loads of the next blocks need not wait
// for this one's masks. Reads in[*i .. size), may write 32 bytes past out[*n].
void StripColourBlocks(const char* in, std::size_t size, char* out, std::size_t* i_io,
                       std::size_t* n_io) {
  const auto load = [in](std::size_t k) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + k));
  };
  const auto bits = [](__m256i x) {
    return std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(x))};
  };
  const auto digits = [](__m256i x) {
    return _mm256_and_si256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8('0' - 1)),
                            _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), x));
  };
  std::size_t i = *i_io, n = *n_io;  // locals: stores through `out` may alias them
  std::uint64_t carry = 0;           // the start of this block that ends the last one's colour
  for (; i + 36 <= size; i += 32) {
    const __m256i b0 = load(i);
    const std::uint64_t esc = bits(_mm256_cmpeq_epi8(b0, _mm256_set1_epi8(kEsc)));
    if ((esc | carry) == 0) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n), b0);
      n += 32;
      continue;
    }
    const __m256i b2 = load(i + 2), b3 = load(i + 3);
    const std::uint64_t opens =
        esc & bits(_mm256_cmpeq_epi8(load(i + 1), _mm256_set1_epi8('['))) & bits(digits(b2));
    const std::uint64_t one = opens & bits(_mm256_cmpeq_epi8(b3, _mm256_set1_epi8('m')));
    const std::uint64_t two =
        opens & bits(digits(b3)) & bits(_mm256_cmpeq_epi8(load(i + 4), _mm256_set1_epi8('m')));
    if ((one | two) != esc) break;
    // Bits 32 and up: the next block's first bytes.
    const std::uint64_t drop = one * 0xf | two * 0x1f;  // colours never overlap: no carries
    const auto keep = static_cast<std::uint32_t>(~(drop | carry));
    carry = drop >> 32;
    for (int group = 0; group < 4; ++group) {
      const unsigned k = keep >> (8 * group) & 0xff;
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i + 8 * group));
      const __m128i index = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kGather.index[k]));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + n), _mm_shuffle_epi8(bytes, index));
      n += static_cast<std::size_t>(__builtin_popcount(k));
    }
  }
  *i_io = i + static_cast<std::size_t>(__builtin_popcountll(carry));  // the colour's end
  *n_io = n;
}
#endif

}  // namespace

std::string_view StripAnsi(std::string_view line, std::string& scratch) {
  const void* esc = std::memchr(line.data(), kEsc, line.size());
  if (esc == nullptr) return line;
  // TGI colours every field name, so segments are short and a memchr and a
  // memcpy call per segment cost more than the bytes: with AVX2, blocks of 32
  // bytes whose escapes are all short colours are copied without them at
  // once (StripColourBlocks); else 16 bytes at a time up to each ESC. Stores
  // may run up to 32 bytes past the copied text: the scratch has kLinePadding
  // bytes beyond the line's size.
  static_assert(kLinePadding >= 32);
  scratch.resize(line.size() + kLinePadding);
  char* const out = scratch.data();
  const char* const in = line.data();
  const std::size_t size = line.size();
  std::size_t n = static_cast<std::size_t>(static_cast<const char*>(esc) - in);
  std::memcpy(out, in, n);
  std::size_t i = n;
  while (i < size) {
#if defined(__AVX2__)
    if (i + 36 <= size) {
      StripColourBlocks(in, size, out, &i, &n);
      if (i >= size) break;
    }
#endif
    if (in[i] == kEsc) {
      // Most colours are `ESC [ digit m` (TGI's dim, italic, bold, reset).
      if (i + 4 <= size && in[i + 1] == '[' && IsDigit(in[i + 2]) && in[i + 3] == 'm') {
        i += 4;
      } else {
        i = EscapeEnd(line, i);
      }
      continue;
    }
#if defined(__SSE2__)
    if (i + 16 <= size) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n), bytes);
      const auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(kEsc))));
      const std::size_t run = mask == 0 ? 16 : static_cast<std::size_t>(__builtin_ctz(mask));
      n += run;
      i += run;
      continue;
    }
#endif
    out[n++] = in[i++];
  }
  return std::string_view(out, n);
}

std::size_t SkipWrappers(std::string_view line) {
  using Skip = std::size_t (*)(std::string_view, std::size_t, std::size_t);
  // CRI before the plain stamp (which would leave `stdout F`), journald's
  // short-iso before it too (its stamp has a zone).
  static constexpr Skip kWrappers[] = {SkipCri, SkipJournald, SkipCompose, SkipStamp};
  constexpr std::size_t kCount = sizeof(kWrappers) / sizeof(kWrappers[0]);
  bool used[kCount] = {};
  std::size_t p = 0;
  for (std::size_t layer = 0; layer < kCount; ++layer) {
    const std::size_t iso = p < line.size() && IsDigit(line[p]) ? StampAt(line, p, 'T', true) : p;
    std::size_t q = p;
    for (std::size_t w = 0; w < kCount && q == p; ++w) {
      if (used[w]) continue;
      q = kWrappers[w](line, p, iso);
      used[w] = q != p;
    }
    if (q == p) break;
    p = q;
  }
  return p;
}

std::string_view Unwrap(std::string_view line, std::string& scratch) {
  // A JSON line (the request lines, most of a JSON log) has no wrapper, and
  // a raw ESC inside it is invalid JSON anyway: spare it the scan.
  if (!line.empty() && line[0] == '{') return line;
  const std::string_view clean = StripAnsi(line, scratch);
  // Every wrapper starts with a digit, a letter or '['.
  if (clean.empty() || !(IsAlnum(clean[0]) || clean[0] == '[' ||
                         static_cast<unsigned char>(clean[0]) >= 0x80)) {
    return clean;
  }
  return clean.substr(SkipWrappers(clean));
}

}  // namespace lle
