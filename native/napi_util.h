// Small N-API helpers shared by the TUN and UDP handles: errno errors with a symbolic `code`,
// argument checks, raw typed-array views; and exporting a plain function (aead.cc, hs_crypto.cc).
#pragma once

#include <napi.h>
#include <string.h>

#include <string>

namespace wgts {

// Symbolic errno name ("EBADFD", "EADDRINUSE"); Node's os.constants.errno lacks several Linux-only ones.
inline const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

// An Error "what: strerror" carrying `code` (symbolic) and `errno` (number).
inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Value().Set("code", ErrnoName(err));
  e.Value().Set("errno", err);
  return e;
}

inline Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Raw view of a typed array of the given type (byte offset applied); false for other values.
template <typename T>
bool TypedView(napi_env env, napi_value value, napi_typedarray_type want, T** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != want) return false;
  *data = static_cast<T*>(raw);
  return true;
}

inline bool Uint32Arg(napi_env env, napi_value value, uint32_t* out) {
  return napi_get_value_uint32(env, value, out) == napi_ok;
}

// exports[name] = a plain N-API function calling `cb`.
inline bool SetFunction(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

// Packets in one buffer, the way the batch calls take them: (buf: Uint8Array, offsets:
// Uint32Array, lengths: Uint32Array); packet k is buf[offsets[k], offsets[k] + lengths[k]).
struct PacketList {
  uint8_t* buf = nullptr;
  size_t buf_len = 0;
  uint32_t* offsets = nullptr;
  size_t offsets_len = 0;
  uint32_t* lengths = nullptr;
  size_t lengths_len = 0;
};

// Reads a PacketList from the three arguments starting at info[first]; false if any is missing
// or of the wrong type.
inline bool PacketListArgs(const Napi::CallbackInfo& info, size_t first, PacketList* out) {
  napi_env env = info.Env();
  return info.Length() >= first + 3 && TypedView(env, info[first], napi_uint8_array, &out->buf, &out->buf_len) &&
         TypedView(env, info[first + 1], napi_uint32_array, &out->offsets, &out->offsets_len) &&
         TypedView(env, info[first + 2], napi_uint32_array, &out->lengths, &out->lengths_len);
}

}  // namespace wgts
