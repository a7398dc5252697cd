// X25519 on raw bytes. Two implementations of the same OpenSSL code, chosen once per process:
//
// 1. "ossl_x25519": OpenSSL's own scalar multiplication (ossl_x25519 and
//    ossl_x25519_public_from_private, the functions its X25519 provider calls), looked up with
//    dlsym in the Node binary, which exports every OpenSSL symbol. One call per operation, no key
//    object. These are OpenSSL-internal names, so they are only used when the lookup finds them
//    and they reproduce RFC 7748's known answers; WGTS_X25519=evp skips them.
// 2. "EVP_PKEY": the public API. EVP_PKEY_new_raw_private_key derives the public key itself (a
//    second scalar multiplication), so a DH costs about twice as much (measured: README).
//
// Secrets: OpenSSL clears its own copies (the scalar in the ladder, EVP key material); the EVP
// path's error queue is cleared so node:crypto never sees our failures.
#include "x25519.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>

namespace wgts {

namespace {

using RawDh = int (*)(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);
using RawBase = void (*)(uint8_t out[32], const uint8_t priv[32]);

RawDh raw_dh = nullptr;
RawBase raw_base = nullptr;
const char* impl = "none";
std::once_flag setup_once;

bool EvpDh(uint8_t shared[32], const uint8_t priv[32], const uint8_t pub[32]) {
  bool ok = false;
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv, 32);
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub, 32);
  EVP_PKEY_CTX* ctx = key != nullptr ? EVP_PKEY_CTX_new(key, nullptr) : nullptr;
  size_t len = 32;
  if (ctx != nullptr && peer != nullptr && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
      EVP_PKEY_derive(ctx, shared, &len) == 1 && len == 32) {
    ok = true;
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  EVP_PKEY_free(key);
  if (!ok) {
    ERR_clear_error();  // OpenSSL refuses an all-zero result with an error
    OPENSSL_cleanse(shared, 32);
  }
  return ok;
}

bool EvpBase(uint8_t pub[32], const uint8_t priv[32]) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv, 32);
  size_t len = 32;
  const bool ok = key != nullptr && EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == 32;
  EVP_PKEY_free(key);
  if (!ok) ERR_clear_error();
  return ok;
}

bool AllZero(const uint8_t* p) {
  uint8_t acc = 0;
  for (int i = 0; i < 32; i++) acc |= p[i];
  return acc == 0;
}

// RFC 7748 section 6.1.
constexpr uint8_t kAlicePriv[32] = {0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
                                    0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
constexpr uint8_t kAlicePub[32] = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
                                   0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
constexpr uint8_t kBobPub[32] = {0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37,
                                 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f};
constexpr uint8_t kShared[32] = {0x4a, 0x5d, 0x9d, 0x5b, 0xa4, 0xce, 0x2d, 0xe1, 0x72, 0x8e, 0x3b, 0xf4, 0x80, 0x35, 0x0f, 0x25,
                                 0xe0, 0x7e, 0x21, 0xc9, 0x47, 0xd1, 0x9e, 0x33, 0x76, 0xf0, 0x9b, 0x3c, 0x1e, 0x16, 0x17, 0x42};

bool KnownAnswers() {
  uint8_t out[32];
  uint8_t zero[32] = {0};
  if (!X25519Base(out, kAlicePriv) || memcmp(out, kAlicePub, 32) != 0) return false;
  if (!X25519(out, kAlicePriv, kBobPub) || memcmp(out, kShared, 32) != 0) return false;
  if (X25519(out, kAlicePriv, zero) || !AllZero(out)) return false;  // low-order point
  return true;
}

void Setup() {
  const char* force = getenv("WGTS_X25519");
  if (force == nullptr || strcmp(force, "evp") != 0) {
    raw_dh = reinterpret_cast<RawDh>(dlsym(RTLD_DEFAULT, "ossl_x25519"));
    raw_base = reinterpret_cast<RawBase>(dlsym(RTLD_DEFAULT, "ossl_x25519_public_from_private"));
    if (raw_dh != nullptr && raw_base != nullptr) {
      impl = "ossl_x25519";
      if (KnownAnswers()) return;
    }
  }
  raw_dh = nullptr;
  raw_base = nullptr;
  impl = "EVP_PKEY";
  if (!KnownAnswers()) impl = "none";
}

}  // namespace

bool X25519Setup() {
  std::call_once(setup_once, Setup);
  return strcmp(impl, "none") != 0;
}

const char* X25519Impl() { return impl; }

bool X25519(uint8_t shared[32], const uint8_t priv[32], const uint8_t pub[32]) {
  if (raw_dh != nullptr) {
    if (raw_dh(shared, priv, pub) == 1 && !AllZero(shared)) return true;
    OPENSSL_cleanse(shared, 32);
    return false;
  }
  return EvpDh(shared, priv, pub) && !AllZero(shared);
}

bool X25519Base(uint8_t pub[32], const uint8_t priv[32]) {
  if (raw_base != nullptr) {
    raw_base(pub, priv);
    return true;
  }
  return EvpBase(pub, priv);
}

}  // namespace wgts
