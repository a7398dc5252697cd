// WireGuard data-message ChaCha20-Poly1305 done in place on a caller's buffer, with the OpenSSL
// that Node itself exports (no libcrypto of our own is linked): dataSeal / dataOpen on the addon.
#pragma once

#include <node_api.h>

namespace wgts {

// Adds `dataSeal`, `dataOpen` and `dataForget` (see aead.cc) to `exports` and creates this thread's cipher
// contexts, freed again when `env` is torn down. False with a JS exception pending on failure.
bool RegisterAead(napi_env env, napi_value exports);

}  // namespace wgts
