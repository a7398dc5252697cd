// dataSeal / dataOpen: ChaCha20-Poly1305 (RFC 8439) for WireGuard data messages, one call per
// packet with no allocation and no JS object created. The nonce is 4 zero bytes || LE64 counter,
// there is no AAD, and both source and destination are ranges of one Uint8Array:
//
//   dataSeal(key, counterLo, counterHi, buf, srcOff, len, dstOff) -> len + 16 | -1
//     encrypts buf[srcOff, srcOff+len) and writes ciphertext || 16-byte tag at buf[dstOff..].
//   dataOpen(key, counterLo, counterHi, buf, srcOff, len, dstOff) -> len - 16 | -1
//     authenticates and decrypts buf[srcOff, srcOff+len) (ciphertext || tag) to buf[dstOff..];
//     on -1 (forgery, or bad arguments) nothing in buf has been written.
//
// -1 also stands for bad arguments: key not a 32-byte Uint8Array, buf not a Uint8Array, a number
// that is not an integer in [0, 2^32), or a range outside buf. Nothing outside buf is ever touched.
//
// The batch forms do N messages of one keypair per call (a train of segments):
//
//   dataSealBatch(key, counterLo, counterHi, buf, offsets, lengths, start, count) -> count | -1
//     for start <= k < start + count: seals buf[offsets[k], offsets[k] + lengths[k]) in place with
//     counter (counterHi << 32 | counterLo) + (k - start), the tag written right behind it. All
//     ranges (tag included) are checked before anything is sealed; -1 seals nothing.
//   dataOpenBatch(key, buf, offsets, lengths, counters, start, count, results) -> opened | -1
//     for each k: opens buf[offsets[k], offsets[k] + lengths[k]) (ciphertext || tag) in place with
//     counter counters[2k] | counters[2k + 1] << 32; results[k] = plaintext length, or -1 when it
//     does not authenticate - then that message's bytes are undefined (the caller drops it). The
//     return value counts the messages that opened; -1 (bad arguments) opens nothing.
// Ranges may overlap in any way: OpenSSL supports only exact aliasing (in == out), so a seal whose
// ranges overlap otherwise first moves the plaintext to dstOff, and an open always decrypts into a
// per-thread scratch buffer and copies out only after the tag has verified.
//
// Each thread that loads the addon (main thread, workers) gets its own cipher contexts, created
// once at load and freed by an environment cleanup hook; a call only re-keys them.
//
//   dataForget() -> undefined
//     re-keys this thread's contexts with an all-zero key and cleanses the open scratch, so no
//     session key or plaintext stays in the addon once the sessions that used them are erased
//     (the engine calls it whenever it wipes a keypair). Freeing the contexts cleanses them too.
#include "aead.h"

#include "napi_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace wgts {

namespace {

constexpr size_t kKeyLen = 32;
constexpr size_t kTagLen = 16;
constexpr size_t kIvLen = 12;
// EVP takes int lengths; WireGuard messages are far smaller anyway.
constexpr double kMaxLen = 0x7fffffff - kTagLen;
// Scratch size at start: a full-MTU packet never makes it grow.
constexpr size_t kInitialScratch = 2048;

struct AeadState {
  EVP_CIPHER_CTX* seal = nullptr;
  EVP_CIPHER_CTX* open = nullptr;
  uint8_t* scratch = nullptr;
  size_t scratch_len = 0;
  int users = 0;  // environments on this thread that registered the functions
};

// Per thread, since worker threads run the functions concurrently with the main thread.
thread_local AeadState* tls_state = nullptr;

void FreeState(AeadState* s) {
  EVP_CIPHER_CTX_free(s->seal);  // OpenSSL cleanses the key material it held
  EVP_CIPHER_CTX_free(s->open);
  if (s->scratch != nullptr) OPENSSL_cleanse(s->scratch, s->scratch_len);
  free(s->scratch);
  delete s;
}

constexpr uint8_t kZeroKey[kKeyLen] = {0};
constexpr uint8_t kZeroIv[kIvLen] = {0};

// Overwrites the last key in both contexts and the last plaintext in the scratch.
void Forget(AeadState* s) {
  EVP_EncryptInit_ex(s->seal, nullptr, nullptr, kZeroKey, kZeroIv);
  EVP_DecryptInit_ex(s->open, nullptr, nullptr, kZeroKey, kZeroIv);
  OPENSSL_cleanse(s->scratch, s->scratch_len);
}

AeadState* NewState() {
  AeadState* s = new AeadState();
  s->seal = EVP_CIPHER_CTX_new();
  s->open = EVP_CIPHER_CTX_new();
  s->scratch = static_cast<uint8_t*>(malloc(kInitialScratch));
  s->scratch_len = kInitialScratch;
  const EVP_CIPHER* cipher = EVP_chacha20_poly1305();
  if (s->seal == nullptr || s->open == nullptr || s->scratch == nullptr || cipher == nullptr ||
      EVP_EncryptInit_ex(s->seal, cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex(s->open, cipher, nullptr, nullptr, nullptr) != 1) {
    FreeState(s);
    return nullptr;
  }
  return s;
}

// One registration per environment: the cleanup hook's unique argument.
struct Registration {
  AeadState* state;
};

void OnEnvCleanup(void* arg) {
  Registration* r = static_cast<Registration*>(arg);
  if (--r->state->users == 0) {
    if (tls_state == r->state) tls_state = nullptr;
    FreeState(r->state);
  }
  delete r;
}

// Arguments shared by both functions, validated; `src`/`dst` point into `buf`.
struct Call {
  const uint8_t* key;
  uint8_t iv[kIvLen];
  uint8_t* buf;
  size_t buf_len;
  size_t src_off;
  size_t len;
  size_t dst_off;
};

// An integer in [0, 2^32) as a JS number (counters, offsets, lengths).
bool U32(napi_env env, napi_value v, uint32_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool Bytes(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, len, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<uint8_t*>(raw);
  return true;
}

void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

bool ReadCall(napi_env env, napi_callback_info info, Call* c) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 7) return false;
  uint8_t* key;
  size_t key_len;
  uint32_t lo, hi, src_off, len, dst_off;
  if (!Bytes(env, argv[0], &key, &key_len) || key_len != kKeyLen) return false;
  if (!U32(env, argv[1], &lo) || !U32(env, argv[2], &hi)) return false;
  if (!Bytes(env, argv[3], &c->buf, &c->buf_len)) return false;
  if (!U32(env, argv[4], &src_off) || !U32(env, argv[5], &len) || !U32(env, argv[6], &dst_off)) return false;
  if (len > kMaxLen) return false;
  c->key = key;
  memset(c->iv, 0, 4);
  PutLe32(c->iv + 4, lo);
  PutLe32(c->iv + 8, hi);
  c->src_off = src_off;
  c->len = len;
  c->dst_off = dst_off;
  // The source range must lie inside buf; each function checks its destination range.
  return c->buf_len >= c->src_off && c->buf_len - c->src_off >= c->len;
}

bool Fits(const Call& c, size_t off, size_t n) { return c.buf_len >= off && c.buf_len - off >= n; }

napi_value Result(napi_env env, int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

int32_t Seal(AeadState* s, const Call& c) {
  const size_t n = c.len;
  if (!Fits(c, c.dst_off, n + kTagLen)) return -1;
  const uint8_t* src = c.buf + c.src_off;
  uint8_t* dst = c.buf + c.dst_off;
  // EVP allows in == out only; for any other overlap, move the plaintext to dst and seal there.
  if (src != dst && c.src_off < c.dst_off + n + kTagLen && c.dst_off < c.src_off + n) {
    memmove(dst, src, n);
    src = dst;
  }
  EVP_CIPHER_CTX* ctx = s->seal;
  int out_len = 0;
  int final_len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, c.key, c.iv) != 1) return -1;
  if (n > 0 && (EVP_EncryptUpdate(ctx, dst, &out_len, src, static_cast<int>(n)) != 1 || static_cast<size_t>(out_len) != n)) {
    return -1;
  }
  if (EVP_EncryptFinal_ex(ctx, dst + n, &final_len) != 1 || final_len != 0) return -1;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLen, dst + n) != 1) return -1;
  return static_cast<int32_t>(n + kTagLen);
}

int32_t Open(AeadState* s, const Call& c) {
  if (c.len < kTagLen) return -1;
  const size_t n = c.len - kTagLen;
  if (!Fits(c, c.dst_off, n)) return -1;
  if (n > s->scratch_len) {
    // Grows once to the largest message seen; never in the steady state.
    uint8_t* grown = static_cast<uint8_t*>(realloc(s->scratch, n));
    if (grown == nullptr) return -1;
    s->scratch = grown;
    s->scratch_len = n;
  }
  uint8_t* src = c.buf + c.src_off;
  EVP_CIPHER_CTX* ctx = s->open;
  int out_len = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, c.key, c.iv) != 1) return -1;
  // SET_TAG copies the 16 bytes; OpenSSL's signature is non-const but the tag is only read.
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLen, src + n) != 1) return -1;
  if (n > 0 && (EVP_DecryptUpdate(ctx, s->scratch, &out_len, src, static_cast<int>(n)) != 1 || static_cast<size_t>(out_len) != n)) {
    return -1;
  }
  // Verifies the tag: only now may the plaintext reach buf.
  if (EVP_DecryptFinal_ex(ctx, s->scratch + n, &final_len) != 1 || final_len != 0) return -1;
  memcpy(c.buf + c.dst_off, s->scratch, n);
  return static_cast<int32_t>(n);
}

// Counter base + i as the 12-byte nonce (4 zero bytes || LE64).
void BatchIv(uint8_t iv[kIvLen], uint32_t lo, uint32_t hi, uint32_t i) {
  uint64_t c = ((static_cast<uint64_t>(hi) << 32) | lo) + i;
  memset(iv, 0, 4);
  PutLe32(iv + 4, static_cast<uint32_t>(c));
  PutLe32(iv + 8, static_cast<uint32_t>(c >> 32));
}

// The arguments both batch functions share after their own: buf, offsets, lengths, start, count.
struct Batch {
  uint8_t* buf;
  size_t buf_len;
  const uint32_t* offsets;
  const uint32_t* lengths;
  uint32_t start;
  uint32_t count;
};

bool U32Array(napi_env env, napi_value v, uint32_t** data, size_t* len) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, len, &raw, nullptr, nullptr) != napi_ok || type != napi_uint32_array) return false;
  *data = static_cast<uint32_t*>(raw);
  return true;
}

// Reads buf, offsets, lengths, start, count from argv[0..4]; every range plus `extra` bytes must
// lie inside buf (extra: room for the tag when sealing).
bool ReadBatch(napi_env env, napi_value* argv, size_t extra, Batch* b) {
  uint32_t* offsets;
  uint32_t* lengths;
  size_t offsets_len, lengths_len;
  if (!Bytes(env, argv[0], &b->buf, &b->buf_len) || !U32Array(env, argv[1], &offsets, &offsets_len) ||
      !U32Array(env, argv[2], &lengths, &lengths_len) || !U32(env, argv[3], &b->start) || !U32(env, argv[4], &b->count)) {
    return false;
  }
  uint64_t end = static_cast<uint64_t>(b->start) + b->count;
  if (end > offsets_len || end > lengths_len) return false;
  for (uint64_t k = b->start; k < end; k++) {
    uint64_t stop = static_cast<uint64_t>(offsets[k]) + lengths[k] + extra;
    if (lengths[k] > kMaxLen || stop > b->buf_len) return false;
  }
  b->offsets = offsets;
  b->lengths = lengths;
  return true;
}

napi_value DataSealBatch(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  AeadState* s = tls_state;
  uint8_t* key;
  size_t key_len;
  uint32_t lo, hi;
  Batch b;
  if (s == nullptr || napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 8 ||
      !Bytes(env, argv[0], &key, &key_len) || key_len != kKeyLen || !U32(env, argv[1], &lo) || !U32(env, argv[2], &hi) ||
      !ReadBatch(env, argv + 3, kTagLen, &b)) {
    return Result(env, -1);
  }
  EVP_CIPHER_CTX* ctx = s->seal;
  for (uint32_t i = 0; i < b.count; i++) {
    uint32_t k = b.start + i;
    uint8_t* p = b.buf + b.offsets[k];
    int n = static_cast<int>(b.lengths[k]);
    uint8_t iv[kIvLen];
    BatchIv(iv, lo, hi, i);
    int out_len = 0;
    int final_len = 0;
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, key, iv) != 1) return Result(env, -1);
    if (n > 0 && (EVP_EncryptUpdate(ctx, p, &out_len, p, n) != 1 || out_len != n)) return Result(env, -1);
    if (EVP_EncryptFinal_ex(ctx, p + n, &final_len) != 1 || final_len != 0) return Result(env, -1);
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLen, p + n) != 1) return Result(env, -1);
  }
  return Result(env, static_cast<int32_t>(b.count));
}

napi_value DataOpenBatch(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  AeadState* s = tls_state;
  uint8_t* key;
  size_t key_len;
  Batch b;
  uint32_t* counters;
  size_t counters_len;
  napi_typedarray_type type;
  void* raw = nullptr;
  size_t results_len = 0;
  if (s == nullptr || napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 8 ||
      !Bytes(env, argv[0], &key, &key_len) || key_len != kKeyLen) {
    return Result(env, -1);
  }
  napi_value batch_args[5] = {argv[1], argv[2], argv[3], argv[5], argv[6]};
  if (!ReadBatch(env, batch_args, 0, &b) || !U32Array(env, argv[4], &counters, &counters_len) ||
      napi_get_typedarray_info(env, argv[7], &type, &results_len, &raw, nullptr, nullptr) != napi_ok || type != napi_int32_array) {
    return Result(env, -1);
  }
  uint64_t end = static_cast<uint64_t>(b.start) + b.count;
  if (end * 2 > counters_len || end > results_len) return Result(env, -1);
  int32_t* results = static_cast<int32_t*>(raw);
  EVP_CIPHER_CTX* ctx = s->open;
  int32_t opened = 0;
  for (uint32_t k = b.start; k < end; k++) {
    uint8_t* p = b.buf + b.offsets[k];
    results[k] = -1;
    if (b.lengths[k] < kTagLen) continue;
    int n = static_cast<int>(b.lengths[k] - kTagLen);
    uint8_t iv[kIvLen];
    BatchIv(iv, counters[2 * k], counters[2 * k + 1], 0);
    int out_len = 0;
    int final_len = 0;
    if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, key, iv) != 1) continue;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLen, p + n) != 1) continue;
    if (n > 0 && (EVP_DecryptUpdate(ctx, p, &out_len, p, n) != 1 || out_len != n)) continue;
    if (EVP_DecryptFinal_ex(ctx, p + n, &final_len) != 1 || final_len != 0) continue;
    results[k] = n;
    opened++;
  }
  return Result(env, opened);
}

napi_value DataSeal(napi_env env, napi_callback_info info) {
  Call c;
  AeadState* s = tls_state;
  if (s == nullptr || !ReadCall(env, info, &c)) return Result(env, -1);
  return Result(env, Seal(s, c));
}

napi_value DataOpen(napi_env env, napi_callback_info info) {
  Call c;
  AeadState* s = tls_state;
  if (s == nullptr || !ReadCall(env, info, &c)) return Result(env, -1);
  return Result(env, Open(s, c));
}

napi_value DataForget(napi_env env, napi_callback_info info) {
  if (tls_state != nullptr) Forget(tls_state);
  return nullptr;
}

}  // namespace

bool RegisterAead(napi_env env, napi_value exports) {
  if (tls_state == nullptr) {
    tls_state = NewState();
    if (tls_state == nullptr) {
      napi_throw_error(env, nullptr, "wgts_native: cannot create the ChaCha20-Poly1305 contexts");
      return false;
    }
  }
  Registration* r = new Registration{tls_state};
  tls_state->users++;
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, r) != napi_ok) {
    OnEnvCleanup(r);
    napi_throw_error(env, nullptr, "wgts_native: cannot register the cipher cleanup hook");
    return false;
  }
  return SetFunction(env, exports, "dataSeal", DataSeal) && SetFunction(env, exports, "dataOpen", DataOpen) &&
         SetFunction(env, exports, "dataForget", DataForget) && SetFunction(env, exports, "dataSealBatch", DataSealBatch) &&
         SetFunction(env, exports, "dataOpenBatch", DataOpenBatch);
}

}  // namespace wgts
