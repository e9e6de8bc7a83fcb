// Table tests of the text-line recognisers (parse/line_header.h, log_level.h,
// traceback.h, sensitive.h) on lines as vLLM, uvicorn, Python
// and the other servers print them. Lines said to be real are copied from
// public bug reports (ESC and CR bytes written as escapes).

#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/parse/line_header.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/traceback.h"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <memory>
#include <random>
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
      {"WARNINGS were found", LogLevel::kNone},
      {"WARNIN", LogLevel::kNone},
      {"WARN", LogLevel::kWarning},
      {"TRACE 04-05 10:23:45 x.py:1] tracing", LogLevel::kDebug},
      {"FATAL: out of memory", LogLevel::kCritical},
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

// Lines as the servers print them, verbatim from public bug reports (issue or
// file named), ESC bytes written as \x1b.
TEST(ClassifyLevelTest, RealServerHeaders) {
  const LevelCase kCases[] = {
      // vLLM 0.13 colours its process prefix also into a file (nohup ... >
      // prefill.log), and interleaved workers put several on one line.
      {"\x1b[0;36m(EngineCore_DP0 pid=481282)\x1b[0;0m ERROR 03-16 00:55:10 [core.py:868] "
       "EngineCore encountered a fatal error.",
       LogLevel::kError},
      {"\x1b[0;36m(Worker_TP2 pid=481418)\x1b[0;0m \x1b[0;36m(Worker_TP5 pid=481421)\x1b[0;0m "
       "\x1b[0;36m(Worker_TP7 pid=481423)\x1b[0;0m INFO 03-16 00:55:10 "
       "[multiproc_executor.py:709] Parent process exited, terminating worker",
       LogLevel::kInfo},
      {"(Worker_TP3 pid=481419) (Worker_TP6 pid=481422) INFO 03-16 00:55:10 "
       "[multiproc_executor.py:709] Parent process exited, terminating worker",
       LogLevel::kInfo},
      {"\x1b[0;36m(APIServer pid=480795)\x1b[0;0m INFO:     10.254.5.122:45440 - \"POST "
       "/v1/completions HTTP/1.1\" 500 Internal Server Error",
       LogLevel::kInfo},
      // TGI colours level, timestamp and spans by default, also into a pipe
      // (huggingface/text-generation-inference#3050, CloudWatch's #033 as ESC).
      {"\x1b[2m2025-03-12T09:36:06.501161Z\x1b[0m \x1b[31mERROR\x1b[0m "
       "\x1b[1msagemaker_compatibility\x1b[0m\x1b[2m:\x1b[0m\x1b[1mcompat_generate\x1b[0m"
       "\x1b[1m{\x1b[0m\x1b[3mdefault_return_full_text\x1b[0m\x1b[2m=\x1b[0mtrue "
       "\x1b[3mcompute_type\x1b[0m\x1b[2m=\x1b[0mExtension(ComputeType(\"4-nvidia-a10g\"))"
       "\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m\x1b[1mgenerate\x1b[0m\x1b[2m:\x1b[0m "
       "\x1b[2mtext_generation_router::infer\x1b[0m\x1b[2m:\x1b[0m "
       "\x1b[2mrouter/src/infer/mod.rs\x1b[0m\x1b[2m:\x1b[0m\x1b[2m246:\x1b[0m Incomplete "
       "generation",
       LogLevel::kError},
      // Ollama (Go slog, logfmt): mattcurf/ollama-intel-gpu#22, ollama/ollama#6408, a user's
      // notes quoting Ollama's server.log.
      {"time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 msg=\"error loading "
       "llama server\" error=\"llama runner process has terminated: exit status 2\"",
       LogLevel::kError},
      {"time=2024-08-19T14:09:56.520+08:00 level=INFO source=images.go:782 msg=\"total blobs: 0\"",
       LogLevel::kInfo},
      {"time=2025-01-04T16:00:37.950+01:00 level=WARN source=runner.go:129 msg=\"truncating input "
       "prompt\" limit=2048 prompt=2084 keep=5 new=2048",
       LogLevel::kWarning},
      // llama.cpp: `[pid] m.ss.mmm.uuu L ` (ggml-org/llama.cpp#23269, #25121, a user's notes).
      {"[42027] 1.37.495.377 I slot print_timing: id  0 | task 388 | ", LogLevel::kInfo},
      {"[42027] 1.37.508.190 W srv   prompt_save:  - saving prompt with length 218, total state "
       "size = 67.075 MiB (draft: 0.000 MiB)",
       LogLevel::kWarning},
      {"0.08.500.798 I srv    load_model: for more info see "
       "https://github.com/ggml-org/llama.cpp/pull/16391",
       LogLevel::kInfo},
      {"[57762] 0.55.117.435 E srv  llama_server: exiting due to model loading error",
       LogLevel::kError},
      {"0.46.902.034 E srv    send_error: task id = 0, error: request (481560 tokens) exceeds the "
       "available context size (95744 tokens), try increasing it",
       LogLevel::kError},
      // `D `: from common/log.cpp's format ("%d.%02d.%03d.%03d " then "D "), not a real line.
      {"0.00.012.345 D srv  update_slots: run slots completed", LogLevel::kDebug},
      // LMDeploy: TurboMind's C++ lines (lmdeploy.log, InternLM/lmdeploy issues), Python's.
      {"[TM][WARNING] [SegMgr] prefix caching is disabled", LogLevel::kWarning},
      {"[TM][INFO] [SeqMgr][CachePrompt] ID 90, cached blocks 35, tokens 2292", LogLevel::kInfo},
      {"[TM][ERROR] CUDA runtime error: an illegal memory access was encountered "
       "/opt/lmdeploy/src/turbomind/core/stream.h:27",
       LogLevel::kError},
      {"2025-07-07 09:01:18,519 - lmdeploy - ERROR - async_engine.py:791 - session 1 finished, "
       "reason \"error\"",
       LogLevel::kError},
      // SGLang: `[ts] ` or `[ts TP0] `, then uvicorn's level (sgl-project/sglang#4045).
      {"[2025-03-03 17:53:04] INFO:     10.27.1.1:65179 - \"POST /v1/chat/completions HTTP/1.1\" "
       "200 OK",
       LogLevel::kInfo},
      // No level.
      {"[2026-04-08 14:05:21 TP0] Decode batch, #running-req: 5, #token: 20800, token usage: "
       "0.29, cuda graph: True, gen throughput (token/s): 144.95, #queue-req: 0",
       LogLevel::kNone},
      {"[42027] prompt eval time =     789.03 ms /    27 tokens (   29.22 ms per token,    34.22 "
       "tokens per second)",
       LogLevel::kNone},
      {"qb-prod-gpu1415:481420:481420 [4] NCCL INFO comm 0x3db5a550 rank 4 nranks 8 cudaDev 4 "
       "busId 9b000 - Destroy COMPLETE",
       LogLevel::kNone},
      {"[GIN] 2024/07/21 - 15:52:40 | 200 |      6.2826ms |       127.0.0.1 | GET      "
       "\"/api/tags\"",
       LogLevel::kNone},
      {"HINT:    Please open http://0.0.0.0:23333 in a browser for detailed api usage!!!",
       LogLevel::kNone},
      {"slot print_timing: id  0 | task 0 |", LogLevel::kNone},
      // Near misses of the new forms.
      {"loglevel=error x", LogLevel::kNone},        // `level` not at a token start
      {"level=verbose x", LogLevel::kNone},         // not a logfmt level
      {"level=errors x", LogLevel::kNone},          // a longer word
      {"msg=x level=\"warning\" y", LogLevel::kWarning},
      {"1.37.495.377 X srv", LogLevel::kNone},      // no level letter
      {"1.37.495 I srv", LogLevel::kNone},          // not llama.cpp's time
      {"[42027] I srv", LogLevel::kNone},           // no time: "I" may be a word
      {"[TM][NOTICE] x", LogLevel::kNone},
      {"[2025-03-03 17:53:04] not a level", LogLevel::kNone},
  };
  for (const LevelCase& c : kCases) {
    EXPECT_EQ(ClassifyLevel(c.line), c.level) << c.line;
  }
}

// --- Line headers (Unwrap) -------------------------------------------------------

struct UnwrapCase {
  std::string line;
  std::string want;  // the line as the server wrote it
};

std::string UnwrapCopy(const std::string& line) {
  std::string scratch;
  return std::string(Unwrap(line, scratch));
}

TEST(UnwrapTest, DeploymentWrappersAreSkipped) {
  const UnwrapCase kCases[] = {
      // docker compose, v2 (`svc-N  | `, sgl-project/sglang#12076) and as llama-stack's
      // docs show it (`[svc] | `, tgi.log block 07).
      {"sglang-1  | [2025-10-29 11:26:03] SIGQUIT received. signum=None, frame=None. It usually "
       "means one child failed.",
       "[2025-10-29 11:26:03] SIGQUIT received. signum=None, frame=None. It usually means one "
       "child failed."},
      {"[text-generation-inference] | 2024-10-15T18:56:33.810448Z  WARN "
       "text_generation_router::server: router/src/server.rs:1960: Invalid hostname, defaulting "
       "to 0.0.0.0",
       "2024-10-15T18:56:33.810448Z  WARN text_generation_router::server: "
       "router/src/server.rs:1960: Invalid hostname, defaulting to 0.0.0.0"},
      {"sglang-1  |   File \"/usr/lib/python3.12/asyncio/runners.py\", line 195, in run",
       "  File \"/usr/lib/python3.12/asyncio/runners.py\", line 195, in run"},
      // Coloured service names (compose on a terminal).
      {"\x1b[36mvllm-1  |\x1b[0m INFO 01-22 18:25:07 engine.py:267] Added request "
       "chatcmpl-b5a928b306044e3e882031ea6ec83d54.",
       "INFO 01-22 18:25:07 engine.py:267] Added request "
       "chatcmpl-b5a928b306044e3e882031ea6ec83d54."},
      // `docker logs -t` (zhaohb/ollama_ov#4) and Docker Desktop's local time
      // (mattcurf/ollama-intel-gpu#22).
      {"2025-04-01T08:18:00.513604000Z time=2025-04-01T08:18:00.513Z level=INFO source=gpu.go:377 "
       "msg=\"no compatible GPUs were discovered\"",
       "time=2025-04-01T08:18:00.513Z level=INFO source=gpu.go:377 msg=\"no compatible GPUs were "
       "discovered\""},
      {"2025-01-19 19:58:17 time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 "
       "msg=\"error loading llama server\" error=\"llama runner process has terminated: exit "
       "status 2\"",
       "time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 msg=\"error loading "
       "llama server\" error=\"llama runner process has terminated: exit status 2\""},
      {"2025-01-19 19:47:08 [GIN] 2025/01/19 - 17:47:08 | 500 |  5.257673085s |      172.22.0.3 "
       "| POST     \"/api/chat\"",
       "[GIN] 2025/01/19 - 17:47:08 | 500 |  5.257673085s |      172.22.0.3 | POST     "
       "\"/api/chat\""},
      // journald (ex3ndr/llama-coder#3; a paste without the host; a localized month, as
      // French systems print it, with a message of ollama.log).
      {"Dec 08 19:56:13 gpt-gpu.stratus.lab ollama[1808]: {\"timestamp\":1702086973,\"level\":"
       "\"INFO\",\"function\":\"log_server_request\"}",
       "{\"timestamp\":1702086973,\"level\":\"INFO\",\"function\":\"log_server_request\"}"},
      {"Nov 02 22:57:57 ollama[1011]: time=2025-11-02T22:57:57.174Z level=WARN "
       "source=runner.go:159 msg=\"truncating input prompt\" limit=4096 prompt=7268 keep=4 "
       "new=4096",
       "time=2025-11-02T22:57:57.174Z level=WARN source=runner.go:159 msg=\"truncating input "
       "prompt\" limit=4096 prompt=7268 keep=4 new=4096"},
      {"janv. 19 17:58:17 gpu-host ollama[25973]: time=2025-01-19T17:58:17.608+08:00 "
       "level=ERROR source=sched.go:455 msg=\"error loading llama server\"",
       "time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 msg=\"error loading "
       "llama server\""},
      {"d\xc3\xa9" "c. 08 19:56:14 gpt-gpu.stratus.lab ollama[1066]: llama_print_timings:       "
       "total time =     280.78 ms",
       "llama_print_timings:       total time =     280.78 ms"},
      {"2023-12-08T19:56:13+0100 gpt-gpu.stratus.lab ollama[1066]: [GIN] 2023/12/08 - 19:56:13 "
       "| 200 |     453.235\xc2\xb5s |   192.168.99.20 | GET      \"/api/tags\"",
       "[GIN] 2023/12/08 - 19:56:13 | 200 |     453.235\xc2\xb5s |   192.168.99.20 | GET      "
       "\"/api/tags\""},
      // The CRI format of Kubernetes node files (/var/log/pods/...).
      {"2016-10-06T00:17:09.669794202Z stdout F INFO:     127.0.0.1:34636 - \"GET /health "
       "HTTP/1.1\" 200 OK",
       "INFO:     127.0.0.1:34636 - \"GET /health HTTP/1.1\" 200 OK"},
      {"2016-10-06T00:17:09.669794202Z stderr P Traceback (most recent call last):",
       "Traceback (most recent call last):"},
      // Nested: compose around `docker logs -t`-style stamps.
      {"vllm-1  | 2024-10-15T18:56:33.810397000Z {\"status\":\"success\"}",
       "{\"status\":\"success\"}"},
  };
  for (const UnwrapCase& c : kCases) {
    EXPECT_EQ(UnwrapCopy(c.line), c.want) << c.line;
  }
}

TEST(UnwrapTest, ServersOwnHeadersAreKept) {
  const std::string kLines[] = {
      "2025-07-07 09:01:18,519 - lmdeploy - ERROR - async_engine.py:791 - session 1 finished, "
      "reason \"error\"",
      "2024-02-14T06:49:24.783316Z  INFO download: text_generation_launcher: Starting download "
      "process.",
      "INFO 01-17 03:11:25 async_llm_engine.py:134] Aborted request "
      "0e89f1d2d94c4a039f868222c100cc8a.",
      "INFO:     127.0.0.1:34636 - \"GET /health HTTP/1.1\" 200 OK",
      "(APIServer pid=1) INFO:     172.28.0.1:32828 - \"GET /v1/models HTTP/1.1\" 200 OK",
      "[GIN] 2024/07/21 - 15:52:40 | 200 |      6.2826ms |       127.0.0.1 | GET      "
      "\"/api/tags\"",
      "[2026-04-08 14:05:21 TP0] Decode batch, #running-req: 5, #token: 20800, token usage: 0.29",
      "[42027] 1.37.495.377 I slot print_timing: id  0 | task 388 | ",
      "[TM][WARNING] [SegMgr] prefix caching is disabled",
      "2024/08/19 14:09:56 routes.go:1123: INFO server config env=\"map[]\"",
      "{\"timestamp\":\"2025-04-05T10:23:45Z\",\"request_id\":\"req_1\",\"status\":\"success\"}",
      "Loading safetensors checkpoint shards: 100% Completed | 4/4 [00:02<00:00,  1.71it/s]",
      "slot print_timing: id  0 | task 0 |",
      "qb-prod-gpu1415:481420:481420 [4] NCCL INFO comm 0x3db5a550 rank 4 nranks 8",
      "ERROR    | x",  // a level word, no service name
      // Timestamps a server's own header needs: `name - LEVEL` after it, two spaces (TGI).
      "2025-04-05 10:23:45 vllm.engine - ERROR - engine died",
      "2024-04-05T10:23:45.123456Z  WARN text_generation_router: queue is full",
      "",
  };
  for (const std::string& line : kLines) {
    EXPECT_EQ(UnwrapCopy(line), line) << line;
  }
}

TEST(UnwrapTest, AnsiCodesAnywhereAreRemoved) {
  const UnwrapCase kCases[] = {
      {"\x1b[0;36m(EngineCore_DP0 pid=481282)\x1b[0;0m ERROR 03-16 00:55:10 [core.py:868] x",
       "(EngineCore_DP0 pid=481282) ERROR 03-16 00:55:10 [core.py:868] x"},
      {"\x1b[32mINFO\x1b[0m 04-05 10:23:45 \x1b[90m[api_server.py:1024]\x1b[0m Starting",
       "INFO 04-05 10:23:45 [api_server.py:1024] Starting"},
      {"a\x1b]0;title\x07" "b\x1b]8;;http://x\x1b\\c\x1b(Bd\x1b=e", "abcde"},  // OSC, nF
      {"cut\x1b[0;3", "cut"},                                    // cut off by the line end
      {"\x1b", ""},
      {"x\x1b[?25hy", "xy"},  // private parameters
  };
  for (const UnwrapCase& c : kCases) {
    EXPECT_EQ(UnwrapCopy(c.line), c.want) << c.line;
  }
}

TEST(UnwrapTest, AnsiCodesAreRemovedWhateverTheLengthsAround) {
  // Text runs of every length around the 32- and 16-byte copies, between
  // whole escape sequences of each kind (mostly TGI's colours of one or two
  // digits, which whole blocks drop at once, also where one runs past a
  // block): what is left is the text runs.
  const std::string kEscapes[] = {"\x1b[0m", "\x1b[3m", "\x1b[38;5;12m", "\x1b]0;t\x07",
                                  "\x1b(B",  "\x1b=",   "\x1b[?25h",     "\x1b[32m"};
  const std::string kColours[] = {"\x1b[0m", "\x1b[2m", "\x1b[3m", "\x1b[32m", "\x1b[31m"};
  std::mt19937 random(11);
  std::string scratch;
  for (int round = 0; round < 5000; ++round) {
    std::string line;
    std::string want;
    for (std::size_t pieces = random() % 40; pieces > 0; --pieces) {
      if (random() % 2 == 0) {
        line += random() % 4 == 0 ? kEscapes[random() % std::size(kEscapes)]
                                  : kColours[random() % std::size(kColours)];
      } else {
        std::string text(random() % 40, 'x');
        for (char& c : text) c = static_cast<char>('a' + random() % 26);
        line += text;
        want += text;
      }
    }
    if (random() % 8 == 0) line += "\x1b[0;3";  // cut off by the line's end
    // Exactly the line's bytes, so that ASan sees any read past them.
    const std::unique_ptr<char[]> copy(new char[line.size() + 1]);
    std::memcpy(copy.get(), line.data(), line.size());
    EXPECT_EQ(StripAnsi(std::string_view(copy.get(), line.size()), scratch), want) << line;
  }
}

TEST(UnwrapTest, CleanLinesAreNotCopiedAndPaddingStaysReadable) {
  std::string scratch;
  const std::string clean = "INFO 01-17 03:11:25 async_llm_engine.py:134] Aborted request x.";
  const std::string_view same = Unwrap(clean, scratch);
  EXPECT_EQ(same.data(), clean.data());
  EXPECT_EQ(same.size(), clean.size());
  EXPECT_TRUE(scratch.empty());
  // A wrapper is skipped in place: a suffix of the line.
  const std::string wrapped = "vllm-1  | " + clean;
  const std::string_view suffix = Unwrap(wrapped, scratch);
  EXPECT_EQ(suffix.data(), wrapped.data() + 10);
  EXPECT_EQ(suffix, clean);
  EXPECT_TRUE(scratch.empty());
  // A line with ESC bytes is copied, with kLinePadding bytes after it (ASan
  // checks the reads in the sanitizer build).
  const std::string coloured = "\x1b[36mvllm-1  |\x1b[0m {\"status\":\"success\"}";
  const std::string_view copy = Unwrap(coloured, scratch);
  EXPECT_EQ(copy, "{\"status\":\"success\"}");
  ASSERT_GE(scratch.size(), static_cast<std::size_t>(copy.data() - scratch.data()) + copy.size() +
                                kLinePadding);
  volatile char sum = 0;
  for (std::size_t i = 0; i < kLinePadding; ++i) sum = sum + copy.data()[copy.size() + i];
}

TEST(UnwrapTest, LevelsBehindWrappers) {
  const LevelCase kCases[] = {
      {"[text-generation-inference] | 2024-10-15T18:56:33.810448Z  WARN "
       "text_generation_router::server: router/src/server.rs:1960: Invalid hostname, defaulting "
       "to 0.0.0.0",
       LogLevel::kWarning},
      {"Aug 30 09:03:23 ollama[3013710]: time=2025-08-30T09:03:23.843-05:00 level=WARN "
       "source=gpu.go:605 msg=\"unknown error initializing cuda driver library\"",
       LogLevel::kWarning},
      {"2025-01-19 19:58:17 time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 "
       "msg=\"error loading llama server\"",
       LogLevel::kError},
      {"2016-10-06T00:17:09.669794202Z stdout F \x1b[0;36m(APIServer pid=480795)\x1b[0;0m INFO:  "
       "   Shutting down",
       LogLevel::kInfo},
      {"vllm-1  | \x1b[0;36m(EngineCore_DP0 pid=481282)\x1b[0;0m ERROR 03-16 00:55:10 "
       "[core.py:868] EngineCore encountered a fatal error.",
       LogLevel::kError},
      {"Dec 08 19:56:14 gpt-gpu.stratus.lab ollama[1066]: llama_print_timings:        eval time "
       "=       0.00 ms /     1 runs",
       LogLevel::kNone},
  };
  for (const LevelCase& c : kCases) {
    std::string scratch;
    EXPECT_EQ(ClassifyLevel(Unwrap(c.line, scratch)), c.level) << c.line;
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

// vllm.log block 11 (mistralai/mistral-vibe#70, vLLM ~0.12): one record,
// logger.exception("Error in preprocessing prompt inputs"), its header on
// every line; a chained pydantic ValidationError → ValueError whose messages
// span 4 lines. As vLLM writes it: CR on every line of the record but the last,
// blank lines are the header and its space (the paste lost both).
std::string VllmBlock11() {
  const std::string h = "(APIServer pid=1) ERROR 12-10 21:02:16 [serving_chat.py:259] ";
  return h + "Error in preprocessing prompt inputs\r\n" +
         h + "Traceback (most recent call last):\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/chat_utils.py\", line 1811, in apply_mistral_chat_template\r\n" +
         h + "    return tokenizer.apply_chat_template(\r\n" +
         h + "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/tokenizers/mistral.py\", line 436, in apply_chat_template\r\n" +
         h + "    return self.transformers_tokenizer.apply_chat_template(\r\n" +
         h + "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/transformers/tokenization_mistral_common.py\", line 1504, in apply_chat_template\r\n" +
         h + "    chat_request = ChatCompletionRequest.from_openai(\r\n" +
         h + "                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/mistral_common/protocol/instruct/request.py\", line 185, in from_openai\r\n" +
         h + "    converted_messages: list[ChatMessage] = convert_openai_messages(messages)\r\n" +
         h + "                                            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/mistral_common/protocol/instruct/converters.py\", line 31, in convert_openai_messages\r\n" +
         h + "    message = AssistantMessage.from_openai(openai_message)\r\n" +
         h + "              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/mistral_common/protocol/instruct/messages.py\", line 226, in from_openai\r\n" +
         h + "    tools_calls.append(ToolCall.from_openai(openai_tool_call))\r\n" +
         h + "                       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/mistral_common/protocol/instruct/tool_calls.py\", line 168, in from_openai\r\n" +
         h + "    return cls.model_validate(tool_call)\r\n" +
         h + "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/pydantic/main.py\", line 716, in model_validate\r\n" +
         h + "    return cls.__pydantic_validator__.validate_python(\r\n" +
         h + "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "pydantic_core._pydantic_core.ValidationError: 1 validation error for ToolCall\r\n" +
         h + "index\r\n" +
         h + "  Extra inputs are not permitted [type=extra_forbidden, input_value=0, input_type=int]\r\n" +
         h + "    For further information visit https://errors.pydantic.dev/2.12/v/extra_forbidden\r\n" +
         h + "\r\n" +
         h + "The above exception was the direct cause of the following exception:\r\n" +
         h + "\r\n" +
         h + "Traceback (most recent call last):\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/openai/serving_chat.py\", line 237, in create_chat_completion\r\n" +
         h + "    ) = await self._preprocess_chat(\r\n" +
         h + "        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/openai/serving_engine.py\", line 1132, in _preprocess_chat\r\n" +
         h + "    request_prompt = await self._apply_mistral_chat_template_async(\r\n" +
         h + "                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/lib/python3.12/concurrent/futures/thread.py\", line 59, in run\r\n" +
         h + "    result = self.fn(*self.args, **self.kwargs)\r\n" +
         h + "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
         h + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/entrypoints/chat_utils.py\", line 1831, in apply_mistral_chat_template\r\n" +
         h + "    raise ValueError(str(e)) from e\r\n" +
         h + "ValueError: 1 validation error for ToolCall\r\n" +
         h + "index\r\n" +
         h + "  Extra inputs are not permitted [type=extra_forbidden, input_value=0, input_type=int]\r\n" +
         h + "    For further information visit https://errors.pydantic.dev/2.12/v/extra_forbidden\n" +
         "(APIServer pid=1) INFO:     172.28.0.1:32828 - \"GET /v1/models HTTP/1.1\" 200 OK\n";
}

// vllm.log block 25 (vllm:v0.13.0, `nohup vllm serve ... > prefill.log`): the
// process prefix is coloured also into a file; two records, each with its CRs.
std::string VllmBlock25() {
  const std::string e = "\x1b[0;36m(EngineCore_DP0 pid=481282)\x1b[0;0m ERROR 03-16 00:55:10 [core.py:868] ";
  const std::string a = "\x1b[0;36m(APIServer pid=480795)\x1b[0;0m ERROR 03-16 00:55:10 [async_llm.py:538] ";
  return
      e + "EngineCore encountered a fatal error.\r\n" +
      e + "Traceback (most recent call last):\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/multiproc_executor.py\", line 336, in get_response\r\n" +
      e + "    status, result = mq.dequeue(\r\n" +
      e + "                     ^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/distributed/device_communicators/shm_broadcast.py\", line 616, in dequeue\r\n" +
      e + "    with self.acquire_read(timeout, cancel, indefinite) as buf:\r\n" +
      e + "         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/lib/python3.12/contextlib.py\", line 137, in __enter__\r\n" +
      e + "    return next(self.gen)\r\n" +
      e + "           ^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/distributed/device_communicators/shm_broadcast.py\", line 536, in acquire_read\r\n" +
      e + "    raise TimeoutError\r\n" +
      e + "TimeoutError\r\n" +
      e + "\r\n" +
      e + "The above exception was the direct cause of the following exception:\r\n" +
      e + "\r\n" +
      e + "Traceback (most recent call last):\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py\", line 859, in run_engine_core\r\n" +
      e + "    engine_core.run_busy_loop()\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py\", line 886, in run_busy_loop\r\n" +
      e + "    self._process_engine_step()\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py\", line 919, in _process_engine_step\r\n" +
      e + "    outputs, model_executed = self.step_fn()\r\n" +
      e + "                              ^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py\", line 351, in step\r\n" +
      e + "    model_output = future.result()\r\n" +
      e + "                   ^^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/multiproc_executor.py\", line 80, in result\r\n" +
      e + "    return super().result()\r\n" +
      e + "           ^^^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/lib/python3.12/concurrent/futures/_base.py\", line 449, in result\r\n" +
      e + "    return self.__get_result()\r\n" +
      e + "           ^^^^^^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/lib/python3.12/concurrent/futures/_base.py\", line 401, in __get_result\r\n" +
      e + "    raise self._exception\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/multiproc_executor.py\", line 84, in wait_for_response\r\n" +
      e + "    response = self.aggregate(get_response())\r\n" +
      e + "                              ^^^^^^^^^^^^^^\r\n" +
      e + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/executor/multiproc_executor.py\", line 340, in get_response\r\n" +
      e + "    raise TimeoutError(f\"RPC call to {method} timed out.\") from e\r\n" +
      e + "TimeoutError: RPC call to execute_model timed out.\n" +
      a + "AsyncLLM output_handler failed.\r\n" +
      a + "Traceback (most recent call last):\r\n" +
      a + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/async_llm.py\", line 490, in output_handler\r\n" +
      a + "    outputs = await engine_core.get_output_async()\r\n" +
      a + "              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\r\n" +
      a + "  File \"/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core_client.py\", line 895, in get_output_async\r\n" +
      a + "    raise self._format_exception(outputs) from None\r\n" +
      a + "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.\n" +
      "\x1b[0;36m(APIServer pid=480795)\x1b[0;0m INFO:     10.254.5.122:45440 - \"POST "
      "/v1/completions HTTP/1.1\" 500 Internal Server Error\n";
}

// Feeds `text` as the pipeline does: cut at '\n', the '\r' before it stripped
// and told (LineFramer), deployment wrappers and ANSI codes removed (Unwrap).
Trace TrackText(const std::string& text, bool flush_at_end = false) {
  std::vector<std::string> lines;
  std::vector<bool> crs;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    crs.push_back(!line.empty() && line.back() == '\r');
    if (crs.back()) line.pop_back();
    lines.push_back(line);
    begin = end + 1;
  }
  TracebackTracker tracker;
  Trace trace;
  std::string scratch;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = Unwrap(lines[i], scratch);
    const TracebackTracker::Result r = tracker.Feed(line, crs[i]);
    if (r.finished) trace.types.emplace_back(r.type);
    if (!r.in_block) trace.processed.emplace_back(line);
  }
  const TracebackTracker::Result end = flush_at_end ? tracker.Flush() : tracker.Finish();
  if (end.finished) trace.types.emplace_back(end.type);
  return trace;
}

// As pastes show them: no CRs, and no trailing space on the blank lines.
std::string WithoutCrs(std::string text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == ' ' && i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
      continue;
    }
    out += text[i];
  }
  return out;
}

TEST(TracebackTrackerTest, VllmRecordCountsOnceUnderItsLastException) {
  const std::string h = "(APIServer pid=1) ERROR 12-10 21:02:16 [serving_chat.py:259] ";
  const Lines want_processed = {
      h + "Error in preprocessing prompt inputs",
      "(APIServer pid=1) INFO:     172.28.0.1:32828 - \"GET /v1/models HTTP/1.1\" 200 OK"};
  const std::string with_crs = VllmBlock11();
  const std::string pasted = WithoutCrs(with_crs);
  ASSERT_EQ(pasted.find('\r'), std::string::npos);
  ASSERT_NE(pasted.find("[serving_chat.py:259]\n"), std::string::npos);  // a bare blank line
  for (const std::string* text : {&with_crs, &pasted}) {
    const Trace t = TrackText(*text);
    EXPECT_EQ(t.types, Lines{"ValueError"}) << (text == &pasted ? "pasted" : "with CRs");
    EXPECT_EQ(t.processed, want_processed) << (text == &pasted ? "pasted" : "with CRs");
  }
}

TEST(TracebackTrackerTest, VllmRecordEndsWithItsLastLineAndNotBefore) {
  // Without the line after it: the record's last line (no CR) ends the block
  // at once, an idle input before it does not.
  std::string record = VllmBlock11();
  record.resize(record.find("(APIServer pid=1) INFO:"));
  EXPECT_EQ(TrackText(record, /*flush_at_end=*/true).types, Lines{"ValueError"});
  const std::size_t exception_line = record.find("ValueError: 1 validation error");
  const std::string up_to_exception = record.substr(0, record.find('\n', exception_line) + 1);
  EXPECT_TRUE(TrackText(up_to_exception, /*flush_at_end=*/true).types.empty());
  // Without CRs there is no telling: the idle input ends it (as before).
  EXPECT_EQ(TrackText(WithoutCrs(up_to_exception), /*flush_at_end=*/true).types,
            Lines{"ValueError"});
}

TEST(TracebackTrackerTest, VllmColouredChainedRecordsOfTwoProcesses) {
  const Lines want_processed = {
      "(EngineCore_DP0 pid=481282) ERROR 03-16 00:55:10 [core.py:868] EngineCore encountered a "
      "fatal error.",
      "(APIServer pid=480795) ERROR 03-16 00:55:10 [async_llm.py:538] AsyncLLM output_handler "
      "failed.",
      "(APIServer pid=480795) INFO:     10.254.5.122:45440 - \"POST /v1/completions HTTP/1.1\" "
      "500 Internal Server Error"};
  const std::string with_crs = VllmBlock25();
  for (const std::string& text : {with_crs, WithoutCrs(with_crs)}) {
    const Trace t = TrackText(text);
    EXPECT_EQ(t.types, (Lines{"TimeoutError", "vllm.v1.engine.exceptions.EngineDeadError"}));
    EXPECT_EQ(t.processed, want_processed);
  }
}

TEST(TracebackTrackerTest, CrlfFilesAreNoRecords) {
  // A raw traceback (no prefix) in a file with CRLF line ends: every line has
  // a CR, which says nothing about records; the block ends as without CRs.
  const Trace t = TrackText(
      "Traceback (most recent call last):\r\n  File \"/app/server.py\", line 10, in handle\r\n"
      "    return cache[key]\r\nKeyError: 'prompt'\r\n\r\n"
      "During handling of the above exception, another exception occurred:\r\n\r\n"
      "Traceback (most recent call last):\r\n  File \"/app/server.py\", line 12, in handle\r\n"
      "ValueError: no prompt\r\n"
      "INFO:     127.0.0.1:5000 - \"POST /v1/completions HTTP/1.1\" 500 Internal Server Error\r\n");
  EXPECT_EQ(t.types, Lines{"ValueError"});
  EXPECT_EQ(t.processed, Lines{"INFO:     127.0.0.1:5000 - \"POST /v1/completions HTTP/1.1\" 500 "
                               "Internal Server Error"});
}

TEST(TracebackTrackerTest, SglangPrefixesOnlyTheFirstLine) {
  // SGLang's scheduler logs `Scheduler hit an exception: ` + the traceback as
  // one record whose later lines have no header. Lines from
  // sgl-project/sglang#5212 (start) and #8974 (end).
  const std::string block =
      "[2025-04-09 17:19:56 TP5] Scheduler hit an exception: Traceback (most recent call last):\n"
      "  File \"/sgl-workspace/sglang/python/sglang/srt/managers/scheduler.py\", line 2045, in "
      "run_scheduler_process\n"
      "    scheduler.event_loop_normal()\n"
      "  File \"/usr/local/lib/python3.10/dist-packages/torch/utils/_contextlib.py\", line 116, in "
      "decorate_context\n"
      "    return func(*args, **kwargs)\n"
      "  File \"/sgl-workspace/sglang/python/sglang/srt/distributed/device_communicators/"
      "pynccl_wrapper.py\", line 350, in NCCL_CHECK\n"
      "    raise RuntimeError(f\"NCCL error: {error_str}\")\n"
      "RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for details)\n"
      "[2025-08-08 09:09:09] Received sigquit from a child process. It usually means the child "
      "failed.\n";
  const Lines want_processed = {
      "[2025-08-08 09:09:09] Received sigquit from a child process. It usually means the child "
      "failed."};
  Trace t = TrackText(block);
  EXPECT_EQ(t.types, Lines{"RuntimeError"});
  EXPECT_EQ(t.processed, want_processed);
  // The same behind docker compose's prefix.
  std::string composed;
  for (std::size_t b = 0, e; b < block.size(); b = e + 1) {
    e = block.find('\n', b);
    composed += "sglang-1  | " + block.substr(b, e - b + 1);
  }
  t = TrackText(composed);
  EXPECT_EQ(t.types, Lines{"RuntimeError"});
  EXPECT_EQ(t.processed, want_processed);
  // Only a frame right after the first line drops the prefix.
  EXPECT_EQ(TrackText("[2025-04-09 17:19:56 TP5] Scheduler hit an exception: Traceback (most "
                      "recent call last):\n[2025-04-09 17:19:57 TP0] Decode batch, #running-req: "
                      "5\n  File \"a.py\", line 1, in f\nRuntimeError: x\n")
                .types,
            Lines{"truncated"});
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

TEST(TracebackSafeEndTest, FollowsRecordsAndWrappersAsTheWorkerDoes) {
  const std::string before = "{\"status\":\"success\"}\nINFO: ok\n";
  const std::string record = VllmBlock11();
  const std::string record_only = record.substr(0, record.find("(APIServer pid=1) INFO:"));
  // The record's first line is no part of the block: it starts at its second.
  const std::size_t block_start = before.size() + record_only.find('\n') + 1;
  // Cut inside the record, after its exception line: the rest must come with it.
  const std::size_t exception_line = record_only.find("ValueError: 1 validation error");
  const std::string cut = before + record_only.substr(0, record_only.find('\n', exception_line) + 1);
  EXPECT_EQ(TracebackSafeEnd(cut), block_start);
  // The record's last line came: nothing can follow it, all of it goes.
  EXPECT_EQ(TracebackSafeEnd(before + record_only), before.size() + record_only.size());
  // Without CRs a chain may still follow: kept open (as any block).
  const std::string pasted = WithoutCrs(record_only);
  EXPECT_EQ(TracebackSafeEnd(before + pasted), before.size() + pasted.find('\n') + 1);
  // Behind docker compose's prefix and colour codes, cut in the frames.
  const std::string wrapped =
      "\x1b[36msglang-1  |\x1b[0m [2025-04-09 17:19:56 TP5] Scheduler hit an exception: "
      "Traceback (most recent call last):\n"
      "\x1b[36msglang-1  |\x1b[0m   File \"/sgl-workspace/sglang/python/sglang/srt/managers/"
      "scheduler.py\", line 2045, in run_scheduler_process\n";
  EXPECT_EQ(TracebackSafeEnd(before + wrapped), before.size());
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
      "time=2025-01-19T17:58:17.608+08:00 level=\"ERROR\" source=sched.go:455",
      "[42027] 1.37.495.377 I slot print_timing: id  0",
      "[TM][WARNING] x",
      "[2025-03-03 17:53:04] INFO: x",
      "2016-10-06T00:17:09.669794202Z stdout F x",
      "janv. 19 17:58:17 gpu-host ollama[25973]: x",
      "2023-12-08T19:56:13+01:00 host ollama[1066]: x",
      "[svc-1]   | 2025-04-01T08:18:00.513604000Z 2025-01-19 19:58:17 x",
      "\x1b[2m2025-03-12T09:36:06.501161Z\x1b[0m \x1b[31mERROR\x1b[0m \x1b]0;t\x1b\\\x1b(B",
  };
  std::string scratch;
  TracebackTracker tracker;
  for (const std::string& line : kLines) {
    for (std::size_t n = 0; n <= line.size(); ++n) {
      const std::unique_ptr<char[]> copy(new char[n == 0 ? 1 : n]);
      std::memcpy(copy.get(), line.data(), n);
      const std::string_view view(copy.get(), n);
      ClassifyLevel(view);
      ClassifyLevel(StripAnsi(view, scratch));
      SkipWrappers(StripAnsi(view, scratch));
      LevelFromName(view);
      ScanSensitive(view);
      tracker.Feed(view, n % 2 == 0);
    }
  }
  tracker.Finish();
  SUCCEED();
}

}  // namespace
}  // namespace lle
