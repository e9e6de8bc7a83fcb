#pragma once

#include <map>
#include <string>

namespace lle::test {

struct HttpResponse {
  int status = 0;                              // 0: connection failed
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // as received (not decompressed)
};

/// A minimal blocking HTTP/1.1 client over a fresh TCP connection to
/// 127.0.0.1:`port` ("Connection: close"). Never throws; status 0 on failure.
HttpResponse HttpGet(int port, const std::string& path,
                     const std::map<std::string, std::string>& headers = {},
                     const std::string& method = "GET");

/// The same with a request body (sent with its Content-Length).
HttpResponse HttpSend(int port, const std::string& method, const std::string& path,
                      const std::map<std::string, std::string>& headers, const std::string& body);

/// gunzips `data`; throws std::runtime_error if it is not valid gzip.
std::string Gunzip(const std::string& data);

}  // namespace lle::test
