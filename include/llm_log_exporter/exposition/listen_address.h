#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

/// A parsed --web.listen-address: "[host]:port" with host an IPv4 literal,
/// "[v6]" or empty (all interfaces).
struct ListenAddress {
  std::string host;  // "" = all interfaces
  int port = 0;      // 0 = any free port
  bool ipv6 = false;

  /// Civetweb's listening_ports syntax for this address.
  std::string ToCivetweb() const;
  /// "host:port" with the given (bound) port, for logs.
  std::string Format(int bound_port) const;
};

/// "host:port" of each address with its bound port (`bound_ports[i]` for
/// `addresses[i]`; a missing one is shown as the address's own port), joined
/// by ", ", for logs.
std::string FormatAll(const std::vector<ListenAddress>& addresses,
                      const std::vector<int>& bound_ports);

/// Parses `text`, or returns nullopt and sets `*error` to why not.
std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string* error);

}  // namespace lle
