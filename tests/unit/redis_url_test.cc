#include "llm_log_exporter/source/redis_url.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/redis_input.h"
#include "llm_log_exporter/app/self_counts.h"
#include "llm_log_exporter/config/config.h"

namespace lle {
namespace {

TEST(RedisUrlTest, TcpWithDefaults) {
  std::string error;
  const std::optional<RedisUrl> url = ParseRedisUrl("redis://cache", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "cache");
  EXPECT_EQ(url->port, 6379);
  EXPECT_EQ(url->db, 0);
  EXPECT_TRUE(url->user.empty());
  EXPECT_TRUE(url->password.empty());
  EXPECT_EQ(url->Address(), "redis://cache:6379/0");
}

TEST(RedisUrlTest, CredentialsPortAndDbNeverInTheAddress) {
  std::string error;
  const std::optional<RedisUrl> url =
      ParseRedisUrl("redis://exporter:p@ss:w@10.0.0.5:7000/3", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->user, "exporter");
  EXPECT_EQ(url->password, "p@ss:w");
  EXPECT_EQ(url->host, "10.0.0.5");
  EXPECT_EQ(url->port, 7000);
  EXPECT_EQ(url->db, 3);
  EXPECT_EQ(url->Address(), "redis://10.0.0.5:7000/3");
  EXPECT_EQ(RedactRedisUrl("redis://exporter:p@ss:w@10.0.0.5:7000/3"),
            "redis://exporter:***@10.0.0.5:7000/3");
  EXPECT_EQ(RedactRedisUrl("redis://h:1/0"), "redis://h:1/0");
}

TEST(RedisUrlTest, Ipv6AndUnixSockets) {
  std::string error;
  std::optional<RedisUrl> url = ParseRedisUrl("redis://[::1]:6380", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->Address(), "redis://[::1]:6380/0");
  url = ParseRedisUrl("unix:///run/redis/redis.sock?db=2", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(url->db, 2);
  EXPECT_EQ(url->Address(), "unix:///run/redis/redis.sock?db=2");
}

TEST(RedisUrlTest, ErrorsSayWhy) {
  for (const char* text :
       {"", "http://h", "rediss://h", "redis://", "redis://:6379", "redis://h:0", "redis://h:x",
        "redis://h/-1", "redis://[::1", "unix://rel.sock", "unix:///s?database=1"}) {
    std::string error;
    EXPECT_FALSE(ParseRedisUrl(text, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(RedisUrlTest, SourceLabelIsTheAddressAndTheKey) {
  Options options;
  options.redis_url = "redis://u:secret@h:1/2";
  options.redis_stream = "llm-logs";
  EXPECT_EQ(RedisSourceLabel(options), "redis://h:1/2#llm-logs");
  options.redis_stream.clear();
  options.redis_list = "q";
  EXPECT_EQ(RedisSourceLabel(options), "redis://h:1/2#q");
}

TEST(RedisUrlTest, QueuesAreTheLastSourcesAfterTheFiles) {
  const std::string redis = "redis://h:1/0#logs";
  const std::string kafka = "kafka://k:9092/logs";
  Exporter exporter(QwenPreset(),
                    ExporterInputs{false, true, {"/a.log", "/b.log"}, {redis, kafka}});
  EXPECT_EQ(exporter.FileSource(1), 2u);
  EXPECT_EQ(exporter.QueueSource(0), 3u);
  EXPECT_EQ(exporter.QueueSource(1), 4u);
  Shard* shard = exporter.self_store().AddShard();
  shard->Apply(exporter.self().Line(exporter.QueueSource(0), LineResult::kRequest, 5));
  shard->Apply(exporter.self().Line(exporter.FileSource(1), LineResult::kRequest, 2));
  shard->Apply(exporter.self().InputUp(exporter.QueueSource(0), true));
  shard->Apply(exporter.self().EntriesSkipped(exporter.QueueSource(0), SkippedEntry::kTrimmed, 3));
  shard->Apply(exporter.self().EntriesSkipped(exporter.QueueSource(1), SkippedEntry::kNotJson, 2));
  const auto families = exporter.Collect();
  double value = 0;
  for (const SourceCounts& counts : CountsBySource(families)) {
    if (counts.source == redis) {
      EXPECT_EQ(counts.Lines("request"), 5);
    } else if (counts.source == "/b.log") {
      EXPECT_EQ(counts.Lines("request"), 2);
    }
  }
  ASSERT_TRUE(FamilyValue(families, "llm_log_exporter_input_up", "source", redis, &value));
  EXPECT_EQ(value, 1);
  // The skipped entries of one source and reason.
  const auto skipped = [&families](const std::string& source, const std::string& reason) {
    for (const Family& family : families) {
      if (family.name != "llm_log_exporter_input_entries_skipped_total") continue;
      for (const Series& metric : family.series) {
        bool source_ok = false;
        bool reason_ok = false;
        for (const Label& label : metric.labels) {
          source_ok |= label.name == "source" && label.value == source;
          reason_ok |= label.name == "reason" && label.value == reason;
        }
        if (source_ok && reason_ok) return metric.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(skipped(redis, "trimmed"), 3);
  EXPECT_EQ(skipped(kafka, "not_json"), 2);
  EXPECT_EQ(skipped(kafka, "trimmed"), 0);
  // Without Redis, none of its metrics.
  Exporter plain(QwenPreset(), false);
  EXPECT_FALSE(FamilyValue(plain.Collect(), "llm_log_exporter_input_up", "", "", &value));
}

}  // namespace
}  // namespace lle
