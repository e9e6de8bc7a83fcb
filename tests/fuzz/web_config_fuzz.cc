// libFuzzer target: the web-config loader (src/exposition/web_config.cc,
// --web.config.file in the exporter-toolkit format).
//
// The input is the YAML text; file names resolve against a temporary
// directory holding cert.pem, key.pem and ca.pem (non-empty). Inputs with a
// '/' are skipped: a path outside that directory could name a FIFO or a
// terminal, whose open blocks the run, not a bug of the parser. Checks:
// parsing never throws or crashes; a refusal is one line naming a key; an
// accepted config names absolute, existing files and sane values.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "llm_log_exporter/exposition/web_config.h"

namespace {

using lle::fuzz::Check;
using lle::fuzz::Fail;

std::string& BaseDir() {
  static std::string dir;
  return dir;
}

void RemoveBaseDir() {
  for (const char* name : {"cert.pem", "key.pem", "ca.pem"}) {
    unlink((BaseDir() + "/" + name).c_str());
  }
  rmdir(BaseDir().c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/lle_web_config_fuzz.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp failed", pattern);
  BaseDir() = pattern;
  for (const char* name : {"cert.pem", "key.pem", "ca.pem"}) {
    std::ofstream(BaseDir() + "/" + name) << "-----BEGIN CERTIFICATE-----\n";
  }
  std::atexit(RemoveBaseDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (text.find('/') != std::string::npos) return 0;
  lle::WebConfig config;
  std::string error;
  if (!lle::ParseWebConfig(text, BaseDir(), &config, &error)) {
    Check(!error.empty(), "a web config refused without a reason");
    Check(error.find('\n') == std::string::npos, "a refusal over several lines", error);
    return 0;
  }
  if (config.tls) {
    for (const std::string* path : {&config.tls->cert_file, &config.tls->key_file}) {
      Check(!path->empty() && (*path)[0] == '/', "a TLS file path that is not absolute", *path);
      Check(access(path->c_str(), R_OK) == 0, "an accepted TLS file that is not readable", *path);
    }
    if (!config.tls->client_ca_file.empty()) {
      Check(config.tls->client_ca_file[0] == '/', "a client CA path that is not absolute");
    }
  }
  for (const auto& [user, hash] : config.basic_auth_users) {
    Check(!user.empty(), "an empty basic-auth user name");
    Check(hash.size() == 60 && hash[0] == '$', "a basic-auth hash that is no bcrypt hash", hash);
  }
  for (const auto& [name, value] : config.headers) {
    Check(!name.empty(), "an empty header name");
    for (const char c : name + value) {
      // A header value with CR or LF would split the answer (response splitting).
      Check(c != '\r' && c != '\n', "a header with CR or LF", name + ": " + value);
    }
  }
  return 0;
}
