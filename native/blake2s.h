// BLAKE2s (RFC 7693) with key and output length, HMAC-BLAKE2s and WireGuard's KDF, on plain
// memory: the handshake's hashing without a JS object or an allocation per call. Every state and
// intermediate is cleansed before the functions return.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace wgts {

struct Blake2s {
  uint32_t h[8];
  uint32_t t[2];
  uint8_t buf[64];
  size_t buf_len;
  size_t out_len;
};

// outLen 1..32, keyLen 0..32 (caller-checked).
void Blake2sInit(Blake2s* s, size_t out_len, const uint8_t* key, size_t key_len);
void Blake2sUpdate(Blake2s* s, const uint8_t* in, size_t n);
// Writes out_len bytes and cleanses the state.
void Blake2sFinal(Blake2s* s, uint8_t* out);

// HMAC-BLAKE2s-256 over a || b (b may be null); key_len <= 64.
void HmacBlake2s(uint8_t out[32], const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len);

// WireGuard's KDF_n (n = 1..3) of `input` under chaining key `ck` (the HMAC key, at most 64
// bytes; WireGuard's is 32) into out[0..32n). `out` may overlap ck or input: everything is
// computed before it is written.
void WgKdf(uint8_t* out, size_t n, const uint8_t* ck, size_t ck_len, const uint8_t* input, size_t input_len);

}  // namespace wgts
