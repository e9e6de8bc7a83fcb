#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llm_log_exporter/exposition/web_config.h"
#include "openssl_api.h"

namespace lle {

/// What a file is now, as stat() sees it through symlinks: a file rewritten in
/// place changes its mtime, ctime or size; one swapped in by a rename or a
/// symlink swap (Kubernetes' `..data`) changes its device or inode.
struct FileIdentity {
  int error = 0;  // errno of a failed stat(); then the rest is zero
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};

  bool operator==(const FileIdentity& other) const;
  bool operator!=(const FileIdentity& other) const { return !(*this == other); }
};

FileIdentity IdentifyFile(const std::string& path);

/// Outcomes of the reloads of --web.config.file and of the TLS files it names,
/// for llm_log_exporter_web_config_reloads_total{outcome} and
/// _last_reload_successful. Thread-safe (a mutex).
class ReloadCounts {
 public:
  struct Snapshot {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    bool last_successful = true;
  };
  void Add(bool success);
  Snapshot Get() const;

 private:
  mutable std::mutex mutex_;
  Snapshot counts_;  // guarded
};

/// Keeps a TLS server's certificate, key and client CA in step with their
/// files (certificate rotation, e.g. by cert-manager), as the Prometheus
/// exporter-toolkit does by reading its files at each handshake: at each new
/// connection the files are stat()ed, and when one changed, a new SSL_CTX is
/// built from them; new connections are served with it (SSL_set_SSL_CTX), those
/// already open keep theirs. If the new files do not load (unreadable, key not
/// matching the certificate, half written), the previous context stays in use,
/// one error line is logged and the failure counted; it is tried again only
/// when the files change again. Follow() moves it to other files (the web
/// config file named new paths).
///
/// Owns the contexts it built (each also referenced by the connections that
/// use it). Thread-safe: Current() is called by concurrent handshakes, Follow()
/// by whichever worker noticed the web config change; one mutex guards the
/// config, the identities and the current context (a reload, a few
/// milliseconds, happens under it, so handshakes wait for it rather than each
/// build their own). The stat() calls of Current() are made outside it.
class TlsReloader {
 public:
  /// Configures a new, empty context from the files of `tls` (as the serving
  /// context was); false with `*error` one line. Called under the mutex.
  using Build = std::function<bool(const TlsServerConfig& tls, SSL_CTX* ctx, std::string* error)>;

  /// `ssl` and `counts` must outlive this (LoadOpenSslApi's lives for the
  /// process). `tls`: what the serving context is built from.
  TlsReloader(const OpenSslApi& ssl, TlsServerConfig tls, Build build, ReloadCounts* counts);
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  /// Remembers the files as they are now: call just before the serving
  /// context is built from them (a change made in between is then seen as a
  /// change, and loaded again: harmless).
  void Snapshot();

  /// The context a new handshake should use: null while the serving context
  /// is current (no change loaded since Snapshot), else the context built at
  /// the last successful reload. Checks the files first; counts a reload.
  std::shared_ptr<SSL_CTX> Current();

  /// From now on builds from `tls` (other cert_file, key_file or
  /// client_ca_file paths; client_auth_type and min_version must be those of
  /// the serving context, see HttpServer). Builds a context from them now:
  /// true if new connections get it; false with `*error` one line if the files
  /// do not load, then new connections keep the previous context until the new
  /// files change. Neither logs nor counts: the caller does, as one reload of
  /// the web config file.
  bool Follow(const TlsServerConfig& tls, std::string* error);

 private:
  static std::vector<std::string> Files(const TlsServerConfig& tls);
  static std::vector<FileIdentity> Identify(const std::vector<std::string>& files);
  /// A context built from tls_ (null with `*error` if it does not load). Under the mutex.
  std::shared_ptr<SSL_CTX> BuildLocked(std::string* error);

  const OpenSslApi& ssl_;
  const Build build_;
  ReloadCounts* const counts_;
  mutable std::mutex mutex_;
  TlsServerConfig tls_;               // guarded: the files followed
  std::uint64_t generation_ = 0;      // guarded: bumped by Follow
  std::vector<FileIdentity> seen_;    // identities last loaded or tried (guarded)
  std::shared_ptr<SSL_CTX> current_;  // guarded; null: the serving context
};

}  // namespace lle
