// lle_sample_log [LINES [SEED]]: writes LINES (default 100000) lines of a
// realistic inference-server log to stdout (bench/log_generator.h). The
// profile-guided build trains on it (cmake/Pgo.cmake); it is also a quick
// input for trying the exporter: lle_sample_log | llm_log_exporter --once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "log_generator.h"

namespace {

// The whole of `text` as a decimal number, or false.
bool ParseCount(const char* text, unsigned long long* out) {
  char* end = nullptr;
  *out = std::strtoull(text, &end, 10);
  return *text >= '0' && *text <= '9' && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long long lines = 100000, seed = 42;
  if (argc > 3 || (argc > 1 && !ParseCount(argv[1], &lines)) ||
      (argc > 2 && !ParseCount(argv[2], &seed))) {
    std::fprintf(stderr, "usage: lle_sample_log [LINES [SEED]]  (decimal numbers)\n");
    return 2;
  }
  lle::LogGenerator generator(seed);
  std::string out;
  for (unsigned long long i = 0; i < lines; ++i) {
    generator.Next(out);
    out += '\n';
    if (out.size() >= (1 << 16) || i + 1 == lines) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return 1;
      out.clear();
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
