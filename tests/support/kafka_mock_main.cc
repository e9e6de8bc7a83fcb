// lle_kafka_mock: a Kafka cluster for the tests, librdkafka's own mock
// (rdkafka_mock.h) in a process of its own, so that a test can take it away
// as a real outage would (close its stdin, or SIGTERM/SIGKILL it).
//
//   lle_kafka_mock [--brokers N] TOPIC:PARTITIONS...
//
// Creates each topic with its partitions, prints the bootstrap address
// (`127.0.0.1:PORT,...`, kernel-chosen ports) and a newline on stdout, then
// reads commands on stdin, one a line, each answered by `ok COMMAND` on stdout:
//   down   every broker refuses connections (rd_kafka_mock_broker_set_down)
//   up     every broker accepts connections again
// and exits 0 when stdin closes or on SIGTERM/SIGINT.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

int Usage() {
  std::fprintf(stderr, "usage: lle_kafka_mock [--brokers N] TOPIC:PARTITIONS...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  int first_topic = 1;
  if (argc > 2 && std::strcmp(argv[1], "--brokers") == 0) {
    brokers = std::atoi(argv[2]);
    first_topic = 3;
  }
  if (brokers < 1 || first_topic >= argc) return Usage();

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The mock cluster lives on a handle of its own (a producer that produces nothing).
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "lle_kafka_mock: %s\n", error);
    return 1;
  }
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (handle == nullptr) {
    std::fprintf(stderr, "lle_kafka_mock: rd_kafka_new: %s\n", error);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "lle_kafka_mock: rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  for (int i = first_topic; i < argc; ++i) {
    const std::string spec = argv[i];
    const std::size_t colon = spec.rfind(':');
    const int partitions = colon == std::string::npos ? 0 : std::atoi(spec.c_str() + colon + 1);
    if (partitions < 1) return Usage();
    const std::string topic = spec.substr(0, colon);
    const rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "lle_kafka_mock: topic %s: %s\n", topic.c_str(), rd_kafka_err2str(err));
      return 1;
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  std::string pending;
  while (g_stop == 0) {
    pollfd in{0, POLLIN, 0};
    const int ready = poll(&in, 1, 200);  // wakes to see a signal's flag
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[256];
    const ssize_t n = read(0, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stdin closed: the test is done with us
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
      const std::string command = pending.substr(0, end);
      pending.erase(0, end + 1);
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (command == "down") {
        err = rd_kafka_mock_broker_set_down(cluster, -1);
      } else if (command == "up") {
        err = rd_kafka_mock_broker_set_up(cluster, -1);
      } else {
        std::printf("unknown command\n");
        std::fflush(stdout);
        continue;
      }
      std::printf("%s %s\n", err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : rd_kafka_err2str(err),
                  command.c_str());
      std::fflush(stdout);
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
