// HandshakeGate: see gate.h. Message layout (whitepaper §5.4): initiation 148 bytes, response 92,
// both end in mac1 (16) and mac2 (16); bytes 4..8 are the sender index. A cookie reply is
// type 3 || 3 zero bytes || receiver index (the message's sender index) || 24-byte nonce ||
// XChaCha20-Poly1305(key = HASH("cookie--" || our public key), cookie, ad = the message's mac1).
#include "gate.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "macs.h"
#include "napi_util.h"

namespace wgts {

const char* const kGateCounterNames[kGateCounterCount] = {
    "handshakes", "badMac1", "mac2Valid", "cookieReplies", "replyDrops", "repliesSpared",
};

namespace {

constexpr uint32_t kInitiationSize = 148;
constexpr uint32_t kResponseSize = 92;
constexpr uint32_t kCookieReplySize = 64;
constexpr double kCookieRefreshMs = 120000;  // COOKIE_REFRESH_TIME
// One cookie reply per source address and port per this time: a legitimate initiator sends one
// initiation per REKEY_TIMEOUT (5 s) and presents its cookie with the next; a source that keeps
// sending without one only costs us the checks, not a reply each time.
constexpr double kReplyIntervalMs = 1000;
const uint8_t kLabelMac1[] = {'m', 'a', 'c', '1', '-', '-', '-', '-'};
const uint8_t kLabelCookie[] = {'c', 'o', 'o', 'k', 'i', 'e', '-', '-'};

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

bool IsHandshake(const uint8_t* m, uint32_t len) {
  if (len < 4 || m[1] != 0 || m[2] != 0 || m[3] != 0) return false;
  return (m[0] == 1 && len == kInitiationSize) || (m[0] == 2 && len == kResponseSize);
}

bool IsZero16(const uint8_t* p) {
  uint8_t acc = 0;
  for (int i = 0; i < 16; i++) acc |= p[i];
  return acc == 0;
}

void FillRandom(uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r <= 0) continue;  // EINTR; the kernel's pool is initialised long before a gateway runs
    p += r;
    n -= static_cast<size_t>(r);
  }
}

}  // namespace

Napi::Function HandshakeGate::Define(Napi::Env env) {
  return DefineClass(env, "HandshakeGate",
                     {
                         InstanceMethod("setKey", &HandshakeGate::SetKey),
                         InstanceMethod("setUnderLoad", &HandshakeGate::SetUnderLoad),
                         InstanceMethod("underLoad", &HandshakeGate::UnderLoad),
                         InstanceMethod("check", &HandshakeGate::Check),
                         InstanceMethod("cookieReply", &HandshakeGate::CookieReply),
                     });
}

HandshakeGate::HandshakeGate(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HandshakeGate>(info) {
  Napi::Env env = info.Env();
  size_t counter_len = 0;
  size_t verdicts_len = 0;
  if (info.Length() < 2 || !TypedView(env, info[0], napi_float64_array, &counters_, &counter_len) || counter_len < kGateCounterCount ||
      !TypedView(env, info[1], napi_uint8_array, &verdicts_, &verdicts_len)) {
    ThrowType(env, "HandshakeGate(counters: Float64Array with one slot per gateCounterNames entry, verdicts: Uint8Array)");
    return;
  }
  verdicts_len_ = static_cast<uint32_t>(verdicts_len);
  counters_ref_ = Napi::Persistent(info[0].As<Napi::Float64Array>());
  verdicts_ref_ = Napi::Persistent(info[1].As<Napi::Uint8Array>());
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr || EVP_EncryptInit_ex(ctx_, EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1) {
    Napi::Error::New(env, "HandshakeGate: cannot create a ChaCha20-Poly1305 context").ThrowAsJavaScriptException();
    return;
  }
  replied_ = new ReplySlot[kReplySlots]();
  for (uint32_t i = 0; i < kReplySlots; i++) replied_[i].at = -1e300;
  FillRandom(reinterpret_cast<uint8_t*>(&slot_seed_), sizeof(slot_seed_));
}

HandshakeGate::~HandshakeGate() {
  mac1_.Wipe();
  Wipe(cookie_key_, sizeof(cookie_key_));
  secret_.Wipe();
  Wipe(random_, sizeof(random_));
  delete[] replied_;
  if (ctx_ != nullptr) EVP_CIPHER_CTX_free(ctx_);
}

// setKey(publicKey: Uint8Array(32) | null): derives the mac1 and cookie keys (null: no identity,
// every handshake fails mac1) and forgets the cookie secret, like CookieChecker.init.
Napi::Value HandshakeGate::SetKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* pub = nullptr;
  size_t pub_len = 0;
  if (info.Length() < 1 || (!info[0].IsNull() && (!TypedView(env, info[0], napi_uint8_array, &pub, &pub_len) || pub_len != 32))) {
    return ThrowType(env, "setKey(publicKey: Uint8Array(32) | null)");
  }
  has_key_ = pub != nullptr;
  if (has_key_) {
    uint8_t mac1_key[32];
    Blake2sHash2(mac1_key, kLabelMac1, sizeof(kLabelMac1), pub, 32);
    mac1_.Init(16, mac1_key);
    Wipe(mac1_key, sizeof(mac1_key));
    Blake2sHash2(cookie_key_, kLabelCookie, sizeof(kLabelCookie), pub, 32);
  } else {
    mac1_.Wipe();
    Wipe(cookie_key_, sizeof(cookie_key_));
  }
  secret_.Wipe();
  secret_at_ = -1e300;
  return env.Undefined();
}

Napi::Value HandshakeGate::SetUnderLoad(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) return ThrowType(info.Env(), "setUnderLoad(on: boolean)");
  under_load_ = info[0].As<Napi::Boolean>().Value();
  return info.Env().Undefined();
}

Napi::Value HandshakeGate::UnderLoad(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), under_load_); }

// The arguments of check/cookieReply: (buf: Uint8Array, off, len, addr: Uint8Array(16), port).
struct MsgArgs {
  const uint8_t* m = nullptr;
  uint32_t len = 0;
  const uint8_t* addr = nullptr;
  uint16_t port = 0;
};

static bool ParseMsgArgs(const Napi::CallbackInfo& info, MsgArgs* a) {
  napi_env env = info.Env();
  uint8_t* buf = nullptr;
  size_t buf_len = 0;
  uint8_t* addr = nullptr;
  size_t addr_len = 0;
  uint32_t off = 0, len = 0, port = 0;
  if (info.Length() < 5 || !TypedView(env, info[0], napi_uint8_array, &buf, &buf_len) || !Uint32Arg(env, info[1], &off) ||
      !Uint32Arg(env, info[2], &len) || !TypedView(env, info[3], napi_uint8_array, &addr, &addr_len) || addr_len != 16 ||
      !Uint32Arg(env, info[4], &port) || port > 65535 || static_cast<size_t>(off) + len > buf_len) {
    return false;
  }
  a->m = buf + off;
  a->len = len;
  a->addr = addr;
  a->port = static_cast<uint16_t>(port);
  return true;
}

// check(buf, off, len, addr, port) -> verdict: what the filter would do with this datagram now.
Napi::Value HandshakeGate::Check(const Napi::CallbackInfo& info) {
  MsgArgs a;
  if (!ParseMsgArgs(info, &a)) return ThrowType(info.Env(), "check(buf: Uint8Array, off, len, addr: Uint8Array(16), port)");
  return Napi::Number::New(info.Env(), Classify(a.m, a.len, a.addr, a.port, NowMs()));
}

// cookieReply(buf, off, len, addr, port, out: Uint8Array(>= 64)) -> 64, or 0 when the datagram is
// not a handshake message or no key is set. Counted like the filter's replies.
Napi::Value HandshakeGate::CookieReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MsgArgs a;
  uint8_t* out = nullptr;
  size_t out_len = 0;
  if (!ParseMsgArgs(info, &a) || info.Length() < 6 || !TypedView(env, info[5], napi_uint8_array, &out, &out_len) ||
      out_len < kCookieReplySize) {
    return ThrowType(env, "cookieReply(buf: Uint8Array, off, len, addr: Uint8Array(16), port, out: Uint8Array(64))");
  }
  if (!IsHandshake(a.m, a.len) || !BuildReply(out, a.m, a.len, a.addr, a.port, NowMs())) {
    counters_[kGateReplyDrops] += 1;
    return Napi::Number::New(env, 0);
  }
  Answered(a.addr, a.port, NowMs());
  counters_[kGateCookieReplies] += 1;
  return Napi::Number::New(env, kCookieReplySize);
}

// cookie = MAC(secret, source address bytes (4 for IPv4) || port big-endian), as noise/ keys it.
void HandshakeGate::CookieFor(uint8_t out[16], const uint8_t addr[16], uint16_t port) const {
  uint8_t src[18];
  size_t n;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(addr, kMapped, 12) == 0) {
    memcpy(src, addr + 12, 4);
    n = 4;
  } else {
    memcpy(src, addr, 16);
    n = 16;
  }
  src[n] = static_cast<uint8_t>(port >> 8);
  src[n + 1] = static_cast<uint8_t>(port);
  secret_.Mac(out, src, n + 2);
}

void HandshakeGate::Nonce(uint8_t out[24]) {
  if (random_used_ + 24 > sizeof(random_)) {
    FillRandom(random_, sizeof(random_));
    random_used_ = 0;
  }
  memcpy(out, random_ + random_used_, 24);
  Wipe(random_ + random_used_, 24);
  random_used_ += 24;
}

uint8_t HandshakeGate::Classify(const uint8_t* m, uint32_t len, const uint8_t addr[16], uint16_t port, double now) {
  if (!IsHandshake(m, len)) return kVerdictOther;
  if (!has_key_) return kVerdictBadMac1;
  // Under load a message from a source answered within the last second is dropped before any MAC
  // (most of a flood ends here, also one with random mac2 bytes): a legitimate initiator presents
  // the cookie with its next initiation, REKEY_TIMEOUT (5 s) later.
  if (under_load_ && RecentlyAnswered(addr, port, now)) return kVerdictSpared;
  uint8_t mac[16];
  mac1_.Mac(mac, m, len - 32);
  if (!EqualCt(mac, m + len - 32, 16)) return kVerdictBadMac1;
  if (now - secret_at_ <= kCookieRefreshMs && !IsZero16(m + len - 16)) {
    uint8_t cookie[16];
    CookieFor(cookie, addr, port);
    Blake2s st;
    Blake2sInit(&st, 16, cookie, 16);
    Blake2sUpdate(&st, m, len - 16);
    Blake2sFinal(&st, mac);
    Wipe(cookie, sizeof(cookie));
    if (EqualCt(mac, m + len - 16, 16)) return kVerdictMac2;
  }
  return under_load_ ? kVerdictCookie : kVerdictMac1;
}

void HandshakeGate::RenewSecretIfStale(double now) {
  if (now - secret_at_ <= kCookieRefreshMs) return;
  uint8_t secret[32];
  FillRandom(secret, sizeof(secret));
  secret_.Init(16, secret);
  Wipe(secret, sizeof(secret));
  secret_at_ = now;
}

uint32_t HandshakeGate::SlotOf(const uint8_t addr[16], uint16_t port, uint8_t source[18]) const {
  memcpy(source, addr, 16);
  source[16] = static_cast<uint8_t>(port >> 8);
  source[17] = static_cast<uint8_t>(port);
  uint64_t h = slot_seed_;
  for (int i = 0; i < 18; i++) h = (h ^ source[i]) * 0x100000001b3ULL;  // FNV-1a, seeded
  h ^= h >> 29;
  return static_cast<uint32_t>(h % kReplySlots);
}

bool HandshakeGate::RecentlyAnswered(const uint8_t addr[16], uint16_t port, double now) const {
  uint8_t source[18];
  const ReplySlot& slot = replied_[SlotOf(addr, port, source)];
  return memcmp(slot.source, source, sizeof(source)) == 0 && now - slot.at < kReplyIntervalMs;
}

void HandshakeGate::Answered(const uint8_t addr[16], uint16_t port, double now) {
  uint8_t source[18];
  ReplySlot& slot = replied_[SlotOf(addr, port, source)];
  memcpy(slot.source, source, sizeof(source));
  slot.at = now;
}

bool HandshakeGate::BuildReply(uint8_t out[64], const uint8_t* m, uint32_t len, const uint8_t addr[16], uint16_t port, double now) {
  if (!has_key_) return false;
  RenewSecretIfStale(now);
  uint8_t cookie[16];
  CookieFor(cookie, addr, port);
  out[0] = 3;
  out[1] = out[2] = out[3] = 0;
  memcpy(out + 4, m + 4, 4);
  Nonce(out + 8);
  bool ok = XChaChaSeal(ctx_, out + 32, cookie_key_, out + 8, cookie, 16, m + len - 32, 16);
  Wipe(cookie, sizeof(cookie));
  return ok;
}

uint32_t HandshakeGate::Filter(uint32_t* offsets, uint32_t* lengths, uint8_t* addrs, uint16_t* ports, uint8_t* locals, uint32_t* trains,
                               uint32_t n, const uint8_t* slab, CookieSend send, void* ctx) {
  double now = NowMs();
  uint32_t kept = 0;
  uint32_t train_left = 0;
  uint32_t head = UINT32_MAX;  // output index of the first kept datagram of the current train
  uint8_t reply[kCookieReplySize];
  for (uint32_t j = 0; j < n; j++) {
    if (train_left == 0) {
      train_left = trains[j] > 0 ? trains[j] : 1;
      head = UINT32_MAX;
    }
    train_left--;
    const uint8_t* m = slab + offsets[j];
    const uint8_t* addr = addrs + static_cast<size_t>(j) * 16;
    uint8_t verdict = Classify(m, lengths[j], addr, ports[j], now);
    if (verdict != kVerdictOther) counters_[kGateHandshakes] += 1;
    if (verdict == kVerdictBadMac1) {
      counters_[kGateBadMac1] += 1;
      continue;
    }
    if (verdict == kVerdictSpared) {
      counters_[kGateRepliesSpared] += 1;
      continue;
    }
    if (verdict == kVerdictCookie) {
      if (RecentlyAnswered(addr, ports[j], now)) {  // a mac2 that did not verify, from a source just answered
        counters_[kGateRepliesSpared] += 1;
      } else if (BuildReply(reply, m, lengths[j], addr, ports[j], now)) {
        Answered(addr, ports[j], now);
        counters_[kGateCookieReplies] += 1;
        send(ctx, reply, kCookieReplySize, addr, ports[j], locals + static_cast<size_t>(j) * kGateLocalBytes);
      } else {
        counters_[kGateReplyDrops] += 1;
      }
      continue;
    }
    if (verdict == kVerdictMac2) counters_[kGateMac2Valid] += 1;
    if (kept != j) {
      offsets[kept] = offsets[j];
      lengths[kept] = lengths[j];
      memcpy(addrs + static_cast<size_t>(kept) * 16, addr, 16);
      ports[kept] = ports[j];
      memcpy(locals + static_cast<size_t>(kept) * kGateLocalBytes, locals + static_cast<size_t>(j) * kGateLocalBytes, kGateLocalBytes);
    }
    if (head == UINT32_MAX) {
      head = kept;
      trains[kept] = 1;
    } else {
      trains[head]++;
    }
    if (kept < verdicts_len_) verdicts_[kept] = verdict;
    kept++;
  }
  Wipe(reply, sizeof(reply));
  return kept;
}

}  // namespace wgts
