#include "llm_log_exporter/app/http_ingest.h"

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/framing/body_framer.h"
#include "llm_log_exporter/framing/content_coding.h"

namespace lle {
namespace {

// Concurrent ingest requests (HttpIngest::kPipelines); more wait up to
// kSlotWait, then get 429.
constexpr std::chrono::milliseconds kSlotWait(250);
// Largest buffer a slot keeps between requests (a fresh one costs a page
// fault per 4 KiB, more than parsing it); larger ones are freed.
constexpr std::size_t kKeptBufferBytes = 4 * 1024 * 1024;
constexpr std::size_t kReadBytes = 64 * 1024;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// "Bearer TOKEN", the scheme in any case (RFC 9110 §11.1).
bool BearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() ||
      !EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  return ConstantTimeEquals(header.substr(kScheme.size()), token);
}

}  // namespace

struct HttpIngest::Slot {
  std::unique_ptr<Pipeline> pipeline;
  std::string body;         // as received
  std::string decoded;      // decompressed
  std::string lines;        // framed, for the pipeline
  std::size_t charged = 0;  // bytes of the budget these buffers hold
};

HttpIngest::HttpIngest(Exporter& exporter, const Options& options, std::string bearer_token)
    : exporter_(exporter),
      bearer_token_(std::move(bearer_token)),
      max_body_bytes_(options.ingest_max_body_bytes),
      budget_bytes_(options.ingest_memory_budget_bytes),
      control_(exporter.self_store().AddShard()) {
  for (std::size_t i = 0; i < kPipelines; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->pipeline = std::make_unique<Pipeline>(exporter, exporter.http_source(), options.max_line_bytes);
    idle_.push_back(std::move(slot));
  }
}

HttpIngest::~HttpIngest() = default;

HttpReply HttpIngest::Reply(int status, std::string body, std::string extra_headers) {
  CountRefused(status);
  if (!body.empty()) body += "\n";
  return {status, std::move(body), std::move(extra_headers)};
}

HttpReply HttpIngest::Unreadable(BodyError reason, std::string why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    control_->Apply(exporter_.self().IngestUnreadable(reason));
  }
  return Reply(400, std::move(why));
}

void HttpIngest::CountRefused(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  control_->Apply(exporter_.self().IngestRequest(status));
}

std::size_t HttpIngest::memory_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return charged_;
}

std::unique_ptr<HttpIngest::Slot> HttpIngest::TakeSlot() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!slot_freed_.wait_for(lock, kSlotWait, [this] { return !idle_.empty(); })) return nullptr;
  auto slot = std::move(idle_.back());
  idle_.pop_back();
  return slot;
}

void HttpIngest::ReturnSlot(std::unique_ptr<Slot> slot) {
  // Every path ends here: what a request grew past the kept size goes back.
  bool freed = false;
  for (std::string* buffer : {&slot->body, &slot->decoded, &slot->lines}) {
    buffer->clear();
    if (buffer->capacity() > kKeptBufferBytes) {
      std::string().swap(*buffer);
      freed = true;
    }
  }
  Recharge(*slot);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(slot));
  }
  slot_freed_.notify_one();
  // glibc keeps freed heap pages (and raises its mmap threshold after a large
  // free): hand them back, so RSS falls after a burst of large bodies.
  if (freed) malloc_trim(0);
}

void HttpIngest::Recharge(Slot& slot) {
  const std::size_t held = slot.body.capacity() + slot.decoded.capacity() + slot.lines.capacity();
  std::lock_guard<std::mutex> lock(mutex_);
  charged_ = charged_ - slot.charged + held;
  slot.charged = held;
}

HttpIngest::Grow HttpIngest::Reserve(Slot& slot, std::string& buffer, std::size_t size) {
  if (size <= buffer.capacity()) return Grow::kOk;
  // Geometric growth, as std::string would, but never past what may be needed.
  const std::size_t want =
      std::max(size, std::min(2 * buffer.capacity(), max_body_bytes_ + kReadBytes));
  // Until reserve() has copied it over, the old buffer is there too.
  const std::size_t more = want;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (slot.charged + more > budget_bytes_) return Grow::kTooLarge;
    if (charged_ + more > budget_bytes_) return Grow::kOverBudget;
    charged_ += more;
    slot.charged += more;
  }
  buffer.reserve(want);
  Recharge(slot);
  return Grow::kOk;
}

HttpReply HttpIngest::Handle(const IngestRequest& request, const BodyReader& read) {
  if (request.method != "POST" && request.method != "PUT") {
    return Reply(405, "use POST or PUT", "Allow: POST, PUT\r\n");
  }
  if (!bearer_token_.empty() && !BearerMatches(request.authorization, bearer_token_)) {
    HttpReply reply = Reply(401, "missing or wrong bearer token", "WWW-Authenticate: Bearer\r\n");
    reply.close = true;  // its body is not worth reading
    return reply;
  }
  BodyFormat format;
  if (!FormatForContentType(request.content_type, &format)) {
    return Reply(415,
                 "Content-Type must be application/json, application/x-ndjson, "
                 "application/msgpack or text/plain");
  }
  ContentCoding coding;
  if (!CodingForContentEncoding(request.content_encoding, &coding)) {
    return Reply(415, "Content-Encoding must be gzip, zstd, snappy or none");
  }
  if (request.content_length > 0 &&
      static_cast<std::size_t>(request.content_length) > max_body_bytes_) {
    return Reply(413, "body over --ingest.max-body-bytes");  // before reading a byte of it
  }
  std::unique_ptr<Slot> slot = TakeSlot();
  if (slot == nullptr) {
    // Busy: Fluent Bit retries a 429 later, so nothing is lost.
    return Reply(429, "ingest busy, retry", "Retry-After: 1\r\n");
  }
  HttpReply reply = Work(*slot, format, coding, request, read);
  ReturnSlot(std::move(slot));
  return reply;
}

HttpReply HttpIngest::Work(Slot& slot, BodyFormat format, ContentCoding coding,
                           const IngestRequest& request, const BodyReader& read) {
  auto refuse = [this](Grow why) {
    return why == Grow::kTooLarge
               ? Reply(413, "body needs more than --ingest.memory-budget-bytes")
               : Reply(503, "ingest memory budget in use, retry", "Retry-After: 1\r\n");
  };
  std::string& body = slot.body;
  if (request.content_length > 0) {
    const Grow room = Reserve(slot, body, static_cast<std::size_t>(request.content_length));
    if (room != Grow::kOk) return refuse(room);
  }
  for (;;) {
    const std::size_t size = body.size();
    const Grow room = Reserve(slot, body, size + kReadBytes);
    if (room != Grow::kOk) return refuse(room);
    body.resize(size + kReadBytes);
    const long n = read(body.data() + size, kReadBytes);
    body.resize(size + static_cast<std::size_t>(std::max(n, 0L)));
    if (n < 0) {
      // Not all of it came (in time): Fluent Bit retries a 408.
      return Reply(408,
                   "body not received whole, or too slowly (--web.body-timeout-ms, "
                   "--web.body-min-bytes-per-second); send it again");
    }
    if (n == 0) break;
    if (body.size() > max_body_bytes_) return Reply(413, "body over --ingest.max-body-bytes");
  }
  // Each buffer grows only as the budget allows: why it did not, for the answer.
  Grow refused = Grow::kOk;
  auto room_in = [this, &slot, &refused](std::string& buffer) {
    return [this, &slot, &refused, target = &buffer](std::size_t size) {
      refused = Reserve(slot, *target, size);
      return refused == Grow::kOk;
    };
  };
  std::string_view text = body;
  if (coding != ContentCoding::kIdentity) {
    switch (DecodeBody(coding, body, max_body_bytes_, slot.decoded, room_in(slot.decoded))) {
      case Decoded::kOk:
        text = slot.decoded;
        break;
      case Decoded::kTooLarge:
        return Reply(413, "decompressed body over --ingest.max-body-bytes");
      case Decoded::kNoRoom:
        return refuse(refused);
      case Decoded::kCorrupt:
        switch (coding) {
          case ContentCoding::kZstd:
            return Unreadable(BodyError::kZstd, "body is not valid zstd");
          case ContentCoding::kSnappy:
            return Unreadable(BodyError::kSnappy, "body is not a valid snappy block");
          default:
            return Unreadable(BodyError::kGzip, "body is not valid gzip");
        }
    }
  }
  // Framed text and JSON are about as long as the body (a newline per record
  // more); msgpack asks for room record by record.
  const Grow room = Reserve(slot, slot.lines, text.size() + text.size() / 32 + kLinePadding + 1);
  if (room != Grow::kOk) return refuse(room);
  BodyError reason = BodyError::kNumErrors;
  std::string error;
  switch (FrameBody(format, text, slot.lines, room_in(slot.lines), &reason, &error)) {
    case Framed::kOk:
      break;
    case Framed::kUnreadable:
      return Unreadable(reason, std::move(error));
    case Framed::kNoRoom:
      return refuse(refused);
  }
  // Room for the padding (msgpack asked room for its records only).
  if (slot.lines.size() + kLinePadding > slot.lines.capacity()) {
    const Grow padding = Reserve(slot, slot.lines, slot.lines.size() + kLinePadding);
    if (padding != Grow::kOk) return refuse(padding);
  }
  std::string& lines = slot.lines;
  const std::size_t size = lines.size();
  lines.append(kLinePadding, '\0');
  Recharge(slot);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    control_->Apply(exporter_.self().Bytes(exporter_.http_source(), body.size()));
  }
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  slot.pipeline->Feed(std::string_view(lines.data(), size), exporter_.sequence().fetch_add(1) + 1,
                      now);
  return Reply(204);
}

}  // namespace lle
