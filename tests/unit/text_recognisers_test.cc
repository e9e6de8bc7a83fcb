// Table tests of the text-line recognisers (parse/log_level.h, traceback.h,
// sensitive.h, vllm_stats.h) on lines as vLLM, uvicorn and Python print them.

#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/traceback.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lle {
namespace {

// --- Log levels ---------------------------------------------------------------

struct LevelCase {
  const char* line;
  LogLevel level;
};

TEST(ClassifyLevelTest, TextLinesOfVllmUvicornAndPython) {
  const LevelCase kCases[] = {
      // vLLM v0 format "%(levelname)s %(asctime)s %(filename)s:%(lineno)d] %(message)s".
      {"WARNING 04-05 10:23:45 scheduler.py:1089] Sequence group 0 is preempted by "
       "PreemptionMode.RECOMPUTE mode because there is not enough KV cache space.",
       LogLevel::kWarning},
      {"ERROR 04-05 10:23:45 async_llm_engine.py:65] Engine background task failed",
       LogLevel::kError},
      {"INFO 04-05 10:23:45 metrics.py:455] Avg prompt throughput: 0.0 tokens/s", LogLevel::kInfo},
      {"DEBUG 04-05 10:23:45 client.py:170] Waiting for output from MQLLMEngine.",
       LogLevel::kDebug},
      {"CRITICAL 04-05 10:23:45 launcher.py:99] MQLLMEngine is already dead, terminating server "
       "process",
       LogLevel::kCritical},
      // vLLM v1: "[file.py:N]" and a process prefix.
      {"(APIServer pid=35049) INFO 09-19 15:38:32 [loggers.py:123] Engine 000: Avg prompt "
       "throughput: 1.1 tokens/s",
       LogLevel::kInfo},
      {"(VllmWorkerProcess pid=123) WARNING 04-05 10:23:45 custom_all_reduce.py:134] Custom "
       "allreduce is disabled",
       LogLevel::kWarning},
      {"(RayWorkerWrapper pid=4242, ip=10.0.0.7) ERROR 04-05 10:23:45 worker_base.py:464] Error "
       "executing method 'determine_num_available_blocks'.",
       LogLevel::kError},
      {"(EngineCore_DP0 pid=812) ERROR 10-01 08:00:01 [core.py:710] EngineCore encountered a "
       "fatal error.",
       LogLevel::kError},
      // Colour codes on a terminal.
      {"\x1b[32mINFO\x1b[0m 04-05 10:23:45 [api_server.py:1024] Starting vLLM API server",
       LogLevel::kInfo},
      // uvicorn.
      {"INFO:     127.0.0.1:5000 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK", LogLevel::kInfo},
      {"(APIServer pid=35049) INFO:     116.228.58.210:2075 - \"POST /v1/chat/completions "
       "HTTP/1.1\" 200 OK",
       LogLevel::kInfo},
      {"WARNING:  Invalid HTTP request received.", LogLevel::kWarning},
      {"ERROR:    Exception in ASGI application", LogLevel::kError},
      {"CRITICAL: bye", LogLevel::kCritical},
      // Python's basicConfig default and asctime-first formats; Rust tracing (TGI).
      {"WARNING:root:token budget exceeded", LogLevel::kWarning},
      {"2025-04-05 10:23:45,123 - vllm.engine - ERROR - engine died", LogLevel::kError},
      {"2025-04-05 10:23:45,123 WARNING fallback to eager mode", LogLevel::kWarning},
      {"2024-04-05T10:23:45.123456Z  WARN text_generation_router: queue is full",
       LogLevel::kWarning},
      {"2024-04-05T10:23:45.123456Z  INFO text_generation_launcher: Starting shard",
       LogLevel::kInfo},
      {"2024-04-05T10:23:45+02:00 FATAL out of memory", LogLevel::kCritical},
      {"ERROR", LogLevel::kError},
      // Not log lines, or no level of the set.
      {"{\"level\":\"warning\",\"message\":\"KV cache 95% full\"}", LogLevel::kNone},
      {"Traceback (most recent call last):", LogLevel::kNone},
      {"  File \"/usr/lib/python3/dist-packages/vllm/worker.py\", line 12, in run",
       LogLevel::kNone},
      {"torch.OutOfMemoryError: CUDA out of memory.", LogLevel::kNone},
      {"INFORMATION: not a level word", LogLevel::kNone},
      {"ERRORS were found", LogLevel::kNone},
      {"Info 04-05 10:23:45 lower case is not a level word", LogLevel::kNone},
      {"warning: lower case", LogLevel::kNone},
      {"NOTICE 04-05 10:23:45 x.py:1] not in the set", LogLevel::kNone},
      {"(not a process prefix) WARNING x", LogLevel::kNone},
      {"2025-04-05 something WARNING", LogLevel::kNone},
      {"", LogLevel::kNone},
      {"\x1b[", LogLevel::kNone},
  };
  for (const LevelCase& c : kCases) {
    EXPECT_EQ(ClassifyLevel(c.line), c.level) << c.line;
  }
}

TEST(LevelFromNameTest, JsonLevelStrings) {
  const std::pair<const char*, LogLevel> kCases[] = {
      {"debug", LogLevel::kDebug},
      {"TRACE", LogLevel::kDebug},
      {"info", LogLevel::kInfo},
      {"INFO", LogLevel::kInfo},
      {"Notice", LogLevel::kInfo},
      {"warning", LogLevel::kWarning},
      {"WARN", LogLevel::kWarning},
      {"Warning", LogLevel::kWarning},
      {"Error", LogLevel::kError},
      {"ERR", LogLevel::kError},
      {"fatal", LogLevel::kCritical},
      {"CRITICAL", LogLevel::kCritical},
      {"EMERGENCY", LogLevel::kCritical},
      {"alert", LogLevel::kCritical},
      {"", LogLevel::kNone},
      {"DEFAULT", LogLevel::kNone},
      {"warnings", LogLevel::kNone},
      {" error", LogLevel::kNone},
      {"30", LogLevel::kNone},
  };
  for (const auto& [name, level] : kCases) {
    EXPECT_EQ(LevelFromName(name), level) << name;
  }
}

TEST(LogLevelNameTest, ClosedSet) {
  EXPECT_EQ(LogLevelName(LogLevel::kNone), "");
  EXPECT_EQ(LogLevelName(LogLevel::kDebug), "debug");
  EXPECT_EQ(LogLevelName(LogLevel::kInfo), "info");
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warning");
  EXPECT_EQ(LogLevelName(LogLevel::kError), "error");
  EXPECT_EQ(LogLevelName(LogLevel::kCritical), "critical");
}

// --- Tracebacks ---------------------------------------------------------------

// Feeds `lines` then Finish(); records each finished block's type and, per
// line, whether the caller should process it (not in a block).
struct Trace {
  std::vector<std::string> types;
  std::vector<std::string> processed;
};

Trace Track(const std::vector<std::string>& lines, bool flush_at_end = false) {
  TracebackTracker tracker;
  Trace trace;
  for (const std::string& line : lines) {
    const TracebackTracker::Result r = tracker.Feed(line);
    if (r.finished) trace.types.emplace_back(r.type);
    if (!r.in_block) trace.processed.push_back(line);
  }
  const TracebackTracker::Result end = flush_at_end ? tracker.Flush() : tracker.Finish();
  if (end.finished) trace.types.emplace_back(end.type);
  EXPECT_FALSE(tracker.in_block());
  return trace;
}

using Lines = std::vector<std::string>;

TEST(TracebackTrackerTest, PlainTracebackYieldsItsExceptionType) {
  const Trace t = Track({
      "Traceback (most recent call last):",
      "  File \"/usr/lib/python3.10/site-packages/vllm/worker/model_runner.py\", line 1596, in "
      "execute_model",
      "    hidden_or_intermediate_states = model_executable(",
      "                                    ^^^^^^^^^^^^^^^^^",
      "  [Previous line repeated 2 more times]",
      "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
      "capacity of 79.15 GiB of which 1.21 GiB is free.",
      "{\"status\":\"success\",\"total_time_ms\":100}",
  });
  EXPECT_EQ(t.types, Lines{"torch.OutOfMemoryError"});
  EXPECT_EQ(t.processed, Lines{"{\"status\":\"success\",\"total_time_ms\":100}"});
}

TEST(TracebackTrackerTest, BareExceptionNameAndEndOfInput) {
  const Trace t = Track({
      "Traceback (most recent call last):",
      "  File \"/usr/lib/python3.11/asyncio/tasks.py\", line 277, in __step",
      "    result = coro.send(None)",
      "asyncio.exceptions.CancelledError",
  });
  EXPECT_EQ(t.types, Lines{"asyncio.exceptions.CancelledError"});
  EXPECT_TRUE(t.processed.empty());
}

TEST(TracebackTrackerTest, FlushEndsABlockWhoseExceptionLineCame) {
  const Trace t = Track(
      {"Traceback (most recent call last):", "  File \"a.py\", line 1", "ValueError: bad value"},
      /*flush_at_end=*/true);
  EXPECT_EQ(t.types, Lines{"ValueError"});
  // Still in its frames: an idle input is no reason to end it.
  TracebackTracker tracker;
  tracker.Feed("Traceback (most recent call last):");
  tracker.Feed("  File \"a.py\", line 1");
  EXPECT_FALSE(tracker.Flush().finished);
  EXPECT_TRUE(tracker.in_block());
}

TEST(TracebackTrackerTest, ChainedExceptionsCountOnceAsTheLast) {
  for (const char* chain :
       {"During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:"}) {
    const Trace t = Track({
        "Traceback (most recent call last):",
        "  File \"/app/server.py\", line 10, in handle",
        "    return cache[key]",
        "KeyError: 'prompt'",
        "",
        chain,
        "",
        "Traceback (most recent call last):",
        "  File \"/app/server.py\", line 12, in handle",
        "    raise ValueError(\"no prompt\") from e",
        "ValueError: no prompt",
        "INFO:     127.0.0.1:5000 - \"POST /v1/completions HTTP/1.1\" 500 Internal Server Error",
    });
    EXPECT_EQ(t.types, Lines{"ValueError"}) << chain;
    EXPECT_EQ(t.processed, Lines{"INFO:     127.0.0.1:5000 - \"POST /v1/completions HTTP/1.1\" "
                                 "500 Internal Server Error"});
  }
}

TEST(TracebackTrackerTest, JsonLineInterleavedCutsTheBlockOffAndIsProcessed) {
  const std::string request = "{\"status\":\"success\",\"total_time_ms\":1876}";
  const Trace t = Track({
      "Traceback (most recent call last):",
      "  File \"/app/server.py\", line 10, in handle",
      request,
      "    return cache[key]",
      "KeyError: 'prompt'",
  });
  // The block is cut off; the orphaned lines after it belong to no block.
  EXPECT_EQ(t.types, Lines{"truncated"});
  EXPECT_EQ(t.processed, (Lines{request, "    return cache[key]", "KeyError: 'prompt'"}));
}

TEST(TracebackTrackerTest, LogLinesCutTheBlockOff) {
  const Trace t = Track({
      "Traceback (most recent call last):",
      "  File \"a.py\", line 1, in <module>",
      "INFO:     127.0.0.1:5000 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK",
      "Traceback (most recent call last):",
      "  File \"b.py\", line 2, in <module>",
      "INFO 04-05 10:23:45 metrics.py:455] Avg prompt throughput: 0.0 tokens/s",
      "Traceback (most recent call last):",
      "  File \"c.py\", line 3, in <module>",
      "Loading safetensors checkpoint shards: 100% Completed | 4/4",
  });
  EXPECT_EQ(t.types, (Lines{"truncated", "truncated", "truncated"}));
  EXPECT_EQ(t.processed.size(), 3u);
}

TEST(TracebackTrackerTest, CutOffByEndOfInput) {
  EXPECT_EQ(Track({"Traceback (most recent call last):", "  File \"a.py\", line 1"}).types,
            Lines{"truncated"});
  EXPECT_EQ(Track({"Traceback (most recent call last):"}).types, Lines{"truncated"});
  // A chain header promises another traceback that never came.
  EXPECT_EQ(Track({"Traceback (most recent call last):", "  File \"a.py\", line 1", "KeyError: 'x'",
                   "", "During handling of the above exception, another exception occurred:"})
                .types,
            Lines{"truncated"});
}

TEST(TracebackTrackerTest, NewTracebackBeforeTheExceptionLine) {
  const Trace t = Track({"Traceback (most recent call last):", "  File \"a.py\", line 1",
                         "Traceback (most recent call last):", "  File \"b.py\", line 2",
                         "RuntimeError: CUDA error: an illegal memory access was encountered"});
  EXPECT_EQ(t.types, (Lines{"truncated", "RuntimeError"}));
  EXPECT_TRUE(t.processed.empty());
}

TEST(TracebackTrackerTest, BackToBackTracebacks) {
  const Trace t =
      Track({"Traceback (most recent call last):", "  File \"a.py\", line 1", "ValueError: a",
             "Traceback (most recent call last):", "  File \"b.py\", line 2", "KeyboardInterrupt"});
  EXPECT_EQ(t.types, (Lines{"ValueError", "KeyboardInterrupt"}));
}

TEST(TracebackTrackerTest, TypesThatAreNoDottedNameAreOther) {
  const std::string long_name(200, 'E');
  for (const std::string& last :
       {std::string("mod.f.<locals>.Boom: x"), std::string("my-pkg.Error: x"),
        std::string("a..b: x"), std::string("Killed."), long_name + ": x"}) {
    EXPECT_EQ(Track({"Traceback (most recent call last):", "  File \"a.py\", line 1", last}).types,
              Lines{"other"})
        << last;
  }
  // Free text with spaces before any ": " is no final line: the block is cut off.
  EXPECT_EQ(Track({"Traceback (most recent call last):", "  File \"a.py\", line 1",
                   "Something went wrong: oops"})
                .types,
            Lines{"truncated"});
}

TEST(TracebackTrackerTest, VllmPrefixedTracebackFollowsItsPrefix) {
  // vLLM's formatter repeats the record's header on every line of it.
  const std::string h = "(EngineCore_0 pid=812) ERROR 10-01 08:00:01 [core.py:710] ";
  const std::string stats =
      "(APIServer pid=700) INFO 10-01 08:00:01 [loggers.py:123] Engine 000: Avg prompt "
      "throughput: 1.0 tokens/s, Avg generation throughput: 2.0 tokens/s, Running: 1 reqs, "
      "Waiting: 0 reqs, GPU KV cache usage: 0.1%, Prefix cache hit rate: 0.0%";
  const Trace t = Track({
      h + "EngineCore encountered a fatal error.",
      h + "Traceback (most recent call last):",
      h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py\", line 701, "
          "in run_engine_core",
      h + "    engine_core.run_busy_loop()",
      h + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.50 GiB.",
      stats,
  });
  EXPECT_EQ(t.types, Lines{"torch.OutOfMemoryError"});
  EXPECT_EQ(t.processed, (Lines{h + "EngineCore encountered a fatal error.", stats}));

  // Another logger's line in the middle (a different prefix) cuts the block off.
  const Trace cut =
      Track({h + "Traceback (most recent call last):",
             h + "  File \"core.py\", line 701, in run_engine_core", stats, h + "ValueError: x"});
  EXPECT_EQ(cut.types, Lines{"truncated"});
  EXPECT_EQ(cut.processed, (Lines{stats, h + "ValueError: x"}));
}

TEST(TracebackTrackerTest, ExceptionGroupsAreNotFollowed) {
  const Trace t = Track({"  + Exception Group Traceback (most recent call last):",
                         "  |   File \"a.py\", line 1, in <module>",
                         "  | ExceptionGroup: eg (2 sub-exceptions)"});
  EXPECT_TRUE(t.types.empty());
  EXPECT_EQ(t.processed.size(), 3u);
}

TEST(TracebackTrackerTest, TypeStaysValidAfterTheLineIsGone) {
  TracebackTracker tracker;
  std::string line = "Traceback (most recent call last):";
  tracker.Feed(line);
  line = "  File \"a.py\", line 1";
  tracker.Feed(line);
  line = "ValueError: gone";
  tracker.Feed(line);
  line.assign(line.size(), 'x');  // the caller's buffer is reused
  const TracebackTracker::Result r = tracker.Feed("{}");
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.type, "ValueError");
  EXPECT_FALSE(r.in_block);
}

TEST(TracebackSafeEndTest, EndsBeforeABlockStillOpenAndKeepsChainsWhole) {
  const std::string before = "{\"status\":\"success\"}\nINFO: ok\n";
  const std::string frames =
      "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    f()\n";
  struct Case {
    std::string lines;
    std::size_t want;
  };
  const Case kCases[] = {
      {before, before.size()},                               // no traceback
      {before + frames, before.size()},                      // in its frames
      {before + frames + "ValueError: x\n", before.size()},  // a chain may still follow
      {before + frames + "ValueError: x\n{}\n", 0},          // ended: all of it (0 → size)
      {before + frames +
           "ValueError: x\n\nDuring handling of the above exception, another "
           "exception occurred:\n\n" +
           frames,
       before.size()},                                                   // the chain's first header
      {frames + "KeyError\nINFO: next\n" + frames, frames.size() + 20},  // the last block
      {before + "msg mentions Traceback (most recent call last): inline\n", 0},
  };
  for (const Case& c : kCases) {
    const std::size_t want = c.want == 0 ? c.lines.size() : c.want;
    EXPECT_EQ(TracebackSafeEnd(c.lines), want) << c.lines;
  }
  // A block that began before the window is not looked for.
  const std::string old_block = frames + std::string(kTracebackWindow, ' ') + "\n";
  EXPECT_EQ(TracebackSafeEnd(old_block), old_block.size());
}

// --- Sensitive data -------------------------------------------------------------

struct ScanCase {
  std::string line;
  SensitiveKinds kinds;
};

TEST(ScanSensitiveTest, FindsEachKind) {
  const ScanCase kCases[] = {
      {"{\"api_key\":\"sk-abcdefghijklmnopqrstuvwxyz012345\"}", kSensitiveApiKey},
      {"OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv_wXyZ-0123", kSensitiveApiKey},
      {"sk-01234567890123456789", kSensitiveApiKey},  // exactly 20 after "sk-"
      {"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", kSensitiveBearerToken},
      {"{\"headers\":{\"authorization\":\"bearer 0123456789abcdef\"}}", kSensitiveBearerToken},
      {"user jane.doe+llm@example.co.uk asked", kSensitiveEmail},
      {"{\"user\":\"ops@corp.example.com.\"}", kSensitiveEmail},
      {"-----BEGIN RSA PRIVATE KEY-----", kSensitivePrivateKey},
      {"{\"pem\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\"}", kSensitivePrivateKey},
      {"-----BEGIN OPENSSH PRIVATE KEY-----", kSensitivePrivateKey},
      {"-----BEGIN PGP PRIVATE KEY BLOCK-----", kSensitivePrivateKey},
      {"key=sk-abcdefghijklmnopqrstuvwx mail=a@b.io Bearer abcdefghijklmnopqrstu "
       "-----BEGIN EC PRIVATE KEY-----",
       kSensitiveApiKey | kSensitiveEmail | kSensitiveBearerToken | kSensitivePrivateKey},
  };
  for (const ScanCase& c : kCases) {
    EXPECT_EQ(ScanSensitive(c.line), c.kinds) << c.line;
  }
}

TEST(ScanSensitiveTest, NoFalsePositivesOnLookAlikes) {
  const std::string kClean[] = {
      "task-force-alpha-bravo-charlie-delta-echo",  // "sk-" inside a word
      "disk-0123456789012345678901234",
      "sk-short",
      "sk-0123456789012345678",  // 19 characters
      "mail user@ for help",
      "user@localhost",
      "torch@2.1.0 and pkg@1.2.3",
      "@app.post(\"/v1/chat/completions\")",
      "x@-bad.example",
      "contact: a@b.c",
      "Bearer short",
      "Bearer",
      "the bearer of bad news",
      "Bearer: abcdefghijklmnopqrstuvwxyz",
      "SuperBearer abcdefghijklmnopqrstuvwxyz",
      "-----BEGIN CERTIFICATE-----",
      "-----BEGIN PUBLIC KEY-----",
      "-----BEGIN PRIVATE KEY",  // no closing dashes
      "INFO 04-05 10:23:45 metrics.py:455] Avg prompt throughput: 0.0 tokens/s",
      "{\"timestamp\":\"2025-04-05T10:23:45Z\",\"request_id\":\"req_abc123xyz\",\"status\":"
      "\"success\"}",
      "",
      "-",
      "@",
      "earer ",
  };
  for (const std::string& line : kClean) {
    EXPECT_EQ(ScanSensitive(line), 0) << line;
  }
}

TEST(ScanSensitiveTest, KindNames) {
  EXPECT_EQ(SensitiveKindName(0), "api_key");
  EXPECT_EQ(SensitiveKindName(1), "bearer_token");
  EXPECT_EQ(SensitiveKindName(2), "email");
  EXPECT_EQ(SensitiveKindName(3), "private_key");
  EXPECT_EQ(SensitiveKindName(4), "");
  EXPECT_EQ(kSensitiveApiKey, 1 << 0);
  EXPECT_EQ(kSensitivePrivateKey, 1 << 3);
}

// --- Bounds --------------------------------------------------------------------

// Every prefix of lines that nearly match, each in a heap block of exactly its
// size, so that reading a byte past a line's end is an ASan error (the build
// with -DLLE_SANITIZE=ON runs this too).
TEST(LogLineBoundsTest, EveryPrefixOfNearMatchesStaysInsideTheLine) {
  const std::string kLines[] = {
      "(APIServer pid=35049) \x1b[33mWARNING\x1b[0m 09-19 15:38:32 [loggers.py:123] x",
      "2024-04-05T10:23:45.123456+02:00 - vllm - ERROR - x",
      "Traceback (most recent call last):",
      "During handling of the above exception, another exception occurred:",
      "asyncio.exceptions.CancelledError: x",
      "key=sk-proj-0123456789abcdefghij mail=jane.doe@example.com Bearer abcdefghijklmnop",
      "-----BEGIN RSA PRIVATE KEY BLOCK-----",
  };
  TracebackTracker tracker;
  for (const std::string& line : kLines) {
    for (std::size_t n = 0; n <= line.size(); ++n) {
      const std::unique_ptr<char[]> copy(new char[n == 0 ? 1 : n]);
      std::memcpy(copy.get(), line.data(), n);
      const std::string_view view(copy.get(), n);
      ClassifyLevel(view);
      LevelFromName(view);
      ScanSensitive(view);
      tracker.Feed(view);
    }
  }
  tracker.Finish();
  SUCCEED();
}

}  // namespace
}  // namespace lle
