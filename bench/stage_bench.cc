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
#include "llm_log_exporter/parse/log_line.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/store/store.h"

namespace lle {
namespace {

constexpr std::size_t kCorpusBytes = 4 << 20;
constexpr std::size_t kReadBytes = 256 * 1024;  // what FdSource reads at a time
constexpr std::size_t kMaxLineBytes = 1 << 20;  // the daemon's default limit
constexpr std::uint64_t kSeed = 42;

// ---------------------------------------------------------------------------
// Test data: a log shaped like ../shared/bench/gen_logs.py output (93 % request
// lines in the seed's format, 3 % JSON events, 4 % non-JSON lines), generated
// here so the benchmark needs no files. Deterministic for a given libstdc++.

class LogGenerator {
 public:
  explicit LogGenerator(std::uint64_t seed) : rng_(seed) {}

  /// Appends one line without its '\n'; returns what it must parse as.
  LineKind Next(std::string& out) {
    time_ += Uniform() < 0.05 ? 1 : 0;  // ~20 lines per second of log time
    const double u = Uniform();
    if (u < 0.93) {
      Request(out);
      return LineKind::kRequest;
    }
    if (u < 0.96) {
      Event(out);
      return LineKind::kEvent;
    }
    NotJson(out);
    return LineKind::kNotJson;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  double LogNormal(double median, double sigma) {
    return std::lognormal_distribution<double>(std::log(median), sigma)(rng_);
  }
  double Exponential(double mean) { return std::exponential_distribution<double>(1 / mean)(rng_); }
  static long Clamp(double v, long lo, long hi) { return std::clamp(static_cast<long>(v), lo, hi); }

  void Timestamp(std::string& out, const char* format) {
    const std::time_t t = time_;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    out.append(buf, std::strftime(buf, sizeof buf, format, &tm));
  }

  void Request(std::string& out) {
    static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    const double s = Uniform();
    const char* status = s < 0.945 ? "success" : s < 0.98 ? "error" : "timeout";
    // Input tokens: mostly chat-sized prompts, a long-context tail up to 128 Ki.
    const long input = Uniform() < 0.97
                           ? Clamp(LogNormal(900, 1.0), 1, 131072)
                           : Clamp(16384 * std::exp(Uniform() * std::log(8.0)), 1, 131072);
    long output = 0;
    long queue = Clamp(Uniform() < 0.7 ? Exponential(15) : Exponential(400), 0, 600000);
    long inference = 0;
    if (status[0] == 's') {
      // 5 % stop exactly at a max_tokens value: those sit on bucket bounds.
      static constexpr long kMaxTokens[] = {512, 1024, 2048, 4096, 8192};
      output = Uniform() < 0.05 ? kMaxTokens[static_cast<int>(Uniform() * 5) % 5]
                                : Clamp(LogNormal(230, 1.0), 1, 8192);
      inference = Clamp(input * 0.05 + output * (20 + 40 * Uniform()), 1, 3600000);
    } else if (status[0] == 'e') {
      inference = Clamp(5 + 195 * Uniform(), 1, 1000);
    } else {
      static constexpr long kDeadlines[] = {30000, 60000, 120000};
      const long deadline = kDeadlines[static_cast<int>(Uniform() * 3) % 3];
      queue = std::min(queue, deadline / 2);
      inference = deadline - queue + Clamp(Uniform() * 50, 0, 50);
      output = Clamp(LogNormal(900, 0.8), 1, 8192);
    }
    // GPU memory: a mean-reverting walk with rare spikes, as a real server's.
    gpu_mb_ += (30000 - gpu_mb_) * 0.01 + (Uniform() - 0.5) * 600 + (Uniform() < 0.002 ? 20000 : 0);
    gpu_mb_ = std::clamp(gpu_mb_, 15000.0, 80000.0);

    out += "{\"timestamp\":\"";
    Timestamp(out, "%Y-%m-%dT%H:%M:%SZ");
    out += "\",\"request_id\":\"req_";
    for (int i = 0; i < 9; ++i) out += kAlnum[static_cast<int>(Uniform() * 36) % 36];
    out += "\",\"method\":\"POST\",\"path\":\"";
    out += Uniform() < 0.8 ? "/v1/chat/completions" : "/v1/completions";
    out += "\",\"input_tokens\":" + std::to_string(input);
    out += ",\"output_tokens\":" + std::to_string(output);
    out += ",\"total_time_ms\":" + std::to_string(queue + inference);
    out += ",\"queue_time_ms\":" + std::to_string(queue);
    out += ",\"inference_time_ms\":" + std::to_string(inference);
    out += ",\"gpu_memory_mb\":" + std::to_string(static_cast<long>(gpu_mb_));
    out += ",\"status\":\"";
    out += status;
    out += "\"}";
  }

  void Event(std::string& out) {
    static constexpr const char* kMessages[] = {
        "KV cache usage above 90%, preempting requests",
        "Sequence group preempted by PreemptionMode.RECOMPUTE",
        "health check returned {\\\"status\\\": \\\"degraded\\\"}",  // escaped quotes
        "Client disconnected before the response was sent",
    };
    out += "{\"timestamp\":\"";
    Timestamp(out, "%Y-%m-%dT%H:%M:%SZ");
    out += Uniform() < 0.8 ? "\",\"level\":\"warning\"" : "\",\"level\":\"error\"";
    out += ",\"message\":\"";
    out += kMessages[static_cast<int>(Uniform() * 4) % 4];
    out += "\"}";
  }

  void NotJson(std::string& out) {
    switch (static_cast<int>(Uniform() * 8)) {
      case 0:  // vLLM's periodic stats line
        out += "INFO ";
        Timestamp(out, "%m-%d %H:%M:%S");
        out += " metrics.py:351] Avg prompt throughput: " +
               std::to_string(Clamp(Uniform() * 5000, 0, 5000)) +
               ".0 tokens/s, Avg generation throughput: 412.3 tokens/s, Running: 12 reqs, "
               "Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 41.2%, CPU KV cache usage: "
               "0.0%.";
        break;
      case 1:  // uvicorn access line
        out += "INFO:     10.0.3.17:" + std::to_string(30000 + Clamp(Uniform() * 30000, 0, 30000)) +
               " - \"POST /v1/chat/completions HTTP/1.1\" 200 OK";
        break;
      case 2:
        out += "Traceback (most recent call last):";
        break;
      case 3:
        out +=
            "  File \"/usr/lib/python3/dist-packages/vllm/engine/async_llm_engine.py\", line 812, "
            "in generate";
        break;
      case 4:
        out += "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB";
        break;
      case 5:  // a Python dict repr: starts with '{', is not JSON
        out += "{'request_id': 'req_a1b2c3d4e', 'status': 'error', 'total_time_ms': 1234}";
        break;
      case 6: {  // a partial write: any strict prefix of a request object is invalid
        std::string full;
        Request(full);
        out.append(full, 0, 10 + static_cast<std::size_t>(Uniform() * (full.size() - 11)));
        break;
      }
      default:  // empty line
        break;
    }
  }

  std::mt19937_64 rng_;
  std::int64_t time_ = 1743847200;  // 2025-04-05T10:00:00Z
  double gpu_mb_ = 18432;
};

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

double CounterSum(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  double sum = 0;
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) sum += m.counter.value;
  }
  return sum;
}

// ---------------------------------------------------------------------------
// Framing: memchr for '\n' and a view per line; the sink only counts.

class CountingSink : public LineSink {
 public:
  void OnLine(std::string_view line) override {
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
// Text-line recognisers (parse/log_line.h), each run on every line of the
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

void BM_ParseVllmStats(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  VllmStats stats;
  std::size_t found = 0;
  for (auto _ : state) {
    for (std::string_view line : c.lines) found += ParseVllmStats(line, &stats);
  }
  benchmark::DoNotOptimize(found);
  if (found == 0) state.SkipWithError("no stats line in the corpus");
  SetPerLine(state, c.lines.size(), c.size);
}
BENCHMARK(BM_ParseVllmStats)->Unit(benchmark::kMicrosecond);

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
// Map + apply: the updates of one request line, applied to a shard's cells.

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
    for (FieldValue& f : records[i].fields) {
      if (f.state == FieldState::kString) f.text = strings.emplace_back(f.text);
    }
    line_bytes[i] = c.request_lines[i].size() + 1;
  }

  UpdateBatch batch;
  const double now = 1.75e9;
  std::size_t i = 0;
  std::size_t updates = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    batch.Clear();
    mapper.Map(records[i], now, batch);
    for (std::size_t u = 0; u < batch.size; ++u) shard->Apply(batch.items[u]);
    updates += batch.size;
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
      const std::vector<prometheus::MetricFamily> families = store->Collect();
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
