#include "rdkafka_api.h"

#include <dlfcn.h>

#include <string>

#include "llm_log_exporter/core/load_once.h"

namespace lle {
namespace {

// librdkafka's soname (Debian package librdkafka1): the ABI rdkafka.h describes.
constexpr char kLibrary[] = "librdkafka.so.1";

template <typename Fn>
bool Resolve(void* library, const char* name, Fn* fn, std::string* error) {
  *fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (*fn != nullptr) return true;
  *error = std::string(kLibrary) + " has no " + name + " (librdkafka older than 2.0?)";
  return false;
}

bool Load(RdKafkaApi* api, std::string* error) {
  // Never closed: the functions are used until the process ends.
  void* library = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    *error = std::string("cannot load ") + kLibrary +
             " (Debian package librdkafka1): " + (why != nullptr ? why : "unknown error");
    return false;
  }
#define LLE_RESOLVE(fn) Resolve(library, #fn, &api->fn, error)
  return LLE_RESOLVE(rd_kafka_assign) && LLE_RESOLVE(rd_kafka_assignment_lost) &&
         LLE_RESOLVE(rd_kafka_commit) && LLE_RESOLVE(rd_kafka_conf_destroy) &&
         LLE_RESOLVE(rd_kafka_conf_new) && LLE_RESOLVE(rd_kafka_conf_set) &&
         LLE_RESOLVE(rd_kafka_conf_set_error_cb) && LLE_RESOLVE(rd_kafka_conf_set_log_cb) &&
         LLE_RESOLVE(rd_kafka_conf_set_offset_commit_cb) && LLE_RESOLVE(rd_kafka_conf_set_opaque) &&
         LLE_RESOLVE(rd_kafka_conf_set_rebalance_cb) && LLE_RESOLVE(rd_kafka_consumer_close) &&
         LLE_RESOLVE(rd_kafka_consumer_poll) && LLE_RESOLVE(rd_kafka_destroy) &&
         LLE_RESOLVE(rd_kafka_err2name) && LLE_RESOLVE(rd_kafka_err2str) &&
         LLE_RESOLVE(rd_kafka_error_destroy) && LLE_RESOLVE(rd_kafka_error_string) &&
         LLE_RESOLVE(rd_kafka_incremental_assign) && LLE_RESOLVE(rd_kafka_incremental_unassign) &&
         LLE_RESOLVE(rd_kafka_message_destroy) && LLE_RESOLVE(rd_kafka_metadata) &&
         LLE_RESOLVE(rd_kafka_metadata_destroy) && LLE_RESOLVE(rd_kafka_new) &&
         LLE_RESOLVE(rd_kafka_offsets_store) && LLE_RESOLVE(rd_kafka_poll_set_consumer) &&
         LLE_RESOLVE(rd_kafka_rebalance_protocol) && LLE_RESOLVE(rd_kafka_subscribe) &&
         LLE_RESOLVE(rd_kafka_topic_name) && LLE_RESOLVE(rd_kafka_topic_partition_list_add) &&
         LLE_RESOLVE(rd_kafka_topic_partition_list_destroy) &&
         LLE_RESOLVE(rd_kafka_topic_partition_list_new);
#undef LLE_RESOLVE
}

}  // namespace

const RdKafkaApi* LoadRdKafkaApi(std::string* error) { return LoadOnce(&Load, error); }

}  // namespace lle
