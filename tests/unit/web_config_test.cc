// The --web.config.file parser (exporter-toolkit format), table-driven: YAML
// text in, either the parsed value or the exact one-line error out; and the
// bcrypt basic-auth check against known hashes.

#include "llm_log_exporter/exposition/web_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "llm_log_exporter/exposition/basic_auth.h"
#include "support/temp_dir.h"

namespace lle {
namespace {

// bcrypt of "secret", made by `htpasswd -nbBC 10 alice secret` ($2y$) and by
// libxcrypt through Python's crypt module ($2b$, cost 4).
constexpr char kHash2y[] = "$2y$10$k3BOIzOjuWfwPWF56O5ne.WUYQiEs7eqzSz0GJbRCrTfilHK58M96";
constexpr char kHash2b[] = "$2b$04$0aS0KBl/N.oSb3D1MyGAc.FskN4vrhj2x6c5oueQBq1rX4Tc9hptG";

// A directory with non-empty files for the *_file keys; removed at exit.
class WebConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = std::make_unique<test::TempDir>();
    dir_ = temp_->path();
    for (const char* name : {"cert.pem", "key.pem", "ca.pem"})
      temp_->Write(name, "not checked here\n");
    temp_->Write("empty.pem", "");
    // Never read whole: a FIFO (would block), a directory, a file over the cap.
    EXPECT_EQ(mkfifo(temp_->File("fifo.pem").c_str(), 0600), 0);
    EXPECT_EQ(mkdir(temp_->File("dir.pem").c_str(), 0700), 0);
    EXPECT_EQ(truncate(temp_->Write("big.pem", "").c_str(), (1 << 20) + 1), 0);
  }
  static void TearDownTestSuite() { temp_.reset(); }
  static std::unique_ptr<test::TempDir> temp_;
  static std::string dir_;  // temp_'s path
};
std::unique_ptr<test::TempDir> WebConfigTest::temp_;
std::string WebConfigTest::dir_;

struct ErrorCase {
  const char* yaml;
  const char* error;  // exact; "$DIR" stands for the test directory
};

TEST_F(WebConfigTest, RejectsEachMistakeWithOneLineNamingTheKey) {
  const std::vector<ErrorCase> cases = {
      {"foo: 1", "foo: unknown key"},
      {"- a\n- b", "top level: must be a mapping"},
      {"tls_server_config: [1]", "tls_server_config: must be a mapping"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  ciphers: x",
       "tls_server_config.ciphers: unknown key"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [x]",
       "tls_server_config.cipher_suites: not supported by llm_log_exporter"},
      {"tls_server_config:\n  cert_file: cert.pem",
       "tls_server_config.key_file: missing (both cert_file and key_file are needed for TLS)"},
      {"tls_server_config:\n  key_file: key.pem",
       "tls_server_config.cert_file: missing (both cert_file and key_file are needed for TLS)"},
      {"tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem",
       "tls_server_config.cert_file: '$DIR/nope.pem': No such file or directory"},
      {"tls_server_config:\n  cert_file: empty.pem\n  key_file: key.pem",
       "tls_server_config.cert_file: '$DIR/empty.pem': the file is empty"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: fifo.pem",
       "tls_server_config.key_file: '$DIR/fifo.pem': not a regular file"},
      {"tls_server_config:\n  cert_file: dir.pem\n  key_file: key.pem",
       "tls_server_config.cert_file: '$DIR/dir.pem': not a regular file"},
      {"tls_server_config:\n  cert_file: big.pem\n  key_file: key.pem",
       "tls_server_config.cert_file: '$DIR/big.pem': larger than 1048576 bytes"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS11",
       "tls_server_config.min_version: 'TLS11' is not supported (TLS12 or TLS13)"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: Yes",
       "tls_server_config.client_auth_type: 'Yes' is not one of NoClientCert, "
       "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
       "RequireAndVerifyClientCert"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
       "  client_auth_type: RequireAndVerifyClientCert",
       "tls_server_config.client_ca_file: missing, needed by client_auth_type "
       "RequireAndVerifyClientCert"},
      {"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_ca_file: ca.pem",
       "tls_server_config.client_auth_type: NoClientCert never checks client certificates, so "
       "client_ca_file would be ignored: use VerifyClientCertIfGiven or "
       "RequireAndVerifyClientCert"},
      {"tls_server_config:\n  cert_file: cert.pem\n  cert_file: key.pem",
       "tls_server_config.cert_file: given twice"},
      {"basic_auth_users:\n  alice: secret",
       "basic_auth_users.alice: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; make one "
       "with `htpasswd -nBC 10 USER`)"},
      {"basic_auth_users:\n  alice: '$1$abc$def'",
       "basic_auth_users.alice: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; make one "
       "with `htpasswd -nBC 10 USER`)"},
      {"basic_auth_users:\n  'a:b': '$2y$10$k3BOIzOjuWfwPWF56O5ne.WUYQiEs7eqzSz0GJbRCrTfilHK58M96'",
       "basic_auth_users.a:b: a user name must be non-empty and without ':'"},
      {"basic_auth_users: [alice]", "basic_auth_users: must be a mapping"},
      {"http_server_config:\n  headers:\n    Server: x",
       "http_server_config.headers.Server: cannot be set (only Strict-Transport-Security, "
       "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow",
       "http_server_config.headers.X-Frame-Options: 'allow' is not an allowed value"},
      {"http_server_config:\n  http2: maybe", "http_server_config.http2: must be true or false"},
      {"http_server_config:\n  gzip: true", "http_server_config.gzip: unknown key"},
      {"tls_server_config: {cert_file: [a], key_file: key.pem}",
       "tls_server_config.cert_file: must be a string"},
      {"basic_auth_users: {alice: 'x'",
       "not valid YAML: error at line 1, column 1: end of map flow not found"},
      // A control byte in a key is escaped: the message stays one line
      // (found by tests/fuzz/web_config_fuzz).
      {"\"a\\x0ab\\x1b[31m\": 1", "a\\x0ab\\x1b[31m: unknown key"},
  };
  for (const ErrorCase& c : cases) {
    WebConfig config;
    std::string error;
    EXPECT_FALSE(ParseWebConfig(c.yaml, dir_, &config, &error)) << c.yaml;
    std::string expected = c.error;
    const std::size_t at = expected.find("$DIR");
    if (at != std::string::npos) expected.replace(at, 4, dir_);
    EXPECT_EQ(error, expected) << c.yaml;
    EXPECT_EQ(error.find('\n'), std::string::npos) << c.yaml;
  }
}

TEST_F(WebConfigTest, ParsesAFullConfig) {
  const std::string yaml = std::string(
                               "tls_server_config:\n"
                               "  cert_file: cert.pem\n"
                               "  key_file: " +
                               dir_ +
                               "/key.pem\n"
                               "  client_ca_file: ca.pem\n"
                               "  client_auth_type: RequireAndVerifyClientCert\n"
                               "  min_version: TLS13\n"
                               "basic_auth_users:\n"
                               "  alice: '") +
                           kHash2y +
                           "'\n"
                           "  bob: " +
                           kHash2b +
                           "\n"
                           "http_server_config:\n"
                           "  http2: false\n"
                           "  headers:\n"
                           "    x-frame-options: SAMEORIGIN\n"
                           "    Strict-Transport-Security: max-age=31536000\n";
  WebConfig config;
  std::string error;
  ASSERT_TRUE(ParseWebConfig(yaml, dir_, &config, &error)) << error;
  ASSERT_TRUE(config.tls.has_value());
  EXPECT_EQ(config.tls->cert_file, dir_ + "/cert.pem");  // relative to the file's directory
  EXPECT_EQ(config.tls->key_file, dir_ + "/key.pem");
  EXPECT_EQ(config.tls->client_ca_file, dir_ + "/ca.pem");
  EXPECT_EQ(config.tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(config.tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(config.basic_auth_users.size(), 2u);
  EXPECT_EQ(config.basic_auth_users["alice"], kHash2y);
  EXPECT_EQ(config.basic_auth_users["bob"], kHash2b);
  ASSERT_EQ(config.headers.size(), 2u);
  // Canonical names, the value as given.
  EXPECT_EQ(config.headers[0],
            std::make_pair(std::string("X-Frame-Options"), std::string("SAMEORIGIN")));
  EXPECT_EQ(config.headers[1].first, "Strict-Transport-Security");
}

TEST_F(WebConfigTest, EmptyFileAndEmptySectionsMeanNothingConfigured) {
  for (const char* yaml : {"", "# nothing\n", "tls_server_config:\nbasic_auth_users:\n"}) {
    WebConfig config;
    std::string error;
    ASSERT_TRUE(ParseWebConfig(yaml, dir_, &config, &error)) << yaml << ": " << error;
    EXPECT_FALSE(config.tls.has_value());
    EXPECT_TRUE(config.basic_auth_users.empty());
    EXPECT_TRUE(config.headers.empty());
  }
}

TEST_F(WebConfigTest, LoadNamesAMissingFileReason) {
  WebConfig config;
  std::string error;
  EXPECT_FALSE(LoadWebConfig(dir_ + "/absent.yml", &config, &error));
  EXPECT_EQ(error, "No such file or directory");
}

std::string Basic(const std::string& base64) { return "Basic " + base64; }

TEST(BasicAuthTest, ChecksPasswordsAgainstBcryptHashes) {
  BasicAuth auth({{"alice", kHash2y}, {"bob", kHash2b}});
  ASSERT_TRUE(auth.enabled());
  // base64("alice:secret") etc.
  EXPECT_TRUE(auth.Check(Basic("YWxpY2U6c2VjcmV0")));
  EXPECT_TRUE(auth.Check(Basic("YWxpY2U6c2VjcmV0")));       // again, now from the cache
  EXPECT_TRUE(auth.Check("basic Ym9iOnNlY3JldA=="));        // bob:secret; scheme in any case
  EXPECT_FALSE(auth.Check(Basic("YWxpY2U6c2VjcmV1")));      // alice:secreu
  EXPECT_FALSE(auth.Check(Basic("Ym9iOnNlY3JldDI=")));      // bob:secret2
  EXPECT_FALSE(auth.Check(Basic("ZXZlOnNlY3JldA==")));      // eve:secret, unknown user
  EXPECT_FALSE(auth.Check(Basic("YWxpY2U6")));              // alice: (empty password)
  EXPECT_FALSE(auth.Check(Basic("YWxpY2VzZWNyZXQ=")));      // no colon
  EXPECT_FALSE(auth.Check(Basic("YWxpY2U6c2VjcmV0AHg=")));  // alice:secret\0x
  EXPECT_FALSE(auth.Check(Basic("!!!!")));                  // not base64
  EXPECT_FALSE(auth.Check(Basic("YWxpY2U6c2VjcmV0=")));     // bad padding
  EXPECT_FALSE(auth.Check("Bearer YWxpY2U6c2VjcmV0"));
  EXPECT_FALSE(auth.Check(""));
}

TEST(BasicAuthTest, NoUsersAllowsEverything) {
  BasicAuth auth({});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Check(""));
}

}  // namespace
}  // namespace lle
