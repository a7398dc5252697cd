// The TUN offload logic (offload.h) on plain buffers, for the tests: offloadSplit and
// offloadCoalesce on the addon's exports.
#pragma once

#include <napi.h>

namespace wgts {

void RegisterOffload(Napi::Env env, Napi::Object exports);

}  // namespace wgts
