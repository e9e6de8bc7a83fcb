#include "tls_reloader.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

namespace lle {

bool FileIdentity::operator==(const FileIdentity& other) const {
  return error == other.error && device == other.device && inode == other.inode &&
         size == other.size && mtime.tv_sec == other.mtime.tv_sec &&
         mtime.tv_nsec == other.mtime.tv_nsec && ctime.tv_sec == other.ctime.tv_sec &&
         ctime.tv_nsec == other.ctime.tv_nsec;
}

FileIdentity IdentifyFile(const std::string& path) {
  FileIdentity id;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    id.error = errno;
    return id;
  }
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime = st.st_mtim;
  id.ctime = st.st_ctim;
  return id;
}

TlsReloader::TlsReloader(const OpenSslApi& ssl, std::vector<std::string> files, Build build)
    : ssl_(ssl), files_(std::move(files)), build_(std::move(build)) {}

std::vector<FileIdentity> TlsReloader::Identify() const {
  std::vector<FileIdentity> ids;
  ids.reserve(files_.size());
  for (const std::string& file : files_) ids.push_back(IdentifyFile(file));
  return ids;
}

void TlsReloader::Snapshot() {
  std::vector<FileIdentity> ids = Identify();
  std::lock_guard<std::mutex> lock(mutex_);
  seen_ = std::move(ids);
}

std::shared_ptr<SSL_CTX> TlsReloader::Current() {
  std::vector<FileIdentity> ids = Identify();
  std::lock_guard<std::mutex> lock(mutex_);
  if (ids == seen_) return current_;
  // Another handshake may have loaded this very change while we waited: then
  // seen_ equals ids above. Otherwise load it (once: seen_ records it even if
  // it fails, so a bad file costs one try and one log line per change).
  seen_ = std::move(ids);
  const OpenSslApi& ssl = ssl_;
  const OpenSslApi* api = &ssl_;
  std::shared_ptr<SSL_CTX> built(ssl.SSL_CTX_new(ssl.TLS_server_method()),
                                 [api](SSL_CTX* ctx) {
                                   if (ctx != nullptr) api->SSL_CTX_free(ctx);
                                 });
  std::string error;
  if (built == nullptr) {
    error = "cannot create a TLS context";
  } else if (!build_(built.get(), &error)) {
    built.reset();
  }
  if (built == nullptr) {
    ++counts_.failures;
    counts_.last_successful = false;
    spdlog::error("web config: TLS files changed but do not load, new connections keep the "
                  "previous certificate: {}",
                  error);
    return current_;
  }
  ++counts_.successes;
  counts_.last_successful = true;
  current_ = std::move(built);
  spdlog::info("web config: TLS files changed; new connections use them ({})", files_.front());
  return current_;
}

TlsReloader::Counts TlsReloader::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

}  // namespace lle
