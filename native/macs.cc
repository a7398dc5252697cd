// BLAKE2s (RFC 7693 §3, with the parameter block of a sequential hash), HChaCha20
// (draft-irtf-cfrg-xchacha §2.2) and XChaCha20-Poly1305 sealing on OpenSSL's ChaCha20-Poly1305:
// see macs.h.
#include "macs.h"

#include <string.h>

namespace wgts {

namespace {

constexpr uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
constexpr uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
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

struct B2s {
  uint32_t h[8];
  uint64_t t;
  uint8_t buf[64];
  size_t used;
  size_t outlen;
};

void Compress(B2s* s, const uint8_t block[64], bool last) {
  uint32_t m[16];
  uint32_t v[16];
  for (int i = 0; i < 16; i++) m[i] = Load32(block + 4 * i);
  for (int i = 0; i < 8; i++) {
    v[i] = s->h[i];
    v[i + 8] = kIv[i];
  }
  v[12] ^= static_cast<uint32_t>(s->t);
  v[13] ^= static_cast<uint32_t>(s->t >> 32);
  if (last) v[14] = ~v[14];
#define WGTS_G(a, b, c, d, x, y)     \
  v[a] = v[a] + v[b] + (x);          \
  v[d] = Rotr(v[d] ^ v[a], 16);      \
  v[c] = v[c] + v[d];                \
  v[b] = Rotr(v[b] ^ v[c], 12);      \
  v[a] = v[a] + v[b] + (y);          \
  v[d] = Rotr(v[d] ^ v[a], 8);       \
  v[c] = v[c] + v[d];                \
  v[b] = Rotr(v[b] ^ v[c], 7);
#pragma GCC unroll 10
  for (int r = 0; r < 10; r++) {
    const uint8_t* sg = kSigma[r];
    WGTS_G(0, 4, 8, 12, m[sg[0]], m[sg[1]]);
    WGTS_G(1, 5, 9, 13, m[sg[2]], m[sg[3]]);
    WGTS_G(2, 6, 10, 14, m[sg[4]], m[sg[5]]);
    WGTS_G(3, 7, 11, 15, m[sg[6]], m[sg[7]]);
    WGTS_G(0, 5, 10, 15, m[sg[8]], m[sg[9]]);
    WGTS_G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
    WGTS_G(2, 7, 8, 13, m[sg[12]], m[sg[13]]);
    WGTS_G(3, 4, 9, 14, m[sg[14]], m[sg[15]]);
  }
#undef WGTS_G
  for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

void Init(B2s* s, size_t outlen, const uint8_t* key, size_t keylen) {
  for (int i = 0; i < 8; i++) s->h[i] = kIv[i];
  s->h[0] ^= 0x01010000u ^ (static_cast<uint32_t>(keylen) << 8) ^ static_cast<uint32_t>(outlen);
  s->t = 0;
  s->used = 0;
  s->outlen = outlen;
  if (keylen > 0) {
    memset(s->buf, 0, 64);
    memcpy(s->buf, key, keylen);
    s->used = 64;
  }
}

void Update(B2s* s, const uint8_t* in, size_t n) {
  while (n > 0) {
    if (s->used == 64) {  // a full buffer is compressed only once more input follows
      s->t += 64;
      Compress(s, s->buf, false);
      s->used = 0;
    }
    size_t take = 64 - s->used;
    if (take > n) take = n;
    memcpy(s->buf + s->used, in, take);
    s->used += take;
    in += take;
    n -= take;
  }
}

void Final(B2s* s, uint8_t* out) {
  s->t += s->used;
  memset(s->buf + s->used, 0, 64 - s->used);
  Compress(s, s->buf, true);
  uint8_t full[32];
  for (int i = 0; i < 8; i++) Store32(full + 4 * i, s->h[i]);
  memcpy(out, full, s->outlen);
  Wipe(full, sizeof(full));
  Wipe(s, sizeof(*s));
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
  B2s s;
  ::wgts::Init(&s, outlen, key, 32);
  s.t += 64;
  Compress(&s, s.buf, false);
  memcpy(h_, s.h, sizeof(h_));
  outlen_ = outlen;
  ::wgts::Wipe(&s, sizeof(s));
}

void Blake2sKeyed::Mac(uint8_t* out, const uint8_t* in, size_t inlen) const {
  B2s s;
  memcpy(s.h, h_, sizeof(h_));
  s.t = 64;
  s.used = 0;
  s.outlen = outlen_;
  Update(&s, in, inlen);
  Final(&s, out);
}

void Blake2sKeyed::Wipe() { ::wgts::Wipe(h_, sizeof(h_)); }

void Blake2s(uint8_t* out, size_t outlen, const uint8_t* key, size_t keylen, const uint8_t* in, size_t inlen) {
  B2s s;
  Init(&s, outlen, key, keylen);
  Update(&s, in, inlen);
  Final(&s, out);
}

void Blake2sHash2(uint8_t out[32], const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  B2s s;
  Init(&s, 32, nullptr, 0);
  Update(&s, a, alen);
  Update(&s, b, blen);
  Final(&s, out);
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
