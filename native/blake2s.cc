// BLAKE2s per RFC 7693 section 3 (written from the RFC), HMAC (RFC 2104) and WireGuard's KDF
// (whitepaper section 5.4: HKDF with HMAC-BLAKE2s). OpenSSL offers BLAKE2s-256 through EVP, but
// each call pays the provider machinery (measured ~0.4 us per digest here, several per HMAC) and
// the keyed 16-byte MAC needs EVP_MAC parameter parsing; this is a single compression function
// with no allocation, checked against every BLAKE2s, HMAC and KDF vector in test/vectors.
#include "blake2s.h"

#include <openssl/crypto.h>
#include <string.h>

namespace wgts {

namespace {

constexpr uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                             0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

constexpr uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

#define WGTS_G(a, b, c, d, x, y) \
  do {                              \
    a = a + b + (x);                \
    d = Rotr(d ^ a, 16);            \
    c = c + d;                      \
    b = Rotr(b ^ c, 12);            \
    a = a + b + (y);                \
    d = Rotr(d ^ a, 8);             \
    c = c + d;                      \
    b = Rotr(b ^ c, 7);             \
  } while (0)

void Compress(Blake2s* s, const uint8_t block[64], bool last) {
  uint32_t m[16];
  for (int i = 0; i < 16; i++) m[i] = Load32(block + 4 * i);
  // The working state in locals, so the compiler keeps it in registers.
  uint32_t v0 = s->h[0], v1 = s->h[1], v2 = s->h[2], v3 = s->h[3], v4 = s->h[4], v5 = s->h[5], v6 = s->h[6], v7 = s->h[7];
  uint32_t v8 = kIv[0], v9 = kIv[1], v10 = kIv[2], v11 = kIv[3];
  uint32_t v12 = kIv[4] ^ s->t[0], v13 = kIv[5] ^ s->t[1], v14 = last ? ~kIv[6] : kIv[6], v15 = kIv[7];
  for (int r = 0; r < 10; r++) {
    const uint8_t* z = kSigma[r];
    WGTS_G(v0, v4, v8, v12, m[z[0]], m[z[1]]);
    WGTS_G(v1, v5, v9, v13, m[z[2]], m[z[3]]);
    WGTS_G(v2, v6, v10, v14, m[z[4]], m[z[5]]);
    WGTS_G(v3, v7, v11, v15, m[z[6]], m[z[7]]);
    WGTS_G(v0, v5, v10, v15, m[z[8]], m[z[9]]);
    WGTS_G(v1, v6, v11, v12, m[z[10]], m[z[11]]);
    WGTS_G(v2, v7, v8, v13, m[z[12]], m[z[13]]);
    WGTS_G(v3, v4, v9, v14, m[z[14]], m[z[15]]);
  }
  s->h[0] ^= v0 ^ v8;
  s->h[1] ^= v1 ^ v9;
  s->h[2] ^= v2 ^ v10;
  s->h[3] ^= v3 ^ v11;
  s->h[4] ^= v4 ^ v12;
  s->h[5] ^= v5 ^ v13;
  s->h[6] ^= v6 ^ v14;
  s->h[7] ^= v7 ^ v15;
  OPENSSL_cleanse(m, sizeof m);
}

#undef WGTS_G

void AddCounter(Blake2s* s, uint32_t n) {
  s->t[0] += n;
  if (s->t[0] < n) s->t[1]++;
}

}  // namespace

void Blake2sInit(Blake2s* s, size_t out_len, const uint8_t* key, size_t key_len) {
  memcpy(s->h, kIv, sizeof s->h);
  s->h[0] ^= 0x01010000u ^ (static_cast<uint32_t>(key_len) << 8) ^ static_cast<uint32_t>(out_len);
  s->t[0] = s->t[1] = 0;
  s->buf_len = 0;
  s->out_len = out_len;
  memset(s->buf, 0, sizeof s->buf);
  if (key_len > 0) {
    memcpy(s->buf, key, key_len);  // the key block: key zero-padded to 64 bytes
    s->buf_len = 64;
  }
}

void Blake2sUpdate(Blake2s* s, const uint8_t* in, size_t n) {
  // The last block is compressed by Final (with the last-block flag), so a full buffer is only
  // compressed once more input arrives.
  while (n > 0) {
    if (s->buf_len == 64) {
      AddCounter(s, 64);
      Compress(s, s->buf, false);
      s->buf_len = 0;
    }
    size_t take = 64 - s->buf_len;
    if (take > n) take = n;
    memcpy(s->buf + s->buf_len, in, take);
    s->buf_len += take;
    in += take;
    n -= take;
  }
}

void Blake2sFinal(Blake2s* s, uint8_t* out) {
  AddCounter(s, static_cast<uint32_t>(s->buf_len));
  memset(s->buf + s->buf_len, 0, 64 - s->buf_len);
  Compress(s, s->buf, true);
  uint8_t full[32];
  for (int i = 0; i < 8; i++) {
    full[4 * i] = static_cast<uint8_t>(s->h[i]);
    full[4 * i + 1] = static_cast<uint8_t>(s->h[i] >> 8);
    full[4 * i + 2] = static_cast<uint8_t>(s->h[i] >> 16);
    full[4 * i + 3] = static_cast<uint8_t>(s->h[i] >> 24);
  }
  memcpy(out, full, s->out_len);
  OPENSSL_cleanse(full, sizeof full);
  OPENSSL_cleanse(s, sizeof *s);
}

void HmacBlake2s(uint8_t out[32], const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  uint8_t pad[64];
  uint8_t inner[32];
  Blake2s s;
  memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < key_len; i++) pad[i] ^= key[i];
  Blake2sInit(&s, 32, nullptr, 0);
  Blake2sUpdate(&s, pad, 64);
  Blake2sUpdate(&s, a, a_len);
  if (b != nullptr) Blake2sUpdate(&s, b, b_len);
  Blake2sFinal(&s, inner);
  for (size_t i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  Blake2sInit(&s, 32, nullptr, 0);
  Blake2sUpdate(&s, pad, 64);
  Blake2sUpdate(&s, inner, 32);
  Blake2sFinal(&s, out);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(inner, sizeof inner);
}

namespace {

// Compresses a full buffered block now instead of when more input arrives. Only for a state that
// is certain to get more (non-empty) input: the last block must be compressed by Final.
void AbsorbFullBlock(Blake2s* s) {
  AddCounter(s, 64);
  Compress(s, s->buf, false);
  s->buf_len = 0;
}

// HMAC-BLAKE2s with the key's two pad blocks compressed once: `inner` / `outer` are states after
// the ipad / opad block, copied for each message (the KDF's expansion reuses one key three times;
// every message there is non-empty, as AbsorbFullBlock requires).
struct HmacKey {
  Blake2s inner;
  Blake2s outer;
};

void HmacKeyInit(HmacKey* k, const uint8_t* key, size_t key_len) {
  uint8_t pad[64];
  memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < key_len; i++) pad[i] ^= key[i];
  Blake2sInit(&k->inner, 32, nullptr, 0);
  Blake2sUpdate(&k->inner, pad, 64);
  AbsorbFullBlock(&k->inner);
  for (size_t i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  Blake2sInit(&k->outer, 32, nullptr, 0);
  Blake2sUpdate(&k->outer, pad, 64);
  AbsorbFullBlock(&k->outer);
  OPENSSL_cleanse(pad, sizeof pad);
}

void HmacWithKey(const HmacKey* k, uint8_t out[32], const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  Blake2s s = k->inner;
  uint8_t inner[32];
  Blake2sUpdate(&s, a, a_len);
  if (b != nullptr) Blake2sUpdate(&s, b, b_len);
  Blake2sFinal(&s, inner);
  s = k->outer;
  Blake2sUpdate(&s, inner, 32);
  Blake2sFinal(&s, out);
  OPENSSL_cleanse(inner, sizeof inner);
}

}  // namespace

void WgKdf(uint8_t* out, size_t n, const uint8_t* ck, size_t ck_len, const uint8_t* input, size_t input_len) {
  uint8_t prk[32];
  uint8_t t[3][32];
  HmacKey key;
  HmacBlake2s(prk, ck, ck_len, input, input_len, nullptr, 0);
  HmacKeyInit(&key, prk, 32);
  for (size_t i = 0; i < n; i++) {
    const uint8_t counter = static_cast<uint8_t>(i + 1);
    if (i == 0) {
      HmacWithKey(&key, t[0], &counter, 1, nullptr, 0);
    } else {
      HmacWithKey(&key, t[i], t[i - 1], 32, &counter, 1);
    }
  }
  memcpy(out, t, 32 * n);
  OPENSSL_cleanse(prk, sizeof prk);
  OPENSSL_cleanse(t, sizeof t);
  OPENSSL_cleanse(&key, sizeof key);
}

}  // namespace wgts
