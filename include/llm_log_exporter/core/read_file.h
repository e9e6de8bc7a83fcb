#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

namespace lle {

/// Caps on the files the daemon reads whole: a config (--config.file,
/// --web.config.file) and a secret or certificate (a token file, TLS files).
inline constexpr std::size_t kMaxConfigFileBytes = std::size_t{16} << 20;
inline constexpr std::size_t kMaxSecretFileBytes = std::size_t{1} << 20;

/// Reads the whole of `path` into `*text` if it is a regular file (after
/// symlinks) of at most `max_bytes`; false with `*error` = one line why not:
/// strerror, "not a regular file" or "larger than N bytes". Never blocks on a
/// FIFO, never reads a device. For config and secret files, not for logs.
inline bool ReadWholeFile(const std::string& path, std::size_t max_bytes, std::string* text,
                          std::string* error) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *error = std::strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  if (!ok) {
    *error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    ok = false;
    *error = "not a regular file";
  }
  std::string out;
  // st_size is a hint (it may grow while read, /proc says 0): read at most one byte more.
  if (ok && static_cast<std::size_t>(st.st_size) <= max_bytes) {
    out.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t size = 0;
    for (;;) {
      if (size == out.size()) {
        if (size > max_bytes) break;
        out.resize(std::min(max_bytes + 1, out.size() * 2 + 4096));
      }
      const ssize_t n = read(fd, out.data() + size, out.size() - size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ok = false;
        *error = std::strerror(errno);
      }
      if (n <= 0) break;
      size += static_cast<std::size_t>(n);
    }
    out.resize(size);
  }
  close(fd);
  if (ok && (static_cast<std::size_t>(st.st_size) > max_bytes || out.size() > max_bytes)) {
    ok = false;
    *error = "larger than " + std::to_string(max_bytes) + " bytes";
  }
  if (ok) *text = std::move(out);
  return ok;
}

/// The first line of the secret file `path` (a token, a password), trimmed;
/// false with `*error` if unreadable or empty. Never quotes the secret.
inline bool ReadSecretLine(const std::string& path, std::string* secret, std::string* error) {
  std::string text;
  if (!ReadWholeFile(path, kMaxSecretFileBytes, &text, error)) return false;
  *secret = text.substr(0, text.find('\n'));
  while (!secret->empty() && std::isspace(static_cast<unsigned char>(secret->back()))) {
    secret->pop_back();
  }
  if (secret->empty()) {
    *error = "the file is empty";
    return false;
  }
  return true;
}

}  // namespace lle
