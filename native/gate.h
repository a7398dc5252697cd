// N-API class HandshakeGate: WireGuard's mac1/mac2 checks and cookie replies (whitepaper §5.4.7)
// in native code, run by the UDP receive path (udp_handle.cc) on each received batch before it
// reaches JS. Handshake messages (initiation, response: exact sizes, zero reserved bytes) with a
// bad mac1 are dropped here; while the device says it is under load, those without a valid mac2
// get a cookie reply (queued on the socket: it leaves with the batch's sendmmsg) and are dropped
// too. Everything else passes, in order, each with a verdict (kVerdict*) in a JS-owned array so
// that the device can take mac2-verified handshakes first. The gate owns the cookie secret
// (random, renewed after two minutes when a reply needs it) and is protocol-thin on purpose: the
// reference logic is noise/cookie.ts, and test/io/gate.test.ts checks both agree.
#ifndef WGTS_GATE_H
#define WGTS_GATE_H

#include <napi.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "macs.h"

namespace wgts {

// Slots of the JS-owned Float64Array a gate counts into (exported as `gateCounterNames`).
enum GateCounter {
  kGateHandshakes,    // handshake messages examined
  kGateBadMac1,       // dropped: mac1 does not match our public key (or no key is set)
  kGateMac2Valid,     // passed with a valid mac2
  kGateCookieReplies, // under load without a valid mac2: answered with a cookie reply, dropped
  kGateReplyDrops,    // a cookie reply could not be built (no key)
  kGateRepliesSpared, // under load, from a source (address and port) that got a cookie reply less than
                      // kReplyIntervalMs ago: dropped without another one and without checking any
                      // MAC (a bad mac1 is counted here, not in kGateBadMac1)
  kGateCounterCount
};
extern const char* const kGateCounterNames[kGateCounterCount];

// Verdicts, per delivered datagram (and the result of check()).
enum GateVerdict : uint8_t {
  kVerdictOther = 0,    // not a handshake message: untouched
  kVerdictMac1 = 1,     // handshake with a valid mac1, mac2 missing or not valid
  kVerdictMac2 = 2,     // handshake with valid mac1 and mac2
  kVerdictBadMac1 = 3,  // (check only) would be dropped
  kVerdictCookie = 4,   // (check only) under load without mac2: a cookie reply is due
  kVerdictSpared = 5,   // (check only) under load, from a source that got a reply within
                        // kReplyIntervalMs: dropped without checking any MAC or replying
};

// Where the filter sends cookie replies (the socket's send queue).
// `local` is the datagram's 20-byte local address record (kLocalAddrBytes, udp_cmsg.h).
using CookieSend = void (*)(void* ctx, const uint8_t* data, uint32_t len, const uint8_t addr[16], uint16_t port, const uint8_t* local);
constexpr size_t kGateLocalBytes = 20;

class HandshakeGate : public Napi::ObjectWrap<HandshakeGate> {
 public:
  static Napi::Function Define(Napi::Env env);
  // JS: new HandshakeGate(counters: Float64Array(gateCounterNames.length), verdicts: Uint8Array)
  explicit HandshakeGate(const Napi::CallbackInfo& info);
  ~HandshakeGate() override;

  // Filters datagrams j < n of a receive batch in place (offsets/lengths/addrs/ports/locals
  // compacted, trains recounted) and writes the verdict of each one kept; returns how many are kept.
  uint32_t Filter(uint32_t* offsets, uint32_t* lengths, uint8_t* addrs, uint16_t* ports, uint8_t* locals, uint32_t* trains, uint32_t n,
                  const uint8_t* slab, CookieSend send, void* ctx);
  // Room for the verdicts of this many datagrams.
  uint32_t Capacity() const { return verdicts_len_; }

 private:
  Napi::Value SetKey(const Napi::CallbackInfo& info);
  Napi::Value SetUnderLoad(const Napi::CallbackInfo& info);
  Napi::Value UnderLoad(const Napi::CallbackInfo& info);
  Napi::Value Check(const Napi::CallbackInfo& info);
  Napi::Value CookieReply(const Napi::CallbackInfo& info);

  // The verdict for one message (kVerdictOther .. kVerdictCookie), without side effects.
  uint8_t Classify(const uint8_t* m, uint32_t len, const uint8_t addr[16], uint16_t port, double now);
  // Writes the 64-byte cookie reply to handshake message m from addr/port; false without a key.
  bool BuildReply(uint8_t out[64], const uint8_t* m, uint32_t len, const uint8_t addr[16], uint16_t port, double now);
  // The reply table slot of addr/port (in `source`, its 18 bytes); whether it got a reply less
  // than kReplyIntervalMs ago; Answered notes a reply now.
  uint32_t SlotOf(const uint8_t addr[16], uint16_t port, uint8_t source[18]) const;
  bool RecentlyAnswered(const uint8_t addr[16], uint16_t port, double now) const;
  void Answered(const uint8_t addr[16], uint16_t port, double now);
  void RenewSecretIfStale(double now);
  void CookieFor(uint8_t out[16], const uint8_t addr[16], uint16_t port) const;
  void Nonce(uint8_t out[24]);

  bool has_key_ = false;
  bool under_load_ = false;
  Blake2sKeyed mac1_;    // keyed with HASH(LABEL_MAC1 || our public key)
  uint8_t cookie_key_[32] = {0};
  Blake2sKeyed secret_;  // keyed with the cookie secret
  double secret_at_ = -1e300;  // ms, CLOCK_MONOTONIC
  uint8_t random_[24 * 64] = {0};
  uint32_t random_used_ = sizeof(random_);
  // The last cookie reply per source, in a direct-mapped table indexed by a seeded hash of the
  // source. A slot only suppresses a reply for exactly the source it holds, so a collision (even a
  // contrived one) only ever means one more reply, never one less for someone else.
  struct ReplySlot {
    uint8_t source[18];
    double at;
  };
  static constexpr uint32_t kReplySlots = 4096;
  ReplySlot* replied_ = nullptr;
  uint64_t slot_seed_ = 0;  // random
  EVP_CIPHER_CTX* ctx_ = nullptr;  // ChaCha20-Poly1305 for the cookie replies
  double* counters_ = nullptr;
  uint8_t* verdicts_ = nullptr;
  uint32_t verdicts_len_ = 0;
  Napi::Reference<Napi::Float64Array> counters_ref_;
  Napi::Reference<Napi::Uint8Array> verdicts_ref_;
};

}  // namespace wgts

#endif
