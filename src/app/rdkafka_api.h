#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

namespace lle {

/// The librdkafka functions the Kafka input calls, loaded with dlopen() when
/// --input.kafka.topic is given. librdkafka links libssl, libcrypto, libsasl2
/// and liblz4: linked into the executable, it would load them into every
/// daemon, undoing what OpenSslApi saves (start-up time, page faults; TLS
/// libraries only where TLS is used). Each member is named, and typed, after
/// the function it points to. Immutable once loaded.
struct RdKafkaApi {
  decltype(&::rd_kafka_assign) rd_kafka_assign;
  decltype(&::rd_kafka_assignment_lost) rd_kafka_assignment_lost;
  decltype(&::rd_kafka_commit) rd_kafka_commit;
  decltype(&::rd_kafka_conf_destroy) rd_kafka_conf_destroy;
  decltype(&::rd_kafka_conf_new) rd_kafka_conf_new;
  decltype(&::rd_kafka_conf_set) rd_kafka_conf_set;
  decltype(&::rd_kafka_conf_set_error_cb) rd_kafka_conf_set_error_cb;
  decltype(&::rd_kafka_conf_set_log_cb) rd_kafka_conf_set_log_cb;
  decltype(&::rd_kafka_conf_set_offset_commit_cb) rd_kafka_conf_set_offset_commit_cb;
  decltype(&::rd_kafka_conf_set_opaque) rd_kafka_conf_set_opaque;
  decltype(&::rd_kafka_conf_set_rebalance_cb) rd_kafka_conf_set_rebalance_cb;
  decltype(&::rd_kafka_consumer_close) rd_kafka_consumer_close;
  decltype(&::rd_kafka_consumer_poll) rd_kafka_consumer_poll;
  decltype(&::rd_kafka_destroy) rd_kafka_destroy;
  decltype(&::rd_kafka_err2name) rd_kafka_err2name;
  decltype(&::rd_kafka_err2str) rd_kafka_err2str;
  decltype(&::rd_kafka_error_destroy) rd_kafka_error_destroy;
  decltype(&::rd_kafka_error_string) rd_kafka_error_string;
  decltype(&::rd_kafka_incremental_assign) rd_kafka_incremental_assign;
  decltype(&::rd_kafka_incremental_unassign) rd_kafka_incremental_unassign;
  decltype(&::rd_kafka_message_destroy) rd_kafka_message_destroy;
  decltype(&::rd_kafka_metadata) rd_kafka_metadata;
  decltype(&::rd_kafka_metadata_destroy) rd_kafka_metadata_destroy;
  decltype(&::rd_kafka_new) rd_kafka_new;
  decltype(&::rd_kafka_offsets_store) rd_kafka_offsets_store;
  decltype(&::rd_kafka_poll_set_consumer) rd_kafka_poll_set_consumer;
  decltype(&::rd_kafka_rebalance_protocol) rd_kafka_rebalance_protocol;
  decltype(&::rd_kafka_subscribe) rd_kafka_subscribe;
  decltype(&::rd_kafka_topic_name) rd_kafka_topic_name;
  decltype(&::rd_kafka_topic_partition_list_add) rd_kafka_topic_partition_list_add;
  decltype(&::rd_kafka_topic_partition_list_destroy) rd_kafka_topic_partition_list_destroy;
  decltype(&::rd_kafka_topic_partition_list_new) rd_kafka_topic_partition_list_new;
};

/// The functions, loaded from librdkafka.so.1 on the first call; nullptr,
/// with `error` saying which library or function is missing, if they cannot
/// be. Thread-safe.
const RdKafkaApi* LoadRdKafkaApi(std::string* error);

}  // namespace lle
