// X25519 (RFC 7748) on raw 32-byte strings through the OpenSSL that Node itself exports: no key
// objects in JS, no JWK or DER encoding, no string ever holding a key.
#pragma once

#include <stdint.h>

namespace wgts {

// Chooses the implementation once per process (see x25519.cc) and checks it against RFC 7748's
// known answers. False when neither path gives the right answers (the functions then fail).
bool X25519Setup();

// Which implementation is in use: "ossl_x25519" or "EVP_PKEY" (or "none").
const char* X25519Impl();

// shared = X25519(priv, pub). True on success; false when the result is all zero (low-order
// point; `shared` is then zeroed) or on an internal error.
bool X25519(uint8_t shared[32], const uint8_t priv[32], const uint8_t pub[32]);

// pub = X25519(priv, 9). False on an internal error.
bool X25519Base(uint8_t pub[32], const uint8_t priv[32]);

}  // namespace wgts
