#pragma once

#include <string_view>

#include "llm_log_exporter/parse/record.h"

namespace lle {

/// Parses a JSON number token the fast path refused (huge integers, 1e400):
/// kNumber with *value set, kOutOfRange if finite grammar but beyond double
/// range, or kWrongType if `token` is not RFC 8259 number grammar.
FieldState ParseNumberToken(std::string_view token, double* value);

}  // namespace lle
