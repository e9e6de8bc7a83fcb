#include "llm_log_exporter/app/exporter.h"

#include "llm_log_exporter/map/qwen_preset.h"

namespace lle {
namespace {

std::vector<MetricSpec> Concat(std::vector<MetricSpec> a, const std::vector<MetricSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Indices as SourceIndex says: stdin 0, http 1 (when enabled), then the files.
std::vector<std::string> Sources(bool http_ingest, const std::vector<std::string>& files) {
  std::vector<std::string> out = {"stdin"};
  if (http_ingest) out.push_back("http");
  out.insert(out.end(), files.begin(), files.end());
  return out;
}

}  // namespace

Exporter::Exporter(bool http_ingest, const std::vector<std::string>& files)
    : mapper_(QwenPreset(), 0),
      self_(Sources(http_ingest, files), static_cast<std::uint32_t>(mapper_.Specs().size()),
            LLE_VERSION, http_ingest),
      store_(Concat(mapper_.Specs(), self_.Specs())),
      first_file_(http_ingest ? 2 : 1) {
  store_.AddShard()->Apply(self_.BuildInfo());
}

}  // namespace lle
