// The service manager's readiness protocol (sd_notify(3)): one datagram of `KEY=VALUE` lines to
// the AF_UNIX socket named by $NOTIFY_SOCKET. Node's dgram has no AF_UNIX, so the addon sends it.
#pragma once

#include <node_api.h>

namespace wgts {

// Adds `sdNotify(socketPath, message)` to `exports`: 0 once the datagram is sent, else the errno
// (never throws for a socket problem). `socketPath` is an absolute path or `@name` (abstract).
// False with a JS exception pending on failure.
bool RegisterNotify(napi_env env, napi_value exports);

}  // namespace wgts
