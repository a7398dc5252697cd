// N-API glue for the handshake primitives. Every function takes Uint8Arrays and writes into the
// caller's arrays (nothing allocated, no JS object created) and returns an int32:
//
//   blake2sHash(out, a, b?)                       -> 0 | -1   out[0,32) = BLAKE2s-256(a || b)
//   blake2sMac(key, buf, off, len, out, outOff)   -> 0 | -1   out[outOff, +16) = BLAKE2s-128_key(buf[off, off+len))
//   wgKdf(ck, input, out1, out2?, out3?)          -> 0 | -1   WireGuard KDF1/2/3, ck <= 64 bytes (outputs may alias ck / input)
//   x25519(out, priv, pub)                        -> 1 | 0 | -1   1: out = X25519(priv, pub); 0: all-zero result (out zeroed)
//   x25519Base(out, priv)                         -> 0 | -1   out = X25519(priv, 9)
//   aeadSeal(key, nonce, src, aad?, dst, dstOff)  -> src.length + 16 | -1
//   aeadOpen(key, nonce, src, aad?, dst, dstOff)  -> src.length - 16 | -1 (forgery: dst untouched)
//   randomFill(buf)                               -> 0 | -1   buf = RAND_priv_bytes (OpenSSL's DRBG for secrets)
//   x25519Impl                                    "ossl_x25519" | "EVP_PKEY" (x25519.cc)
//
// -1 means bad arguments (a non-Uint8Array, a wrong key/nonce/output size, a range outside its
// array) or an OpenSSL failure; nothing outside the given arrays is ever touched. Outputs (and
// anything they alias) are written only after all inputs have been read.
#include "hs_crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <string.h>

#include "blake2s.h"
#include "napi_util.h"
#include "x25519.h"

namespace wgts {

namespace {

struct Span {
  uint8_t* data = nullptr;
  size_t len = 0;
};

bool Bytes(napi_env env, napi_value v, Span* out) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &out->len, &raw, nullptr, nullptr) != napi_ok || type != napi_uint8_array) return false;
  out->data = static_cast<uint8_t*>(raw);
  return true;
}

// A Uint8Array, or null / undefined (present = false).
bool OptionalBytes(napi_env env, napi_value v, Span* out, bool* present) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) {
    *present = false;
    return true;
  }
  *present = true;
  return Bytes(env, v, out);
}

bool Index(napi_env env, napi_value v, size_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return false;
  *out = static_cast<size_t>(d);
  return true;
}

bool Fits(const Span& s, size_t off, size_t n) { return s.len >= off && s.len - off >= n; }

napi_value Int(napi_env env, int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

template <size_t N>
bool Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  napi_value undef;
  napi_get_undefined(env, &undef);
  for (size_t i = argc; i < N; i++) argv[i] = undef;
  return true;
}

napi_value Blake2sHash(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Span out, a, b;
  bool has_b = false;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &out) || out.len < 32 || !Bytes(env, argv[1], &a) ||
      !OptionalBytes(env, argv[2], &b, &has_b)) {
    return Int(env, -1);
  }
  Blake2s s;
  Blake2sInit(&s, 32, nullptr, 0);
  Blake2sUpdate(&s, a.data, a.len);
  if (has_b) Blake2sUpdate(&s, b.data, b.len);
  Blake2sFinal(&s, out.data);
  return Int(env, 0);
}

napi_value Blake2sMac(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Span key, buf, out;
  size_t off, len, out_off;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &key) || key.len == 0 || key.len > 32 || !Bytes(env, argv[1], &buf) ||
      !Index(env, argv[2], &off) || !Index(env, argv[3], &len) || !Fits(buf, off, len) || !Bytes(env, argv[4], &out) ||
      !Index(env, argv[5], &out_off) || !Fits(out, out_off, 16)) {
    return Int(env, -1);
  }
  uint8_t mac[16];
  Blake2s s;
  Blake2sInit(&s, 16, key.data, key.len);
  Blake2sUpdate(&s, buf.data + off, len);
  Blake2sFinal(&s, mac);
  memcpy(out.data + out_off, mac, 16);
  OPENSSL_cleanse(mac, sizeof mac);
  return Int(env, 0);
}

napi_value WgKdfFn(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Span ck, input, out[3];
  bool present[3] = {true, false, false};
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &ck) || ck.len > 64 || !Bytes(env, argv[1], &input) ||
      !Bytes(env, argv[2], &out[0]) || out[0].len < 32 || !OptionalBytes(env, argv[3], &out[1], &present[1]) ||
      !OptionalBytes(env, argv[4], &out[2], &present[2])) {
    return Int(env, -1);
  }
  size_t n = 1;
  if (present[1]) {
    if (out[1].len < 32) return Int(env, -1);
    n = 2;
    if (present[2]) {
      if (out[2].len < 32) return Int(env, -1);
      n = 3;
    }
  } else if (present[2]) {
    return Int(env, -1);
  }
  uint8_t t[96];
  WgKdf(t, n, ck.data, ck.len, input.data, input.len);
  for (size_t i = 0; i < n; i++) memcpy(out[i].data, t + 32 * i, 32);
  OPENSSL_cleanse(t, sizeof t);
  return Int(env, 0);
}

napi_value X25519Fn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Span out, priv, pub;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &out) || out.len != 32 || !Bytes(env, argv[1], &priv) || priv.len != 32 ||
      !Bytes(env, argv[2], &pub) || pub.len != 32) {
    return Int(env, -1);
  }
  uint8_t shared[32];
  const bool ok = X25519(shared, priv.data, pub.data);
  memcpy(out.data, shared, 32);  // zeros when not ok
  OPENSSL_cleanse(shared, sizeof shared);
  return Int(env, ok ? 1 : 0);
}

napi_value X25519BaseFn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Span out, priv;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &out) || out.len != 32 || !Bytes(env, argv[1], &priv) || priv.len != 32) {
    return Int(env, -1);
  }
  uint8_t pub[32];
  if (!X25519Base(pub, priv.data)) return Int(env, -1);
  memcpy(out.data, pub, 32);
  return Int(env, 0);
}

// Shared argument reading of aeadSeal / aeadOpen.
bool AeadArgs(napi_env env, napi_callback_info info, Span* key, Span* nonce, Span* src, Span* aad, Span* dst, size_t* dst_off) {
  napi_value argv[6];
  bool has_aad = false;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], key) || key->len != 32 || !Bytes(env, argv[1], nonce) || nonce->len != 12 ||
      !Bytes(env, argv[2], src) || !OptionalBytes(env, argv[3], aad, &has_aad) || !Bytes(env, argv[4], dst) ||
      !Index(env, argv[5], dst_off)) {
    return false;
  }
  if (!has_aad) *aad = Span();
  return true;
}

napi_value AeadSeal(napi_env env, napi_callback_info info) {
  Span key, nonce, src, aad, dst;
  size_t dst_off;
  if (!AeadArgs(env, info, &key, &nonce, &src, &aad, &dst, &dst_off) || !Fits(dst, dst_off, src.len + 16)) return Int(env, -1);
  return Int(env, AeadSealAd(key.data, nonce.data, src.data, src.len, aad.data, aad.len, dst.data + dst_off));
}

napi_value AeadOpen(napi_env env, napi_callback_info info) {
  Span key, nonce, src, aad, dst;
  size_t dst_off;
  if (!AeadArgs(env, info, &key, &nonce, &src, &aad, &dst, &dst_off) || src.len < 16 || !Fits(dst, dst_off, src.len - 16)) {
    return Int(env, -1);
  }
  return Int(env, AeadOpenAd(key.data, nonce.data, src.data, src.len, aad.data, aad.len, dst.data + dst_off));
}

napi_value RandomFill(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Span buf;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &buf) || buf.len > 0x7fffffff) return Int(env, -1);
  if (buf.len > 0 && RAND_priv_bytes(buf.data, static_cast<int>(buf.len)) != 1) {
    ERR_clear_error();
    return Int(env, -1);
  }
  return Int(env, 0);
}

}  // namespace

bool RegisterHandshakeCrypto(napi_env env, napi_value exports) {
  napi_value impl;
  const bool x25519_ok = X25519Setup();
  if (napi_create_string_utf8(env, X25519Impl(), NAPI_AUTO_LENGTH, &impl) != napi_ok ||
      napi_set_named_property(env, exports, "x25519Impl", impl) != napi_ok) {
    return false;
  }
  // Without a working X25519 the functions are simply absent: the JS side then stays on node:crypto.
  if (x25519_ok && (!SetFunction(env, exports, "x25519", X25519Fn) || !SetFunction(env, exports, "x25519Base", X25519BaseFn))) return false;
  return SetFunction(env, exports, "blake2sHash", Blake2sHash) && SetFunction(env, exports, "blake2sMac", Blake2sMac) &&
         SetFunction(env, exports, "wgKdf", WgKdfFn) && SetFunction(env, exports, "aeadSeal", AeadSeal) &&
         SetFunction(env, exports, "aeadOpen", AeadOpen) && SetFunction(env, exports, "randomFill", RandomFill);
}

}  // namespace wgts
