#include "llm_log_exporter/app/exporter.h"

#include <mutex>
#include <shared_mutex>

#include "llm_log_exporter/app/build_info.h"

namespace lle {
namespace {

// In the order of the source indices: stdin, http, the files, then the queue
// inputs; each only if read.
std::vector<std::string> Sources(const ExporterInputs& inputs) {
  std::vector<std::string> out;
  if (inputs.read_stdin) out.push_back("stdin");
  if (inputs.http_ingest) out.push_back("http");
  out.insert(out.end(), inputs.files.begin(), inputs.files.end());
  out.insert(out.end(), inputs.queues.begin(), inputs.queues.end());
  return out;
}

}  // namespace

ReloadGate::ReloadGate() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock_, &attr);
  pthread_rwlockattr_destroy(&attr);
}

ReloadGate::~ReloadGate() { pthread_rwlock_destroy(&lock_); }

std::uint64_t PromptTracker::EndChunk(std::uint64_t seq, std::string_view first,
                                      std::string_view last) {
  constexpr std::size_t kMaxWaiting = 4096;
  std::lock_guard<std::mutex> lock(mutex_);
  if (seq < next_) return 0;  // given up on: too late to place
  waiting_[seq] = Ends{std::string(first), std::string(last)};
  std::uint64_t changes = 0;
  while (!waiting_.empty() && (waiting_.begin()->first == next_ || waiting_.size() > kMaxWaiting)) {
    const auto it = waiting_.begin();
    if (!it->second.first.empty()) {
      if (!last_.empty() && last_ != it->second.first) ++changes;
      last_ = std::move(it->second.last);
    }
    next_ = it->first + 1;
    waiting_.erase(it);
  }
  return changes;
}

Exporter::Exporter(RuleSet rules, ExporterInputs inputs, SumMode sums)
    : generation_(std::make_shared<Generation>(std::move(rules), sums)),
      self_(Sources(inputs), inputs.files.size(), 0, kBuildInfo, inputs.http_ingest,
            inputs.queues.size()),
      self_store_(self_.Specs()),
      control_(self_store_.AddShard()),
      http_source_(inputs.read_stdin ? 1 : 0),
      first_file_(http_source_ + (inputs.http_ingest ? 1 : 0)),
      first_queue_(first_file_ + inputs.files.size()),
      sums_(sums) {
  control_->Apply(self_.BuildInfo());
  control_->Apply(self_.LastReload(true));
}

void Exporter::Reload(RuleSet rules) {
  // Built outside the gate: ingest goes on meanwhile. A shard for each
  // writer and one for Absorb.
  auto next = std::make_shared<Generation>(std::move(rules), sums_, writers_ + 1);
  std::lock_guard<ReloadGate> lock(gate_);
  // No chunk is being worked now, and the next one starts on `next`.
  next->store.Absorb(generation_->store);
  generation_ = std::move(next);
}

void Exporter::CountReload(bool success) {
  std::lock_guard<ReloadGate> lock(gate_);
  control_->Apply(self_.Reload(success));
  control_->Apply(self_.LastReload(success));
}

std::vector<Family> Exporter::Collect(bool with_exemplars) {
  std::vector<Family> out;
  Collect(with_exemplars, &out);
  return out;
}

void Exporter::Collect(bool with_exemplars, std::vector<Family>* families) {
  std::shared_lock<ReloadGate> lock(gate_);
  // The self-metrics first: a pipeline counts a chunk's lines after it has
  // applied their updates, so the families read after the counts hold at
  // least what they count (a chunk finishing in between shows in its metrics
  // before its lines_total, never the other way; the cells are relaxed
  // atomics, which x86-64 keeps in store order).
  const Store& store = generation_->store;
  const std::size_t total = self_store_.Collect(with_exemplars, families, store.families());
  store.Collect(with_exemplars, families, 0);
  families->resize(total);
}

}  // namespace lle
