// N-API class UdpHandle: one bound UDP socket (see udp_fd.h), event-driven batched receives
// (recvmmsg into a JS-owned slab, one JS call per batch), synchronous sends (sendto) and a
// queue of datagrams copied into a native slab and sent with sendmmsg. Protocol-free: bytes only.
#ifndef WGTS_UDP_HANDLE_H
#define WGTS_UDP_HANDLE_H

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <vector>

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
  kUdpCounterCount
};

extern const char* const kUdpCounterNames[kUdpCounterCount];

// Most datagrams per receive batch and per sendmmsg.
constexpr uint32_t kUdpMaxBatch = 1024;

class UdpHandle : public Napi::ObjectWrap<UdpHandle> {
 public:
  static Napi::Function Define(Napi::Env env);

  // JS: new UdpHandle(port: number, counters: Float64Array). Binds (see UdpOpen) or throws an
  // Error with `code` / `errno`.
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
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Queue(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value SetMark(const Napi::CallbackInfo& info);
  Napi::Value Mark(const Napi::CallbackInfo& info);
  Napi::Value BufferSizes(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

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
  };
  bool BindRecvBuffers(RecvView* view);
  void ReceiveBatch();
  bool DeliverBatch(uint32_t count);
  void CountSendError(int err);
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

  // Receive side: slot k of the JS slab is [k * stride, k * stride + slot).
  uint32_t batch_ = 0;
  uint32_t stride_ = 0;
  uint32_t slot_ = 0;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<iovec> rx_iov_;
  std::vector<sockaddr_in6> rx_names_;
  Napi::FunctionReference on_batch_;
  Napi::Reference<Napi::ArrayBuffer> slab_ref_;
  Napi::Reference<Napi::Uint32Array> offsets_ref_;
  Napi::Reference<Napi::Uint32Array> lengths_ref_;
  Napi::Reference<Napi::Uint8Array> addrs_ref_;
  Napi::Reference<Napi::Uint16Array> ports_ref_;
  std::unique_ptr<Napi::AsyncContext> async_context_;

  // Send queue: datagrams packed back to back in tx_slab_, one mmsghdr each.
  std::unique_ptr<uint8_t[]> tx_slab_;
  uint32_t tx_used_ = 0;
  uint32_t tx_count_ = 0;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iov_;
  std::vector<sockaddr_in6> tx_names_;
};

}  // namespace wgts

#endif
