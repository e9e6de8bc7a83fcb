#include "llm_log_exporter/framing/line_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llm_log_exporter/core/line.h"

namespace lle {
namespace {

// Records lines; "<too long>" marks a dropped line so order is checked too, and
// "<cr>" after a line that the sink was told ended in "\r\n".
struct Collect : LineSink {
  std::vector<std::string> lines;
  void OnLine(std::string_view line, bool cr) override {
    lines.emplace_back(line);
    if (cr) lines.back() += "<cr>";
  }
  void OnTooLong() override { lines.emplace_back("<too long>"); }
};

// Feeds `data` cut at the given offsets, each piece in its own padded buffer
// as a source would hand it over.
std::vector<std::string> Frame(const std::string& data, std::vector<std::size_t> cuts,
                               std::size_t max = 1 << 20) {
  LineFramer framer(max);
  Collect sink;
  cuts.push_back(data.size());
  std::size_t begin = 0;
  for (std::size_t cut : cuts) {
    std::string piece = data.substr(begin, cut - begin);
    piece.append(kLinePadding, 'X');  // padding content must not leak into lines
    framer.Feed(std::string_view(piece.data(), cut - begin), sink);
    begin = cut;
  }
  framer.Finish(sink);
  return sink.lines;
}

TEST(LineFramerTest, SplitsAtEveryByteLikeInOnePiece) {
  const std::string data = "first line\r\n{\"status\":\"success\"}\n\nlast without newline";
  const std::vector<std::string> want = {"first line<cr>", "{\"status\":\"success\"}", "",
                                         "last without newline"};
  EXPECT_EQ(Frame(data, {}), want);
  for (std::size_t i = 0; i <= data.size(); ++i) {
    EXPECT_EQ(Frame(data, {i}), want) << "cut at " << i;
    for (std::size_t j = i; j <= data.size(); ++j) {
      EXPECT_EQ(Frame(data, {i, j}), want) << "cuts at " << i << "," << j;
    }
  }
}

TEST(LineFramerTest, LineEndings) {
  struct Case {
    std::string data;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"", {}},
      {"\n", {""}},
      {"a\nb\n", {"a", "b"}},
      {"a\r\nb\r\n", {"a<cr>", "b<cr>"}},
      {"a\r\r\n", {"a\r<cr>"}},  // only the '\r' of "\r\n" is stripped
      {"a\rb\n", {"a\rb"}},       // a lone '\r' is not a line end
      {"a\r\nb\n", {"a<cr>", "b"}},  // vLLM's record: CR on all lines but the last
      {"no newline", {"no newline"}},
      {"crlf at eof\r", {"crlf at eof<cr>"}},
  };
  for (const Case& c : cases) EXPECT_EQ(Frame(c.data, {}), c.want) << c.data;
}

TEST(LineFramerTest, OverLongLinesAreDroppedAndCountedOnce) {
  const std::string big(50, 'x');
  const std::string data = "short\n" + big + "\nok\n" + big + "\r\n" + big;
  const std::vector<std::string> want = {"short", "<too long>", "ok", "<too long>", "<too long>"};
  for (std::size_t i = 0; i <= data.size(); ++i) {
    EXPECT_EQ(Frame(data, {i}, 10), want) << "cut at " << i;
  }
}

TEST(LineFramerTest, LimitIsInclusiveAndExcludesLineEnd) {
  EXPECT_EQ(Frame("12345\r\n123456\n", {3}, 5),
            (std::vector<std::string>{"12345<cr>", "<too long>"}));
  EXPECT_EQ(Frame("12345\r\n", {6}, 5), (std::vector<std::string>{"12345<cr>"}));
}

TEST(LineFramerTest, CarriedLineKeepsPaddingReadable) {
  // A line assembled from pieces is handed over from the framer's own buffer,
  // which must keep kLinePadding bytes allocated after it (ASan checks reads).
  struct ReadPadding : LineSink {
    int lines = 0;
    void OnLine(std::string_view line, bool /*cr*/) override {
      volatile char sum = 0;
      for (std::size_t i = 0; i < kLinePadding; ++i) sum = sum + line.data()[line.size() + i];
      ++lines;
    }
    void OnTooLong() override {}
  } sink;
  LineFramer framer(1 << 20);
  std::string a = "part one ";
  std::string b = "part two\n";
  a.append(kLinePadding, '\0');
  b.append(kLinePadding, '\0');
  framer.Feed(std::string_view(a.data(), 9), sink);
  framer.Feed(std::string_view(b.data(), 9), sink);
  EXPECT_EQ(sink.lines, 1);
}

TEST(LineFramerTest, BytesAreNotInterpreted) {
  // Invalid UTF-8 and NUL bytes are framed as they are; the parser judges them.
  const std::string data = std::string("a\xff\xfe\n\0b\n", 7);
  EXPECT_EQ(Frame(data, {2}), (std::vector<std::string>{"a\xff\xfe", std::string("\0b", 2)}));
}

}  // namespace
}  // namespace lle
