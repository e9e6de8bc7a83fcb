#include "llm_log_exporter/app/options.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace lle {
namespace {

int Parse(std::vector<std::string> args, Options* out) {
  args.insert(args.begin(), "llm_log_exporter");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseOptions(static_cast<int>(argv.size()), argv.data(), out);
}

TEST(OptionsTest, Defaults) {
  Options o;
  EXPECT_EQ(Parse({}, &o), -1);
  ASSERT_EQ(o.listen.size(), 1u);
  EXPECT_EQ(o.listen[0].port, kDefaultPort);
  EXPECT_EQ(o.listen[0].host, "");
  EXPECT_EQ(o.telemetry_path, "/metrics");
  EXPECT_EQ(o.max_line_bytes, 1u << 20);
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.log_format, "plain");
  EXPECT_FALSE(o.once);
}

TEST(OptionsTest, AllFlags) {
  Options o;
  EXPECT_EQ(Parse({"--web.listen-address=127.0.0.1:0", "--web.telemetry-path", "/m",
                   "--input.max-line-bytes=4096", "--log.level=debug", "--log.format=json",
                   "--once"},
                  &o),
            -1);
  ASSERT_EQ(o.listen.size(), 1u);
  EXPECT_EQ(o.listen[0].host, "127.0.0.1");
  EXPECT_EQ(o.listen[0].port, 0);
  EXPECT_EQ(o.log_format, "json");
  EXPECT_EQ(o.telemetry_path, "/m");
  EXPECT_EQ(o.max_line_bytes, 4096u);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_TRUE(o.once);
}

// Each --web.listen-address adds an address (the default only without any);
// the same fixed address twice is a usage error, port 0 twice is two ports.
TEST(OptionsTest, ListenAddressIsRepeatable) {
  Options o;
  ASSERT_EQ(Parse({"--web.listen-address=127.0.0.1:0", "--web.listen-address", ":9100",
                   "--web.listen-address=127.0.0.1:0"},
                  &o),
            -1);
  ASSERT_EQ(o.listen.size(), 3u);
  EXPECT_EQ(o.listen[0].host, "127.0.0.1");
  EXPECT_EQ(o.listen[1].host, "");
  EXPECT_EQ(o.listen[1].port, 9100);
  EXPECT_EQ(o.listen[2].port, 0);
  testing::internal::CaptureStderr();
  EXPECT_EQ(Parse({"--web.listen-address=127.0.0.1:9100", "--web.listen-address=:1",
                   "--web.listen-address=localhost:9100"},
                  &o),
            2);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "llm_log_exporter: --web.listen-address 'localhost:9100': given twice\n");
}

TEST(OptionsTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--no-such-flag"},
      {"--web.listen-address=nohost"},
      {"--web.listen-address=:70000"},
      {"--web.listen-address=127.0.0.1:0", "--web.listen-address=nohost"},
      {"--log.format=xml"},
      {"--web.telemetry-path=metrics"},
      {"--web.telemetry-path=/"},
      {"--web.telemetry-path=/-/healthy"},
      {"--input.max-line-bytes=0"},
      {"--input.max-line-bytes=lots"},
      {"--log.level=loud"},
      {"extra-positional"},
  };
  for (const auto& args : bad) {
    Options o;
    testing::internal::CaptureStderr();
    EXPECT_EQ(Parse(args, &o), 2) << args[0];
    const std::string err = testing::internal::GetCapturedStderr();
    // One line, naming the program.
    EXPECT_EQ(err.rfind("llm_log_exporter: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  }
}

TEST(OptionsTest, NumbersSayWhetherTheyAreNoNumberOrOutOfRange) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--input.workers=abc", "--input.workers: 'abc' is not a whole number"},
      {"--input.workers=2.5", "--input.workers: '2.5' is not a whole number"},
      {"--input.workers=-1", "--input.workers: '-1' is not a whole number"},
      {"--input.workers=65", "--input.workers: 65 is not in range 1 to 64"},
      {"--input.workers=0", "--input.workers: 0 is not in range 1 to 64"},
      {"--input.workers=99999999999999999999999",
       "--input.workers: 99999999999999999999999 is not in range 1 to 64"},
      {"--web.max-connections=x1", "--web.max-connections: 'x1' is not a whole number"},
  };
  for (const auto& [arg, want] : cases) {
    Options o;
    testing::internal::CaptureStderr();
    EXPECT_EQ(Parse({arg}, &o), 2) << arg;
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find(want), std::string::npos) << err;
  }
  Options o;
  EXPECT_EQ(Parse({"--input.workers=64", "--web.max-connections=1"}, &o), -1);
  EXPECT_EQ(o.input_workers, 64u);
}

TEST(OptionsTest, KafkaFlags) {
  Options o;
  ASSERT_EQ(Parse({}, &o), -1);
  EXPECT_TRUE(o.kafka_topics.empty());
  EXPECT_EQ(o.kafka_group, "llm_log_exporter");
  EXPECT_EQ(o.kafka_start, "latest");
  EXPECT_EQ(o.kafka_format, "raw");
  EXPECT_EQ(o.kafka_field, "log");
  Options k;
  ASSERT_EQ(Parse({"--input.kafka.brokers=a:9092,b:9092", "--input.kafka.topic=x,y.z",
                   "--input.kafka.topic", "w_1", "--input.kafka.group=g", "--input.kafka.start",
                   "earliest", "--input.kafka.format=json", "--input.kafka.field=message",
                   "--input.kafka.option", "security.protocol=SSL", "--input.kafka.option-file",
                   "sasl.password=/run/secret"},
                  &k),
            -1);
  EXPECT_EQ(k.kafka_brokers, "a:9092,b:9092");
  EXPECT_EQ(k.kafka_topics, (std::vector<std::string>{"x", "y.z", "w_1"}));
  EXPECT_EQ(k.kafka_group, "g");
  EXPECT_EQ(k.kafka_start, "earliest");
  EXPECT_EQ(k.kafka_format, "json");
  EXPECT_EQ(k.kafka_field, "message");
  EXPECT_EQ(k.kafka_options, std::vector<std::string>{"security.protocol=SSL"});
  EXPECT_EQ(k.kafka_option_files, std::vector<std::string>{"sasl.password=/run/secret"});
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--input.kafka.topic=x"},
           {"--input.kafka.brokers=a:1"},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x,,y"},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x,x"},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x", "--input.kafka.group="},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x", "--input.kafka.option=novalue"},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x", "--input.kafka.option-file==/p"},
           {"--input.kafka.brokers=a:1", "--input.kafka.topic=x", "--once"}}) {
    Options bad;
    EXPECT_EQ(Parse(args, &bad), 2) << args.back();
  }
}

TEST(OptionsTest, HelpExitsZero) {
  Options o;
  testing::internal::CaptureStdout();
  EXPECT_EQ(Parse({"--help"}, &o), 0);
  const std::string help = testing::internal::GetCapturedStdout();
  for (const char* flag : {"--web.listen-address", "--web.telemetry-path", "--input.max-line-bytes",
                           "--log.level", "--once", "--version"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(OptionsTest, RedisFlags) {
  Options o;
  EXPECT_EQ(o.redis_field, "message");
  EXPECT_EQ(o.redis_group, "llm_log_exporter");
  EXPECT_EQ(o.redis_claim_idle_ms, 60000u);
  EXPECT_EQ(Parse({"--input.redis.url", "redis://h:1/2", "--input.redis.stream", "s",
                   "--input.redis.group", "g", "--input.redis.consumer", "c",
                   "--input.redis.field", "line", "--input.redis.claim-idle-ms", "500",
                   "--input.redis.password-file", "/p"},
                  &o),
            -1);
  EXPECT_EQ(o.redis_url, "redis://h:1/2");
  EXPECT_EQ(o.redis_stream, "s");
  EXPECT_EQ(o.redis_group, "g");
  EXPECT_EQ(o.redis_consumer, "c");
  EXPECT_EQ(o.redis_field, "line");
  EXPECT_EQ(o.redis_claim_idle_ms, 500u);
  EXPECT_EQ(o.redis_password_file, "/p");
  Options bad;
  EXPECT_EQ(Parse({"--input.redis.url", "redis://u:pw@h", "--input.redis.list", "l",
                   "--input.redis.password-file", "/p"},
                  &bad),
            2);
  EXPECT_EQ(Parse({"--input.redis.list", "l"}, &bad), 2);
}

}  // namespace
}  // namespace lle
