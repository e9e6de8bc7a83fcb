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

void ReloadCounts::Add(bool success) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(success ? counts_.successes : counts_.failures);
  counts_.last_successful = success;
}

ReloadCounts::Snapshot ReloadCounts::Get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

TlsReloader::TlsReloader(const OpenSslApi& ssl, TlsServerConfig tls, Build build,
                         ReloadCounts* counts)
    : ssl_(ssl), build_(std::move(build)), counts_(counts), tls_(std::move(tls)) {}

std::vector<std::string> TlsReloader::Files(const TlsServerConfig& tls) {
  std::vector<std::string> files = {tls.cert_file, tls.key_file};
  if (!tls.client_ca_file.empty()) files.push_back(tls.client_ca_file);
  return files;
}

std::vector<FileIdentity> TlsReloader::Identify(const std::vector<std::string>& files) {
  std::vector<FileIdentity> ids;
  ids.reserve(files.size());
  for (const std::string& file : files) ids.push_back(IdentifyFile(file));
  return ids;
}

void TlsReloader::Snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  seen_ = Identify(Files(tls_));
}

std::shared_ptr<SSL_CTX> TlsReloader::BuildLocked(std::string* error) {
  const OpenSslApi& ssl = ssl_;
  const OpenSslApi* api = &ssl_;
  std::shared_ptr<SSL_CTX> built(ssl.SSL_CTX_new(ssl.TLS_server_method()), [api](SSL_CTX* ctx) {
    if (ctx != nullptr) api->SSL_CTX_free(ctx);
  });
  if (built == nullptr) {
    *error = "cannot create a TLS context";
  } else if (!build_(tls_, built.get(), error)) {
    built.reset();
  }
  return built;
}

std::shared_ptr<SSL_CTX> TlsReloader::Current() {
  std::vector<std::string> files;
  std::uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files = Files(tls_);
    generation = generation_;
  }
  std::vector<FileIdentity> ids = Identify(files);
  std::lock_guard<std::mutex> lock(mutex_);
  // Follow() moved to other files meanwhile, and loaded them: nothing to compare.
  if (generation != generation_ || ids == seen_) return current_;
  // Another handshake may have loaded this very change while we waited: then
  // seen_ equals ids above. Otherwise load it (once: seen_ records it even if
  // it fails, so a bad file costs one try and one log line per change).
  seen_ = std::move(ids);
  std::string error;
  std::shared_ptr<SSL_CTX> built = BuildLocked(&error);
  if (built == nullptr) {
    counts_->Add(false);
    spdlog::error(
        "web config: TLS files changed but do not load, new connections keep the "
        "previous certificate: {}",
        error);
    return current_;
  }
  counts_->Add(true);
  current_ = std::move(built);
  spdlog::info("web config: TLS files changed; new connections use them ({})", files.front());
  return current_;
}

bool TlsReloader::Follow(const TlsServerConfig& tls, std::string* error) {
  const std::vector<std::string> files = Files(tls);
  std::vector<FileIdentity> ids = Identify(files);
  std::lock_guard<std::mutex> lock(mutex_);
  tls_ = tls;
  ++generation_;
  // The identities before the build: a file changed during it is loaded again.
  seen_ = std::move(ids);
  std::shared_ptr<SSL_CTX> built = BuildLocked(error);
  if (built == nullptr) return false;
  current_ = std::move(built);
  return true;
}

}  // namespace lle
