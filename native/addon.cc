// wgts_native: fd-level helpers for the TypeScript edges. Exports the TunHandle class, the
// ordered names of its counter slots and the largest packet a read can return.
#include <napi.h>

#include "tun_fd.h"
#include "tun_handle.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunHandle", wgts::TunHandle::Define(env));
  Napi::Array names = Napi::Array::New(env, wgts::kCounterCount);
  for (uint32_t i = 0; i < wgts::kCounterCount; i++) names.Set(i, Napi::String::New(env, wgts::kCounterNames[i]));
  exports.Set("counterNames", names);
  exports.Set("maxPacket", Napi::Number::New(env, wgts::kMaxPacket));
  return exports;
}

}  // namespace

NODE_API_MODULE(wgts_native, Init)
