// N-API class TunHandle: one open TUN fd, event-driven batched reads into a JS-owned slab,
// single and batched writes, and a one-shot "gone" notification when the kernel detaches the
// device (deleted with `ip link del`, or its namespace destroyed). Protocol-free: bytes only.
// With offloads (IFF_VNET_HDR + TSO/USO, see tun_fd.h) reads are super-packets that are split
// into MTU-sized segments straight into the slab (consecutive segments of one super-packet form a
// "train"), and batched writes coalesce TCP (and UDP) segments of one flow (offload.h).
#ifndef WGTS_TUN_HANDLE_H
#define WGTS_TUN_HANDLE_H

#include <napi.h>
#include <uv.h>

#include <sys/uio.h>

#include <memory>
#include <vector>

#include "offload.h"
#include "tun_fd.h"

namespace wgts {

// Slots of the JS-owned Float64Array the handle counts into (exported as `counterNames`).
enum Counter {
  kRxPackets,
  kRxBytes,
  kRxBatches,
  kRxErrors,       // read failures other than EAGAIN on a live device
  kTxPackets,
  kTxBytes,
  kTxDropsFull,    // write(2) said EAGAIN: the kernel queue is full
  kTxDropsDown,    // write(2) said EIO: the interface is administratively down
  kTxDropsInvalid, // rejected: out-of-range slice or a packet the kernel refuses (EINVAL, ...)
  kRxSuperPackets, // offloads: reads that were TSO/USO super-packets (split into segments)
  kRxDropsInvalid, // offloads: reads with an unusable virtio header (dropped)
  kTxSuperPackets, // offloads: writes that carried coalesced segments
  kTxCoalesced,    // offloads: packets merged into another packet's write
  kCounterCount
};

extern const char* const kCounterNames[kCounterCount];

class TunHandle : public Napi::ObjectWrap<TunHandle> {
 public:
  static Napi::Function Define(Napi::Env env);

  // JS: new TunHandle(name: string, counters: Float64Array, onGone: (errno: number, code: string) => void,
  //                    offload?: boolean)
  explicit TunHandle(const Napi::CallbackInfo& info);
  ~TunHandle() override;

 private:
  // libuv handles live on the heap so that their close callbacks may outlive this object.
  struct UvHandles {
    uv_poll_t poll;
    uv_timer_t timer;
    TunHandle* owner;
    int open;
    napi_async_cleanup_hook_handle cleanup_hook;
  };

  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Mtu(const Napi::CallbackInfo& info);
  Napi::Value SetMtu(const Napi::CallbackInfo& info);
  Napi::Value Ifindex(const Napi::CallbackInfo& info);
  Napi::Value Offloads(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value WriteBatch(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvTeardown(napi_async_cleanup_hook_handle hook, void* arg);

  bool Live() const { return fd_ >= 0 && !gone_; }
  bool Reading() const { return Live() && started_ && !paused_; }
  int Arm();
  void ReadBatch();
  struct ReadView {
    uint8_t* slab;
    size_t slab_len;
    uint32_t* offsets;
    uint32_t* lengths;
    uint32_t* trains;
    uint32_t max_batch;
  };
  bool BindReadBuffers(ReadView* view);
  uint32_t FillPlain(const ReadView& v, int* failure, double* bytes);
  uint32_t FillVnet(const ReadView& v, int* failure, double* bytes);
  int WriteOne(const uint8_t* data, uint32_t len);
  int WriteIov(const iovec* iov, int n);
  void CountWriteError(int err, uint32_t packets);
  uint32_t WriteCoalesced(uint8_t* slab, const uint32_t* offsets, const uint32_t* lengths, uint32_t count);
  int ProbeDetached();
  void MarkGone(int err);
  void DeliverGone();
  void CloseFd();
  void Release();
  void Invoke(Napi::Function fn, std::initializer_list<napi_value> args);
  void RefreshName();
  bool ThrowIfClosed(Napi::Env env);

  int fd_ = -1;
  char name_[IFNAMSIZ] = {0};
  bool started_ = false;
  bool paused_ = false;
  bool gone_ = false;
  bool tearing_down_ = false;
  int gone_errno_ = 0;
  uint32_t headroom_ = 0;
  uint32_t tailroom_ = 0;
  TunOffloads offloads_;
  bool coalesce_ = false;  // write-side GRO; switched off for good if the kernel refuses a super-packet

  // Offload read side: one super-packet at a time, split into the slab; what did not fit the
  // last batch goes first into the next one.
  std::unique_ptr<uint8_t[]> staging_;
  bool pending_ = false;
  uint32_t pending_len_ = 0;
  uint32_t next_segment_ = 0;
  SplitPlan plan_;

  // Offload write side, reused between calls (they only grow).
  std::vector<uint32_t> w_offsets_;
  std::vector<uint32_t> w_lengths_;
  std::vector<GroUnit> units_;
  std::vector<GroSlice> slices_;
  std::vector<uint8_t> restore_;
  std::vector<iovec> iov_;

  UvHandles* handles_ = nullptr;
  double* counters_ = nullptr;
  Napi::Reference<Napi::Float64Array> counters_ref_;
  Napi::FunctionReference on_gone_;
  Napi::FunctionReference on_batch_;
  Napi::Reference<Napi::ArrayBuffer> slab_ref_;
  Napi::Reference<Napi::Uint32Array> offsets_ref_;
  Napi::Reference<Napi::Uint32Array> lengths_ref_;
  Napi::Reference<Napi::Uint32Array> trains_ref_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

}  // namespace wgts

#endif
