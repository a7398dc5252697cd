// The primitives of WireGuard's DoS protection (whitepaper §5.4.4, §5.4.7) for the handshake gate
// (gate.h): BLAKE2s (RFC 7693, the addon's blake2s.h) as HASH and keyed as MAC, and
// XChaCha20-Poly1305 sealing of a cookie (HChaCha20 here, ChaCha20-Poly1305 from Node's OpenSSL).
// No N-API, no allocation.
#ifndef WGTS_MACS_H
#define WGTS_MACS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "blake2s.h"

namespace wgts {

// BLAKE2s keyed with a 32-byte key, initialised once (Init) for MACs of many messages under one
// key (mac1 under HASH(LABEL_MAC1 || public key), cookies under the secret).
class Blake2sKeyed {
 public:
  void Init(size_t outlen, const uint8_t key[32]);
  void Mac(uint8_t* out, const uint8_t* in, size_t inlen) const;
  void Wipe();

 private:
  Blake2s state_{};
};

// HASH(a || b): unkeyed 32-byte BLAKE2s of two concatenated inputs.
void Blake2sHash2(uint8_t out[32], const uint8_t* a, size_t alen, const uint8_t* b, size_t blen);

// Constant-time comparison of n bytes.
bool EqualCt(const uint8_t* a, const uint8_t* b, size_t n);

// XChaCha20-Poly1305 seal of pt[0, ptlen) with associated data ad: writes ptlen + 16 bytes to out.
// `ctx` is a caller-owned EVP_CIPHER_CTX initialised for EVP_chacha20_poly1305 encryption.
bool XChaChaSeal(EVP_CIPHER_CTX* ctx, uint8_t* out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t* pt, size_t ptlen,
                 const uint8_t* ad, size_t adlen);

// Zeroes n bytes in a way the compiler keeps.
void Wipe(void* p, size_t n);

}  // namespace wgts

#endif
