#include "llm_log_exporter/exposition/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace lle {

std::string ListenAddress::ToCivetweb() const {
  const std::string p = std::to_string(port);
  if (host.empty()) return p;  // civetweb: every IPv4 interface
  return ipv6 ? "[" + host + "]:" + p : host + ":" + p;
}

std::string ListenAddress::Format(int bound_port) const {
  const std::string p = std::to_string(bound_port);
  if (host.empty()) return "0.0.0.0:" + p;
  return ipv6 ? "[" + host + "]:" + p : host + ":" + p;
}

std::string FormatAll(const std::vector<ListenAddress>& addresses,
                      const std::vector<int>& bound_ports) {
  std::string out;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ", ";
    out += addresses[i].Format(i < bound_ports.size() ? bound_ports[i] : addresses[i].port);
  }
  return out;
}

std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string* error) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "expected [HOST]:PORT, e.g. :9879 or 127.0.0.1:9879";
    return std::nullopt;
  }
  ListenAddress out;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  int value = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 0 ||
      value > 65535) {
    *error = "port '" + std::string(port) + "' is not a number from 0 to 65535";
    return std::nullopt;
  }
  out.port = value;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    out.ipv6 = true;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!host.empty()) {
    unsigned char buf[16];
    const std::string h(host);
    if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, h.c_str(), buf) != 1) {
      *error = "host '" + h + "' is not an IP address (use an IPv4 literal, [IPv6] or nothing)";
      return std::nullopt;
    }
    out.host = h;
  }
  return out;
}

}  // namespace lle
