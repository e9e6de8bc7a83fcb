#include "llm_log_exporter/framing/body_framer.h"

#include <gtest/gtest.h>

#include <string>

namespace lle {
namespace {

std::string Frame(BodyFormat format, const std::string& body) {
  std::string out, error;
  BodyError reason = BodyError::kNumErrors;
  EXPECT_EQ(FrameBody(format, body, out, {}, &reason, &error), Framed::kOk) << error;
  return out;
}

TEST(BodyFramerTest, ContentTypes) {
  struct Case {
    std::string content_type;
    bool known;
    BodyFormat format;
  };
  const Case cases[] = {
      {"application/json", true, BodyFormat::kRecords},
      {"Application/JSON; charset=utf-8", true, BodyFormat::kRecords},
      {"application/x-ndjson", true, BodyFormat::kLines},
      {"text/plain", true, BodyFormat::kLines},
      {"", true, BodyFormat::kLines},
      {"application/msgpack", true, BodyFormat::kMsgpack},
      {"application/vnd.msgpack", false, BodyFormat::kLines},
      {"application/x-www-form-urlencoded", false, BodyFormat::kLines},
  };
  for (const Case& c : cases) {
    BodyFormat f = BodyFormat::kLines;
    EXPECT_EQ(FormatForContentType(c.content_type, &f), c.known) << c.content_type;
    if (c.known) {
      EXPECT_EQ(f, c.format) << c.content_type;
    }
  }
}

TEST(BodyFramerTest, FluentBitJsonArrayWithLogStrings) {
  // format json, container stdout tailed without a parser: the log line is a
  // JSON string in "log", with its newline.
  const std::string body =
      R"([{"date":1700000000.123456,"log":"{\"status\":\"success\",\"total_time_ms\":12}\n","stream":"stdout"},)"
      R"({"date":1700000000.2,"log":"INFO 04-05 10:23:45 engine.py:12] ready\r\n","stream":"stderr"}])";
  EXPECT_EQ(Frame(BodyFormat::kRecords, body),
            "{\"status\":\"success\",\"total_time_ms\":12}\n"
            "INFO 04-05 10:23:45 engine.py:12] ready\n");
}

TEST(BodyFramerTest, RecordsWithFieldsAtTopLevelStayRecords) {
  // A parser upstream put the fields at the top level next to "date".
  const std::string body =
      "[\n  {\"date\": 1.5, \"status\": \"error\", \"total_time_ms\": 300},\n"
      "  {\"date\": 1.6, \"message\": \"x, y\", \"nested\": {\"a\": [1, 2]}}\n]";
  EXPECT_EQ(Frame(BodyFormat::kRecords, body),
            "{\"date\": 1.5, \"status\": \"error\", \"total_time_ms\": 300}\n"
            "{\"date\": 1.6, \"message\": \"x, y\", \"nested\": {\"a\": [1, 2]}}\n");
}

TEST(BodyFramerTest, ConcatenatedRecords) {
  // json_stream (no separator) and json_lines sent as application/json.
  const std::string want = "{\"a\":\"}{\"}\n{\"b\":2}\n";
  EXPECT_EQ(Frame(BodyFormat::kRecords, R"({"a":"}{"}{"b":2})"), want);
  EXPECT_EQ(Frame(BodyFormat::kRecords, "{\"a\":\"}{\"}\n{\"b\":2}\n"), want);
  // A string with escaped quotes and braces does not end a record.
  EXPECT_EQ(Frame(BodyFormat::kRecords, R"({"m":"say \"}\" ok"}{"c":3})"),
            "{\"m\":\"say \\\"}\\\" ok\"}\n{\"c\":3}\n");
}

TEST(BodyFramerTest, ArrayElementsThatAreNotObjectsBecomeLines) {
  EXPECT_EQ(Frame(BodyFormat::kRecords, R"([{"a":1}, "text", 3, [1,2]])"),
            "{\"a\":1}\n\"text\"\n3\n[1,2]\n");
}

TEST(BodyFramerTest, NdjsonLinesAndTheirLogFields) {
  const std::string body =
      "{\"status\":\"success\",\"total_time_ms\":5}\r\n"
      "{\"date\":1,\"log\":\"line one\\nline two\\n\"}\n"
      "plain text\n"
      "{\"log\": 42}\n"  // not a string: kept as the record itself
      "last";
  EXPECT_EQ(Frame(BodyFormat::kLines, body),
            "{\"status\":\"success\",\"total_time_ms\":5}\n"
            "line one\nline two\n"
            "plain text\n"
            "{\"log\": 42}\n"
            "last\n");
}

TEST(BodyFramerTest, EmptyBodiesAreFine) {
  EXPECT_EQ(Frame(BodyFormat::kRecords, ""), "");
  EXPECT_EQ(Frame(BodyFormat::kRecords, "[]"), "");
  EXPECT_EQ(Frame(BodyFormat::kLines, ""), "");
}

TEST(BodyFramerTest, JsonBodiesThatCanNeverParseAreRefused) {
  for (const std::string body : {"hello", "42", "\"str\"", "null"}) {
    std::string out, error;
    BodyError reason = BodyError::kNumErrors;
    EXPECT_EQ(FrameBody(BodyFormat::kRecords, body, out, {}, &reason, &error), Framed::kUnreadable)
        << body;
    EXPECT_EQ(reason, BodyError::kJson);
    EXPECT_FALSE(error.empty());
  }
}

TEST(BodyFramerTest, TruncatedArrayKeepsWhatIsWhole) {
  EXPECT_EQ(Frame(BodyFormat::kRecords, R"([{"a":1},{"b":)"), "{\"a\":1}\n{\"b\":\n");
}

// One Fluent Bit record ([[EventTime, {}], map]) with `map`, msgpack bytes.
std::string MsgpackRecord(const std::string& map) {
  return std::string("\x92\x92\xd7\x00\x65\x53\xf1\x00\x00\x00\x00\x00\x80", 13) + map;
}

TEST(BodyFramerTest, MsgpackRecordsWithALogStringAreItsLines) {
  // {"log": "a\r\nb\n", "stream": "stdout"}, then {"log": ""}.
  const std::string body = MsgpackRecord(
                               "\x82\xa3log\xa5"
                               "a\r\nb\n\xa6stream\xa6stdout") +
                           MsgpackRecord(std::string("\x81\xa3log\xa0", 6));
  EXPECT_EQ(Frame(BodyFormat::kMsgpack, body), "a\nb\n\n");
}

TEST(BodyFramerTest, MsgpackRecordsWithoutALogStringAreTheirJson) {
  // {"n": -3, "f": 0.5, "t": true, 7: nil, "s": "q\"\\\x01", "a": [{}, []], "log": 1}
  const std::string map = std::string(
                              "\x87\xa1n\xfd\xa1"
                              "f\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00",
                              15) +
                          "\xa1t\xc3\x07\xc0\xa1s\xa4q\"\\\x01\xa1"
                          "a\x92\x80\x90\xa3log\x01";
  EXPECT_EQ(Frame(BodyFormat::kMsgpack, MsgpackRecord(map)),
            "{\"n\":-3,\"f\":0.5,\"t\":true,\"7\":null,\"s\":\"q\\\"\\\\\\u0001\",\"a\":[{},[]],"
            "\"log\":1}\n");
}

TEST(BodyFramerTest, UnreadableMsgpackSaysWhy) {
  const struct {
    std::string body;
    BodyError reason;
  } cases[] = {
      {MsgpackRecord("\x81\xa3log"), BodyError::kMsgpackTruncated},
      {std::string("\xc1", 1), BodyError::kMsgpackInvalid},
      {"\x93\x01\x80\x80", BodyError::kMsgpackNotARecord},
      {MsgpackRecord("\x81\x91\x01\x01"), BodyError::kMsgpackNotARecord},  // an array key
  };
  for (const auto& c : cases) {
    std::string out, error;
    BodyError reason = BodyError::kNumErrors;
    EXPECT_EQ(FrameBody(BodyFormat::kMsgpack, c.body, out, {}, &reason, &error),
              Framed::kUnreadable);
    EXPECT_EQ(reason, c.reason) << error;
    EXPECT_NE(error.find("msgpack body"), std::string::npos) << error;
  }
}

TEST(BodyFramerTest, MsgpackAsksRoomBeforeEachRecord) {
  const std::string body = MsgpackRecord("\x81\xa1k\xc2") + MsgpackRecord("\x81\xa1k\xc3");
  std::string out, error;
  BodyError reason = BodyError::kNumErrors;
  int asked = 0;
  const FrameRoom one_record = [&](std::size_t) { return ++asked == 1; };
  EXPECT_EQ(FrameBody(BodyFormat::kMsgpack, body, out, one_record, &reason, &error),
            Framed::kNoRoom);
  EXPECT_EQ(out, "{\"k\":false}\n");
  EXPECT_EQ(asked, 2);
}

// GELF (Fluent Bit's `format gelf`): the line is short_message; a record
// without {"version":"1.1" first is no GELF record, and one whose
// short_message is not a string is its JSON text.
TEST(BodyFramerTest, GelfRecordsAreTheirShortMessage) {
  EXPECT_EQ(Frame(BodyFormat::kRecords,
                  "{\"version\":\"1.1\", \"short_message\":\"a\\nb\", \"full_message\":\"c\"}\n"
                  "{\"version\":\"1.1\", \"short_message\":5}\n"
                  "{\"short_message\":\"d\"}\n"),
            "a\nb\n{\"version\":\"1.1\", \"short_message\":5}\n{\"short_message\":\"d\"}\n");
}

}  // namespace
}  // namespace lle
