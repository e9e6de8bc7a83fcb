#include "llm_log_exporter/app/build_info.h"

namespace lle {

std::string VersionText(const BuildInfo& info) {
  return std::string("llm_log_exporter, version ") + info.version + " (branch: " + info.branch +
         ", revision: " + info.revision + ")\n  build:    " + info.compiler;
}

}  // namespace lle
