#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

/// Keeps a TLS server's certificate, key and client CA in step with their
/// files (certificate rotation, e.g. by cert-manager), as the Prometheus
/// exporter-toolkit does by reading its files at each handshake: at each new
/// connection the files are stat()ed, and when one changed, a new SSL_CTX is
/// built from them; new connections are served with it (SSL_set_SSL_CTX), those
/// already open keep theirs. If the new files do not load (unreadable, key not
/// matching the certificate, half written), the previous context stays in use,
/// one error line is logged and the failure counted; it is tried again only
/// when the files change again.
///
/// Owns the contexts it built (each also referenced by the connections that
/// use it). Thread-safe: Current() is called by concurrent handshakes; one
/// mutex guards the identities, the current context and the counts (a reload,
/// a few milliseconds, happens under it, so handshakes wait for it rather
/// than each build their own).
class TlsReloader {
 public:
  /// Configures a new, empty context from the files (as the serving context
  /// was); false with `*error` one line. Called under the mutex.
  using Build = std::function<bool(SSL_CTX* ctx, std::string* error)>;

  /// `ssl` must outlive this (LoadOpenSslApi's lives for the process).
  /// `files`: the files the contexts are built from.
  TlsReloader(const OpenSslApi& ssl, std::vector<std::string> files, Build build);
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  /// Remembers the files as they are now: call just before the serving
  /// context is built from them (a change made in between is then seen as a
  /// change, and loaded again: harmless).
  void Snapshot();

  /// The context a new handshake should use: null while the serving context
  /// is current (no change loaded since Snapshot), else the context built at
  /// the last successful reload. Checks the files first.
  std::shared_ptr<SSL_CTX> Current();

  struct Counts {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    bool last_successful = true;
  };
  Counts counts() const;

 private:
  std::vector<FileIdentity> Identify() const;

  const OpenSslApi& ssl_;
  const std::vector<std::string> files_;
  const Build build_;
  mutable std::mutex mutex_;
  std::vector<FileIdentity> seen_;   // identities last loaded or tried (guarded)
  std::shared_ptr<SSL_CTX> current_;  // guarded; null: the serving context
  Counts counts_;                     // guarded
};

}  // namespace lle
