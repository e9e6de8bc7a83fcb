// Throughput of each stage of the hot path (DESIGN.md §2) in isolation, and of
// the whole in-process pipeline, on a realistic log generated here. Whole-process
// figures (start-up, reads, HTTP, scrapes during ingest) are in run.sh.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "llm_log_exporter/framing/line_framer.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/parse/line_parser.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/traceback.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/store/store.h"
#include "log_generator.h"

namespace lle {
namespace {

constexpr std::size_t kCorpusBytes = 4 << 20;
constexpr std::size_t kReadBytes = 256 * 1024;  // what FdSource reads at a time
constexpr std::size_t kMaxLineBytes = 1 << 20;  // the daemon's default limit
constexpr std::uint64_t kSeed = 42;

struct Corpus {
  std::string text;                     // the lines, each ending in '\n', then kLinePadding bytes
  std::size_t size = 0;                 // bytes of lines, without the padding
  std::vector<std::string_view> lines;  // views into `text`, without the '\n'
  std::vector<LineKind> kinds;          // what each line must parse as
  std::vector<std::string_view> request_lines;
  std::size_t request_bytes = 0;  // of request_lines, counting their '\n'

  std::string_view data() const { return {text.data(), size}; }
};

// Built once: every line, wherever it is in `text`, is followed by at least
// kLinePadding readable bytes, so the parser can be handed views directly.
const Corpus& GetCorpus() {
  static const Corpus* corpus = [] {
    auto c = std::make_unique<Corpus>();
    LogGenerator gen(kSeed);
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    c->text.reserve(kCorpusBytes + 4096);
    while (c->text.size() < kCorpusBytes) {
      const std::size_t start = c->text.size();
      c->kinds.push_back(gen.Next(c->text));
      spans.emplace_back(start, c->text.size() - start);
      c->text += '\n';
    }
    c->size = c->text.size();
    c->text.append(kLinePadding, ' ');
    for (std::size_t i = 0; i < spans.size(); ++i) {
      const std::string_view line(c->text.data() + spans[i].first, spans[i].second);
      c->lines.push_back(line);
      if (c->kinds[i] == LineKind::kRequest) {
        c->request_lines.push_back(line);
        c->request_bytes += line.size() + 1;
      }
    }
    return c.release();
  }();
  return *corpus;
}

// The corpus's make-up, in the header of the output.
const bool kCorpusDescribed = [] {
  const Corpus& c = GetCorpus();
  std::size_t events = 0;
  for (LineKind k : c.kinds) events += k == LineKind::kEvent ? 1 : 0;
  const double n = static_cast<double>(c.lines.size());
  char text[200];
  std::snprintf(text, sizeof text,
                "%zu lines, %zu bytes: %.1f%% requests, %.1f%% JSON events, %.1f%% not JSON",
                c.lines.size(), c.size, 100.0 * static_cast<double>(c.request_lines.size()) / n,
                100.0 * static_cast<double>(events) / n,
                100.0 * static_cast<double>(c.lines.size() - c.request_lines.size() - events) / n);
  benchmark::AddCustomContext("corpus", text);
  return true;
}();

// Hands `data` to `feed` in reads of FdSource's size; each chunk is followed by
// the rest of the corpus or its padding, as the framer requires.
template <typename Feed>
void FeedInChunks(std::string_view data, Feed&& feed) {
  for (std::size_t off = 0; off < data.size(); off += kReadBytes) {
    feed(data.substr(off, kReadBytes));
  }
}

void SetThroughput(benchmark::State& state, std::size_t lines, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(lines));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

double CounterSum(const std::vector<Family>& families, const std::string& name) {
  double sum = 0;
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.series) sum += m.value;
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Framing: memchr for '\n' and a view per line; the sink only counts.

class CountingSink : public LineSink {
 public:
  void OnLine(std::string_view line, bool /*cr*/) override {
    ++lines;
    bytes += line.size();
  }
  void OnTooLong() override { ++too_long; }
  std::size_t lines = 0;
  std::size_t bytes = 0;
  std::size_t too_long = 0;
};

void BM_Framing(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  LineFramer framer(kMaxLineBytes);
  CountingSink sink;
  for (auto _ : state) {
    FeedInChunks(c.data(), [&](std::string_view chunk) { framer.Feed(chunk, sink); });
    framer.Finish(sink);
  }
  benchmark::DoNotOptimize(sink.bytes);
  if (sink.lines != c.lines.size() * state.iterations()) state.SkipWithError("wrong line count");
  SetThroughput(state, c.lines.size(), c.size);
}
BENCHMARK(BM_Framing)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// Parse: classification plus extraction of the preset's fields.

void BM_Parse(benchmark::State& state, bool requests_only, bool fast_path) {
  const Corpus& c = GetCorpus();
  const RuleSet rules = QwenPreset();
  LineParser parser(rules.fields, rules.request_keys, fast_path);
  Record record;
  const std::vector<std::string_view>& lines = requests_only ? c.request_lines : c.lines;
  std::size_t wrong = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      parser.Parse(lines[i], record);
      const LineKind want = requests_only ? LineKind::kRequest : c.kinds[i];
      wrong += record.kind != want ? 1 : 0;
    }
  }
  // Guards the corpus as much as the parser: a line meant as a request must be one.
  if (wrong != 0) state.SkipWithError("a line parsed as another kind than generated");
  SetThroughput(state, lines.size(), requests_only ? c.request_bytes : c.size);
}
BENCHMARK_CAPTURE(BM_Parse, mixed, false, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Parse, requests_only, true, true)->Unit(benchmark::kMicrosecond);
// The DOM parser alone, the fast path's baseline.
BENCHMARK_CAPTURE(BM_Parse, mixed_dom, false, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Parse, requests_only_dom, true, false)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// Text-line recognisers (src/parse/), each run on every line of the
// corpus: the cost one adds if the pipeline calls it for all lines. The
// s_per_line counter is the time per line.

void SetPerLine(benchmark::State& state, std::size_t lines, std::size_t bytes) {
  SetThroughput(state, lines, bytes);
  state.counters["s_per_line"] =
      benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

void BM_ClassifyLevel(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  std::size_t leveled = 0;
  for (auto _ : state) {
    for (std::string_view line : c.lines) leveled += ClassifyLevel(line) != LogLevel::kNone;
  }
  benchmark::DoNotOptimize(leveled);
  if (leveled == 0) state.SkipWithError("no line of the corpus has a level");
  SetPerLine(state, c.lines.size(), c.size);
}
BENCHMARK(BM_ClassifyLevel)->Unit(benchmark::kMicrosecond);


void BM_TracebackTracker(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  TracebackTracker tracker;
  std::size_t blocks = 0;
  for (auto _ : state) {
    for (std::string_view line : c.lines) blocks += tracker.Feed(line).finished;
    blocks += tracker.Finish().finished;
  }
  benchmark::DoNotOptimize(blocks);
  if (blocks == 0) state.SkipWithError("no traceback in the corpus");
  SetPerLine(state, c.lines.size(), c.size);
}
BENCHMARK(BM_TracebackTracker)->Unit(benchmark::kMicrosecond);

// `dirty`: every line also carries an e-mail address, a bearer token and an
// sk- key, so no prefilter can skip anything: the worst case.
void BM_ScanSensitive(benchmark::State& state, bool dirty) {
  const Corpus& c = GetCorpus();
  std::vector<std::string> storage;
  std::vector<std::string_view> lines = c.lines;
  std::size_t bytes = c.size;
  if (dirty) {
    bytes = 0;
    storage.reserve(lines.size());
    for (std::string_view line : c.lines) {
      storage.emplace_back(line);
      storage.back() +=
          " user=jane.doe@example.com auth=\"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx\" "
          "key=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv";
      bytes += storage.back().size() + 1;
    }
    lines.assign(storage.begin(), storage.end());
  }
  std::size_t flagged = 0;
  for (auto _ : state) {
    for (std::string_view line : lines) flagged += ScanSensitive(line) != 0;
  }
  benchmark::DoNotOptimize(flagged);
  const std::size_t want = dirty ? lines.size() * state.iterations() : 0;
  if (flagged != want) state.SkipWithError("unexpected number of flagged lines");
  SetPerLine(state, lines.size(), bytes);
}
BENCHMARK_CAPTURE(BM_ScanSensitive, corpus, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ScanSensitive, dirty, true)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// Map + apply: the values of one request line, written to a shard's cells the
// way a worker writes them.

void BM_MapApply(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  Mapper mapper(QwenPreset(), 0);
  Store store(mapper.Specs());
  Shard* shard = store.AddShard();

  // Distinct pre-parsed lines, so the buckets hit vary as in a real log. Enough
  // of them that the branch predictor cannot learn the cycle: with 256, a
  // binary bucket search looked faster than a branchless one, the reverse of
  // BM_Pipeline. A Record's strings point into its parser or line: copied to stable storage.
  constexpr std::size_t kRecords = 4096;  // a power of two
  LineParser parser(mapper.Rules().fields, mapper.Rules().request_keys);
  std::vector<Record> records(kRecords);
  std::vector<std::size_t> line_bytes(kRecords);
  std::deque<std::string> strings;  // never moves its elements
  for (std::size_t i = 0; i < kRecords; ++i) {
    parser.Parse(c.request_lines[i], records[i]);
    for (int f = 0; f < static_cast<int>(kMaxFields); ++f) {
      FieldValue v = records[i].Get(f);
      if (v.state != FieldState::kString) continue;
      v.text = strings.emplace_back(v.text);
      records[i].Set(f, v);
    }
    line_bytes[i] = c.request_lines[i].size() + 1;
  }

  // As a worker's Pipeline does: rules without labels write their values
  // straight to series bound once; the others go through updates.
  std::vector<BoundSeries> bound;
  for (const std::uint32_t metric : mapper.DirectMetrics()) {
    bound.push_back(metric == Mapper::kNoMetric ? BoundSeries{} : shard->Bind(metric, 0));
  }
  UpdateBatch batch;
  DirectValues direct;
  const double now = 1.75e9;
  std::size_t i = 0;
  std::size_t updates = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    batch.Clear();
    mapper.Map(records[i], now, batch, &direct);
    shard->Write(bound.data(), direct.value, direct.fired);
    shard->Apply(batch.items, batch.size);
    updates += batch.size + static_cast<std::size_t>(__builtin_popcountll(direct.fired));
    bytes += static_cast<std::int64_t>(line_bytes[i]);
    i = (i + 1) & (kRecords - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.counters["updates_per_line"] =
      static_cast<double>(updates) /
      static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
}
BENCHMARK(BM_MapApply);

// ---------------------------------------------------------------------------
// Scrape: Collect (merge the shards into prometheus-cpp families) + text
// serialization, against the number of series. Scrapes are rare (every 5-15 s),
// so what matters is that this stays linear and small next to the interval.

std::size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // arena chunks in use + mmapped blocks
}

// N series: N/2 of a counter with one label, N/2 of a histogram (10 buckets)
// with two labels; label values of realistic length.
std::vector<MetricSpec> SerializeSpecs(std::size_t counters, std::size_t histograms) {
  MetricSpec counter;
  counter.name = "bench_requests_total";
  counter.help = "Requests by model";
  counter.type = MetricType::kCounter;
  std::vector<std::string> models;
  for (std::size_t i = 0; i < std::max(counters, (histograms + 2) / 3); ++i) {
    models.push_back("qwen2.5-7b-instruct-" + std::to_string(i));
  }
  counter.labels = {
      FixedLabel("model", {models.begin(), models.begin() + static_cast<long>(counters)})};
  MetricSpec histogram;
  histogram.name = "bench_request_duration_seconds";
  histogram.help = "Request duration by model and status";
  histogram.type = MetricType::kHistogram;
  histogram.buckets = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100};
  // Every model × status combination exists from the start: histograms / 3 models.
  histogram.labels = {
      FixedLabel("model", {models.begin(), models.begin() + static_cast<long>(histograms / 3)}),
      FixedLabel("status", {"success", "error", "timeout"})};
  return {std::move(counter), std::move(histogram)};
}

// `serialize`: false times Collect alone, to tell the merge from the text format.
void Scrape(benchmark::State& state, bool serialize) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::size_t counters = n / 2;
  const std::size_t histograms = n - counters;

  const std::size_t heap_before = HeapInUse();
  auto store = std::make_unique<Store>(SerializeSpecs(counters, histograms));
  // Two writers, as in the daemon (build info + stdin): Collect merges across them.
  Shard* shards[] = {store->AddShard(), store->AddShard()};
  const std::size_t store_bytes = HeapInUse() - heap_before;
  for (std::uint32_t s = 0; s < counters; ++s) shards[s % 2]->Apply({0, s, 1.0 + s, {}});
  for (std::uint32_t s = 0; s < histograms; ++s) {
    for (double v : {0.2, 1.7, 42.0}) shards[s % 2]->Apply({1, s, v * (1 + s % 7), {}});
  }

  std::size_t text_bytes = 0;
  text_bytes = SerializeText(store->Collect()).size();
  for (auto _ : state) {
    if (serialize) {
      const std::string text = SerializeText(store->Collect());
      benchmark::DoNotOptimize(text.data());
    } else {
      const std::vector<Family> families = store->Collect();
      benchmark::DoNotOptimize(families.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));  // series/s
  if (serialize)
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text_bytes));
  // Measured: everything the store allocated (cells of both shards, label
  // tuples, specs), per series. Cells alone: 8 bytes × cells × shards.
  state.counters["bytes_per_series"] = static_cast<double>(store_bytes) / static_cast<double>(n);
  state.counters["cell_bytes_per_series"] =
      8.0 * 2 * static_cast<double>(counters * 1 + histograms * (10 + 2)) / static_cast<double>(n);
  state.counters["exposition_bytes"] = static_cast<double>(text_bytes);
}
void BM_Serialize(benchmark::State& state) { Scrape(state, true); }
void BM_Collect(benchmark::State& state) { Scrape(state, false); }
BENCHMARK(BM_Serialize)->RangeMultiplier(10)->Range(10, 10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Collect)->RangeMultiplier(10)->Range(10, 10000)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// Pipeline: what a worker thread does per chunk of whole lines (frame, parse,
// map, apply, self-metrics), single thread. The reader's side (read(2), copy
// into chunks, queue) is not included: run.sh measures the whole process.

// The corpus cut at line boundaries into chunks of about the reader's size,
// each with its padding, as ChunkReader hands them to workers.
std::vector<Chunk> MakeChunks(const Corpus& c) {
  std::vector<Chunk> chunks;
  std::size_t off = 0;
  while (off < c.size) {
    std::size_t end = std::min(off + kReadBytes, c.size);
    while (end < c.size && c.text[end - 1] != '\n') ++end;  // extend to a whole line
    Chunk chunk;
    chunk.size = end - off;
    chunk.bytes.resize(chunk.size + kLinePadding);
    std::memcpy(chunk.bytes.data(), c.text.data() + off, chunk.size);
    std::memset(chunk.bytes.data() + chunk.size, ' ', kLinePadding);
    chunk.seq = chunks.size() + 1;
    chunk.wall_seconds = 1.75e9;
    chunks.push_back(std::move(chunk));
    off = end;
  }
  return chunks;
}

void BM_Pipeline(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  const std::vector<Chunk> chunks = MakeChunks(c);
  Exporter exporter(QwenPreset(), /*http_ingest=*/false);
  Pipeline pipeline(exporter, kStdinSource, kMaxLineBytes);
  for (auto _ : state) {
    for (const Chunk& chunk : chunks) pipeline.Feed(chunk);
  }
  const double counted = CounterSum(exporter.Collect(), "llm_log_exporter_lines_total");
  if (counted != static_cast<double>(c.lines.size() * state.iterations())) {
    state.SkipWithError("llm_log_exporter_lines_total does not match the lines fed");
  }
  SetThroughput(state, c.lines.size(), c.size);
}
BENCHMARK(BM_Pipeline)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace lle
