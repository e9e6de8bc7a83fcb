// Security of the endpoints, on the real binary: --web.config.file (TLS,
// client certificates, bcrypt basic auth, response headers) checked with real
// tools — certificates made by `openssl` at test time, hashes by Apache's
// `htpasswd`, requests by `curl` — and the connection hardening (slow clients,
// --web.max-connections, --web.listen-address) with raw sockets.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/daemon.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBinary[] = LLE_BINARY;
constexpr char kOpenssl[] = LLE_OPENSSL;
constexpr char kCurl[] = LLE_CURL;
constexpr char kHtpasswd[] = LLE_HTPASSWD;

void MustRun(const std::vector<std::string>& argv) {
  const RunResult r = Run(argv, "");
  if (r.exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += a + " ";
    throw std::runtime_error(cmd + "failed: " + r.err);
  }
}

// Keys, certificates and bcrypt hashes, made once for all tests in a
// temporary directory (removed at the end).
struct Pki {
  std::unique_ptr<TempDir> temp;  // holds every file below
  std::string dir;                // temp's path
  std::string ca_crt;             // signed the server's certificate; curl trusts it
  std::string server_crt, server_key;
  std::string client_ca_crt;  // signed `client`: the web config trusts it
  std::string client_crt, client_key;
  std::string stranger_crt, stranger_key;  // signed by a CA nobody trusts
  std::string alice_hash;                  // bcrypt of "secret", from htpasswd
  std::string bob_hash;                    // bcrypt of "hunter2"

  void Make() {
    temp = std::make_unique<TempDir>();
    dir = temp->path();
    ca_crt = MakeCa("ca");
    client_ca_crt = MakeCa("client-ca");
    const std::string other_ca = MakeCa("other-ca");
    MakeLeaf("server", "ca", "subjectAltName=IP:127.0.0.1");
    MakeLeaf("client", "client-ca", "extendedKeyUsage=clientAuth");
    MakeLeaf("stranger", "other-ca", "extendedKeyUsage=clientAuth");
    server_crt = dir + "/server.crt";
    server_key = dir + "/server.key";
    client_crt = dir + "/client.crt";
    client_key = dir + "/client.key";
    stranger_crt = dir + "/stranger.crt";
    stranger_key = dir + "/stranger.key";
    alice_hash = Hash("alice", "secret");
    bob_hash = Hash("bob", "hunter2");
  }

  std::string MakeCa(const std::string& name) {
    MustRun({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt",
             "-days", "2", "-subj", "/CN=lle test " + name});
    return dir + "/" + name + ".crt";
  }

  void MakeLeaf(const std::string& name, const std::string& ca, const std::string& extension) {
    const std::string base = dir + "/" + name;
    MustRun({kOpenssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=" + name, "-addext",
             extension});
    MustRun({kOpenssl, "x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + ".crt",
             "-CAkey", dir + "/" + ca + ".key", "-set_serial", "1", "-days", "2", "-out",
             base + ".crt", "-copy_extensions", "copy"});
  }

  static std::string Hash(const std::string& user, const std::string& password) {
    const RunResult r = Run({kHtpasswd, "-nbBC", "10", user, password}, "");
    const std::size_t colon = r.out.find(':');
    if (r.exit_code != 0 || colon == std::string::npos) {
      throw std::runtime_error("htpasswd failed: " + r.err);
    }
    std::string hash = r.out.substr(colon + 1);
    while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
    return hash;
  }
};

struct CurlResult {
  int exit_code = -1;  // curl's: 0 when an HTTP answer came, else why not (35: TLS)
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string err;
};

// One HTTPS request with curl, trusting the test CA.
CurlResult Curl(const Pki& pki, int port, const std::string& path,
                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {kCurl,      "-sS", "--max-time", "10", "--cacert",
                                   pki.ca_crt, "-D",  "-",          "-w", "\n%{http_code}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + path);
  const RunResult r = Run(argv, "");
  CurlResult result;
  result.exit_code = r.exit_code;
  result.err = r.err;
  const std::size_t last = r.out.rfind('\n');
  if (last == std::string::npos) return result;
  result.status = std::atoi(r.out.c_str() + last + 1);
  const std::string answer = r.out.substr(0, last);
  const std::size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return result;
  std::istringstream head(answer.substr(0, end));
  std::string line;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    result.headers[name] = line.substr(v);
  }
  result.body = answer.substr(end + 4);
  return result;
}

class WebSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_.Make(); }
  static void TearDownTestSuite() { pki_.temp.reset(); }

  // Writes `yaml` as a web config file and starts the daemon with it.
  Daemon Start(const std::string& yaml, const std::vector<std::string>& flags = {}) {
    const std::string path = pki_.temp->Write("web" + std::to_string(++configs_) + ".yml", yaml);
    std::vector<std::string> all = {"--web.config.file=" + path};
    all.insert(all.end(), flags.begin(), flags.end());
    return LaunchDaemon(kBinary, all);
  }

  std::string Tls(const std::string& extra = "") const {
    return "tls_server_config:\n  cert_file: " + pki_.server_crt +
           "\n  key_file: " + pki_.server_key + "\n" + extra;
  }
  std::string Users() const {
    return "basic_auth_users:\n  alice: '" + pki_.alice_hash + "'\n  bob: '" + pki_.bob_hash +
           "'\n";
  }

  static Pki pki_;
  int configs_ = 0;
};
Pki WebSecurityTest::pki_;

TEST_F(WebSecurityTest, BasicAuthGuardsEveryPathOverTls) {
  Daemon d = Start(Tls() + Users(), {"--ingest.enable"});
  const std::vector<std::string> alice = {"-u", "alice:secret"};
  struct Case {
    std::string path;
    std::vector<std::string> request;  // extra curl arguments
    int ok;
  };
  const std::vector<Case> cases = {
      {"/metrics", {}, 200},
      {"/-/healthy", {}, 200},
      {"/-/ready", {}, 200},
      {"/", {}, 200},
      {"/nothing-here", {}, 404},
      {"/api/v1/logs", {"-H", "Content-Type: application/x-ndjson", "--data-binary", "{}"}, 204},
  };
  for (const Case& c : cases) {
    std::vector<std::string> none = c.request;
    CurlResult anonymous = Curl(pki_, d.port, c.path, none);
    EXPECT_EQ(anonymous.status, 401) << c.path << " " << anonymous.err;
    EXPECT_EQ(anonymous.headers["www-authenticate"],
              "Basic realm=\"llm_log_exporter\", charset=\"UTF-8\"")
        << c.path;
    std::vector<std::string> wrong = c.request;
    wrong.insert(wrong.end(), {"-u", "alice:Secret"});
    EXPECT_EQ(Curl(pki_, d.port, c.path, wrong).status, 401) << c.path;
    std::vector<std::string> right = c.request;
    right.insert(right.end(), alice.begin(), alice.end());
    EXPECT_EQ(Curl(pki_, d.port, c.path, right).status, c.ok) << c.path;
  }
  // Another user with their own password; an unknown user; a user with
  // another's password.
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"-u", "bob:hunter2"}).status, 200);
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"-u", "eve:secret"}).status, 401);
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"-u", "bob:secret"}).status, 401);
  const CurlResult scrape = Curl(pki_, d.port, "/metrics", alice);
  EXPECT_NE(scrape.body.find("llm_log_exporter_build_info"), std::string::npos);
  // The POST above went through: its one line was counted.
  EXPECT_NE(scrape.body.find("llm_log_exporter_lines_total{source=\"http\",result=\"event\"} 1"),
            std::string::npos)
      << scrape.body;
}

TEST_F(WebSecurityTest, ConfiguredHeadersOnEveryAnswer) {
  Daemon d = Start(Tls() + Users() +
                   "http_server_config:\n  headers:\n"
                   "    X-Frame-Options: deny\n"
                   "    Strict-Transport-Security: max-age=31536000\n"
                   "    X-Content-Type-Options: nosniff\n");
  for (const auto& [path, auth, status] :
       std::vector<std::tuple<std::string, std::string, int>>{{"/metrics", "alice:secret", 200},
                                                              {"/metrics", "alice:nope", 401},
                                                              {"/missing", "alice:secret", 404},
                                                              {"/-/healthy", "", 401},
                                                              {"/", "", 401},
                                                              {"/", "alice:secret", 200}}) {
    std::vector<std::string> extra;
    if (!auth.empty()) extra = {"-u", auth};
    CurlResult r = Curl(pki_, d.port, path, extra);
    EXPECT_EQ(r.status, status) << path;
    EXPECT_EQ(r.headers["x-frame-options"], "deny") << path << " " << status;
    EXPECT_EQ(r.headers["strict-transport-security"], "max-age=31536000") << path;
    EXPECT_EQ(r.headers["x-content-type-options"], "nosniff") << path;
  }
}

TEST_F(WebSecurityTest, PlainHttpToTlsPortFailsCleanlyAndTheDaemonServesOn) {
  Daemon d = Start(Tls());
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    const HttpResponse plain = HttpGet(d.port, "/metrics");
    EXPECT_EQ(plain.status, 0) << "a plain HTTP answer from the TLS port";
    // Refused at once, not left to a timeout.
    EXPECT_LT(Clock::now() - start, seconds(3));
    const CurlResult tls = Curl(pki_, d.port, "/metrics");
    EXPECT_EQ(tls.status, 200) << tls.err;
  }
  // curl speaking plain HTTP gets no HTTP answer either.
  const RunResult plain_curl = test::Run(
      {kCurl, "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(d.port) + "/"}, "");
  EXPECT_NE(plain_curl.exit_code, 0);
  EXPECT_EQ(d.process->Wait(milliseconds(0)), -1) << "the daemon exited";
  // And it stops as promptly as without TLS.
  EXPECT_TRUE(StopsCleanlyWithin(*d.process, SIGTERM, seconds(3)));
}

TEST_F(WebSecurityTest, RequireAndVerifyClientCertRefusesMissingAndUntrustedCertificates) {
  Daemon d = Start(Tls("  client_ca_file: " + pki_.client_ca_crt +
                       "\n  client_auth_type: RequireAndVerifyClientCert\n"));
  const CurlResult without = Curl(pki_, d.port, "/metrics");
  EXPECT_EQ(without.status, 0);
  EXPECT_NE(without.exit_code, 0);
  const CurlResult stranger =
      Curl(pki_, d.port, "/metrics", {"--cert", pki_.stranger_crt, "--key", pki_.stranger_key});
  EXPECT_EQ(stranger.status, 0);
  EXPECT_NE(stranger.exit_code, 0);
  const CurlResult trusted =
      Curl(pki_, d.port, "/metrics", {"--cert", pki_.client_crt, "--key", pki_.client_key});
  EXPECT_EQ(trusted.status, 200) << trusted.err;
}

TEST_F(WebSecurityTest, RequireAnyClientCertAsksForOneButDoesNotVerifyIt) {
  Daemon d = Start(Tls("  client_auth_type: RequireAnyClientCert\n"));
  EXPECT_EQ(Curl(pki_, d.port, "/metrics").status, 0);
  EXPECT_EQ(
      Curl(pki_, d.port, "/metrics", {"--cert", pki_.stranger_crt, "--key", pki_.stranger_key})
          .status,
      200);
}

TEST_F(WebSecurityTest, VerifyClientCertIfGivenAllowsNoneButNotAnUntrustedOne) {
  Daemon d = Start(Tls("  client_ca_file: " + pki_.client_ca_crt +
                       "\n  client_auth_type: VerifyClientCertIfGiven\n"));
  EXPECT_EQ(Curl(pki_, d.port, "/metrics").status, 200);
  EXPECT_EQ(
      Curl(pki_, d.port, "/metrics", {"--cert", pki_.client_crt, "--key", pki_.client_key}).status,
      200);
  EXPECT_EQ(
      Curl(pki_, d.port, "/metrics", {"--cert", pki_.stranger_crt, "--key", pki_.stranger_key})
          .status,
      0);
}

// What Go's crypto/tls, and so Prometheus, needs of a server that asks for
// client certificates (issue 17): a TLS 1.3 CertificateRequest whose
// certificate_authorities list is not empty (Go fails "tls: unexpected
// message" on an empty one), and TLS 1.2 with extended master secret. civetweb's
// OpenSSL 1.1 option bits turned off both. openssl s_client shows them.
TEST_F(WebSecurityTest, CertificateRequestNamesTheClientCaAndTls12HasExtendedMasterSecret) {
  for (const std::string auth : {"RequireAndVerifyClientCert", "VerifyClientCertIfGiven"}) {
    Daemon d = Start(
        Tls("  client_ca_file: " + pki_.client_ca_crt + "\n  client_auth_type: " + auth + "\n"));
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
      const RunResult r = test::Run(
          {kOpenssl, "s_client", version, "-connect", "127.0.0.1:" + std::to_string(d.port),
           "-CAfile", pki_.ca_crt, "-cert", pki_.client_crt, "-key", pki_.client_key},
          "", seconds(10));
      const std::string what = auth + " " + version + ":\n" + r.out + r.err;
      EXPECT_EQ(r.exit_code, 0) << what;
      EXPECT_NE(r.out.find("Verify return code: 0 (ok)"), std::string::npos) << what;
      EXPECT_NE(r.out.find("Acceptable client certificate CA names\nCN = lle test client-ca\n"),
                std::string::npos)
          << what;
      if (version == "-tls1_2") {
        EXPECT_NE(r.out.find("Extended master secret: yes"), std::string::npos) << what;
      }
    }
  }
}

TEST_F(WebSecurityTest, MinVersionTls13RefusesATls12Client) {
  Daemon d = Start(Tls("  min_version: TLS13\n"));
  const CurlResult old = Curl(pki_, d.port, "/metrics", {"--tlsv1.2", "--tls-max", "1.2"});
  EXPECT_EQ(old.status, 0);
  EXPECT_NE(old.exit_code, 0);
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"--tlsv1.3"}).status, 200);
  // The default minimum, TLS 1.2, takes both.
  Daemon d12 = Start(Tls());
  EXPECT_EQ(Curl(pki_, d12.port, "/metrics", {"--tlsv1.2", "--tls-max", "1.2"}).status, 200);
}

TEST_F(WebSecurityTest, IngestBearerTokenTakesThePlaceOfBasicAuthOnIngestOnly) {
  const std::string token_file = pki_.temp->Write("token", "s3cret-token\n");
  Daemon d =
      Start(Tls() + Users(), {"--ingest.enable", "--ingest.bearer-token-file=" + token_file});
  const std::vector<std::string> post = {"-H", "Content-Type: application/x-ndjson",
                                         "--data-binary", "{}"};
  auto with = [&post](std::vector<std::string> more) {
    more.insert(more.begin(), post.begin(), post.end());
    return more;
  };
  EXPECT_EQ(
      Curl(pki_, d.port, "/api/v1/logs", with({"-H", "Authorization: Bearer s3cret-token"})).status,
      204);
  EXPECT_EQ(Curl(pki_, d.port, "/api/v1/logs", with({"-u", "alice:secret"})).status, 401);
  EXPECT_EQ(Curl(pki_, d.port, "/api/v1/logs", post).status, 401);
  // Everything else still asks for basic auth; the token opens nothing else.
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"-H", "Authorization: Bearer s3cret-token"}).status,
            401);
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", {"-u", "alice:secret"}).status, 200);
}

TEST_F(WebSecurityTest, BasicAuthWithoutTlsOverPlainHttp) {
  Daemon d = Start(Users());
  EXPECT_EQ(HttpGet(d.port, "/metrics").status, 401);
  // "alice:secret"
  EXPECT_EQ(HttpGet(d.port, "/metrics", {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}).status, 200);
}

// OpenSSL and libcrypt are loaded only for TLS or basic auth: without them a
// start-up skips 40 % of the dynamic loader's work (openssl_api.h).
TEST_F(WebSecurityTest, TlsLibrariesAreLoadedOnlyWhenConfigured) {
  const auto mapped = [](const Daemon& d) {
    std::ifstream maps("/proc/" + std::to_string(d.process->pid()) + "/maps");
    std::set<std::string> libraries;
    std::string line;
    while (std::getline(maps, line)) {
      for (const char* name : {"libssl.so", "libcrypto.so", "libcrypt.so"}) {
        if (line.find(name) != std::string::npos) libraries.insert(name);
      }
    }
    return libraries;
  };
  const Daemon plain = LaunchDaemon(kBinary, {});
  EXPECT_EQ(mapped(plain), std::set<std::string>{});
  const Daemon users = Start(Users());
  EXPECT_EQ(mapped(users), (std::set<std::string>{"libssl.so", "libcrypto.so", "libcrypt.so"}));
}

TEST_F(WebSecurityTest, BadWebConfigStopsTheStartWithOneLineAndExitCodeOne) {
  const std::string garbage = pki_.temp->Write(
      "garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  struct Case {
    std::string yaml;  // empty: the file does not exist
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "No such file or directory"},
      {"tls_server_config:\n  foo: 1\n", "tls_server_config.foo: unknown key"},
      {"basic_auth_users:\n  alice: plain\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"tls_server_config:\n  cert_file: " + garbage + "\n  key_file: " + pki_.server_key + "\n",
       "tls_server_config.cert_file '" + garbage + "': "},
      {"tls_server_config:\n  cert_file: " + pki_.server_crt + "\n  key_file: " + pki_.client_key +
           "\n",
       "tls_server_config.key_file '" + pki_.client_key +
           "': does not match the certificate of cert_file"},
      {"tls_server_config:\n  cert_file: " + pki_.server_crt + "\n  key_file: " + pki_.server_key +
           "\n  client_ca_file: " + garbage + "\n  client_auth_type: VerifyClientCertIfGiven\n",
       "tls_server_config.client_ca_file '" + garbage + "': "},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string name = "bad" + std::to_string(i) + ".yml";
    const std::string path = pki_.temp->File(name);
    if (!cases[i].yaml.empty()) pki_.temp->Write(name, cases[i].yaml);
    const RunResult r =
        test::Run({kBinary, "--web.listen-address=127.0.0.1:0", "--web.config.file=" + path}, "",
                  seconds(10));
    EXPECT_EQ(r.exit_code, 1) << cases[i].yaml << r.err;
    const std::string prefix = "llm_log_exporter: --web.config.file " + path + ": ";
    EXPECT_EQ(r.err.rfind(prefix + cases[i].error, 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  }
}

// --- Connection hardening ----------------------------------------------------

// A raw TCP connection to 127.0.0.1:`port` for clients that misbehave.
class RawConnection {
 public:
  explicit RawConnection(int port, const char* host = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host, &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  // False once the server has closed (or reset) the connection.
  bool Send(const std::string& data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Waits up to `wait` for data; appends it to `received`. False at end of
  // stream or on error (the server closed the connection).
  bool Receive(milliseconds wait) {
    timeval tv{static_cast<time_t>(wait.count() / 1000),
               static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      received.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::string received;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Sends `data` one byte every `pace` (what a slowloris client does) until the
// server closes the connection or `limit` passes; returns how long the
// connection stayed open, or nullopt if it was still open at `limit`.
std::optional<milliseconds> Trickle(RawConnection& conn, const std::string& data, milliseconds pace,
                                    milliseconds limit) {
  const auto start = Clock::now();
  std::size_t next = 0;
  while (Clock::now() - start < limit) {
    if (next < data.size() && !conn.Send(data.substr(next++, 1))) break;
    // The wait for an answer is also the pace of the trickle.
    if (!conn.Receive(pace)) break;
  }
  const auto open = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  if (open >= limit) return std::nullopt;
  return open;
}

TEST(HardeningTest, SlowRequestHeadIsCutWithinItsTimeout) {
  Daemon d = LaunchDaemon(kBinary, {});
  RawConnection conn(d.port);
  ASSERT_TRUE(conn.connected());
  // One byte every 900 ms, each inside civetweb's 1 s per-read timeout: only a
  // deadline on the whole head stops it (else this head would take 40 s).
  const auto open = Trickle(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaa",
                            milliseconds(900), seconds(10));
  ASSERT_TRUE(open.has_value()) << "still open after 10 s";
  EXPECT_LT(*open, seconds(4));
  EXPECT_EQ(conn.received.find("200 OK"), std::string::npos);
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 200);
}

TEST(HardeningTest, SlowIngestBodyIsCutOnceBelowTheMinimumRate) {
  // 5 bytes/s, far under the default 16 KiB/s: cut after the first second,
  // long before the body timeout (10 s here).
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable", "--web.body-timeout-ms=10000"});
  RawConnection conn(d.port);
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(
      conn.Send("POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/x-ndjson\r\nContent-Length: 100000\r\n\r\n"));
  const auto open = Trickle(conn, std::string(200, 'x'), milliseconds(200), seconds(15));
  ASSERT_TRUE(open.has_value()) << "still open after 15 s";
  EXPECT_GE(*open, milliseconds(900));
  EXPECT_LT(*open, milliseconds(4000));
  // Said why, so Fluent Bit retries the chunk.
  EXPECT_EQ(conn.received.rfind("HTTP/1.1 408", 0), 0u) << conn.received;
  const HttpResponse scrape = HttpGet(d.port, "/metrics");
  EXPECT_NE(scrape.body.find("llm_log_exporter_http_ingest_requests_total{code=\"408\"} 1"),
            std::string::npos)
      << scrape.body;
}

TEST(HardeningTest, SlowIngestBodyWithoutMinimumRateIsCutAtTheBodyTimeout) {
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable", "--web.body-timeout-ms=1500",
                                    "--web.body-min-bytes-per-second=0"});
  RawConnection conn(d.port);
  ASSERT_TRUE(conn.Send("POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  const auto open = Trickle(conn, std::string(200, 'x'), milliseconds(200), seconds(10));
  ASSERT_TRUE(open.has_value()) << "still open after 10 s";
  EXPECT_GE(*open, milliseconds(1400));
  EXPECT_LT(*open, milliseconds(4000));
  EXPECT_EQ(conn.received.rfind("HTTP/1.1 408", 0), 0u) << conn.received;
}

TEST(HardeningTest, BodyOnAPathThatTakesNoneIsRefusedAtOnceAndNotWaitedFor) {
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable"});  // body timeout: 30 s
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"POST /metrics", "405"},  {"POST /-/healthy", "405"}, {"POST /nowhere", "405"},
      {"POST /-/reload", "413"}, {"GET /metrics", "413"},    {"GET /", "413"}};
  for (const auto& [request, status] : cases) {
    const std::string& path = request;
    RawConnection conn(d.port);
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.Send(request + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
    const auto open = Trickle(conn, std::string(100, 'x'), milliseconds(500), seconds(10));
    ASSERT_TRUE(open.has_value()) << path << ": still open after 10 s";
    EXPECT_LT(*open, milliseconds(1000)) << path;
    EXPECT_EQ(conn.received.rfind("HTTP/1.1 " + status, 0), 0u) << path << ": " << conn.received;
    EXPECT_NE(conn.received.find("Connection: close\r\n"), std::string::npos) << conn.received;
  }
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 200);
}

// `clients` connections that each send a request head announcing 100000
// bytes of body, then one byte every 500 ms, reconnecting 100 ms after the
// server closes one, until `stop`.
class Tricklers {
 public:
  Tricklers(int port, int clients, const std::vector<std::string>& paths) {
    for (int i = 0; i < clients; ++i) {
      const std::string path = paths[static_cast<std::size_t>(i) % paths.size()];
      threads_.emplace_back([this, port, path] {
        while (!stop_.load()) {
          RawConnection conn(port);
          if (conn.Send("POST " + path +
                        " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 100000\r\n\r\n")) {
            heads_.fetch_add(1);
            while (!stop_.load() && conn.Send("x") && conn.Receive(milliseconds(500))) {
            }
          }
          std::this_thread::sleep_for(milliseconds(100));
        }
      });
    }
  }
  ~Tricklers() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
  }
  int heads() const { return heads_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> heads_{0};
  std::vector<std::thread> threads_;
};

// The slowest of the scrapes made one after another for `span`, while
// `clients` trickle bodies to `paths`; every scrape must succeed.
milliseconds SlowestScrapeWhileTrickling(const std::vector<std::string>& flags, int clients,
                                         const std::vector<std::string>& paths, int* failed) {
  Daemon d = LaunchDaemon(kBinary, flags);
  Tricklers tricklers(d.port, clients, paths);
  const auto all_in = Clock::now() + seconds(5);
  while (tricklers.heads() < clients && Clock::now() < all_in) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_GE(tricklers.heads(), clients);
  milliseconds slowest(0);
  *failed = 0;
  const auto until = Clock::now() + seconds(3);
  while (Clock::now() < until) {
    const auto start = Clock::now();
    if (HttpGet(d.port, "/metrics").status != 200) ++*failed;
    slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(Clock::now() - start));
  }
  return slowest;
}

TEST(HardeningTest, SixteenTricklingBodiesDoNotHoldUpScrapes) {
  // 8 workers, a 30 s body timeout: each trickled body used to hold a worker
  // for 30 s, whatever the path, so 8 of them stopped every scrape.
  int failed = 0;
  const milliseconds slowest = SlowestScrapeWhileTrickling(
      {"--ingest.enable"}, 16, {"/metrics", "/api/v1/logs", "/-/healthy", "/"}, &failed);
  EXPECT_EQ(failed, 0);
  EXPECT_LT(slowest, milliseconds(2000));
  std::printf("[          ] slowest scrape %lld ms\n", static_cast<long long>(slowest.count()));
}

TEST(HardeningTest, IngestNeverTakesTheLastWorkersEvenWithoutMinimumRate) {
  // Without a minimum rate a trickled ingest body holds its worker for the
  // whole body timeout: ingest may hold 6 of the 8 workers, no more.
  int failed = 0;
  const milliseconds slowest = SlowestScrapeWhileTrickling(
      {"--ingest.enable", "--web.body-min-bytes-per-second=0"}, 16, {"/api/v1/logs"}, &failed);
  EXPECT_EQ(failed, 0);
  EXPECT_LT(slowest, milliseconds(2000));
}

// How long `scrape` (which returns the status) takes on `d` behind `count`
// connections that each sent `prefix` and then nothing; fails the test if it
// is not answered 200.
milliseconds ScrapeBehindStalledConnections(const Daemon& d, int count, const std::string& prefix,
                                            const std::function<int()>& scrape) {
  rlimit files{};
  EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  const rlim_t needed = static_cast<rlim_t>(count) + 100;
  if (files.rlim_cur < needed) {
    files.rlim_cur = std::min(needed, files.rlim_max);
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
  }
  std::vector<int> stalled;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(d.port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    if (fd < 0) break;
    // Non-blocking only for the connect: a full backlog must not stall us.
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS: fine
    if (!prefix.empty()) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
      send(fd, prefix.data(), prefix.size(), MSG_NOSIGNAL);
    }
    stalled.push_back(fd);
  }
  // Each held a worker for the 1 s head timeout: the scrape behind them
  // waited count / 8 s, or its connection attempt was dropped.
  const auto start = Clock::now();
  EXPECT_EQ(scrape(), 200);
  const auto latency = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  for (int fd : stalled) close(fd);
  std::printf("[          ] scrape behind %d connections: %lld ms\n", count,
              static_cast<long long>(latency.count()));
  return latency;
}

milliseconds ScrapeBehindStalledConnections(int count, const std::string& prefix) {
  Daemon d = LaunchDaemon(kBinary, {});  // 8 workers, 1 s to send a head
  const milliseconds latency = ScrapeBehindStalledConnections(
      d, count, prefix, [&d] { return HttpGet(d.port, "/metrics").status; });
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 200);
  return latency;
}

TEST(HardeningTest, TwoThousandIdleConnectionsDoNotHoldUpAScrape) {
  EXPECT_LT(ScrapeBehindStalledConnections(2000, ""), milliseconds(8000));  // 1.2 s; 13 s before
}

TEST(HardeningTest, ThreeHundredHalfSentHeadsDoNotHoldUpAScrape) {
  // These sent bytes: cut only once nothing moved on them for two looks.
  EXPECT_LT(ScrapeBehindStalledConnections(300, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "),
            milliseconds(8000));
}

// What the server answers to `request` on a fresh connection, until it closes
// it or 5 s pass.
std::string Exchange(int port, const std::string& request) {
  RawConnection conn(port);
  if (!conn.Send(request)) return "";
  const auto until = Clock::now() + seconds(5);
  while (Clock::now() < until && conn.Receive(milliseconds(200))) {
  }
  return conn.received;
}

TEST(HardeningTest, AmbiguousBodyFramingIs400AndClosed) {
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable"});
  const std::string ndjson = "Content-Type: application/x-ndjson\r\n";
  for (const std::string& framing :
       {std::string("Content-Length: 3\r\nContent-Length: 3\r\n\r\n{}\n"),
        std::string("Content-Length: 3\r\ncontent-length: 30\r\n\r\n{}\n"),
        std::string(
            "Content-Length: 8\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n"),
        std::string(
            "Transfer-Encoding: chunked\r\nContent-Length: 8\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n"),
        std::string("Transfer-Encoding: chunked\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n")}) {
    for (const std::string path : {"/api/v1/logs", "/metrics"}) {
      const std::string answer =
          Exchange(d.port, "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + ndjson + framing +
                               "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << framing << answer;
      // Closed: the request smuggled behind it is never served.
      EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << framing << answer;
    }
  }
  const HttpResponse scrape = HttpGet(d.port, "/metrics");
  EXPECT_NE(scrape.body.find("llm_log_exporter_http_ingest_requests_total{code=\"400\"} 5"),
            std::string::npos)
      << scrape.body;
}

TEST(HardeningTest, OnlyTheExactTelemetryPathServesMetrics) {
  Daemon d = LaunchDaemon(kBinary, {});
  // Percent escapes are decoded, as Go's net/http does; nothing else is
  // cleaned (Go redirects `//metrics` and `/./metrics`: 404 here).
  const std::vector<std::pair<std::string, int>> cases = {
      {"/metrics", 200},    {"/metrics?x=1", 200},    {"/%6detrics", 200}, {"/metrics%00", 404},
      {"//metrics", 404},   {"/metrics/", 404},       {"/./metrics", 404}, {"/x/../metrics", 404},
      {"/metrics%2f", 404}, {"/metrics%00.txt", 404}, {"/METRICS", 404},   {"/%zzmetrics", 400},
      {"/metrics%", 400},
  };
  for (const auto& [path, status] : cases) {
    const std::string answer =
        Exchange(d.port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + std::to_string(status), 0), 0u) << path << ": " << answer;
  }
}

// `curl` POSTing the file `body` to the ingest path of `port` with `args`;
// the status it got, or -(its exit code) if it got none.
int CurlPost(int port, const std::string& body, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {
      kCurl, "-sS",          "-o", "/dev/null",
      "-w",  "%{http_code}", "-H", "Content-Type: application/x-ndjson"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--data-binary");
  argv.push_back("@" + body);
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/api/v1/logs");
  const RunResult r = Run(argv, "", seconds(60));
  if (r.exit_code != 0) return -r.exit_code;
  return std::atoi(r.out.c_str());
}

TEST(HardeningTest, CurlBodyOverOneMebibyteGetsItsContinueAndIs204EveryTime) {
  TempDir dir;
  std::string lines;
  while (lines.size() < 2u << 20)
    lines += "{\"status\":\"success\",\"pad\":\"" + std::string(200, 'p') + "\"}\n";
  const std::string body = dir.Write("body.ndjson", lines);
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable"});
  // curl sends `Expect: 100-continue` for a body over 1 MiB and waits 1 s for
  // the 100 before sending anyway: unanswered, that raced the 1 s read timeout.
  for (int i = 0; i < 16; ++i) {
    const auto start = Clock::now();
    EXPECT_EQ(CurlPost(d.port, body), 204) << "try " << i;
    EXPECT_LT(Clock::now() - start, milliseconds(900)) << "try " << i << ": waited for a 100";
  }
}

TEST(HardeningTest, ChunkedBodyOfOneHundredMegabytesIs413) {
  TempDir dir;
  const std::string body = dir.Write("big.ndjson", std::string(100'000'000, '\n'));
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable"});  // limit: 16 MiB
  EXPECT_EQ(CurlPost(d.port, body, {"-H", "Transfer-Encoding: chunked"}), 413);
  EXPECT_EQ(CurlPost(d.port, body), 413);  // with its Content-Length: refused before
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 200);
}

TEST(HardeningTest, ExpectContinueIsAnsweredOnlyForAnAcceptableRequest) {
  TempDir dir;
  const std::string token = dir.Write("token", "s3cret\n");
  Daemon d = LaunchDaemon(kBinary, {"--ingest.enable", "--ingest.bearer-token-file=" + token,
                                    "--ingest.max-body-bytes=65536"});
  const std::string head = "POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n";
  const std::string ndjson = "Content-Type: application/x-ndjson\r\n";
  struct Case {
    std::string headers;
    std::string first_line;
  };
  const std::vector<Case> cases = {
      {ndjson + "Authorization: Bearer s3cret\r\nContent-Length: 3\r\n", "HTTP/1.1 100 Continue"},
      {ndjson + "Authorization: Bearer wrong\r\nContent-Length: 3\r\n", "HTTP/1.1 401"},
      {ndjson + "Authorization: Bearer s3cret\r\nContent-Length: 100000\r\n", "HTTP/1.1 413"},
      {"Authorization: Bearer s3cret\r\nContent-Length: 3\r\nContent-Type: image/png\r\n",
       "HTTP/1.1 415"},
  };
  for (const Case& c : cases) {
    RawConnection conn(d.port);
    ASSERT_TRUE(conn.Send(head + c.headers + "\r\n"));
    // The answer comes without the body: the client waits for it.
    const auto until = Clock::now() + seconds(5);
    while (conn.received.find("\r\n\r\n") == std::string::npos && Clock::now() < until &&
           conn.Receive(milliseconds(100))) {
    }
    EXPECT_EQ(conn.received.rfind(c.first_line, 0), 0u) << c.headers << conn.received;
    if (c.first_line == "HTTP/1.1 100 Continue") {
      ASSERT_TRUE(conn.Send("{}\n"));
      while (conn.received.find("HTTP/1.1 204") == std::string::npos && Clock::now() < until &&
             conn.Receive(milliseconds(100))) {
      }
      EXPECT_NE(conn.received.find("HTTP/1.1 204"), std::string::npos) << conn.received;
    }
  }
  // Any other expectation: 417.
  EXPECT_EQ(Exchange(d.port,
                     "POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nExpect: x\r\n"
                     "Content-Length: 3\r\n\r\n{}\n")
                .rfind("HTTP/1.1 417", 0),
            0u);
}

// The local addresses of the TCP sockets `pid` listens on, as /proc/net/tcp
// prints them (127.0.0.2:9879 is "0200007F:2687").
std::vector<std::string> ListeningAddresses(pid_t pid) {
  std::vector<std::string> inodes;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) {
      inodes.push_back(target.substr(8, target.size() - 9));
    }
  }
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  std::vector<std::string> out;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    const bool ours = std::find(inodes.begin(), inodes.end(), inode) != inodes.end();
    if (state == "0A" && ours) out.push_back(local);  // 0A: LISTEN
  }
  return out;
}

TEST(HardeningTest, ListensOnlyOnTheConfiguredAddress) {
  // 127.0.0.2 is loopback too on Linux: listening there, 127.0.0.1 is refused.
  ChildProcess daemon({kBinary, "--web.listen-address=127.0.0.2:0"});
  const std::string log = daemon.ReadStderrUntil("(metrics at", seconds(10));
  const std::string marker = "listening on 127.0.0.2:";
  const std::size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const int port = std::atoi(log.c_str() + at + marker.size());
  RawConnection right(port, "127.0.0.2");
  EXPECT_TRUE(right.connected());
  ASSERT_TRUE(right.Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  while (right.Receive(seconds(5))) {
  }
  EXPECT_EQ(right.received.rfind("HTTP/1.1 200", 0), 0u) << right.received;
  // Its only listening socket is on 127.0.0.2. (Connecting to 127.0.0.1:port
  // proves nothing: another test's daemon may hold that port number there.)
  char expected[32];
  std::snprintf(expected, sizeof expected, "0200007F:%04X", static_cast<unsigned>(port));
  EXPECT_EQ(ListeningAddresses(daemon.pid()), std::vector<std::string>{expected});
}

TEST_F(WebSecurityTest, TlsScrapeGetsThroughTwoThousandIdleConnections) {
  // The idle ones never send a ClientHello; the scrape's handshake, answered
  // by its worker while others still queue, must not be taken for idle.
  Daemon d = Start(Tls());
  const milliseconds latency = ScrapeBehindStalledConnections(
      d, 2000, "", [&d] { return Curl(pki_, d.port, "/metrics").status; });
  EXPECT_LT(latency, milliseconds(8000));
  EXPECT_EQ(Curl(pki_, d.port, "/-/healthy").status, 200);
}

TEST_F(WebSecurityTest, SlowTlsHandshakeIsCutWithinItsTimeout) {
  Daemon d = Start(Tls());
  RawConnection conn(d.port);
  ASSERT_TRUE(conn.connected());
  // A TLS record header announcing a 512-byte handshake message, then its
  // bytes one every 900 ms: the handshake must not wait for all of it (8 min).
  std::string record = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  record += std::string(64, 'r');
  const auto open = Trickle(conn, record, milliseconds(900), seconds(20));
  ASSERT_TRUE(open.has_value()) << "still open after 20 s";
  EXPECT_LT(*open, seconds(5));
  EXPECT_EQ(Curl(pki_, d.port, "/-/healthy").status, 200);
}


// What `openssl s_client` prints when the server closed the connection
// before answering its ClientHello.
constexpr char kShed[] = "SSL handshake has read 0 bytes";

// The subject of the certificate a new TLS connection is served, as
// `openssl s_client` prints it ("CN = server"); empty if the handshake failed,
// with `*why` (if given) its output. A handshake the server closed before
// answering is tried again for up to 10 s unless `retry_shed` is false: the
// load shedding of ConnectionDeadlines ("connections wait for a worker ...
// closed N idle ones") does that to a few concurrent handshakes on a loaded
// machine, rotation or not.
std::string ServedSubject(const Pki& pki, int port, std::string* why = nullptr,
                          bool retry_shed = true) {
  const auto deadline = Clock::now() + seconds(10);
  for (;;) {
    const RunResult r = test::Run({kOpenssl, "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port), "-CAfile", pki.ca_crt},
                                  "", seconds(10));
    const std::size_t at = r.out.find("\nsubject=");
    if (r.exit_code == 0 && at != std::string::npos) {
      const std::size_t begin = at + 9;
      return r.out.substr(begin, r.out.find('\n', begin) - begin);
    }
    if (!retry_shed || r.out.find(kShed) == std::string::npos || Clock::now() >= deadline) {
      if (why != nullptr) *why = "exit code " + std::to_string(r.exit_code) + ": " + r.out + r.err;
      return "";
    }
  }
}

// A TLS secret mounted as Kubernetes does it: tls.crt and tls.key are
// symlinks through `..data` to a timestamped directory; Swap() writes a new
// directory and renames a new `..data` link over the old one, as the kubelet
// does. Owns its temporary directory.
class KubernetesSecret {
 public:
  explicit KubernetesSecret(const Pki& pki) : pki_(pki) {
    namespace fs = std::filesystem;
    Put("..2026_00", "server");
    fs::create_directory_symlink("..2026_00", dir_.File("..data"));
    fs::create_symlink("..data/tls.crt", dir_.File("tls.crt"));
    fs::create_symlink("..data/tls.key", dir_.File("tls.key"));
  }
  std::string WebConfig() const {
    return "tls_server_config:\n  cert_file: " + dir_.File("tls.crt") +
           "\n  key_file: " + dir_.File("tls.key") + "\n";
  }
  // Serves `leaf` (a certificate and key made by Pki) from a new directory.
  void Swap(const std::string& leaf) {
    const std::string version = "..2026_" + std::to_string(++versions_);
    Put(version, leaf);
    std::filesystem::create_directory_symlink(version, dir_.File("..data_tmp"));
    std::filesystem::rename(dir_.File("..data_tmp"), dir_.File("..data"));
  }
  // The directory `..data` points to now.
  std::string Current() const { return dir_.File("..2026_" + std::to_string(versions_)); }
  const std::string& dir() const { return dir_.path(); }

 private:
  void Put(const std::string& version, const std::string& leaf) {
    std::filesystem::create_directory(dir_.File(version));
    std::filesystem::copy_file(pki_.dir + "/" + leaf + ".crt", dir_.File(version + "/tls.crt"));
    std::filesystem::copy_file(pki_.dir + "/" + leaf + ".key", dir_.File(version + "/tls.key"));
  }

  const Pki& pki_;
  TempDir dir_;
  int versions_ = 0;
};

// Certificate rotation as cert-manager and Kubernetes secrets do it: the web
// config names tls.crt and tls.key, symlinks through `..data` to a
// timestamped directory; the kubelet swaps `..data` to a new directory by a
// rename. Then files rewritten in place: a certificate whose key is not there
// yet (refused, counted, the previous one served on), then its key.
TEST_F(WebSecurityTest, RotatedCertificateIsServedToNewConnectionsAndABadOneIsNot) {
  namespace fs = std::filesystem;
  pki_.MakeLeaf("rotated", "ca", "subjectAltName=IP:127.0.0.1");
  pki_.MakeLeaf("third", "ca", "subjectAltName=IP:127.0.0.1");
  KubernetesSecret secret(pki_);
  Daemon d = Start(secret.WebConfig());
  ASSERT_EQ(ServedSubject(pki_, d.port), "CN = server");
  auto metric = [&](const std::string& series) {
    std::string body;  // a scrape shed (see ServedSubject) is tried again
    const auto deadline = Clock::now() + seconds(10);
    while ((body = Curl(pki_, d.port, "/metrics").body).empty() && Clock::now() < deadline) {
    }
    return MetricValue(body, series);
  };
  const std::string successes = "llm_log_exporter_web_config_reloads_total{outcome=\"success\"}";
  const std::string failures = "llm_log_exporter_web_config_reloads_total{outcome=\"failure\"}";
  const std::string last = "llm_log_exporter_web_config_last_reload_successful";
  EXPECT_EQ(metric(successes), 0.0);
  EXPECT_EQ(metric(last), 1.0);
  // Serves `subject` to a new connection within 10 s; every subject served
  // before is one of `before`.
  auto await_subject = [&](const std::string& subject, const std::set<std::string>& before) {
    const auto deadline = Clock::now() + seconds(10);
    std::string served;
    while ((served = ServedSubject(pki_, d.port)) != subject && Clock::now() < deadline) {
      EXPECT_TRUE(before.count(served) != 0) << served;
    }
    return served;
  };

  // The symlink swap.
  secret.Swap("rotated");
  EXPECT_EQ(await_subject("CN = rotated", {"CN = server"}), "CN = rotated");
  EXPECT_EQ(metric(successes), 1.0);
  EXPECT_EQ(metric(failures), 0.0);
  // curl, trusting the CA, scrapes over the new certificate.
  EXPECT_EQ(Curl(pki_, d.port, "/-/healthy").status, 200);

  // A certificate rewritten in place without its key: not loaded, counted
  // once, the rotated certificate served on.
  {
    std::ifstream in(pki_.dir + "/third.crt", std::ios::binary);
    std::ofstream out(secret.Current() + "/tls.crt", std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  const auto deadline = Clock::now() + seconds(10);
  while (metric(failures) != 1.0 && Clock::now() < deadline) {
    EXPECT_EQ(ServedSubject(pki_, d.port), "CN = rotated");
  }
  EXPECT_EQ(metric(failures), 1.0);
  EXPECT_EQ(metric(last), 0.0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ServedSubject(pki_, d.port), "CN = rotated");
  EXPECT_EQ(metric(failures), 1.0);  // tried once per change, not per connection

  // Its key arrives: served.
  {
    std::ifstream in(pki_.dir + "/third.key", std::ios::binary);
    std::ofstream out(secret.Current() + "/tls.key", std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  EXPECT_EQ(await_subject("CN = third", {"CN = rotated"}), "CN = third");
  EXPECT_EQ(metric(successes), 2.0);
  EXPECT_EQ(metric(failures), 1.0);
  EXPECT_EQ(metric(last), 1.0);
  // Files that vanish (a secret deleted) are a failure too, the last good
  // certificate stays.
  fs::remove(secret.dir() + "/..data");
  const auto gone = Clock::now() + seconds(10);
  while (metric(failures) != 2.0 && Clock::now() < gone) {
  }
  EXPECT_EQ(metric(failures), 2.0);
  EXPECT_EQ(ServedSubject(pki_, d.port), "CN = third");
}

// A client CA file rewritten in place (the CA that signs the scrapers'
// certificates rotated): new connections verify against the new CA and name
// it in the CertificateRequest; certificates of the old CA are refused.
TEST_F(WebSecurityTest, RotatedClientCaIsUsedToVerifyNewConnections) {
  TempDir secret;
  const std::string ca = secret.path() + "/clients-ca.crt";
  std::filesystem::copy_file(pki_.client_ca_crt, ca);
  Daemon d = Start(Tls("  client_ca_file: " + ca + "\n  client_auth_type: RequireAndVerifyClientCert\n"));
  const std::vector<std::string> client = {"--cert", pki_.client_crt, "--key", pki_.client_key};
  const std::vector<std::string> stranger = {"--cert", pki_.stranger_crt, "--key",
                                             pki_.stranger_key};
  ASSERT_EQ(Curl(pki_, d.port, "/metrics", client).status, 200);
  ASSERT_EQ(Curl(pki_, d.port, "/metrics", stranger).status, 0);
  {
    std::ifstream in(pki_.dir + "/other-ca.crt", std::ios::binary);
    std::ofstream out(ca, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  const auto deadline = Clock::now() + seconds(10);
  int status = 0;
  while ((status = Curl(pki_, d.port, "/metrics", stranger).status) != 200 &&
         Clock::now() < deadline) {
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(Curl(pki_, d.port, "/metrics", client).status, 0);
  const RunResult r = test::Run(
      {kOpenssl, "s_client", "-connect", "127.0.0.1:" + std::to_string(d.port), "-CAfile",
       pki_.ca_crt, "-cert", pki_.stranger_crt, "-key", pki_.stranger_key},
      "", seconds(10));
  EXPECT_NE(r.out.find("Acceptable client certificate CA names\nCN = lle test other-ca\n"),
            std::string::npos)
      << r.out << r.err;
  const CurlResult scrape = Curl(pki_, d.port, "/metrics", stranger);
  EXPECT_EQ(MetricValue(scrape.body,
                        "llm_log_exporter_web_config_reloads_total{outcome=\"success\"}"),
            1.0)
      << scrape.body;
}

// Handshakes from four threads while the certificate is swapped back and
// forth: civetweb's workers check and reload concurrently; every handshake
// must get one of the two certificates, and each swap is loaded once. The one
// failure allowed is a handshake shed (see ServedSubject), counted: at most
// one in ten. A handshake the rotation broke would get an alert, a wrong
// certificate or no daemon at all.
TEST_F(WebSecurityTest, ConcurrentHandshakesDuringRotationGetEitherCertificate) {
  pki_.MakeLeaf("rotated", "ca", "subjectAltName=IP:127.0.0.1");
  KubernetesSecret secret(pki_);
  Daemon d = Start(secret.WebConfig());
  ASSERT_EQ(ServedSubject(pki_, d.port), "CN = server");
  std::atomic<bool> stop{false};
  std::atomic<int> handshakes{0};
  std::atomic<int> shed{0};  // closed by the server before it answered
  std::mutex mutex;
  std::vector<std::string> unexpected;  // guarded by mutex
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        std::string why;
        const std::string subject = ServedSubject(pki_, d.port, &why, /*retry_shed=*/false);
        ++handshakes;
        if (subject.empty() && why.find(kShed) != std::string::npos) {
          ++shed;
        } else if (subject != "CN = server" && subject != "CN = rotated") {
          std::lock_guard<std::mutex> lock(mutex);
          unexpected.push_back(subject + why);
        }
      }
    });
  }
  constexpr int kSwaps = 6;
  for (int i = 0; i < kSwaps; ++i) {
    const std::string leaf = i % 2 == 0 ? "rotated" : "server";
    secret.Swap(leaf);
    const auto deadline = Clock::now() + seconds(10);
    while (ServedSubject(pki_, d.port) != "CN = " + leaf && Clock::now() < deadline) {
    }
    EXPECT_EQ(ServedSubject(pki_, d.port), "CN = " + leaf) << "swap " << i;
  }
  stop.store(true);
  for (std::thread& t : clients) t.join();
  EXPECT_GT(handshakes.load(), 4 * kSwaps);
  EXPECT_LT(shed.load() * 10, handshakes.load()) << shed.load() << " of " << handshakes.load();
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " handshakes failed or served "
                                  << (unexpected.empty() ? "" : "'" + unexpected[0] + "'");
  std::string body;  // a scrape shed as above is tried again
  const auto deadline = Clock::now() + seconds(10);
  while ((body = Curl(pki_, d.port, "/metrics").body).empty() && Clock::now() < deadline) {
  }
  EXPECT_EQ(MetricValue(body, "llm_log_exporter_web_config_reloads_total{outcome=\"success\"}"),
            static_cast<double>(kSwaps))
      << body;
  EXPECT_EQ(MetricValue(body, "llm_log_exporter_web_config_reloads_total{outcome=\"failure\"}"),
            0.0);
}


// The web config file itself (issue 18): re-read when it changes, as the
// exporter-toolkit re-reads it per request.

// `user:password` in an Authorization header's Basic form.
std::string BasicHeader(const std::string& credentials) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  for (std::size_t i = 0; i < credentials.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, credentials.size() - i);
    unsigned bits = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      bits = (bits << 8) | (j < n ? static_cast<unsigned char>(credentials[i + j]) : 0u);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? kAlphabet[(bits >> (18 - 6 * j)) & 63] : '=';
    }
  }
  return out;
}

// The status of GET `path` over plain HTTP with basic auth `credentials`.
int PlainStatus(int port, const std::string& credentials, const std::string& path = "/-/healthy") {
  return HttpGet(port, path, {{"Authorization", BasicHeader(credentials)}}).status;
}

// Replaces `path` by a rename, as an editor or `kubectl cp` would: a reader
// never sees it half written.
void ReplaceFile(const std::string& path, const std::string& content) {
  {
    std::ofstream out(path + ".new", std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path + ".new");
  }
  std::filesystem::rename(path + ".new", path);
}

// A web config mounted from a Kubernetes Secret: web.yml is a symlink through
// `..data` to a timestamped directory; Update() writes a new directory and
// swaps `..data` by a rename, as the kubelet does. Owns its directory.
class WebConfigSecret {
 public:
  explicit WebConfigSecret(const std::string& yaml) { Put(yaml, "..data"); }
  std::string path() const { return dir_.File("web.yml"); }
  void Update(const std::string& yaml) {
    Put(yaml, "..data_tmp");
    std::filesystem::rename(dir_.File("..data_tmp"), dir_.File("..data"));
  }

 private:
  void Put(const std::string& yaml, const std::string& link) {
    const std::string version = "..2026_" + std::to_string(versions_++);
    std::filesystem::create_directory(dir_.File(version));
    dir_.Write(version + "/web.yml", yaml);
    std::filesystem::create_directory_symlink(version, dir_.File(link));
    if (!std::filesystem::is_symlink(dir_.File("web.yml"))) {
      std::filesystem::create_symlink("..data/web.yml", dir_.File("web.yml"));
    }
  }

  TempDir dir_;
  int versions_ = 0;
};

constexpr char kSuccesses[] = "llm_log_exporter_web_config_reloads_total{outcome=\"success\"}";
constexpr char kFailures[] = "llm_log_exporter_web_config_reloads_total{outcome=\"failure\"}";
constexpr char kLastOk[] = "llm_log_exporter_web_config_last_reload_successful";

// A password rotated in the Secret the web config is mounted from: the new
// one opens the endpoints within a deadline, the old one no longer does (the
// cache of verified headers goes with the old users), without a restart.
TEST_F(WebSecurityTest, RotatedBasicAuthPasswordInTheWebConfigAppliesToNewRequests) {
  WebConfigSecret secret("basic_auth_users:\n  alice: '" + pki_.alice_hash + "'\n");
  Daemon d = LaunchDaemon(kBinary, {"--web.config.file=" + secret.path()});
  // Verified once: its header is now cached.
  ASSERT_EQ(PlainStatus(d.port, "alice:secret"), 200);
  ASSERT_EQ(PlainStatus(d.port, "alice:rotated"), 401);
  const std::string scrape =
      HttpGet(d.port, "/metrics", {{"Authorization", BasicHeader("alice:secret")}}).body;
  EXPECT_EQ(MetricValue(scrape, kSuccesses), 0.0) << scrape;
  EXPECT_EQ(MetricValue(scrape, kLastOk), 1.0);

  EXPECT_EQ(HttpGet(d.port, "/-/healthy").headers.count("x-frame-options"), 0u);
  secret.Update("basic_auth_users:\n  alice: '" + Pki::Hash("alice", "rotated") +
                "'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  const auto deadline = Clock::now() + seconds(10);
  int status = 0;
  while ((status = PlainStatus(d.port, "alice:rotated")) != 200 && Clock::now() < deadline) {
    EXPECT_EQ(status, 401);
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(PlainStatus(d.port, "alice:secret"), 401);
  EXPECT_EQ(PlainStatus(d.port, "alice:secret", "/metrics"), 401);
  HttpResponse after =
      HttpGet(d.port, "/metrics", {{"Authorization", BasicHeader("alice:rotated")}});
  EXPECT_EQ(MetricValue(after.body, kSuccesses), 1.0) << after.body;
  EXPECT_EQ(MetricValue(after.body, kFailures), 0.0);
  EXPECT_EQ(MetricValue(after.body, kLastOk), 1.0);
  // The headers of the new file are sent too, on answers and refusals.
  EXPECT_EQ(after.headers["x-frame-options"], "deny");
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").headers["x-frame-options"], "deny");
  EXPECT_NE(d.process->ReadStderrUntil("changed; reloaded (1 basic auth users)", seconds(5))
                .find("changed; reloaded (1 basic auth users)"),
            std::string::npos);
}

// A web config that no longer loads (broken YAML, an empty file) or asks for
// what needs a restart (TLS turned on) changes nothing: the users as they
// were still apply, each change is refused with one line and counted once
// (not per request), and a good file afterwards is taken.
TEST_F(WebSecurityTest, BrokenOrRestartOnlyWebConfigKeepsThePreviousOne) {
  const std::string path = pki_.temp->Write("web-broken.yml", Users());
  Daemon d = LaunchDaemon(kBinary, {"--web.config.file=" + path});
  ASSERT_EQ(PlainStatus(d.port, "alice:secret"), 200);
  auto metric = [&](const std::string& series) {
    return MetricValue(
        HttpGet(d.port, "/metrics", {{"Authorization", BasicHeader("alice:secret")}}).body, series);
  };
  // Waits until the failures reach `failures`, the users as they were
  // answering every request meanwhile.
  auto await_failures = [&](double failures) {
    const auto deadline = Clock::now() + seconds(10);
    while (metric(kFailures) != failures && Clock::now() < deadline) {
      EXPECT_EQ(PlainStatus(d.port, "bob:hunter2"), 200);
      EXPECT_EQ(PlainStatus(d.port, "eve:secret"), 401);
    }
    return metric(kFailures);
  };

  ReplaceFile(path, "basic_auth_users: {alice: '" + pki_.alice_hash + "'\n");
  EXPECT_EQ(await_failures(1.0), 1.0);
  const std::string log = d.process->ReadStderrUntil("changed but does not load", seconds(5));
  EXPECT_NE(log.find("web config: " + path +
                     " changed but does not load, everything stays as it was: not valid YAML"),
            std::string::npos)
      << log;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(PlainStatus(d.port, "alice:secret"), 200);
    EXPECT_EQ(PlainStatus(d.port, "bob:hunter2"), 200);
    EXPECT_EQ(PlainStatus(d.port, "alice:wrong"), 401);
    EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 401);
  }
  EXPECT_EQ(metric(kFailures), 1.0);  // once per change, not per request
  EXPECT_EQ(metric(kLastOk), 0.0);
  EXPECT_EQ(metric(kSuccesses), 0.0);

  // Emptied (as a rewrite in place does for a moment): not "no users".
  ReplaceFile(path, "");
  EXPECT_EQ(await_failures(2.0), 2.0);
  EXPECT_EQ(HttpGet(d.port, "/-/healthy").status, 401);

  // TLS turned on: civetweb set its ports up as plain HTTP at start.
  ReplaceFile(path, Tls() + "basic_auth_users:\n  alice: '" + pki_.alice_hash + "'\n");
  EXPECT_EQ(await_failures(3.0), 3.0);
  const std::string refused = d.process->ReadStderrUntil("turning TLS on", seconds(5));
  EXPECT_NE(refused.find("changed, refused, everything stays as it was: tls_server_config: "
                         "turning TLS on needs a restart"),
            std::string::npos)
      << refused;
  EXPECT_EQ(PlainStatus(d.port, "bob:hunter2"), 200);  // bob was not removed either

  // A good file again: taken.
  ReplaceFile(path, "basic_auth_users:\n  alice: '" + pki_.alice_hash + "'\n");
  const auto deadline = Clock::now() + seconds(10);
  while (PlainStatus(d.port, "bob:hunter2") != 401 && Clock::now() < deadline) {
  }
  EXPECT_EQ(PlainStatus(d.port, "bob:hunter2"), 401);
  EXPECT_EQ(metric(kSuccesses), 1.0);
  EXPECT_EQ(metric(kFailures), 3.0);
  EXPECT_EQ(metric(kLastOk), 1.0);
}

// cert_file and key_file pointed at other files (a new Secret mounted
// elsewhere): new connections get the new certificate; a change of
// client_auth_type, which needs a restart, is refused and the certificate
// stays; paths to files that do not load leave new connections on the
// previous certificate until those files change.
TEST_F(WebSecurityTest, NewCertificatePathsInTheWebConfigAreServedToNewConnections) {
  pki_.MakeLeaf("moved", "ca", "subjectAltName=IP:127.0.0.1");
  pki_.MakeLeaf("later", "ca", "subjectAltName=IP:127.0.0.1");
  const std::string path = pki_.temp->Write("web-paths.yml", Tls());
  Daemon d = LaunchDaemon(kBinary, {"--web.config.file=" + path});
  ASSERT_EQ(ServedSubject(pki_, d.port), "CN = server");
  auto metric = [&](const std::string& series) {
    std::string body;  // a scrape shed (see ServedSubject) is tried again
    const auto deadline = Clock::now() + seconds(10);
    while ((body = Curl(pki_, d.port, "/metrics").body).empty() && Clock::now() < deadline) {
    }
    return MetricValue(body, series);
  };
  // The subject new connections get within 10 s; each before is one of `before`.
  auto await_subject = [&](const std::string& subject, const std::set<std::string>& before) {
    const auto deadline = Clock::now() + seconds(10);
    std::string served;
    while ((served = ServedSubject(pki_, d.port)) != subject && Clock::now() < deadline) {
      EXPECT_TRUE(before.count(served) != 0) << served;
    }
    return served;
  };
  auto paths = [](const std::string& crt, const std::string& key) {
    return "tls_server_config:\n  cert_file: " + crt + "\n  key_file: " + key + "\n";
  };
  const std::string moved = paths(pki_.dir + "/moved.crt", pki_.dir + "/moved.key");
  ReplaceFile(path, moved);
  EXPECT_EQ(await_subject("CN = moved", {"CN = server"}), "CN = moved");
  EXPECT_EQ(metric(kSuccesses), 1.0);
  EXPECT_EQ(metric(kFailures), 0.0);
  EXPECT_EQ(metric(kLastOk), 1.0);
  EXPECT_EQ(Curl(pki_, d.port, "/-/healthy").status, 200);

  // client_auth_type: a connection takes its verify mode from the serving
  // context, so a change needs a restart. Refused, counted, nothing changes.
  ReplaceFile(path, moved + "  client_auth_type: RequireAnyClientCert\n");
  auto await_failures = [&](double failures) {
    const auto deadline = Clock::now() + seconds(10);
    while (metric(kFailures) != failures && Clock::now() < deadline) {
    }
    return metric(kFailures);
  };
  EXPECT_EQ(await_failures(1.0), 1.0);
  EXPECT_EQ(metric(kLastOk), 0.0);
  EXPECT_EQ(ServedSubject(pki_, d.port), "CN = moved");
  EXPECT_EQ(Curl(pki_, d.port, "/-/healthy").status, 200);  // still no client certificate asked
  const std::string log = d.process->ReadStderrUntil("client_auth_type", seconds(5));
  EXPECT_NE(log.find("tls_server_config.client_auth_type: a change needs a restart"),
            std::string::npos)
      << log;

  // New paths whose files do not load together (later's certificate, moved's
  // key): moved's certificate stays, counted; then the key file rewritten
  // with later's key: the new paths are followed, later's certificate served.
  const std::string crt = pki_.dir + "/paths.crt";
  const std::string key = pki_.dir + "/paths.key";
  std::filesystem::copy_file(pki_.dir + "/later.crt", crt);
  std::filesystem::copy_file(pki_.dir + "/moved.key", key);
  ReplaceFile(path, paths(crt, key));
  EXPECT_EQ(await_failures(2.0), 2.0);
  EXPECT_EQ(ServedSubject(pki_, d.port), "CN = moved");
  ReplaceFile(key, [&] {
    std::ifstream in(pki_.dir + "/later.key", std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }());
  EXPECT_EQ(await_subject("CN = later", {"CN = moved"}), "CN = later");
  EXPECT_EQ(metric(kSuccesses), 2.0);
  EXPECT_EQ(metric(kFailures), 2.0);
  EXPECT_EQ(metric(kLastOk), 1.0);
}

// Requests from four threads while the password is rotated back and forth:
// civetweb's workers check basic auth while one of them swaps the users in.
// Every answer must be 200 or 401 (a request is checked against the users
// before or after a swap, never against a half-made set), and each swap is
// read once. A connection shed by the server under load (status 0) is
// counted and allowed for at most one request in ten.
TEST_F(WebSecurityTest, ConcurrentRequestsDuringPasswordRotationGetEitherUsers) {
  const std::string before = "basic_auth_users:\n  alice: '" + pki_.alice_hash + "'\n";
  const std::string after = "basic_auth_users:\n  alice: '" + Pki::Hash("alice", "rotated") + "'\n";
  WebConfigSecret secret(before);
  Daemon d = LaunchDaemon(kBinary, {"--web.config.file=" + secret.path()});
  ASSERT_EQ(PlainStatus(d.port, "alice:secret"), 200);
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  std::atomic<int> shed{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      const std::string credentials = i % 2 == 0 ? "alice:secret" : "alice:rotated";
      while (!stop.load()) {
        const int status = PlainStatus(d.port, credentials);
        ++requests;
        if (status == 0) {
          ++shed;
        } else if (status != 200 && status != 401) {
          ++unexpected;
        }
      }
    });
  }
  constexpr int kSwaps = 6;
  for (int i = 0; i < kSwaps; ++i) {
    const bool rotated = i % 2 == 0;
    secret.Update(rotated ? after : before);
    const std::string now = rotated ? "alice:rotated" : "alice:secret";
    const std::string old = rotated ? "alice:secret" : "alice:rotated";
    const auto deadline = Clock::now() + seconds(10);
    while (PlainStatus(d.port, now) != 200 && Clock::now() < deadline) {
    }
    EXPECT_EQ(PlainStatus(d.port, now), 200) << "swap " << i;
    EXPECT_EQ(PlainStatus(d.port, old), 401) << "swap " << i;
  }
  stop.store(true);
  for (std::thread& t : clients) t.join();
  EXPECT_GT(requests.load(), 4 * kSwaps);
  EXPECT_LT(shed.load() * 10, requests.load()) << shed.load() << " of " << requests.load();
  EXPECT_EQ(unexpected.load(), 0);
  const std::string body =
      HttpGet(d.port, "/metrics", {{"Authorization", BasicHeader("alice:secret")}}).body;
  EXPECT_EQ(MetricValue(body, kSuccesses), static_cast<double>(kSwaps)) << body;
  EXPECT_EQ(MetricValue(body, kFailures), 0.0);
}

}  // namespace
}  // namespace lle::test
