#include "llm_log_exporter/framing/content_coding.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <vector>

#include "llm_log_exporter/core/ascii.h"

namespace lle {
namespace {

constexpr std::size_t kStepBytes = 64 * 1024;
// Largest zstd window a frame may ask for (2^23 = 8 MiB); the decoder's
// default (128 MiB) is not charged to the ingest memory budget.
constexpr int kZstdWindowLogMax = 23;

// Appends `n` decoded bytes of `step` to `out`, within `limit` and `room`.
Decoded Append(const char* step, std::size_t n, std::size_t limit, std::string& out,
               const DecodeRoom& room) {
  if (out.size() + n > limit) return Decoded::kTooLarge;
  if (!room(out.size() + n)) return Decoded::kNoRoom;
  out.append(step, n);
  return Decoded::kOk;
}

Decoded Gunzip(std::string_view in, std::size_t limit, std::string& out, const DecodeRoom& room) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Decoded::kCorrupt;  // gzip or zlib header
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::vector<char> buf(kStepBytes);  // on the heap: HTTP worker threads have small stacks
  int rc = Z_OK;
  Decoded result = Decoded::kOk;
  for (;;) {
    if (rc == Z_STREAM_END) {
      // gzip allows several members one after another (RFC 1952): read them all.
      if (zs.avail_in == 0) break;
      inflateReset(&zs);
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      result = Decoded::kCorrupt;
      break;
    }
    const std::size_t n = buf.size() - zs.avail_out;
    result = Append(buf.data(), n, limit, out, room);
    if (result != Decoded::kOk) break;
    if (rc == Z_OK && zs.avail_in == 0 && n == 0) {
      result = Decoded::kCorrupt;  // truncated stream
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

Decoded Unzstd(std::string_view in, std::size_t limit, std::string& out, const DecodeRoom& room) {
  const std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(),
                                                                  &ZSTD_freeDCtx);
  if (dctx == nullptr ||
      ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kZstdWindowLogMax))) {
    return Decoded::kCorrupt;
  }
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::vector<char> buf(kStepBytes);
  std::size_t rc = 0;
  for (;;) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(rc)) return Decoded::kCorrupt;
    const Decoded appended = Append(buf.data(), output.pos, limit, out, room);
    if (appended != Decoded::kOk) return appended;
    // All input read and nothing more held back (the output had room left).
    if (input.pos == input.size && output.pos < output.size) break;
  }
  // Not 0: the last frame is not complete (also an empty body).
  return rc == 0 ? Decoded::kOk : Decoded::kCorrupt;
}

Decoded Unsnappy(std::string_view in, std::size_t limit, std::string& out, const DecodeRoom& room) {
  std::size_t size = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &size)) return Decoded::kCorrupt;
  const std::size_t start = out.size();
  if (start + size > limit) return Decoded::kTooLarge;
  if (!room(start + size)) return Decoded::kNoRoom;
  out.resize(start + size);
  if (!snappy::RawUncompress(in.data(), in.size(), out.data() + start)) {
    out.resize(start);
    return Decoded::kCorrupt;
  }
  return Decoded::kOk;
}

}  // namespace

bool CodingForContentEncoding(std::string_view value, ContentCoding* coding) {
  if (value.empty() || EqualsIgnoreCase(value, "identity")) {
    *coding = ContentCoding::kIdentity;
  } else if (EqualsIgnoreCase(value, "gzip") || EqualsIgnoreCase(value, "x-gzip")) {
    *coding = ContentCoding::kGzip;
  } else if (EqualsIgnoreCase(value, "zstd")) {
    *coding = ContentCoding::kZstd;
  } else if (EqualsIgnoreCase(value, "snappy")) {
    *coding = ContentCoding::kSnappy;
  } else {
    return false;
  }
  return true;
}

Decoded DecodeBody(ContentCoding coding, std::string_view in, std::size_t limit, std::string& out,
                   const DecodeRoom& room) {
  switch (coding) {
    case ContentCoding::kGzip:
      return Gunzip(in, limit, out, room);
    case ContentCoding::kZstd:
      return Unzstd(in, limit, out, room);
    case ContentCoding::kSnappy:
      return Unsnappy(in, limit, out, room);
    case ContentCoding::kIdentity:
      break;
  }
  return Append(in.data(), in.size(), limit, out, room);
}

}  // namespace lle
