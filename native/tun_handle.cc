#include "tun_handle.h"
#include "napi_util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace wgts {

const char* const kCounterNames[kCounterCount] = {
    "rxPackets",      "rxBytes",        "rxBatches",      "rxErrors",    "txPackets",
    "txBytes",        "txDropsFull",    "txDropsDown",    "txDropsInvalid", "rxSuperPackets",
    "rxDropsInvalid", "txSuperPackets", "txCoalesced",
};

namespace {

// While nobody polls for readability (not started, or paused for backpressure) the kernel's
// POLLERR on deletion wakes nobody, so a cheap TUNGETIFF probe runs at this period instead.
constexpr uint64_t kProbeIntervalMs = 200;
// Upper bound for the per-packet head/tail room a caller may reserve.
constexpr uint32_t kMaxRoom = 4096;

inline size_t Align16(size_t v) { return (v + 15) & ~static_cast<size_t>(15); }

// Offload reads: the virtio header plus the largest super-packet a TUN hands over (its
// gso_max_size is 64 KiB), with slack so that a read filling the buffer means "truncated".
constexpr size_t kStagingLen = kVnetHdrLen + 65536 + 256;
// Rounds of batches one readiness event may run to finish a super-packet; the rest continues
// from a zero-delay timer so other handles get their turn.
constexpr int kMaxRounds = 8;
// The header written in front of every packet that is not a coalesced super-packet.
const uint8_t kPlainVnetHdr[kVnetHdrLen] = {0};

}  // namespace

Napi::Function TunHandle::Define(Napi::Env env) {
  return DefineClass(env, "TunHandle",
                     {
                         InstanceMethod("name", &TunHandle::Name),
                         InstanceMethod("mtu", &TunHandle::Mtu),
                         InstanceMethod("setMtu", &TunHandle::SetMtu),
                         InstanceMethod("ifindex", &TunHandle::Ifindex),
                         InstanceMethod("offloads", &TunHandle::Offloads),
                         InstanceMethod("start", &TunHandle::Start),
                         InstanceMethod("pause", &TunHandle::Pause),
                         InstanceMethod("resume", &TunHandle::Resume),
                         InstanceMethod("write", &TunHandle::Write),
                         InstanceMethod("writeBatch", &TunHandle::WriteBatch),
                         InstanceMethod("close", &TunHandle::Close),
                     });
}

TunHandle::TunHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[2].IsFunction() ||
      (info.Length() > 3 && !info[3].IsBoolean() && !info[3].IsUndefined())) {
    ThrowType(env, "TunHandle(name: string, counters: Float64Array, onGone: (errno: number, code: string) => void, offload?: boolean)");
    return;
  }
  bool offload = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  double* counters = nullptr;
  size_t counter_len = 0;
  if (!TypedView(env, info[1], napi_float64_array, &counters, &counter_len) || counter_len < kCounterCount) {
    ThrowType(env, "TunHandle: counters must be a Float64Array with one slot per counterNames entry");
    return;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "TunHandle: no libuv loop").ThrowAsJavaScriptException();
    return;
  }
  std::string requested = info[0].As<Napi::String>().Utf8Value();
  int fd = TunOpen(requested.c_str(), offload, name_, &offloads_);
  if (fd < 0) {
    ErrnoError(env, -fd, "open TUN '" + requested + "'").ThrowAsJavaScriptException();
    return;
  }
  auto* h = new UvHandles();
  h->owner = this;
  h->open = 0;
  h->cleanup_hook = nullptr;
  int r = uv_poll_init(loop, &h->poll, fd);
  if (r != 0) {
    close(fd);
    delete h;
    ErrnoError(env, -r, "poll TUN '" + std::string(name_) + "'").ThrowAsJavaScriptException();
    return;
  }
  uv_timer_init(loop, &h->timer);
  h->open = 2;
  h->poll.data = h;
  h->timer.data = h;
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->timer));
  handles_ = h;
  fd_ = fd;
  if (offloads_.vnet_hdr) {
    staging_.reset(new uint8_t[kStagingLen]);
    coalesce_ = true;
  }
  counters_ = counters;
  counters_ref_ = Napi::Persistent(info[1].As<Napi::Float64Array>());
  on_gone_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "wgts.Tun", info.This().As<Napi::Object>());
  napi_add_async_cleanup_hook(env, OnEnvTeardown, h, &h->cleanup_hook);
  // An open handle stays reachable (like a socket) until close() or gone: the kernel may call
  // into it at any time, and the uv handles must be closed before the object may be freed.
  Ref();
  Arm();
}

TunHandle::~TunHandle() {
  // Normally the handles are closed and freed before the last reference goes; this covers
  // finalization during environment teardown.
  if (handles_ != nullptr) handles_->owner = nullptr;
  CloseFd();
}

// Polls for readability while reading, otherwise runs the liveness probe timer.
int TunHandle::Arm() {
  if (!Live()) return 0;
  UvHandles* h = handles_;
  if (Reading()) {
    uv_timer_stop(&h->timer);
    // A super-packet cut short by the last batch continues without waiting for readability.
    if (pending_) uv_timer_start(&h->timer, OnTimer, 0, 0);
    return uv_poll_start(&h->poll, UV_READABLE, OnPoll);
  }
  uv_poll_stop(&h->poll);
  // Keep a running probe's period; replace a one-shot (a super-packet's continuation) by it.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&h->timer)) || uv_timer_get_repeat(&h->timer) == 0) {
    uv_timer_start(&h->timer, OnTimer, kProbeIntervalMs, kProbeIntervalMs);
  }
  return 0;
}

void TunHandle::OnPoll(uv_poll_t* poll, int status, int /*events*/) {
  auto* h = static_cast<UvHandles*>(poll->data);
  TunHandle* self = h->owner;
  if (self == nullptr || !self->Reading()) return;
  // libuv maps POLLERR to a negative status. tun_chr_poll() raises POLLERR only once the
  // device is detached or unregistering (deleted, or its namespace destroyed) - never for a
  // move to another namespace, which keeps the fd attached.
  if (status < 0) {
    self->MarkGone(EBADFD);
    return;
  }
  self->ReadBatch();
}

void TunHandle::OnTimer(uv_timer_t* timer) {
  auto* h = static_cast<UvHandles*>(timer->data);
  TunHandle* self = h->owner;
  if (self == nullptr || self->fd_ < 0) return;
  if (self->gone_) {
    self->DeliverGone();
    return;
  }
  if (self->Reading()) {
    if (self->pending_) self->ReadBatch();
    return;
  }
  int err = self->ProbeDetached();
  if (err != 0) self->MarkGone(err);
}

bool TunHandle::BindReadBuffers(ReadView* view) {
  Napi::ArrayBuffer slab = slab_ref_.Value();
  if (slab.IsDetached()) return false;
  Napi::Uint32Array offsets = offsets_ref_.Value();
  Napi::Uint32Array lengths = lengths_ref_.Value();
  Napi::Uint32Array trains = trains_ref_.Value();
  view->slab = static_cast<uint8_t*>(slab.Data());
  view->slab_len = slab.ByteLength();
  view->offsets = offsets.Data();
  view->lengths = lengths.Data();
  view->trains = trains.Data();
  view->max_batch = static_cast<uint32_t>(std::min({offsets.ElementLength(), lengths.ElementLength(), trains.ElementLength()}));
  return view->max_batch > 0 && view->slab != nullptr &&
         view->slab_len >= Align16(headroom_) + kMaxPacket + tailroom_;
}

// Drains up to one batch of packets into the slab, then hands the batch to JS in one call.
// Packet k starts 16-byte aligned at offsets[k], with >= headroom free bytes before it and
// >= tailroom after it; trains[k] is set at the first packet of each train (the segments of one
// super-packet, or 1 for a lone packet) to the train's length. The slab belongs to JS again only
// after the callback returns. With offloads a super-packet that did not fit is finished by
// further batches right away (up to kMaxRounds, then from a zero-delay timer).
void TunHandle::ReadBatch() {
  Napi::Env env = Env();
  for (int round = 0; round < kMaxRounds; round++) {
    Napi::HandleScope scope(env);
    ReadView v;
    if (!BindReadBuffers(&v)) {
      paused_ = true;
      Arm();
      napi_fatal_exception(env, Napi::Error::New(env, "TUN read buffers were detached or shrunk; reading paused").Value());
      return;
    }
    int failure = 0;
    double bytes = 0;
    uint32_t n = offloads_.vnet_hdr ? FillVnet(v, &failure, &bytes) : FillPlain(v, &failure, &bytes);
    if (n > 0) {
      counters_[kRxPackets] += n;
      counters_[kRxBytes] += bytes;
      counters_[kRxBatches] += 1;
      Invoke(on_batch_.Value(), {Napi::Number::New(env, n)});
    }
    // The callback may have closed the handle; only then is the failure of no interest.
    if (failure != 0 && Live()) {
      if (ProbeDetached() != 0) {
        MarkGone(failure);
      } else {
        counters_[kRxErrors] += 1;
      }
    }
    if (!pending_ || !Reading()) return;
  }
  uv_timer_start(&handles_->timer, OnTimer, 0, 0);
}

// Without offloads: one read(2) per packet, straight into the slab. A read is only attempted
// with kMaxPacket bytes of room, so the kernel never truncates.
uint32_t TunHandle::FillPlain(const ReadView& v, int* failure, double* bytes) {
  uint32_t n = 0;
  size_t off = Align16(headroom_);
  while (n < v.max_batch && off + kMaxPacket + tailroom_ <= v.slab_len) {
    ssize_t r = read(fd_, v.slab + off, kMaxPacket);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) *failure = errno;
      break;
    }
    v.offsets[n] = static_cast<uint32_t>(off);
    v.lengths[n] = static_cast<uint32_t>(r);
    v.trains[n] = 1;
    n++;
    *bytes += static_cast<double>(r);
    off = Align16(off + static_cast<size_t>(r) + tailroom_ + headroom_);
  }
  return n;
}

// With offloads: each read(2) gets a virtio header and a packet into the staging buffer; a plain
// packet is copied to the slab (a NEEDS_CSUM checksum completed first), a super-packet is cut
// into segments there. Unusable reads are dropped and counted.
uint32_t TunHandle::FillVnet(const ReadView& v, int* failure, double* bytes) {
  uint32_t n = 0;
  size_t off = Align16(headroom_);
  uint8_t* pkt = staging_.get() + kVnetHdrLen;
  for (;;) {
    if (!pending_) {
      if (n >= v.max_batch) break;
      ssize_t r = read(fd_, staging_.get(), kStagingLen);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) *failure = errno;
        break;
      }
      if (r <= static_cast<ssize_t>(kVnetHdrLen) || static_cast<size_t>(r) == kStagingLen ||
          PlanSplit(DecodeVnetHdr(staging_.get()), pkt, static_cast<uint32_t>(r - kVnetHdrLen), &plan_) != kSplitOk) {
        counters_[kRxDropsInvalid] += 1;
        continue;
      }
      pending_ = true;
      pending_len_ = static_cast<uint32_t>(r - kVnetHdrLen);
      next_segment_ = 0;
      if (plan_.gso) counters_[kRxSuperPackets] += 1;
    }
    uint32_t first = n;
    while (next_segment_ < plan_.segments && n < v.max_batch && off + plan_.max_segment + tailroom_ <= v.slab_len) {
      uint32_t len;
      if (plan_.gso) {
        len = WriteSegment(plan_, pkt, pending_len_, next_segment_, v.slab + off);
      } else {
        len = pending_len_;
        memcpy(v.slab + off, pkt, len);
      }
      v.offsets[n] = static_cast<uint32_t>(off);
      v.lengths[n] = len;
      n++;
      next_segment_++;
      *bytes += len;
      off = Align16(off + len + tailroom_ + headroom_);
    }
    if (n > first) v.trains[first] = n - first;
    if (next_segment_ < plan_.segments) {
      if (n == 0) {
        // Not even an empty slab holds it (cannot happen with a slab laid out by src/io/tun.ts).
        counters_[kRxDropsInvalid] += 1;
        pending_ = false;
        continue;
      }
      break;  // the batch is full: the rest opens the next one
    }
    pending_ = false;
  }
  return n;
}

// One packet: write(2), or with offloads writev(2) behind an all-zero virtio header.
int TunHandle::WriteOne(const uint8_t* data, uint32_t len) {
  int err;
  if (offloads_.vnet_hdr) {
    iovec iov[2] = {{const_cast<uint8_t*>(kPlainVnetHdr), kVnetHdrLen}, {const_cast<uint8_t*>(data), len}};
    err = WriteIov(iov, 2);
  } else {
    ssize_t r;
    do {
      r = write(fd_, data, len);
    } while (r < 0 && errno == EINTR);
    err = r < 0 ? errno : 0;
  }
  if (err == 0) {
    counters_[kTxPackets] += 1;
    counters_[kTxBytes] += len;
    return 0;
  }
  CountWriteError(err, 1);
  return err;
}

// Counts `packets` lost to a failed write by reason (and notices a deleted device).
void TunHandle::CountWriteError(int err, uint32_t packets) {
  if (err == EAGAIN) {
    counters_[kTxDropsFull] += packets;
  } else if (ProbeDetached() != 0) {
    MarkGone(err);
  } else if (err == EIO) {
    counters_[kTxDropsDown] += packets;  // observed: a TUN that is down (e.g. just moved) says EIO
  } else {
    counters_[kTxDropsInvalid] += packets;
  }
}

// Offloads: coalesces packets k < count (all inside slab) and writes each unit with one
// writev(2) behind its virtio header. Returns the packets the kernel took; on EAGAIN the rest
// is dropped (counted). A super-packet the kernel refuses (EINVAL) is restored and written packet
// by packet, and coalescing stays off from then on.
uint32_t TunHandle::WriteCoalesced(uint8_t* slab, const uint32_t* offsets, const uint32_t* lengths, uint32_t count) {
  if (units_.size() < count) {
    units_.resize(count);
    slices_.resize(count);
    restore_.resize(static_cast<size_t>(count) * kGroMaxHeader);
    iov_.resize(count + 2);
  }
  GroPlanner planner;
  uint32_t nu = planner.Plan(slab, offsets, lengths, count, offloads_.uso, units_.data(), slices_.data(), restore_.data());
  uint32_t written = 0;
  for (uint32_t ui = 0; ui < nu && Live(); ui++) {
    GroUnit& u = units_[ui];
    iovec* iov = iov_.data();
    iov[0] = {u.vnet, kVnetHdrLen};
    iov[1] = {slab + offsets[u.head], lengths[u.head]};
    for (uint32_t j = 0; j < u.slices; j++) {
      const GroSlice& sl = slices_[u.slice_start + j];
      iov[2 + j] = {slab + offsets[sl.packet] + sl.off, sl.len};
    }
    int err = WriteIov(iov, static_cast<int>(2 + u.slices));
    if (err == 0) {
      written += u.packets;
      counters_[kTxPackets] += u.packets;
      counters_[kTxBytes] += u.total_len;
      if (u.packets > 1) {
        counters_[kTxSuperPackets] += 1;
        counters_[kTxCoalesced] += u.packets - 1;
      }
      continue;
    }
    if (u.packets > 1 && err == EINVAL && ProbeDetached() == 0) {
      coalesce_ = false;
      GroRestoreHead(slab, offsets, u, restore_.data() + static_cast<size_t>(ui) * kGroMaxHeader);
      if (WriteOne(slab + offsets[u.head], lengths[u.head]) == 0) written++;
      for (uint32_t j = 0; j < u.slices && Live(); j++) {
        uint32_t k = slices_[u.slice_start + j].packet;
        if (WriteOne(slab + offsets[k], lengths[k]) == 0) written++;
      }
      continue;
    }
    if (err == EAGAIN) {
      uint32_t rest = 0;
      for (uint32_t r = ui; r < nu; r++) rest += units_[r].packets;
      CountWriteError(err, rest);
      break;
    }
    CountWriteError(err, u.packets);
  }
  return written;
}

// writev(2) retried on EINTR: 0 or the errno. Counts nothing.
int TunHandle::WriteIov(const iovec* iov, int n) {
  ssize_t r;
  do {
    r = writev(fd_, iov, n);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

// 0 while the fd is attached to its device, else the errno of TUNGETIFF (EBADFD once deleted).
int TunHandle::ProbeDetached() {
  char name[IFNAMSIZ];
  int r = TunName(fd_, name);
  return r < 0 ? -r : 0;
}

void TunHandle::MarkGone(int err) {
  if (!Live()) return;
  gone_ = true;
  gone_errno_ = err;
  UvHandles* h = handles_;
  uv_poll_stop(&h->poll);
  uv_timer_stop(&h->timer);
  // Deliver from a fresh loop turn, never re-entrantly from inside a JS call into write().
  uv_ref(reinterpret_cast<uv_handle_t*>(&h->timer));
  uv_timer_start(&h->timer, OnTimer, 0, 0);
}

void TunHandle::DeliverGone() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Function fn = on_gone_.Value();
  int err = gone_errno_;
  Release();
  Invoke(fn, {Napi::Number::New(env, err), Napi::String::New(env, ErrnoName(err))});
}

// Uses the C API on purpose: node-addon-api's MakeCallback turns a failed call into a JS throw,
// which is fatal while the environment (e.g. a worker thread) is being torn down.
void TunHandle::Invoke(Napi::Function fn, std::initializer_list<napi_value> args) {
  napi_env env = Env();
  napi_value result;
  napi_status status = napi_make_callback(env, *async_context_, Value(), fn, args.size(), args.begin(), &result);
  if (status == napi_ok) return;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  // Called from the event loop with no JS frame below: surface a throw as uncaught.
  napi_value error;
  napi_get_and_clear_last_exception(env, &error);
  napi_fatal_exception(env, error);
}

// Stops all I/O: closes the uv handles (freed in their close callbacks) and then the fd.
void TunHandle::CloseFd() {
  if (fd_ < 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->timer), OnHandleClosed);
  close(fd_);
  fd_ = -1;
}

void TunHandle::Release() {
  CloseFd();
  on_batch_.Reset();
  on_gone_.Reset();
  slab_ref_.Reset();
  offsets_ref_.Reset();
  lengths_ref_.Reset();
  trains_ref_.Reset();
}

void TunHandle::OnHandleClosed(uv_handle_t* handle) {
  auto* h = static_cast<UvHandles*>(handle->data);
  if (--h->open > 0) return;
  TunHandle* owner = h->owner;
  if (h->cleanup_hook != nullptr) napi_remove_async_cleanup_hook(h->cleanup_hook);
  delete h;
  if (owner == nullptr) return;
  owner->handles_ = nullptr;
  if (!owner->tearing_down_) {
    owner->async_context_.reset();
    owner->Unref();
  }
}

void TunHandle::OnEnvTeardown(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  auto* h = static_cast<UvHandles*>(arg);
  // Without an owner or an fd the handles are already closing; their last close callback
  // removes this hook, which tells the environment the cleanup is complete.
  if (h->owner == nullptr) return;
  h->owner->tearing_down_ = true;
  h->owner->CloseFd();
}

void TunHandle::RefreshName() {
  if (Live()) TunName(fd_, name_);
}

bool TunHandle::ThrowIfClosed(Napi::Env env) {
  if (Live()) return false;
  ErrnoError(env, EBADF, std::string("TUN '") + name_ + "' is " + (gone_ ? "gone" : "closed"))
      .ThrowAsJavaScriptException();
  return true;
}

Napi::Value TunHandle::Name(const Napi::CallbackInfo& info) {
  RefreshName();
  return Napi::String::New(info.Env(), name_);
}

Napi::Value TunHandle::Mtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env)) return env.Undefined();
  RefreshName();
  int r = IfGetMtu(name_);
  if (r < 0) {
    ErrnoError(env, -r, std::string("get MTU of '") + name_ + "'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, r);
}

Napi::Value TunHandle::SetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t mtu = 0;
  if (info.Length() < 1 || !info[0].IsNumber() || !Uint32Arg(env, info[0], &mtu)) return ThrowType(env, "setMtu(mtu: number)");
  if (ThrowIfClosed(env)) return env.Undefined();
  if (mtu == 0 || mtu > kMaxPacket) {
    Napi::RangeError::New(env, "MTU must be within 1..65535").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  RefreshName();
  int r = IfSetMtu(name_, static_cast<int>(mtu));
  if (r < 0) ErrnoError(env, -r, std::string("set MTU of '") + name_ + "'").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value TunHandle::Ifindex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env)) return env.Undefined();
  RefreshName();
  int r = IfIndex(name_);
  if (r < 0) {
    ErrnoError(env, -r, std::string("get ifindex of '") + name_ + "'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, r);
}

// offloads() -> bit mask: 1 virtio header, 2 TCP segmentation offload (reads may be TCP
// super-packets), 4 UDP segmentation offload, 8 write-side coalescing on.
Napi::Value TunHandle::Offloads(const Napi::CallbackInfo& info) {
  uint32_t mask = (offloads_.vnet_hdr ? 1u : 0u) | (offloads_.tso ? 2u : 0u) | (offloads_.uso ? 4u : 0u) | (coalesce_ ? 8u : 0u);
  return Napi::Number::New(info.Env(), mask);
}

Napi::Value TunHandle::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t headroom = 0;
  uint32_t tailroom = 0;
  uint32_t* unused = nullptr;
  size_t unused_len = 0;
  if (info.Length() < 7 || !info[0].IsArrayBuffer() ||
      !TypedView(env, info[1], napi_uint32_array, &unused, &unused_len) ||
      !TypedView(env, info[2], napi_uint32_array, &unused, &unused_len) ||
      !TypedView(env, info[3], napi_uint32_array, &unused, &unused_len) || !info[4].IsNumber() ||
      !info[5].IsNumber() || !Uint32Arg(env, info[4], &headroom) || !Uint32Arg(env, info[5], &tailroom) ||
      !info[6].IsFunction()) {
    return ThrowType(env,
                     "start(slab: ArrayBuffer, offsets: Uint32Array, lengths: Uint32Array, trains: Uint32Array, "
                     "headroom: number, tailroom: number, onBatch: (count: number) => void)");
  }
  if (ThrowIfClosed(env)) return env.Undefined();
  if (started_) {
    Napi::Error::New(env, "TUN reading already started").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (headroom > kMaxRoom || tailroom > kMaxRoom) {
    Napi::RangeError::New(env, "headroom and tailroom must be <= 4096").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  headroom_ = headroom;
  tailroom_ = tailroom;
  slab_ref_ = Napi::Persistent(info[0].As<Napi::ArrayBuffer>());
  offsets_ref_ = Napi::Persistent(info[1].As<Napi::Uint32Array>());
  lengths_ref_ = Napi::Persistent(info[2].As<Napi::Uint32Array>());
  trains_ref_ = Napi::Persistent(info[3].As<Napi::Uint32Array>());
  ReadView v;
  if (!BindReadBuffers(&v)) {
    slab_ref_.Reset();
    offsets_ref_.Reset();
    lengths_ref_.Reset();
    trains_ref_.Reset();
    Napi::RangeError::New(env, "slab must hold align16(headroom) + 65535 + tailroom bytes; offsets/lengths/trains need >= 1 slot")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  on_batch_ = Napi::Persistent(info[6].As<Napi::Function>());
  started_ = true;
  int r = Arm();
  if (r != 0) ErrnoError(env, -r, "poll TUN").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value TunHandle::Pause(const Napi::CallbackInfo& info) {
  paused_ = true;
  Arm();
  return info.Env().Undefined();
}

Napi::Value TunHandle::Resume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  paused_ = false;
  int r = Arm();
  if (r != 0) ErrnoError(env, -r, "poll TUN").ThrowAsJavaScriptException();
  return env.Undefined();
}

// write(buf, off, len) -> 0 when the kernel took the packet, else the errno (EAGAIN: queue
// full, EIO: interface down, EINVAL: bad slice or packet, EBADF: closed or gone).
Napi::Value TunHandle::Write(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint8_t* data = nullptr;
  size_t len = 0;
  uint32_t off = 0;
  uint32_t n = 0;
  if (info.Length() < 3 || !TypedView(env, info[0], napi_uint8_array, &data, &len) || !Uint32Arg(env, info[1], &off) ||
      !Uint32Arg(env, info[2], &n)) {
    return ThrowType(info.Env(), "write(buf: Uint8Array, off: number, len: number)");
  }
  int r;
  if (!Live()) {
    r = EBADF;
  } else if (n == 0 || static_cast<uint64_t>(off) + n > len) {
    counters_[kTxDropsInvalid] += 1;
    r = EINVAL;
  } else {
    r = WriteOne(data + off, n);
  }
  return Napi::Number::New(info.Env(), r);
}

// writeBatch(slab, offsets, lengths, count) -> packets the kernel took. Bad slices and refused
// packets are skipped (counted); on EAGAIN the rest of the batch is dropped (counted).
Napi::Value TunHandle::WriteBatch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  PacketList pl;
  uint32_t count = 0;
  if (!PacketListArgs(info, 0, &pl) || info.Length() < 4 || !Uint32Arg(env, info[3], &count)) {
    return ThrowType(info.Env(),
                     "writeBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number)");
  }
  if (count > pl.offsets_len || count > pl.lengths_len) {
    Napi::RangeError::New(info.Env(), "writeBatch: count exceeds offsets/lengths").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  uint8_t* slab = pl.buf;
  size_t slab_len = pl.buf_len;
  const uint32_t* offsets = pl.offsets;
  const uint32_t* lengths = pl.lengths;
  if (coalesce_ && Live()) {
    // Only in-bounds packets go to the planner; bad slices are counted here.
    if (w_offsets_.size() < count) {
      w_offsets_.resize(count);
      w_lengths_.resize(count);
    }
    uint32_t valid = 0;
    for (uint32_t i = 0; i < count; i++) {
      if (lengths[i] == 0 || static_cast<uint64_t>(offsets[i]) + lengths[i] > slab_len) {
        counters_[kTxDropsInvalid] += 1;
        continue;
      }
      w_offsets_[valid] = offsets[i];
      w_lengths_[valid] = lengths[i];
      valid++;
    }
    return Napi::Number::New(info.Env(), WriteCoalesced(slab, w_offsets_.data(), w_lengths_.data(), valid));
  }
  uint32_t written = 0;
  for (uint32_t i = 0; i < count && Live(); i++) {
    uint32_t off = offsets[i];
    uint32_t n = lengths[i];
    if (n == 0 || static_cast<uint64_t>(off) + n > slab_len) {
      counters_[kTxDropsInvalid] += 1;
      continue;
    }
    int r = WriteOne(slab + off, n);
    if (r == 0) {
      written++;
    } else if (r == EAGAIN) {
      counters_[kTxDropsFull] += count - i - 1;
      break;
    }
  }
  return Napi::Number::New(info.Env(), written);
}

Napi::Value TunHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace wgts
