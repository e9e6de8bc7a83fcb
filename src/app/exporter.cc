#include "llm_log_exporter/app/exporter.h"

#include "llm_log_exporter/map/qwen_preset.h"

namespace lle {
namespace {

std::vector<MetricSpec> Concat(std::vector<MetricSpec> a, const std::vector<MetricSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

Exporter::Exporter(bool http_ingest)
    : mapper_(QwenPreset(), 0),
      self_(http_ingest ? std::vector<std::string>{"stdin", "http"}
                        : std::vector<std::string>{"stdin"},
            static_cast<std::uint32_t>(mapper_.Specs().size()), LLE_VERSION, http_ingest),
      store_(Concat(mapper_.Specs(), self_.Specs())) {
  store_.AddShard()->Apply(self_.BuildInfo());
}

}  // namespace lle
