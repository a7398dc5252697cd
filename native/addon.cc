// wgts_native: fd-level helpers for the TypeScript edges. Exports the TunHandle class, the
// ordered names of its counter slots and the largest packet a read can return; likewise the
// UdpHandle class and the ordered names of its counter slots; dataSeal / dataOpen, the
// in-place ChaCha20-Poly1305 of WireGuard data messages (aead.h); the handshake's X25519,
// BLAKE2s, KDF and AEAD-with-AAD on raw bytes (hs_crypto.h); offloadSplit / offloadCoalesce,
// the TUN offload logic on plain buffers for the tests (offload_js.h); and sdNotify, the service
// manager's readiness datagram (notify.h).
#include <napi.h>

#include "aead.h"
#include "hs_crypto.h"
#include "notify.h"
#include "offload_js.h"
#include "tun_fd.h"
#include "tun_handle.h"
#include "udp_handle.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunHandle", wgts::TunHandle::Define(env));
  Napi::Array names = Napi::Array::New(env, wgts::kCounterCount);
  for (uint32_t i = 0; i < wgts::kCounterCount; i++) names.Set(i, Napi::String::New(env, wgts::kCounterNames[i]));
  exports.Set("counterNames", names);
  exports.Set("maxPacket", Napi::Number::New(env, wgts::kMaxPacket));
  exports.Set("UdpHandle", wgts::UdpHandle::Define(env));
  Napi::Array udp_names = Napi::Array::New(env, wgts::kUdpCounterCount);
  for (uint32_t i = 0; i < wgts::kUdpCounterCount; i++) udp_names.Set(i, Napi::String::New(env, wgts::kUdpCounterNames[i]));
  exports.Set("udpCounterNames", udp_names);
  wgts::RegisterOffload(env, exports);
  if (!wgts::RegisterAead(env, exports)) return exports;  // exception pending: the load fails
  if (!wgts::RegisterHandshakeCrypto(env, exports)) {
    napi_throw_error(env, nullptr, "wgts_native: cannot register the handshake crypto functions");
    return exports;
  }
  if (!wgts::RegisterNotify(env, exports)) return exports;
  return exports;
}

}  // namespace

NODE_API_MODULE(wgts_native, Init)
