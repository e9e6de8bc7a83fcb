// The landing page's renderer and the self-metrics it reads, on a real
// Exporter's Collect(): the counts the page and --once's summary show are
// those /metrics shows.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/self_counts.h"
#include "llm_log_exporter/app/status_page.h"
#include "llm_log_exporter/config/config.h"

namespace lle {
namespace {

TEST(StatusPageTest, HtmlEscapeEscapesEveryMetacharacter) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
  EXPECT_EQ(HtmlEscape("/var/log/vllm.log"), "/var/log/vllm.log");
  EXPECT_EQ(HtmlEscape(""), "");
}

// An exporter with stdin, http ingest and one file, after some counted lines.
class CountsTest : public ::testing::Test {
 protected:
  CountsTest()
      : exporter_(QwenPreset(), ExporterInputs{/*read_stdin=*/true, /*http_ingest=*/true,
                                               {"/logs/<x>.log"}, /*queues=*/{}}) {
    Shard* shard = exporter_.self_store().AddShard();
    shard->Apply(exporter_.self().Line(kStdinSource, LineResult::kRequest, 3));
    shard->Apply(exporter_.self().Line(kStdinSource, LineResult::kNotJson, 2));
    shard->Apply(exporter_.self().Line(exporter_.FileSource(0), LineResult::kTooLong, 1));
    shard->Apply(exporter_.self().Bytes(kStdinSource, 500));
    shard->Apply(exporter_.self().FileReadable(0, false));
  }
  Exporter exporter_;
};

TEST_F(CountsTest, CountsBySourceReadsTheSelfMetrics) {
  const std::vector<SourceCounts> all = CountsBySource(exporter_.Collect());
  ASSERT_EQ(all.size(), 3u);
  auto source = [&all](const std::string& name) {
    for (const SourceCounts& c : all) {
      if (c.source == name) return c;
    }
    ADD_FAILURE() << "no source " << name;
    return SourceCounts{};
  };
  const SourceCounts in = source("stdin"), http = source("http"), file = source("/logs/<x>.log");
  // Results in LineResult's order, not the exposition's alphabetical one.
  std::vector<std::string> results;
  for (const auto& line : in.lines) results.push_back(line.first);
  EXPECT_EQ(results, (std::vector<std::string>{"request", "event", "not_json", "invalid_utf8",
                                               "too_long", "dropped"}));
  EXPECT_EQ(in.Lines("request"), 3);
  EXPECT_EQ(in.Lines("not_json"), 2);
  EXPECT_EQ(in.TotalLines(), 5);
  EXPECT_EQ(in.bytes, 500);
  EXPECT_FALSE(in.has_readable);
  EXPECT_EQ(http.TotalLines(), 0);
  EXPECT_EQ(http.lines.size(), 6u);
  EXPECT_EQ(file.Lines("too_long"), 1);
  EXPECT_EQ(file.TotalLines(), 1);
  EXPECT_TRUE(file.has_readable);
  EXPECT_FALSE(file.readable);
}

TEST_F(CountsTest, PageShowsInputsEscapedAndTheConfig) {
  StatusPageData data;
  data.inputs = {{"stdin", "stdin", "not read"},
                 {"http", "HTTP ingest", "accepting POST at /api/v1/logs"},
                 {"/logs/<x>.log", "file", ""}};
  data.config_file = "/etc/lle/<conf>&.yaml";
  data.now = std::chrono::system_clock::now();
  data.last_reload = data.now;
  const std::string page = RenderStatusPage(data, exporter_.Collect());
  EXPECT_EQ(page.find("<x>"), std::string::npos) << page;
  EXPECT_EQ(page.find("<conf>"), std::string::npos) << page;
  EXPECT_NE(page.find("<td>/logs/&lt;x&gt;.log</td>"), std::string::npos) << page;
  EXPECT_NE(page.find("/etc/lle/&lt;conf&gt;&amp;.yaml"), std::string::npos) << page;
  EXPECT_NE(page.find("not readable"), std::string::npos) << page;
  EXPECT_NE(page.find("<td class=\"n\" data-result=\"request\">3</td>"), std::string::npos)
      << page;
  // The preset has qwen_last_request_timestamp_seconds; no request line set it here.
  EXPECT_NE(page.find("Last request line: none yet"), std::string::npos) << page;
  EXPECT_NE(page.find("href=\"/metrics\""), std::string::npos) << page;
  EXPECT_EQ(page.find("<script"), std::string::npos) << page;
}

}  // namespace
}  // namespace lle
