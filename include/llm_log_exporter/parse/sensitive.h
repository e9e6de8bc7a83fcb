#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lle {

// Lines that look like they carry secrets or personal data. No allocation and no regex.

/// Kinds of sensitive data a line may carry, as bits of SensitiveKinds.
using SensitiveKinds = std::uint8_t;
inline constexpr SensitiveKinds kSensitiveApiKey = 1 << 0;       // sk-..., sk-proj-...
inline constexpr SensitiveKinds kSensitiveBearerToken = 1 << 1;  // Bearer <token>
inline constexpr SensitiveKinds kSensitiveEmail = 1 << 2;        // local@domain.tld
inline constexpr SensitiveKinds kSensitivePrivateKey = 1 << 3;   // -----BEGIN ... PRIVATE KEY-----
inline constexpr std::size_t kNumSensitiveKinds = 4;

/// "api_key", "bearer_token", "email", "private_key" for bit `index` (0-3).
std::string_view SensitiveKindName(std::size_t index);

/// The kinds of sensitive data `line` looks like it carries:
///  - api_key: `sk-` not preceded by [A-Za-z0-9_-], then >= 20 of [A-Za-z0-9_-]
///  - bearer_token: `Bearer ` or `bearer ` (not inside a word), then >= 16
///    RFC 6750 token characters [A-Za-z0-9._~+/=-]
///  - email: [A-Za-z0-9._%+-]+ @ domain labels with at least one dot and a
///    final label of >= 2 letters (`user@` or `torch@2.1` are not)
///  - private_key: `-----BEGIN <label> PRIVATE KEY-----` (also `... BLOCK-----`)
/// Never copies or keeps the match. Each kind is looked for only behind a
/// memchr hit on '-', '@', 'B' or 'b', so a clean line costs little.
SensitiveKinds ScanSensitive(std::string_view line);

}  // namespace lle
