#include "llm_log_exporter/exposition/web_config.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>
#include <sstream>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/read_file.h"

namespace lle {
namespace {

// Thrown inside the parser only; ParseWebConfig turns it into `*error`.
struct ConfigError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& key, const std::string& reason) {
  throw ConfigError{key + ": " + reason};
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Calls `on_key` for each key of mapping `node`, refusing anything but a
// mapping with string keys, and keys outside `known`. A missing or null node
// is an empty mapping.
void ForEachKey(const YAML::Node& node, const std::string& where,
                const std::set<std::string>& known,
                const std::function<void(const std::string&, const YAML::Node&)>& on_key) {
  if (!node || node.IsNull()) return;
  if (!node.IsMap()) Fail(where.empty() ? "top level" : where, "must be a mapping");
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!item.first.IsScalar()) Fail(where.empty() ? "top level" : where, "keys must be strings");
    const std::string key = item.first.Scalar();
    if (!known.empty() && known.count(key) == 0) Fail(Join(where, key), "unknown key");
    if (!seen.insert(key).second) Fail(Join(where, key), "given twice");
    on_key(key, item.second);
  }
}

std::string Scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) Fail(key, "must be a string");
  return node.Scalar();
}

bool Bool(const YAML::Node& node, const std::string& key) {
  const std::string value = Scalar(node, key);
  if (value == "true") return true;
  if (value == "false") return false;
  Fail(key, "must be true or false");
}

// A readable file, absolute or relative to the config file's directory.
std::string ReadablePath(const YAML::Node& node, const std::string& key,
                         const std::string& base_dir) {
  std::string path = Scalar(node, key);
  if (path.empty()) Fail(key, "is empty");
  if (path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
  // Read here, so that a FIFO or device is refused rather than handed to OpenSSL.
  std::string text, error;
  if (!ReadWholeFile(path, kMaxSecretFileBytes, &text, &error))
    Fail(key, "'" + path + "': " + error);
  if (text.empty()) Fail(key, "'" + path + "': the file is empty");
  return path;
}

// bcrypt in modular crypt format: $2a$, $2b$ or $2y$, a two-digit cost 04..31,
// then 22 characters of salt and 31 of hash in bcrypt's base64 alphabet.
bool IsBcryptHash(const std::string& h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (!IsAsciiDigit(h[4]) || !IsAsciiDigit(h[5])) return false;
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (std::size_t i = 7; i < h.size(); ++i) {
    const char c = h[i];
    if (!(IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

// RFC 9110 token characters.
bool IsHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!(IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          std::strchr("!#$%&'*+-.^_`|~", c) != nullptr)) {
      return false;
    }
  }
  return true;
}

// The response headers the exporter-toolkit lets a web config set, and the
// values it allows for some of them (empty: any value).
const std::vector<std::pair<std::string, std::vector<std::string>>>& SettableHeaders() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> headers = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return headers;
}

TlsServerConfig ParseTls(const YAML::Node& node, const std::string& base_dir) {
  TlsServerConfig tls;
  std::string client_auth = "NoClientCert";
  const std::string where = "tls_server_config";
  ForEachKey(node, where,
             {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
              "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites",
              "client_allowed_sans", "cert", "key"},
             [&](const std::string& key, const YAML::Node& value) {
               const std::string name = Join(where, key);
               if (key == "cert_file") {
                 tls.cert_file = ReadablePath(value, name, base_dir);
               } else if (key == "key_file") {
                 tls.key_file = ReadablePath(value, name, base_dir);
               } else if (key == "client_ca_file") {
                 tls.client_ca_file = ReadablePath(value, name, base_dir);
               } else if (key == "client_auth_type") {
                 client_auth = Scalar(value, name);
               } else if (key == "min_version") {
                 const std::string v = Scalar(value, name);
                 if (v == "TLS12") {
                   tls.min_version = TlsVersion::kTls12;
                 } else if (v == "TLS13") {
                   tls.min_version = TlsVersion::kTls13;
                 } else {
                   Fail(name, "'" + v + "' is not supported (TLS12 or TLS13)");
                 }
               } else {
                 // Known to the exporter-toolkit, but not implemented here: refuse
                 // rather than silently serve something weaker than asked for.
                 Fail(name, "not supported by llm_log_exporter");
               }
             });
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    Fail(Join(where, tls.cert_file.empty() ? "cert_file" : "key_file"),
         "missing (both cert_file and key_file are needed for TLS)");
  }
  static const std::vector<std::pair<std::string, ClientAuth>> kAuth = {
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
  };
  bool found = false;
  for (const auto& [name, value] : kAuth) {
    if (name == client_auth) {
      tls.client_auth = value;
      found = true;
    }
  }
  const std::string auth_key = Join(where, "client_auth_type");
  if (!found) {
    Fail(auth_key, "'" + client_auth +
                       "' is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
                       "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
  }
  const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && tls.client_ca_file.empty()) {
    Fail(Join(where, "client_ca_file"), "missing, needed by client_auth_type " + client_auth);
  }
  if (!verifies && !tls.client_ca_file.empty()) {
    Fail(auth_key, client_auth +
                       " never checks client certificates, so client_ca_file would be "
                       "ignored: use VerifyClientCertIfGiven or "
                       "RequireAndVerifyClientCert");
  }
  return tls;
}

void ParseHeaders(const YAML::Node& node, const std::string& where, WebConfig* out) {
  ForEachKey(node, where, {}, [&](const std::string& header, const YAML::Node& hv) {
    const std::string name = Join(where, header);
    const std::string value = Scalar(hv, name);
    const auto& settable = SettableHeaders();
    auto it = settable.begin();
    while (it != settable.end() && !EqualsIgnoreCase(it->first, header)) ++it;
    if (!IsHeaderName(header) || it == settable.end()) {
      Fail(name,
           "cannot be set (only Strict-Transport-Security, X-Content-Type-Options, "
           "X-Frame-Options, X-XSS-Protection, Content-Security-Policy)");
    }
    bool allowed = it->second.empty();
    for (const std::string& a : it->second) allowed = allowed || EqualsIgnoreCase(a, value);
    if (!allowed) Fail(name, "'" + value + "' is not an allowed value");
    for (const char c : value) {
      // No header injection through the value.
      if (c == '\r' || c == '\n' || c == '\0') Fail(name, "control characters in the value");
    }
    out->headers.emplace_back(it->first, value);
  });
}

void ParseHttpServerConfig(const YAML::Node& node, const std::string& where, WebConfig* out) {
  ForEachKey(node, where, {"headers", "http2"}, [&](const std::string& key, const YAML::Node& v) {
    if (key == "http2") {
      Bool(v, Join(where, key));  // HTTP/1.1 only: either value is accepted
    } else {
      ParseHeaders(v, Join(where, key), out);
    }
  });
}

void ParseRoot(const YAML::Node& root, const std::string& base_dir, WebConfig* out) {
  ForEachKey(root, "", {"tls_server_config", "basic_auth_users", "http_server_config"},
             [&](const std::string& key, const YAML::Node& value) {
               if (key == "tls_server_config") {
                 if (value && !value.IsNull()) out->tls = ParseTls(value, base_dir);
               } else if (key == "basic_auth_users") {
                 ForEachKey(value, key, {}, [&](const std::string& user, const YAML::Node& hash) {
                   const std::string name = Join(key, user);
                   if (user.empty() || user.find(':') != std::string::npos) {
                     Fail(name, "a user name must be non-empty and without ':'");
                   }
                   const std::string h = Scalar(hash, name);
                   if (!IsBcryptHash(h)) {
                     Fail(name,
                          "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; make one "
                          "with `htpasswd -nBC 10 USER`)");
                   }
                   out->basic_auth_users[user] = h;
                 });
               } else {
                 ParseHttpServerConfig(value, key, out);
               }
             });
}

}  // namespace

bool ParseWebConfig(const std::string& text, const std::string& base_dir, WebConfig* out,
                    std::string* error) {
  WebConfig config;
  try {
    const YAML::Node root = YAML::Load(text);
    ParseRoot(root, base_dir, &config);
  } catch (const ConfigError& e) {
    // Keys and values are quoted as written: a control byte in them must not
    // split the one-line message (found by tests/fuzz/web_config_fuzz).
    *error = EscapeControlBytes(e.message);
    return false;
  } catch (const YAML::Exception& e) {
    // e.what() carries "yaml-cpp: error at line L, column C: reason".
    std::string what = e.what();
    const std::string prefix = "yaml-cpp: ";
    if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
    *error = EscapeControlBytes("not valid YAML: " + what);
    return false;
  }
  *out = std::move(config);
  return true;
}

bool LoadWebConfig(const std::string& path, WebConfig* out, std::string* error) {
  std::string text;
  if (!ReadWholeFile(path, kMaxConfigFileBytes, &text, error)) return false;
  const std::size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseWebConfig(text, base_dir.empty() ? "/" : base_dir, out, error);
}

}  // namespace lle
