#pragma once

#include <string>
#include <string_view>

namespace lle {

// What deployments put around a server's own line. One place for all of it:
// every text recogniser and the JSON parser see the line as the server wrote it.

/// The line as the server wrote it:
///  - ANSI escape sequences removed, anywhere in the line: CSI (`ESC [` params
///    final byte, as SGR colours `ESC[0;36m`), OSC (`ESC ]` ... BEL or `ESC \`)
///    and two-byte escapes. Only a line holding an ESC byte is copied (into
///    `scratch`); any other costs one memchr;
///  - then deployment wrappers skipped at its start, each at most once, in any
///    nesting: the CRI log format of Kubernetes node files
///    (`2016-10-06T00:17:09.669794202Z stdout F `), journald/syslog
///    (`Dec 08 19:56:13 host ollama[1066]: `, also localized months such as
///    `janv.`, and `-o short-iso` stamps), docker compose (`vllm-1  | `,
///    `[svc] | `), `docker logs -t` (RFC 3339 with 9 fraction digits:
///    `2025-04-01T08:18:00.513604000Z `) and Docker Desktop
///    (`2025-01-19 19:58:17 `, skipped only when no `name - ` header follows,
///    as in `%(asctime)s %(name)s - %(levelname)s`).
/// A server's own header is kept (`2025-07-07 09:01:18,519 - lmdeploy - ERROR`,
/// TGI's `2024-02-14T06:49:24.783316Z  INFO`, vLLM's `INFO 01-17 03:11:25`).
///
/// The result is a suffix of `line` or lies in `scratch`, valid until the next
/// call with the same `scratch` (or until `line` goes); like `line` it is
/// followed by kLinePadding readable bytes, if `line` is.
std::string_view Unwrap(std::string_view line, std::string& scratch);

/// `line` with its ANSI escape sequences removed (into `scratch` when it has
/// any; `line` itself otherwise), followed by kLinePadding readable bytes if
/// `line` is. Part of Unwrap.
std::string_view StripAnsi(std::string_view line, std::string& scratch);

/// Where the deployment wrappers at the start of `line` (without ANSI codes)
/// end; 0 if it has none. Part of Unwrap.
std::size_t SkipWrappers(std::string_view line);

}  // namespace lle
