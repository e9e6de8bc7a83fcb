// llm_log_exporter: flags in, exit code out; everything else lives in the libraries.
#include <cstdio>
#include <exception>
#include <string>

#include "llm_log_exporter/app/daemon.h"
#include "llm_log_exporter/app/log_format.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/parse/cpu_check.h"

int main(int argc, char** argv) {
  lle::PrepareProcess();
  std::string missing;
  if (!lle::CpuSupportsParser(&missing)) {
    std::fprintf(stderr,
                 "llm_log_exporter: this CPU lacks %s, which this build's JSON parser uses; "
                 "rebuild with -DLLE_SIMD=westmere or off\n",
                 missing.c_str());
    return 1;
  }
  try {
    lle::Options options;
    if (const int code = lle::ParseOptions(argc, argv, &options); code >= 0) return code;
    lle::SetupLogging(options.log_level, *lle::ParseLogFormat(options.log_format));
    if (options.check_config) return lle::CheckConfig(options, stdout);
    return options.once ? lle::RunOnce(options, 0, stdout) : lle::RunDaemon(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llm_log_exporter: fatal: %s\n", e.what());
    return 1;
  }
}
