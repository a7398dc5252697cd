// ChaCha20-Poly1305 with a full 12-byte nonce and associated data, for the native backend's
// generic aeadSeal / aeadOpen (handshake messages: the AAD is the handshake hash). The data
// messages use dataSeal / dataOpen (aead.cc). One pair of cipher contexts per thread, keyed per
// call and re-keyed with zeros before returning, so no key stays in them between calls (a
// context per call measured several microseconds, more than the whole seal); the plaintext of an
// open is staged in a scratch buffer that is cleansed too.
#include "hs_crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

namespace wgts {

namespace {

constexpr size_t kTag = 16;
constexpr uint8_t kZeroKey[32] = {0};
constexpr uint8_t kZeroIv[12] = {0};

// This thread's contexts, created on first use and freed (OpenSSL cleanses them) at thread exit.
struct Contexts {
  EVP_CIPHER_CTX* seal = nullptr;
  EVP_CIPHER_CTX* open = nullptr;
  bool ready = false;
  ~Contexts() {
    EVP_CIPHER_CTX_free(seal);
    EVP_CIPHER_CTX_free(open);
  }
  bool Init() {
    if (ready) return true;
    seal = EVP_CIPHER_CTX_new();
    open = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = EVP_chacha20_poly1305();
    ready = seal != nullptr && open != nullptr && cipher != nullptr && EVP_EncryptInit_ex(seal, cipher, nullptr, kZeroKey, kZeroIv) == 1 &&
            EVP_DecryptInit_ex(open, cipher, nullptr, kZeroKey, kZeroIv) == 1;
    return ready;
  }
};
thread_local Contexts tls;

// EVP allows in == out only; other overlaps go through a copy.
bool Overlaps(const uint8_t* a, size_t an, const uint8_t* b, size_t bn) { return a < b + bn && b < a + an; }

}  // namespace

int32_t AeadSealAd(const uint8_t key[32], const uint8_t nonce[12], const uint8_t* src, size_t n, const uint8_t* aad, size_t aad_len,
                   uint8_t* dst) {
  if (n > 0x7fffffff - kTag || aad_len > 0x7fffffff) return -1;
  uint8_t* copy = nullptr;
  if (src != dst && n > 0 && Overlaps(src, n, dst, n + kTag)) {
    copy = static_cast<uint8_t*>(malloc(n));
    if (copy == nullptr) return -1;
    memcpy(copy, src, n);
    src = copy;
  }
  if (!tls.Init()) {
    free(copy);
    return -1;
  }
  EVP_CIPHER_CTX* ctx = tls.seal;
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, key, nonce) == 1 &&
            (aad_len == 0 || EVP_EncryptUpdate(ctx, nullptr, &len, aad, static_cast<int>(aad_len)) == 1) &&
            (n == 0 || (EVP_EncryptUpdate(ctx, dst, &len, src, static_cast<int>(n)) == 1 && static_cast<size_t>(len) == n)) &&
            EVP_EncryptFinal_ex(ctx, dst + n, &len) == 1 && len == 0 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, dst + n) == 1;
  EVP_EncryptInit_ex(ctx, nullptr, nullptr, kZeroKey, kZeroIv);  // forget the key
  if (!ok) ERR_clear_error();
  if (copy != nullptr) {
    OPENSSL_cleanse(copy, n);
    free(copy);
  }
  return ok ? static_cast<int32_t>(n + kTag) : -1;
}

int32_t AeadOpenAd(const uint8_t key[32], const uint8_t nonce[12], const uint8_t* src, size_t len, const uint8_t* aad, size_t aad_len,
                   uint8_t* dst) {
  if (len < kTag || len > 0x7fffffff || aad_len > 0x7fffffff) return -1;
  const size_t n = len - kTag;
  uint8_t small[256];
  uint8_t* plain = n <= sizeof small ? small : static_cast<uint8_t*>(malloc(n));
  if (plain == nullptr) return -1;
  if (!tls.Init()) {
    if (plain != small) free(plain);
    return -1;
  }
  EVP_CIPHER_CTX* ctx = tls.open;
  int out = 0;
  // SET_TAG copies the tag; OpenSSL's signature is non-const but only reads it.
  bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, key, nonce) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, const_cast<uint8_t*>(src + n)) == 1 &&
            (aad_len == 0 || EVP_DecryptUpdate(ctx, nullptr, &out, aad, static_cast<int>(aad_len)) == 1) &&
            (n == 0 || (EVP_DecryptUpdate(ctx, plain, &out, src, static_cast<int>(n)) == 1 && static_cast<size_t>(out) == n)) &&
            EVP_DecryptFinal_ex(ctx, plain + n, &out) == 1 && out == 0;
  EVP_DecryptInit_ex(ctx, nullptr, nullptr, kZeroKey, kZeroIv);  // forget the key
  if (ok) memmove(dst, plain, n);  // only an authentic plaintext reaches dst
  else ERR_clear_error();           // node:crypto must not find our failure in the error queue
  OPENSSL_cleanse(plain, n);
  if (plain != small) free(plain);
  return ok ? static_cast<int32_t>(n) : -1;
}

}  // namespace wgts
