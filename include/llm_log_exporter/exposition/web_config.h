#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lle {

/// Who must present a client certificate, and whether it is checked against
/// client_ca_file (names as in the Prometheus exporter-toolkit / Go's tls).
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,           // asked for, not required, not verified
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // not required, verified when sent
  kRequireAndVerifyClientCert,  // required and verified
};

enum class TlsVersion { kTls12, kTls13 };

/// `tls_server_config`: file paths are absolute (resolved against the
/// directory of the web config file).
struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: none
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
};

/// The contents of --web.config.file (exporter-toolkit format); a plain value.
struct WebConfig {
  std::optional<TlsServerConfig> tls;                        // empty: plain HTTP
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // added to every answer
};

/// Parses the YAML text of a web config. `base_dir` resolves relative file
/// paths. On error returns false with `*error` one line naming the key, e.g.
/// "tls_server_config.min_version: 'TLS11' is not supported (TLS12 or TLS13)".
/// Checks that the files named are readable, not that they hold valid PEM
/// (the TLS set-up at server start does that).
bool ParseWebConfig(const std::string& text, const std::string& base_dir, WebConfig* out,
                    std::string* error);

/// Reads and parses the file at `path`; `*error` does not repeat the path.
bool LoadWebConfig(const std::string& path, WebConfig* out, std::string* error);

}  // namespace lle
