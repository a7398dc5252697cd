// N-API class UdpHandle: one bound UDP socket (see udp_fd.h), event-driven batched receives
// (recvmmsg into a JS-owned slab, one JS call per batch), synchronous sends (sendmsg) and a
// queue of datagrams copied into a native slab and sent with sendmmsg. Protocol-free: bytes only.
// With offloads, receives use UDP_GRO (a slot may hold a train of datagrams of one flow, split
// here in place by its segment size) and the queue packs consecutive equal-sized datagrams to one
// destination into one UDP_SEGMENT (GSO) message; udp_cmsg.h builds and parses the control data.
// Sticky source addresses: each received datagram reports the local address it was sent to and
// the interface it arrived on; each send may name the local address to leave from (the queue
// keeps it per message, also in GSO trains). A send whose source the kernel refuses (the address
// left the host) goes again without it and is counted (txSourceFallback).
#ifndef WGTS_UDP_HANDLE_H
#define WGTS_UDP_HANDLE_H

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "udp_cmsg.h"

namespace wgts { class HandshakeGate; }

namespace wgts {

// Slots of the JS-owned Float64Array a UdpHandle counts into (exported as `udpCounterNames`).
enum UdpCounter {
  kUdpRxDatagrams,
  kUdpRxBytes,
  kUdpRxBatches,     // batch callbacks made
  kUdpRxTruncated,   // datagrams longer than a receive slot: dropped
  kUdpRxErrors,      // receive failures other than "nothing to read"
  kUdpTxDatagrams,
  kUdpTxBytes,
  kUdpTxBatches,     // sendmmsg calls that sent at least one queued datagram
  kUdpTxDropsFull,   // EAGAIN / ENOBUFS: socket buffer or device queue full
  kUdpTxDropsFamily, // IPv6 destination on the IPv4-only fallback socket
  kUdpTxDropsClosed, // send or queue after close
  kUdpTxErrors,      // anything else: bad slice, oversize, unreachable, EPERM by a firewall, ...
  kUdpRxGro,         // offloads: received trains (UDP_GRO messages holding more than one datagram)
  kUdpTxGso,         // offloads: sent trains (UDP_SEGMENT messages holding more than one datagram)
  kUdpTxGsoFallback, // offloads: trains the kernel refused whole, sent datagram by datagram
  kUdpTxSourceFallback,  // datagrams whose source address the kernel refused, sent again from its own choice
  kUdpCounterCount
};

extern const char* const kUdpCounterNames[kUdpCounterCount];

// Most messages per receive batch (recvmmsg) and per sendmmsg.
constexpr uint32_t kUdpMaxBatch = 1024;
// Most datagrams the kernel puts into one UDP_GRO message, and the most this queue puts into one
// UDP_SEGMENT message (the kernel's UDP_MAX_SEGMENTS is at least this), with their byte limit.
constexpr uint32_t kUdpMaxSegments = 64;
constexpr uint32_t kUdpMaxTrainBytes = 65507;

class UdpHandle : public Napi::ObjectWrap<UdpHandle> {
 public:
  static Napi::Function Define(Napi::Env env);

  // JS: new UdpHandle(port: number, counters: Float64Array, offload?: boolean). Binds (see
  // UdpOpen) or throws an Error with `code` / `errno`.
  explicit UdpHandle(const Napi::CallbackInfo& info);
  ~UdpHandle() override;

 private:
  // The uv handle lives on the heap so that its close callback may outlive this object.
  struct UvHandles {
    uv_poll_t poll;
    UdpHandle* owner;
    napi_async_cleanup_hook_handle cleanup_hook;
  };

  Napi::Value Port(const Napi::CallbackInfo& info);
  Napi::Value Family(const Napi::CallbackInfo& info);
  Napi::Value Offloads(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Queue(const Napi::CallbackInfo& info);
  Napi::Value QueueMany(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value SetMark(const Napi::CallbackInfo& info);
  Napi::Value Mark(const Napi::CallbackInfo& info);
  Napi::Value BufferSizes(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetGate(const Napi::CallbackInfo& info);
  static void GateSend(void* ctx, const uint8_t* data, uint32_t len, const uint8_t addr[16], uint16_t port, const uint8_t* local);

  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvTeardown(napi_async_cleanup_hook_handle hook, void* arg);

  bool Live() const { return fd_ >= 0; }
  int Arm();
  struct RecvView {
    uint8_t* slab;
    uint32_t* offsets;
    uint32_t* lengths;
    uint8_t* addrs;
    uint16_t* ports;
    uint8_t* locals;
    uint32_t* trains;
  };
  bool BindRecvBuffers(RecvView* view);
  void ReceiveBatch();
  bool DeliverBatch(uint32_t count);
  void CountSendError(int err, uint32_t datagrams);
  int SendOne(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, const SendMeta& meta);
  int SendWithSource(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, SendMeta meta);
  bool GsoAllowed(const sockaddr_in6& dest) const;
  void Enqueue(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, const LocalAddr* src);
  SendMeta QueuedMeta(uint32_t k) const;
  void SetQueuedControl(uint32_t k);
  uint32_t SendSplit(uint32_t k);
  uint32_t FlushQueue();
  void CloseFd();
  void Release();
  bool ThrowIfClosed(Napi::Env env);

  int fd_ = -1;
  int family_ = 0;
  bool started_ = false;
  bool tearing_down_ = false;
  UvHandles* handles_ = nullptr;
  double* counters_ = nullptr;
  Napi::Reference<Napi::Float64Array> counters_ref_;

  // Offloads: asked for at construction; GSO per destination family (v4, v6) until the kernel
  // says EIO (no checksum offload on the way out); GRO once receiving with 64 KiB slots.
  bool offload_ = false;
  bool gso_[2] = {false, false};
  bool gro_ = false;

  // Receive side: slot k of the JS slab is [k * stride, k * stride + slot); per received
  // datagram (a slot may hold a GRO train) one entry of offsets/lengths/addrs/ports/locals.
  uint32_t batch_ = 0;
  uint32_t capacity_ = 0;
  uint32_t stride_ = 0;
  uint32_t slot_ = 0;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<iovec> rx_iov_;
  std::vector<sockaddr_in6> rx_names_;
  std::vector<ControlBuf> rx_control_;
  Napi::FunctionReference on_batch_;
  Napi::Reference<Napi::ArrayBuffer> slab_ref_;
  Napi::Reference<Napi::Uint32Array> offsets_ref_;
  Napi::Reference<Napi::Uint32Array> lengths_ref_;
  Napi::Reference<Napi::Uint8Array> addrs_ref_;
  Napi::Reference<Napi::Uint16Array> ports_ref_;
  Napi::Reference<Napi::Uint8Array> locals_ref_;
  Napi::Reference<Napi::Uint32Array> trains_ref_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  // The handshake gate (gate.h) each received batch passes before JS sees it, or none.
  HandshakeGate* gate_ = nullptr;
  Napi::ObjectReference gate_ref_;

  // Send queue: datagrams packed back to back in tx_slab_, one mmsghdr per message; with GSO a
  // message is a train of tx_segments_[k] datagrams of tx_gso_[k] bytes (the last may be shorter),
  // leaving from tx_src_[k] when tx_has_src_[k].
  std::unique_ptr<uint8_t[]> tx_slab_;
  uint32_t tx_used_ = 0;
  uint32_t tx_count_ = 0;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iov_;
  std::vector<sockaddr_in6> tx_names_;
  std::vector<uint32_t> tx_segments_;
  std::vector<uint32_t> tx_gso_;
  std::vector<uint8_t> tx_closed_;
  std::vector<uint8_t> tx_has_src_;
  std::vector<LocalAddr> tx_src_;
  std::vector<ControlBuf> tx_control_;
};

}  // namespace wgts

#endif
