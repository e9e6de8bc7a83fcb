#include "llm_log_exporter/parse/sensitive.h"

#include <cstring>

#include "text_chars.h"

namespace lle {
namespace {

bool IsKeyChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }
bool IsBearerChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}
bool IsEmailLocalChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

// At '-' of "sk-": a key not inside a longer word, with >= 20 key characters.
bool ApiKeyAt(const char* begin, const char* end, const char* dash) {
  if (dash - begin < 2 || dash[-2] != 's' || dash[-1] != 'k') return false;
  if (dash - begin > 2 && IsKeyChar(dash[-3])) return false;  // "task-force", "disk-..."
  const char* p = dash + 1;
  while (p < end && p - dash <= 20 && IsKeyChar(*p)) ++p;
  return p - dash > 20;
}

// At the first '-' of "-----BEGIN <label> PRIVATE KEY-----".
bool PrivateKeyAt(const char* dash, const char* end) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  if (static_cast<std::size_t>(end - dash) < kBegin.size() ||
      std::memcmp(dash, kBegin.data(), kBegin.size()) != 0) {
    return false;
  }
  const char* label = dash + kBegin.size();
  const char* p = label;
  while (p < end && p - label < 64 && (IsUpper(*p) || IsDigit(*p) || *p == ' ')) ++p;
  if (end - p < 5 || std::memcmp(p, "-----", 5) != 0) return false;
  const std::string_view text(label, static_cast<std::size_t>(p - label));
  return EndsWith(text, "PRIVATE KEY") || EndsWith(text, "PRIVATE KEY BLOCK");
}

// At '@': local part before, a dotted domain with a final label of >= 2 letters after.
bool EmailAt(const char* begin, const char* end, const char* at) {
  const char* local = at;
  while (local > begin && at - local < 64 && IsEmailLocalChar(local[-1])) --local;
  if (local == at || *local == '.') return false;
  const char* p = at + 1;
  const char* last_dot = nullptr;
  const char* label_start = p;
  while (p < end && (IsAlnum(*p) || *p == '-' || *p == '.')) {
    if (*p == '.') {
      if (p == label_start) break;  // ".." or a leading dot ends the domain
      last_dot = p;
      label_start = p + 1;
    }
    ++p;
  }
  // A sentence's full stop after the domain is not part of it.
  const char* domain_end = p;
  if (domain_end > at + 1 && domain_end[-1] == '.') {
    --domain_end;
    last_dot = nullptr;
    for (const char* q = at + 1; q < domain_end; ++q) {
      if (*q == '.') last_dot = q;
    }
  }
  if (last_dot == nullptr || last_dot == at + 1 || !IsAlnum(at[1])) return false;
  const char* tld = last_dot + 1;
  if (domain_end - tld < 2) return false;
  for (const char* q = tld; q < domain_end; ++q) {
    if (!IsAlpha(*q)) return false;
  }
  return true;
}

// At 'B' or 'b': "Bearer " or "bearer " at a word start, then a token.
bool BearerAt(const char* begin, const char* end, const char* b) {
  if (end - b < 7 || std::memcmp(b + 1, "earer ", 6) != 0) return false;
  if (b > begin && IsAlnum(b[-1])) return false;
  const char* token = b + 7;
  const char* p = token;
  while (p < end && p - token < 16 && IsBearerChar(*p)) ++p;
  return p - token >= 16;
}

}  // namespace

std::string_view SensitiveKindName(std::size_t index) {
  static constexpr std::string_view kNames[kNumSensitiveKinds] = {"api_key", "bearer_token",
                                                                  "email", "private_key"};
  return index < kNumSensitiveKinds ? kNames[index] : std::string_view();
}

SensitiveKinds ScanSensitive(std::string_view line) {
  SensitiveKinds kinds = 0;
  const char* begin = line.data();
  const char* end = begin + line.size();
  // '-' anchors both "sk-" keys and "-----BEGIN" headers.
  for (const char* p = static_cast<const char*>(std::memchr(begin, '-', line.size()));
       p != nullptr && kinds != (kSensitiveApiKey | kSensitivePrivateKey);
       p = static_cast<const char*>(
           std::memchr(p + 1, '-', static_cast<std::size_t>(end - p - 1)))) {
    if (!(kinds & kSensitiveApiKey) && ApiKeyAt(begin, end, p)) kinds |= kSensitiveApiKey;
    if (!(kinds & kSensitivePrivateKey) && PrivateKeyAt(p, end)) {
      kinds |= kSensitivePrivateKey;
    }
    if (p + 1 == end) break;
  }
  for (const char* p = static_cast<const char*>(std::memchr(begin, '@', line.size())); p != nullptr;
       p = static_cast<const char*>(
           std::memchr(p + 1, '@', static_cast<std::size_t>(end - p - 1)))) {
    if (EmailAt(begin, end, p)) {
      kinds |= kSensitiveEmail;
      break;
    }
    if (p + 1 == end) break;
  }
  // memchr for 'B' and 'b' beats memmem for "earer ": either letter is rare
  // enough in a log line that the 7-byte compare behind each hit costs little.
  for (const char first : {'B', 'b'}) {
    for (const char* p = static_cast<const char*>(std::memchr(begin, first, line.size()));
         p != nullptr && !(kinds & kSensitiveBearerToken);
         p = static_cast<const char*>(
             std::memchr(p + 1, first, static_cast<std::size_t>(end - p - 1)))) {
      if (BearerAt(begin, end, p)) kinds |= kSensitiveBearerToken;
      if (p + 1 == end) break;
    }
  }
  return kinds;
}

}  // namespace lle
