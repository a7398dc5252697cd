// Keyed BLAKE2s states over the addon's BLAKE2s (blake2s.h), HChaCha20
// (draft-irtf-cfrg-xchacha §2.2) and XChaCha20-Poly1305 sealing on OpenSSL's ChaCha20-Poly1305:
// see macs.h.
#include "macs.h"

#include <string.h>

namespace wgts {

namespace {

inline uint32_t Rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
inline uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
inline void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// The 20 ChaCha rounds (10 double rounds) over the state x, in place.
void ChaChaRounds(uint32_t x[16]) {
#define WGTS_QR(a, b, c, d)                                   \
  x[a] += x[b]; x[d] = Rotl(x[d] ^ x[a], 16);                 \
  x[c] += x[d]; x[b] = Rotl(x[b] ^ x[c], 12);                 \
  x[a] += x[b]; x[d] = Rotl(x[d] ^ x[a], 8);                  \
  x[c] += x[d]; x[b] = Rotl(x[b] ^ x[c], 7);
  for (int i = 0; i < 10; i++) {
    WGTS_QR(0, 4, 8, 12);
    WGTS_QR(1, 5, 9, 13);
    WGTS_QR(2, 6, 10, 14);
    WGTS_QR(3, 7, 11, 15);
    WGTS_QR(0, 5, 10, 15);
    WGTS_QR(1, 6, 11, 12);
    WGTS_QR(2, 7, 8, 13);
    WGTS_QR(3, 4, 9, 14);
  }
#undef WGTS_QR
}

// HChaCha20: the first and last rows of 20 ChaCha rounds over (constants, key, 16-byte nonce).
void HChaCha20(uint8_t out[32], const uint8_t key[32], const uint8_t nonce[16]) {
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; i++) x[4 + i] = Load32(key + 4 * i);
  for (int i = 0; i < 4; i++) x[12 + i] = Load32(nonce + 4 * i);
  ChaChaRounds(x);
  for (int i = 0; i < 4; i++) Store32(out + 4 * i, x[i]);
  for (int i = 0; i < 4; i++) Store32(out + 16 + 4 * i, x[12 + i]);
  Wipe(x, sizeof(x));
}

}  // namespace

void Wipe(void* p, size_t n) {
  volatile uint8_t* b = static_cast<volatile uint8_t*>(p);
  while (n-- > 0) *b++ = 0;
}

void Blake2sKeyed::Init(size_t outlen, const uint8_t key[32]) {
  Blake2sInit(&state_, outlen, key, 32);
}

void Blake2sKeyed::Mac(uint8_t* out, const uint8_t* in, size_t inlen) const {
  Blake2s s = state_;
  Blake2sUpdate(&s, in, inlen);
  Blake2sFinal(&s, out);
}

void Blake2sKeyed::Wipe() { ::wgts::Wipe(&state_, sizeof(state_)); }

void Blake2sHash2(uint8_t out[32], const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  Blake2s s;
  Blake2sInit(&s, 32, nullptr, 0);
  Blake2sUpdate(&s, a, alen);
  Blake2sUpdate(&s, b, blen);
  Blake2sFinal(&s, out);
}

bool EqualCt(const uint8_t* a, const uint8_t* b, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= a[i] ^ b[i];
  return acc == 0;
}

bool XChaChaSeal(EVP_CIPHER_CTX* ctx, uint8_t* out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t* pt, size_t ptlen,
                 const uint8_t* ad, size_t adlen) {
  uint8_t subkey[32];
  uint8_t iv[12] = {0};
  HChaCha20(subkey, key, nonce);
  memcpy(iv + 4, nonce + 16, 8);
  int n = 0;
  bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, subkey, iv) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &n, ad, static_cast<int>(adlen)) == 1 &&
            EVP_EncryptUpdate(ctx, out, &n, pt, static_cast<int>(ptlen)) == 1 &&
            EVP_EncryptFinal_ex(ctx, out + n, &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + ptlen) == 1;
  Wipe(subkey, sizeof(subkey));
  return ok;
}

}  // namespace wgts
