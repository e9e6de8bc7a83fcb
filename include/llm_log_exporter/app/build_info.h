#pragma once

#include <string>

namespace lle {

/// What was built, from where and with what: the labels of
/// llm_log_exporter_build_info and the text of --version. Plain constants.
struct BuildInfo {
  const char* version;   // the project's version, e.g. "0.1.0"
  const char* revision;  // the git commit built, or "unknown" (not built from a git checkout)
  const char* branch;    // its branch ("HEAD" if detached), or "unknown"
  const char* compiler;  // e.g. "GCC 12.2.0", "Clang 14.0.6"
};

/// This build's; defined in a file that cmake/BuildInfo.cmake writes at build time.
extern const BuildInfo kBuildInfo;

/// What --version prints, as node_exporter does:
///   llm_log_exporter, version 0.1.0 (branch: main, revision: 0123abc...)
///     build:    GCC 12.2.0
std::string VersionText(const BuildInfo& info);

}  // namespace lle
