#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace lle {

/// The Content-Encoding of an ingest body: what Fluent Bit's `http` output
/// sends with `compress gzip`, `zstd` or `snappy`, or without `compress`.
enum class ContentCoding { kIdentity, kGzip, kZstd, kSnappy };

/// The coding for a Content-Encoding value (any case; none or `identity`:
/// kIdentity, `x-gzip`: gzip), or false if it is not one we decode (→ 415).
bool CodingForContentEncoding(std::string_view value, ContentCoding* coding);

/// How DecodeBody ended.
enum class Decoded { kOk, kTooLarge, kNoRoom, kCorrupt };

/// Makes room for `size` bytes in the output before it grows (false: there is
/// none, and decoding stops with kNoRoom).
using DecodeRoom = std::function<bool(std::size_t size)>;

/// Decodes `in`, in `coding` (not kIdentity), appending to `out`. `out` only
/// grows by what `room` allowed first, and never past `limit` bytes: kTooLarge
/// as soon as it would, so a small "bomb" never expands in memory.
/// - gzip: made in steps of 64 KiB; several members one after another are all
///   read (RFC 1952);
/// - zstd: made in steps of 64 KiB; frames one after another, each with a
///   window of at most 8 MiB (a larger one is refused as corrupt);
/// - snappy: one raw block (the format Fluent Bit sends, not the framed
///   stream), made in one step of its declared length, checked first.
/// Truncated or corrupt input: kCorrupt. Stateless and thread-safe.
Decoded DecodeBody(ContentCoding coding, std::string_view in, std::size_t limit, std::string& out,
                   const DecodeRoom& room);

}  // namespace lle
