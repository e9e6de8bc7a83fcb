// What stock inference servers print, line form by line form, through the
// real binary with the built-in preset (`--once`): the exact series each form
// feeds. The lines are real output from public bug reports (each row says
// where from), except rows marked "format string", which are rebuilt from the
// server's source where no real line was public.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/exposition.h"

namespace lle::test {
namespace {

constexpr char kBinary[] = LLE_BINARY;

struct ServerCase {
  const char* name;
  std::vector<std::string> lines;
  // Series as printed, and their values; a series not listed may be anything.
  std::vector<std::pair<std::string, double>> expected;
};

const std::string kEsc = "\x1b";

const std::vector<ServerCase>& Cases() {
  static const std::vector<ServerCase> cases = {
      // --- vLLM ---------------------------------------------------------------
      {"VllmAccessLinesOnInferenceRoutesOnly",
       // vllm-project/vllm#16361, mistral-vibe#70 and #15340.
       {"INFO:     127.0.0.1:34636 - \"GET /health HTTP/1.1\" 200 OK",
        "(APIServer pid=1) INFO:     172.28.0.1:32828 - \"GET /v1/models HTTP/1.1\" 200 OK",
        "(APIServer pid=1) INFO:     172.28.0.1:32836 - \"POST /v1/chat/completions HTTP/1.1\" "
        "200 OK",
        "(APIServer pid=1) INFO:     172.21.0.1:36392 - \"GET /api/tags HTTP/1.1\" 404 Not Found",
        kEsc + "[0;36m(APIServer pid=480795)" + kEsc +
            "[0;0m INFO:     10.254.5.122:45440 - \"POST /v1/completions HTTP/1.1\" 500 "
            "Internal Server Error"},
       {{"qwen_requests_total{status=\"success\"}", 1},
        {"qwen_requests_total{status=\"error\"}", 1},
        {"qwen_request_errors_total", 1},
        {"qwen_http_requests_total{method=\"POST\",path=\"/v1/chat/completions\"}", 1},
        {"qwen_http_requests_total{method=\"POST\",path=\"/v1/completions\"}", 1},
        {"qwen_http_responses_total{code=\"200\"}", 1},
        {"qwen_http_responses_total{code=\"500\"}", 1},
        {"qwen_log_events_total{level=\"info\"}", 5},
        {"llm_log_exporter_lines_total{source=\"stdin\",result=\"request\"}", 2},
        {"llm_log_exporter_lines_total{source=\"stdin\",result=\"not_json\"}", 3}}},
      {"VllmStatsLinesOfEveryVersionByEngine",
       // vllm#12314 (v0), #16361 (0.8 v1), club-3090#567 (Engine 000), a DP engine 001 (format
       // string).
       {"INFO 01-22 18:25:09 metrics.py:449] Avg prompt throughput: 605.5 tokens/s, Avg "
        "generation throughput: 61.0 tokens/s, Running: 2 reqs, Swapped: 0 reqs, Pending: 1 "
        "reqs, GPU KV cache usage: 7.4%, CPU KV cache usage: 0.0%.",
        "(APIServer pid=1) INFO 07-04 04:43:19 [loggers.py:273] Engine 000: Avg prompt "
        "throughput: 282.0 tokens/s, Avg generation throughput: 159.7 tokens/s, Running: 1 reqs, "
        "Waiting: 0 reqs, GPU KV cache usage: 2.0%, Prefix cache hit rate: 44.8%",
        "(APIServer pid=1) INFO 07-04 04:43:19 [loggers.py:273] Engine 001: Avg prompt "
        "throughput: 10.0 tokens/s, Avg generation throughput: 20.5 tokens/s, Running: 3 reqs, "
        "Waiting: 4 reqs, GPU KV cache usage: 12.5%, Prefix cache hit rate: 0.0%",
        "(APIServer pid=1) INFO 07-04 04:43:19 [metrics.py:120] SpecDecoding metrics: Mean "
        "acceptance length: 3.53, Accepted throughput: 114.80 tokens/s, Drafted throughput: "
        "135.80 tokens/s, Accepted: 1148 tokens, Drafted: 1358 tokens, Per-position acceptance "
        "rate: 0.947, 0.850, 0.731, Avg Draft acceptance rate: 84.5%"},
       {{"qwen_num_requests_running{engine=\"all\"}", 2},
        {"qwen_num_requests_waiting{engine=\"all\"}", 1},
        {"qwen_kv_cache_usage_ratio{engine=\"all\"}", 0.074},
        {"qwen_prompt_throughput_tokens_per_second{engine=\"all\"}", 605.5},
        {"qwen_num_requests_running{engine=\"0\"}", 1},
        {"qwen_kv_cache_usage_ratio{engine=\"0\"}", 0.02},
        {"qwen_prefix_cache_hit_ratio{engine=\"0\"}", 0.448},
        {"qwen_generation_throughput_tokens_per_second{engine=\"0\"}", 159.7},
        {"qwen_num_requests_running{engine=\"1\"}", 3},
        {"qwen_num_requests_waiting{engine=\"1\"}", 4},
        {"qwen_kv_cache_usage_ratio{engine=\"1\"}", 0.125},
        {"qwen_spec_decode_acceptance_ratio{engine=\"all\"}", 0.845},
        {"qwen_spec_decode_mean_acceptance_length{engine=\"all\"}", 3.53},
        {"qwen_requests_total{status=\"success\"}", 0}}},
      {"VllmAbortedOnceEachAndStreamedTokensSummed",
       // vllm#2484 (v0), club-3090#104 (v1 prints both lines), code index 67513209602 (deltas).
       {"INFO 01-17 03:11:25 async_llm_engine.py:134] Aborted request "
        "0e89f1d2d94c4a039f868222c100cc8a.",
        "(APIServer pid=53) INFO 09-04 03:10:43 [v1/engine/async_llm.py:721] Aborted request(s) "
        "chatcmpl-req-a1f76d7a-124a-4c27-a79d-2610a261-a44df1a4.",
        "(APIServer pid=53) INFO 09-04 03:10:43 [v1/engine/async_llm.py:595] Request "
        "chatcmpl-req-a1f76d7a-124a-4c27-a79d-2610a261 aborted.",
        "(APIServer pid=66) INFO 09-02 08:46:16 [entrypoints/logger.py:92] Generated response "
        "chatcmpl-ba7c746153081a9d (streaming delta): output: 'x', output_token_ids: [105988], "
        "finish_reason: None",
        "(APIServer pid=66) INFO 09-02 08:46:16 [entrypoints/logger.py:92] Generated response "
        "chatcmpl-ba7c746153081a9d (streaming delta): output: 'y', output_token_ids: [113426, "
        "6313], finish_reason: stop"},
       {{"qwen_request_finish_total{finish_reason=\"abort\"}", 2},
        {"qwen_request_finish_total{finish_reason=\"stop\"}", 1},
        {"qwen_generation_tokens_total", 3},
        {"qwen_request_generation_tokens_count", 0},  // deltas are no requests
        {"qwen_requests_total{status=\"success\"}", 0}}},
      {"VllmWholeResponseAndReceivedRequest",
       // Format string (vllm/entrypoints/logger.py), as vllm.synthetic.log rebuilds it.
       {"INFO 05-02 10:00:01 [logger.py:39] Received request chatcmpl-1: prompt: 'Hi', params: "
        "SamplingParams(n=1, temperature=0.7, max_tokens=512), prompt_token_ids: [1, 2, 3, 4, "
        "5, 6, 7, 8, 9], lora_request: None.",
        "INFO 05-02 10:00:02 [logger.py:58] Generated response chatcmpl-1: output: 'Hello! How "
        "can I help?', output_token_ids: [9707, 0, 2585, 646, 358, 1492, 30], finish_reason: "
        "stop"},
       {{"qwen_prompt_tokens_total", 9},
        {"qwen_generation_tokens_total", 7},
        {"qwen_request_max_tokens_sum", 512},
        {"qwen_request_generation_tokens_count", 1},
        {"qwen_request_finish_total{finish_reason=\"stop\"}", 1},
        {"qwen_requests_total{status=\"success\"}", 0}}},
      // --- TGI ----------------------------------------------------------------
      {"TgiSuccessTextColouredAndJson",
       // Code index 1598218448 (TGI 1.4) coloured as TGI prints by default; tgi.synthetic.log's
       // --json-output line.
       {"2024-02-14T06:49:51.437631Z  INFO generate{parameters=GenerateParameters { best_of: None, "
        "max_new_tokens: Some(14), stop: [] } total_time=\"611.286748ms\" "
        "validation_time=\"754.5\u00b5s\" queue_time=\"127.337\u00b5s\" "
        "inference_time=\"610.405028ms\" time_per_token=\"43.600359ms\" seed=\"None\"}: "
        "text_generation_router::server: router/src/server.rs:299: Success",
        kEsc + "[2m2024-02-06T03:08:33.664018Z" + kEsc + "[0m " + kEsc + "[32m INFO" + kEsc +
            "[0m " + kEsc + "[1mchat_completions" + kEsc + "[0m" + kEsc + "[1m{" + kEsc + "[0m" +
            kEsc + "[3mtotal_time" + kEsc + "[0m" + kEsc + "[2m=" + kEsc + "[0m\"2.520979735s\" " +
            kEsc + "[3mvalidation_time" + kEsc + "[0m" + kEsc + "[2m=" + kEsc +
            "[0m\"308.477\u00b5s\" " + kEsc + "[3mqueue_time" + kEsc + "[0m" + kEsc +
            "[2m=" + kEsc + "[0m\"70\u00b5s\" " + kEsc + "[3minference_time" + kEsc + "[0m" + kEsc +
            "[2m=" + kEsc + "[0m\"2.520601569s\" " + kEsc + "[3mtime_per_token" + kEsc + "[0m" +
            kEsc + "[2m=" + kEsc + "[0m\"25.206015ms\" " + kEsc + "[3mseed" + kEsc + "[0m" + kEsc +
            "[2m=" + kEsc + "[0m\"None\"" + kEsc + "[1m}" + kEsc + "[0m" + kEsc + "[2m:" + kEsc +
            "[0m " + kEsc + "[2mtext_generation_router::server" + kEsc + "[0m" + kEsc +
            "[2m:" + kEsc + "[0m " + kEsc + "[2mrouter/src/server.rs" + kEsc + "[0m" + kEsc +
            "[2m:" + kEsc + "[0m" + kEsc + "[2m298:" + kEsc + "[0m Success",
        "{\"timestamp\":\"2024-02-06T03:08:33.664018Z\",\"level\":\"INFO\",\"message\":\"Success\","
        "\"target\":\"text_generation_router::server\",\"filename\":\"router/src/server.rs\","
        "\"line_number\":407,\"span\":{\"inference_time\":\"2.520601569s\",\"queue_time\":"
        "\"70\u00b5s\",\"seed\":\"None\",\"time_per_token\":\"25.206015ms\",\"total_time\":"
        "\"2.520979735s\",\"validation_time\":\"308.477\u00b5s\",\"name\":\"chat_completions\"},"
        "\"spans\":[{\"name\":\"chat_completions\"}]}"},
       {{"qwen_requests_total{status=\"success\"}", 3},
        {"qwen_request_duration_ms_sum", 611.286748 + 2520.979735 + 2520.979735},
        {"qwen_request_duration_ms_count", 3},
        {"qwen_request_queue_duration_seconds_sum", 0.000127337 + 0.00007 + 0.00007},
        {"qwen_request_validation_duration_seconds_count", 3},
        // inference_time / time_per_token, rounded: 14, 100, 100.
        {"qwen_generation_tokens_total", 14 + 100 + 100},
        {"qwen_request_generation_tokens_count", 3},
        {"qwen_time_per_output_token_seconds_count", 3},
        {"qwen_log_events_total{level=\"info\"}", 3},
        {"llm_log_exporter_lines_total{source=\"stdin\",result=\"request\"}", 3}}},
      {"TgiErrorsInARequestSpan",
       // tgi.synthetic.log: the ERROR of tgi#3050 in text and --json-output form.
       {"2025-03-12T09:36:06.501161Z ERROR sagemaker_compatibility:compat_generate{"
        "default_return_full_text=true}:generate{parameters=GenerateParameters { best_of: None "
        "}}:generate: text_generation_router::infer: router/src/infer/mod.rs:246: Incomplete "
        "generation",
        "{\"timestamp\":\"2025-03-12T09:36:06.501161Z\",\"level\":\"ERROR\",\"message\":"
        "\"Incomplete generation\",\"target\":\"text_generation_router::infer\",\"span\":{"
        "\"name\":\"generate\"}}",
        "2024-10-15T18:56:33.810448Z  WARN text_generation_router::server: "
        "router/src/server.rs:1960: Invalid hostname, defaulting to 0.0.0.0"},
       {{"qwen_requests_total{status=\"error\"}", 2},
        {"qwen_request_errors_total", 2},
        {"qwen_log_events_total{level=\"error\"}", 2},
        {"qwen_log_events_total{level=\"warning\"}", 1}}},
      // --- SGLang -------------------------------------------------------------
      {"SglangBatchLinesAndAccessLine",
       // sglang#22331, #30047, #36081, #4045; a DP rank (format string).
       {"[2025-03-03 17:53:04] INFO:     10.27.1.1:65179 - \"POST /v1/chat/completions "
        "HTTP/1.1\" 200 OK",
        "[2026-04-08 14:05:21 TP0] Decode batch, #running-req: 5, #token: 20800, token usage: "
        "0.29, cuda graph: True, gen throughput (token/s): 144.95, #queue-req: 0",
        "[2026-07-04 04:31:24 TP0] Prefill batch, #new-seq: 12, #new-token: 43008, "
        "#cached-token: 0, full token usage: 0.14, mamba usage: 0.20, #running-req: 1, "
        "#queue-req: 97, #pending-token: 109585, npu graph: False, input throughput (token/s): "
        "15734.14",
        "[2026-08-23 09:09:50 DP1 TP0] Decode batch, #running-req: 7, #token: 100, token usage: "
        "0.5, cuda graph: True, gen throughput (token/s): 10.0, #queue-req: 2"},
       {{"qwen_requests_total{status=\"success\"}", 1},
        {"qwen_num_requests_running{engine=\"all\"}", 1},
        {"qwen_num_requests_waiting{engine=\"all\"}", 97},
        {"qwen_kv_cache_usage_ratio{engine=\"all\"}", 0.14},
        {"qwen_generation_throughput_tokens_per_second{engine=\"all\"}", 144.95},
        {"qwen_prompt_throughput_tokens_per_second{engine=\"all\"}", 15734.14},
        {"qwen_num_requests_running{engine=\"1\"}", 7},
        {"qwen_num_requests_waiting{engine=\"1\"}", 2},
        {"qwen_log_events_total{level=\"info\"}", 1}}},
      {"SglangFinishedRequestsReprAndJson",
       // sglang.synthetic.log (--log-requests-format json) and its Python repr form (format
       // string).
       {"[2025-03-03 17:53:08] Finish: obj=GenerateReqInput(text='hi', rid='ced0'), "
        "out={'meta_info': {'id': 'ced0', 'finish_reason': {'type': 'stop', 'matched': 151645}, "
        "'prompt_tokens': 63, 'completion_tokens': 212, 'cached_tokens': 1, 'e2e_latency': "
        "3.4102, 'queue_time': 0.0021}}",
        "{\"timestamp\": \"2026-05-20T08:02:44.565102\", \"event\": \"request.finished\", \"rid\": "
        "\"bf89\", \"out\": {\"meta_info\": {\"id\": \"bf89\", \"finish_reason\": {\"type\": "
        "\"abort\", \"message\": \"Request running timeout reached.\", \"status_code\": 503}, "
        "\"prompt_tokens\": 32472, \"queue_time\": 0.0, \"completion_tokens\": 23297, "
        "\"cached_tokens\": 32320, \"e2e_latency\": 1201.9242150001228}}}"},
       {{"qwen_prompt_tokens_total", 63 + 32472},
        {"qwen_generation_tokens_total", 212 + 23297},
        {"qwen_prompt_cached_tokens_total", 1 + 32320},
        {"qwen_request_duration_ms_sum", 3410.2 + 1201924.2150001228},
        {"qwen_request_queue_duration_seconds_sum", 0.0021},
        {"qwen_request_finish_total{finish_reason=\"stop\"}", 1},
        {"qwen_request_finish_total{finish_reason=\"abort\"}", 1},
        {"qwen_requests_total{status=\"success\"}", 0}}},  // the access line counts them
      // --- llama.cpp ----------------------------------------------------------
      {"LlamaCppTimingsInEveryLayout",
       // llama.cpp#7637 (2024 JSON), #9013 (2025 three lines), #23269 (2026 prefixed), #25121.
       {"{\"tid\":\"14964\",\"timestamp\":1717067386,\"level\":\"INFO\",\"function\":"
        "\"print_timings\",\"line\":321,\"msg\":\"prompt eval time     =    2684.39 ms /    27 "
        "tokens (   99.42 ms per token,    10.06 tokens per second)\",\"id_slot\":0}",
        "{\"tid\":\"14964\",\"timestamp\":1717067386,\"level\":\"INFO\",\"function\":"
        "\"print_timings\",\"line\":337,\"msg\":\"generation eval time =    3559.27 ms /    25 "
        "runs   (  142.37 ms per token,     7.02 tokens per second)\",\"id_slot\":0}",
        "{\"tid\":\"14964\",\"timestamp\":1717067386,\"level\":\"INFO\",\"function\":"
        "\"print_timings\",\"line\":347,\"msg\":\"          total time =    6243.66 ms\"}",
        "slot print_timing: id  0 | task 0 |",
        "prompt eval time =     915.13 ms /    51 tokens (   17.94 ms per token,    55.73 tokens "
        "per second)",
        "       eval time =   23038.87 ms /   275 tokens (   83.78 ms per token,    11.94 tokens "
        "per second)",
        "[42027]       total time =   16901.53 ms /   219 tokens",
        "[64126] 2.20.112.764 I slot print_timing: id  0 | task 234 | prompt eval time =     "
        "847.20 ms /   421 tokens (    2.01 ms per token,   496.93 tokens per second)",
        "[42027] 1.37.495.588 I srv  log_server_r: done request: POST /v1/chat/completions "
        "127.0.0.1 200",
        "[42027] 1.37.495.377 I srv  log_server_r: done request: GET /props 127.0.0.1 200"},
       {{"qwen_requests_total{status=\"success\"}", 1},
        {"qwen_prompt_tokens_total", 27 + 51 + 421},
        {"qwen_generation_tokens_total", 25 + 275},
        {"qwen_request_prefill_duration_seconds_sum", 2.68439 + 0.91513 + 0.8472},
        {"qwen_time_per_output_token_seconds_sum", 0.14237 + 0.08378},
        {"qwen_request_duration_ms_sum", 6243.66 + 16901.53},
        {"qwen_log_events_total{level=\"info\"}", 6}}},
      // --- Ollama -------------------------------------------------------------
      {"OllamaGinLinesBehindWrappers",
       // ollama#5816, ollama-intel-gpu#22 (Docker Desktop), ollama_ov#4 (docker logs -t),
       // llama-coder#3 (journald).
       {"[GIN] 2024/07/21 - 15:52:40 | 200 |      6.2826ms |       127.0.0.1 | GET      "
        "\"/api/tags\"",
        "[GIN] 2024/07/21 - 15:52:51 | 403 |            0s |       127.0.0.1 | POST     "
        "\"/api/generate\"",
        "2025-01-19 19:47:08 [GIN] 2025/01/19 - 17:47:08 | 500 |  5.257673085s |      "
        "172.22.0.3 | POST     \"/api/chat\"",
        "2025-04-01T08:18:30.307080000Z [GIN] 2025/04/01 - 08:18:30 | 200 |   35.684791792s |    "
        "   127.0.0.1 | POST     \"/v1/chat/completions\"",
        "Dec 08 19:56:13 gpt-gpu.stratus.lab ollama[1808]: {\"timestamp\":1702086973,\"level\":"
        "\"INFO\",\"function\":\"log_server_request\",\"line\":1233,\"message\":\"request\","
        "\"remote_addr\":\"127.0.0.1\",\"remote_port\":58738,\"status\":200,\"method\":\"HEAD\","
        "\"path\":\"/\",\"params\":{}}",
        "2025-01-19 19:58:17 time=2025-01-19T17:58:17.608+08:00 level=ERROR source=sched.go:455 "
        "msg=\"error loading llama server\" error=\"llama runner process has terminated: exit "
        "status 2\""},
       {{"qwen_requests_total{status=\"success\"}", 1},
        {"qwen_requests_total{status=\"error\"}", 2},
        {"llm_log_exporter_lines_total{source=\"stdin\",result=\"request\"}", 3},  // not HEAD /
        {"qwen_request_duration_ms_sum", 0 + 5257.673085 + 35684.791792},
        {"qwen_http_responses_total{code=\"403\"}", 1},
        {"qwen_log_events_total{level=\"error\"}", 1},
        {"llm_log_exporter_lines_total{source=\"stdin\",result=\"event\"}", 1}}},
      // --- LMDeploy -----------------------------------------------------------
      {"LmdeployFinishedAndPeriodicLines",
       // MonkeyOCR#174; lmdeploy#4064; the periodic line of lmdeploy#4297 and the session line
       // (lmdeploy.facts.md).
       {"2025-07-07 09:01:18,519 - lmdeploy - ERROR - async_engine.py:791 - session 1 finished, "
        "reason \"error\"",
        "2025-07-07 09:01:18,519 - lmdeploy - INFO - async_engine.py:700 - session=90, "
        "history_tokens=0, input_tokens=2292, max_new_tokens=None, seq_start=True, seq_end=True, "
        "step=0, prep=True",
        "[2026-01-05 10:00:00 DP0] Avg thr (in/out): 4618.5 / 2756.3 tokens/s, API server "
        "(completed/routed/waiting): 1 / 50 / 50, Engine (running/waiting): 45 / 5, KV cache: "
        "21.6%, ",
        "[TM][WARNING] [SegMgr] prefix caching is disabled"},
       {{"qwen_request_finish_total{finish_reason=\"error\"}", 1},
        {"qwen_prompt_tokens_total", 2292},
        {"qwen_num_requests_running{engine=\"0\"}", 45},
        {"qwen_num_requests_waiting{engine=\"0\"}", 5},
        {"qwen_kv_cache_usage_ratio{engine=\"0\"}", 0.216},
        {"qwen_generation_throughput_tokens_per_second{engine=\"0\"}", 2756.3},
        {"qwen_log_events_total{level=\"error\"}", 1},
        {"qwen_log_events_total{level=\"warning\"}", 1}}},
  };
  return cases;
}

class ServerLinesTest : public ::testing::TestWithParam<ServerCase> {};

TEST_P(ServerLinesTest, FeedExactlyTheseSeries) {
  std::string input;
  for (const std::string& line : GetParam().lines) input += line + "\n";
  const RunResult run = ::lle::test::Run({kBinary, "--once"}, input);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const auto& [series, value] : GetParam().expected) {
    const std::optional<double> got = MetricValue(run.out, series);
    ASSERT_TRUE(got.has_value()) << series << " is absent:\n" << run.out;
    EXPECT_DOUBLE_EQ(*got, value) << series;
  }
}

INSTANTIATE_TEST_SUITE_P(Stock, ServerLinesTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ServerCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
}  // namespace lle::test
