// The handshake's primitives for the native crypto backend (src/crypto/native.ts), on raw bytes
// and the OpenSSL Node exports: X25519 (x25519.cc), BLAKE2s / HMAC / KDF (blake2s.cc) and
// ChaCha20-Poly1305 with associated data (aead_ad.cc). Registered on the addon's exports by
// RegisterHandshakeCrypto (hs_crypto.cc), which documents the JS signatures.
#pragma once

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

namespace wgts {

// ChaCha20-Poly1305 seal of src[0, n) with `aad` to dst (ciphertext || tag): n + 16, or -1.
// dst may equal src or overlap it in any way.
int32_t AeadSealAd(const uint8_t key[32], const uint8_t nonce[12], const uint8_t* src, size_t n, const uint8_t* aad, size_t aad_len,
                   uint8_t* dst);

// Open of src[0, len) (ciphertext || tag) to dst: len - 16, or -1 with dst untouched.
int32_t AeadOpenAd(const uint8_t key[32], const uint8_t nonce[12], const uint8_t* src, size_t len, const uint8_t* aad, size_t aad_len,
                   uint8_t* dst);

// Adds the functions to `exports`. False with a JS exception pending on failure.
bool RegisterHandshakeCrypto(napi_env env, napi_value exports);

}  // namespace wgts
