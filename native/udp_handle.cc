#include "udp_handle.h"
#include "napi_util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "gate.h"
#include "udp_fd.h"

namespace wgts {

const char* const kUdpCounterNames[kUdpCounterCount] = {
    "rxDatagrams", "rxBytes",     "rxBatches",     "rxTruncated",   "rxErrors", "txDatagrams",
    "txBytes",     "txBatches",   "txDropsFull",   "txDropsFamily", "txDropsClosed", "txErrors",
    "rxGro",       "txGso",       "txGsoFallback", "txSourceFallback",
};

namespace {

// Send queue capacity: messages per sendmmsg, and bytes (room for a whole TUN batch of
// full-MTU datagrams; never less than one maximal datagram, so any datagram fits an empty queue).
constexpr uint32_t kTxQueueMessages = 256;
constexpr uint32_t kTxSlabBytes = 512 * 1024;
static_assert(kTxSlabBytes >= kMaxDatagram, "the send slab must hold one maximal datagram");

// A v4-mapped destination (or any on the IPv4-only socket) is family 0, IPv6 family 1.
int FamilyIndex(const sockaddr_in6& a) {
  if (a.sin6_family != AF_INET6) return 0;
  return IN6_IS_ADDR_V4MAPPED(&a.sin6_addr) ? 0 : 1;
}

bool SameDestination(const sockaddr_in6& a, const sockaddr_in6& b, socklen_t len) {
  return memcmp(&a, &b, len) == 0;
}

bool SameSource(bool has_a, const LocalAddr& a, const LocalAddr* b) {
  if (b == nullptr) return !has_a;
  return has_a && memcmp(&a, b, sizeof(LocalAddr)) == 0;
}


bool SendFull(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

// The optional path arguments at info[first], info[first + 1] of a send-like call: the scope id of
// the destination (a number) and the local source (a Uint8Array of kLocalAddrBytes; an all-zero
// address means none). False when present but malformed.
bool PathArgs(const Napi::CallbackInfo& info, size_t first, uint32_t* scope, LocalAddr* src, bool* has_src) {
  napi_env env = info.Env();
  *scope = 0;
  *has_src = false;
  if (info.Length() > first && !info[first].IsUndefined() && !Uint32Arg(env, info[first], scope)) return false;
  if (info.Length() > first + 1 && !info[first + 1].IsUndefined()) {
    uint8_t* bytes = nullptr;
    size_t n = 0;
    if (!TypedView(env, info[first + 1], napi_uint8_array, &bytes, &n) || n < kLocalAddrBytes) return false;
    memcpy(src, bytes, kLocalAddrBytes);
    *has_src = HasLocalAddr(*src);
  }
  return true;
}

// The arguments every send-like call takes: (buf: Uint8Array, off, len, addr: Uint8Array(16),
// port, scope?, src?).
struct SendArgs {
  const uint8_t* data;
  uint32_t len;
  const uint8_t* addr;
  uint16_t port;
  uint32_t scope;
  bool has_src;
  LocalAddr src;
  bool slice_ok;  // off/len inside buf, len <= kMaxDatagram, 16 address bytes, port 1..65535
};

bool ParseSendArgs(const Napi::CallbackInfo& info, SendArgs* out) {
  napi_env env = info.Env();
  uint8_t* buf = nullptr;
  size_t buf_len = 0;
  uint8_t* addr = nullptr;
  size_t addr_len = 0;
  uint32_t off = 0;
  uint32_t len = 0;
  uint32_t port = 0;
  if (info.Length() < 5 || !TypedView(env, info[0], napi_uint8_array, &buf, &buf_len) || !Uint32Arg(env, info[1], &off) ||
      !Uint32Arg(env, info[2], &len) || !TypedView(env, info[3], napi_uint8_array, &addr, &addr_len) ||
      !Uint32Arg(env, info[4], &port) || !PathArgs(info, 5, &out->scope, &out->src, &out->has_src)) {
    return false;
  }
  out->slice_ok = static_cast<uint64_t>(off) + len <= buf_len && len <= static_cast<uint32_t>(kMaxDatagram) &&
                  addr_len >= 16 && port > 0 && port <= 65535;
  out->data = buf + (out->slice_ok ? off : 0);
  out->len = len;
  out->addr = addr;
  out->port = static_cast<uint16_t>(port);
  return true;
}

}  // namespace

Napi::Function UdpHandle::Define(Napi::Env env) {
  return DefineClass(env, "UdpHandle",
                     {
                         InstanceMethod("port", &UdpHandle::Port),
                         InstanceMethod("family", &UdpHandle::Family),
                         InstanceMethod("offloads", &UdpHandle::Offloads),
                         InstanceMethod("start", &UdpHandle::Start),
                         InstanceMethod("send", &UdpHandle::Send),
                         InstanceMethod("queue", &UdpHandle::Queue),
                         InstanceMethod("queueMany", &UdpHandle::QueueMany),
                         InstanceMethod("flush", &UdpHandle::Flush),
                         InstanceMethod("setMark", &UdpHandle::SetMark),
                         InstanceMethod("mark", &UdpHandle::Mark),
                         InstanceMethod("bufferSizes", &UdpHandle::BufferSizes),
                         InstanceMethod("close", &UdpHandle::Close),
                         InstanceMethod("setGate", &UdpHandle::SetGate),
                     });
}

UdpHandle::UdpHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpHandle>(info) {
  Napi::Env env = info.Env();
  uint32_t port = 0;
  double* counters = nullptr;
  size_t counter_len = 0;
  if (info.Length() < 2 || !info[0].IsNumber() || !Uint32Arg(env, info[0], &port) || port > 65535 ||
      !TypedView(env, info[1], napi_float64_array, &counters, &counter_len) || counter_len < kUdpCounterCount ||
      (info.Length() > 2 && !info[2].IsBoolean() && !info[2].IsUndefined())) {
    ThrowType(env, "UdpHandle(port: 0..65535, counters: Float64Array with one slot per udpCounterNames entry, offload?: boolean)");
    return;
  }
  offload_ = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "UdpHandle: no libuv loop").ThrowAsJavaScriptException();
    return;
  }
  int family = 0;
  int fd = UdpOpen(static_cast<uint16_t>(port), &family);
  if (fd < 0) {
    ErrnoError(env, -fd, "bind UDP port " + std::to_string(port)).ThrowAsJavaScriptException();
    return;
  }
  auto* h = new UvHandles();
  h->owner = this;
  h->cleanup_hook = nullptr;
  int r = uv_poll_init(loop, &h->poll, fd);
  if (r != 0) {
    close(fd);
    delete h;
    ErrnoError(env, -r, "poll UDP socket").ThrowAsJavaScriptException();
    return;
  }
  h->poll.data = h;
  handles_ = h;
  fd_ = fd;
  family_ = family;
  if (offload_ && UdpHasGso(fd)) gso_[0] = gso_[1] = true;
  counters_ = counters;
  counters_ref_ = Napi::Persistent(info[1].As<Napi::Float64Array>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "wgts.Udp", info.This().As<Napi::Object>());
  napi_add_async_cleanup_hook(env, OnEnvTeardown, h, &h->cleanup_hook);
  // An open handle stays reachable until close(): the uv handle must be closed before the
  // object may be freed.
  Ref();
}

UdpHandle::~UdpHandle() {
  // Normally the handle is closed and freed before the last reference goes; this covers
  // finalization during environment teardown.
  if (handles_ != nullptr) handles_->owner = nullptr;
  CloseFd();
}

// Polls for readability once started. An active poll keeps the event loop alive, like a socket.
int UdpHandle::Arm() {
  if (!Live() || !started_) return 0;
  return uv_poll_start(&handles_->poll, UV_READABLE, OnPoll);
}

void UdpHandle::OnPoll(uv_poll_t* poll, int status, int /*events*/) {
  auto* h = static_cast<UvHandles*>(poll->data);
  UdpHandle* self = h->owner;
  if (self == nullptr || !self->Live()) return;
  if (status < 0) {
    // libuv stops a poll handle on POLLERR. An unconnected UDP socket only gets there through a
    // pending socket error: read (and so clear) it, count it, and keep serving.
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    self->counters_[kUdpRxErrors] += 1;
    self->Arm();
    return;
  }
  self->ReceiveBatch();
}

bool UdpHandle::BindRecvBuffers(RecvView* view) {
  Napi::ArrayBuffer slab = slab_ref_.Value();
  if (slab.IsDetached() || slab.ByteLength() < static_cast<size_t>(batch_ - 1) * stride_ + slot_) return false;
  view->slab = static_cast<uint8_t*>(slab.Data());
  view->offsets = offsets_ref_.Value().Data();
  view->lengths = lengths_ref_.Value().Data();
  view->addrs = addrs_ref_.Value().Data();
  view->ports = ports_ref_.Value().Data();
  view->locals = locals_ref_.Value().Data();
  view->trains = trains_ref_.Value().Data();
  return view->slab != nullptr;
}

// Drains up to one batch with recvmmsg, then hands it to JS in one call: datagram j of the
// batch is slab[offsets[j], offsets[j] + lengths[j]) from addrs[16j, 16j + 16) port ports[j];
// locals[20j, 20j + 20) is the local address it was sent to (v4-mapped for IPv4) and the
// interface it arrived on (see LocalAddr; all zero when the kernel did not say);
// trains[j] is set at the first datagram of each received message to the number of datagrams
// it held (1, or a UDP_GRO train cut in place by its segment size). Truncated messages (longer
// than a slot) are dropped and counted, so the delivered datagrams are always complete.
// Whatever JS queued during the call is flushed right after it.
void UdpHandle::ReceiveBatch() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  RecvView v;
  if (!BindRecvBuffers(&v)) {
    uv_poll_stop(&handles_->poll);
    napi_fatal_exception(env, Napi::Error::New(env, "UDP receive buffers were detached or shrunk; receiving stopped").Value());
    return;
  }
  // Every message may expand to kUdpMaxSegments datagrams with GRO on.
  uint32_t vlen = gro_ ? std::min(batch_, capacity_ / kUdpMaxSegments) : std::min(batch_, capacity_);
  for (uint32_t k = 0; k < vlen; k++) {
    rx_iov_[k].iov_base = v.slab + static_cast<size_t>(k) * stride_;
    rx_iov_[k].iov_len = slot_;
    msghdr& m = rx_msgs_[k].msg_hdr;
    m.msg_name = &rx_names_[k];
    m.msg_namelen = sizeof(sockaddr_in6);
    m.msg_iov = &rx_iov_[k];
    m.msg_iovlen = 1;
    m.msg_control = rx_control_[k].bytes;
    m.msg_controllen = kControlLen;
    m.msg_flags = 0;
  }
  int r;
  do {
    r = recvmmsg(fd_, rx_msgs_.data(), vlen, MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) counters_[kUdpRxErrors] += 1;
    return;
  }
  uint32_t n = 0;
  double bytes = 0;
  for (int k = 0; k < r; k++) {
    const msghdr& m = rx_msgs_[k].msg_hdr;
    if ((m.msg_flags & MSG_TRUNC) != 0) {
      counters_[kUdpRxTruncated] += 1;
      continue;
    }
    uint8_t addr[16];
    uint16_t port;
    uint32_t scope;
    if (!UdpSource(rx_names_[k], m.msg_namelen, addr, &port, &scope)) {
      counters_[kUdpRxErrors] += 1;
      continue;
    }
    RecvMeta meta;
    ParseRecvControl(m, &meta);
    // Without packet info the interface is still known for a link-local source: its scope.
    if (!meta.has_dst) meta.dst.ifindex = scope;
    uint32_t len = rx_msgs_[k].msg_len;
    uint32_t seg = meta.gso_size > 0 && meta.gso_size < len ? meta.gso_size : len;
    uint32_t base = static_cast<uint32_t>(k) * stride_;
    uint32_t first = n;
    uint32_t off = 0;
    do {  // an empty datagram is one datagram too
      memcpy(v.addrs + static_cast<size_t>(n) * 16, addr, 16);
      memcpy(v.locals + static_cast<size_t>(n) * kLocalAddrBytes, &meta.dst, kLocalAddrBytes);
      v.ports[n] = port;
      v.offsets[n] = base + off;
      v.lengths[n] = std::min(seg, len - off);
      n++;
      off += seg;
    } while (off < len);
    v.trains[first] = n - first;
    if (n - first > 1) counters_[kUdpRxGro] += 1;
    bytes += len;
  }
  if (n == 0) return;
  counters_[kUdpRxDatagrams] += n;
  counters_[kUdpRxBytes] += bytes;
  if (gate_ != nullptr) {
    n = gate_->Filter(v.offsets, v.lengths, v.addrs, v.ports, v.locals, v.trains, n, v.slab, &UdpHandle::GateSend, this);
    if (n == 0) {  // all answered or dropped by the gate: only its cookie replies leave
      FlushQueue();
      return;
    }
  }
  counters_[kUdpRxBatches] += 1;
  if (!DeliverBatch(n)) {
    // JS can no longer run: the environment is being torn down (e.g. a worker thread ended) and
    // libuv is spinning the loop once more to close handles. The cleanup hook closes the fd.
    uv_poll_stop(&handles_->poll);
    return;
  }
  // The callback may have closed the handle (which flushed the queue already).
  if (Live()) FlushQueue();
}

// Calls onBatch(count). The C API is used on purpose: node-addon-api's MakeCallback turns any
// failure into a JS throw, which is fatal while the environment tears down. Returns false when
// the call could not be made at all.
bool UdpHandle::DeliverBatch(uint32_t count) {
  napi_env env = Env();
  napi_value argv[1];
  napi_value result;
  if (napi_create_uint32(env, count, &argv[0]) != napi_ok) return false;
  napi_status status = napi_make_callback(env, *async_context_, Value(), on_batch_.Value(), 1, argv, &result);
  if (status == napi_ok) return true;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
  // The handler threw; we are called from the event loop with no JS frame below, so report it
  // as an uncaught exception.
  napi_value error;
  napi_get_and_clear_last_exception(env, &error);
  napi_fatal_exception(env, error);
  return true;
}

void UdpHandle::CountSendError(int err, uint32_t datagrams) {
  if (SendFull(err)) {
    counters_[kUdpTxDropsFull] += datagrams;
  } else {
    counters_[kUdpTxErrors] += datagrams;
  }
}

// sendmsg of one message with its control data: 0 or the errno. Counts nothing.
int UdpHandle::SendOne(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, const SendMeta& meta) {
  ControlBuf control;
  iovec iov = {const_cast<uint8_t*>(data), len};
  msghdr m;
  memset(&m, 0, sizeof(m));
  m.msg_name = const_cast<sockaddr_in6*>(&dest);
  m.msg_namelen = dest_len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  size_t clen = BuildSendControl(meta, &control);
  m.msg_control = clen > 0 ? control.bytes : nullptr;
  m.msg_controllen = clen;
  ssize_t r;
  do {
    r = sendmsg(fd_, &m, 0);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

// SendOne with the sticky source of `meta`; when the kernel refuses that source, the datagram goes
// again without it (counted). Returns 0 or the errno of the last attempt.
int UdpHandle::SendWithSource(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, SendMeta meta) {
  int err = SendOne(data, len, dest, dest_len, meta);
  if (err != 0 && meta.has_src && SourceRefused(err)) {
    counters_[kUdpTxSourceFallback] += 1;
    meta.has_src = false;
    err = SendOne(data, len, dest, dest_len, meta);
  }
  return err;
}

bool UdpHandle::GsoAllowed(const sockaddr_in6& dest) const { return gso_[FamilyIndex(dest)]; }

// The control data queued message k asks for: its GSO segment size when a train, its source.
SendMeta UdpHandle::QueuedMeta(uint32_t k) const {
  SendMeta meta;
  if (tx_segments_[k] > 1) meta.gso_size = static_cast<uint16_t>(tx_gso_[k]);
  meta.has_src = tx_has_src_[k] != 0;
  if (meta.has_src) meta.src = tx_src_[k];
  return meta;
}

void UdpHandle::SetQueuedControl(uint32_t k) {
  msghdr& m = tx_msgs_[k].msg_hdr;
  size_t clen = BuildSendControl(QueuedMeta(k), &tx_control_[k]);
  m.msg_control = clen > 0 ? tx_control_[k].bytes : nullptr;
  m.msg_controllen = clen;
}

// Sends queued train k datagram by datagram (the kernel refused it whole); returns how many went.
uint32_t UdpHandle::SendSplit(uint32_t k) {
  const iovec& iov = tx_iov_[k];
  const msghdr& m = tx_msgs_[k].msg_hdr;
  const uint8_t* p = static_cast<const uint8_t*>(iov.iov_base);
  uint32_t len = static_cast<uint32_t>(iov.iov_len);
  uint32_t seg = tx_gso_[k];
  uint32_t sent = 0;
  counters_[kUdpTxGsoFallback] += 1;
  SendMeta meta;
  meta.has_src = tx_has_src_[k] != 0;
  if (meta.has_src) meta.src = tx_src_[k];
  for (uint32_t off = 0; off < len; off += seg) {
    uint32_t n = std::min(seg, len - off);
    int err = SendWithSource(p + off, n, tx_names_[k], m.msg_namelen, meta);
    if (err != 0) {
      CountSendError(err, 1);
      continue;
    }
    counters_[kUdpTxDatagrams] += 1;
    counters_[kUdpTxBytes] += n;
    sent++;
  }
  return sent;
}

// Sends every queued message with as few sendmmsg calls as the kernel allows. A message whose
// source address the kernel refuses goes again without it (the kernel's choice; counted). A
// message the kernel refuses otherwise is counted and skipped; once the socket reports full
// (EAGAIN/ENOBUFS) the rest are dropped (counted) rather than retried. A train refused whole goes
// out datagram by datagram; EIO (the way out has no checksum offload) also turns GSO off for that
// address family. Returns how many datagrams were sent.
uint32_t UdpHandle::FlushQueue() {
  uint32_t count = tx_count_;
  for (uint32_t k = 0; k < count; k++) SetQueuedControl(k);
  uint32_t i = 0;
  uint32_t sent = 0;
  while (i < count) {
    int r = sendmmsg(fd_, tx_msgs_.data() + i, count - i, 0);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (tx_has_src_[i] && SourceRefused(err)) {
        counters_[kUdpTxSourceFallback] += tx_segments_[i];
        tx_has_src_[i] = 0;
        SetQueuedControl(i);
        continue;
      }
      if (tx_segments_[i] > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
        if (err == EIO) gso_[FamilyIndex(tx_names_[i])] = false;
        sent += SendSplit(i);
        i++;
        continue;
      }
      if (SendFull(err)) {
        uint32_t rest = 0;
        for (uint32_t k = i; k < count; k++) rest += tx_segments_[k];
        counters_[kUdpTxDropsFull] += rest;
        break;
      }
      counters_[kUdpTxErrors] += tx_segments_[i];
      i++;
      continue;
    }
    double bytes = 0;
    uint32_t datagrams = 0;
    for (int k = 0; k < r; k++) {
      bytes += static_cast<double>(tx_iov_[i + k].iov_len);
      datagrams += tx_segments_[i + k];
      if (tx_segments_[i + k] > 1) counters_[kUdpTxGso] += 1;
    }
    counters_[kUdpTxDatagrams] += datagrams;
    counters_[kUdpTxBytes] += bytes;
    counters_[kUdpTxBatches] += 1;
    sent += datagrams;
    i += r;
  }
  tx_count_ = 0;
  tx_used_ = 0;
  return sent;
}

// Stops all I/O: closes the uv handle (freed in its close callback) and then the fd.
void UdpHandle::CloseFd() {
  if (fd_ < 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&handles_->poll), OnHandleClosed);
  close(fd_);
  fd_ = -1;
}

// close() from JS: sends what is queued, then stops all I/O and drops the JS references.
void UdpHandle::Release() {
  if (Live() && tx_count_ > 0) FlushQueue();
  CloseFd();
  on_batch_.Reset();
  slab_ref_.Reset();
  offsets_ref_.Reset();
  lengths_ref_.Reset();
  addrs_ref_.Reset();
  ports_ref_.Reset();
  locals_ref_.Reset();
  trains_ref_.Reset();
}

void UdpHandle::OnHandleClosed(uv_handle_t* handle) {
  auto* h = static_cast<UvHandles*>(handle->data);
  UdpHandle* owner = h->owner;
  if (h->cleanup_hook != nullptr) napi_remove_async_cleanup_hook(h->cleanup_hook);
  delete h;
  if (owner == nullptr) return;
  owner->handles_ = nullptr;
  if (!owner->tearing_down_) {
    owner->async_context_.reset();
    owner->Unref();
  }
}

void UdpHandle::OnEnvTeardown(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  auto* h = static_cast<UvHandles*>(arg);
  // Without an owner the handle is already closing; its close callback removes this hook,
  // which tells the environment the cleanup is complete.
  if (h->owner == nullptr) return;
  h->owner->tearing_down_ = true;
  h->owner->CloseFd();
}

bool UdpHandle::ThrowIfClosed(Napi::Env env) {
  if (Live()) return false;
  ErrnoError(env, EBADF, "UDP socket is closed").ThrowAsJavaScriptException();
  return true;
}

Napi::Value UdpHandle::Port(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env)) return env.Undefined();
  int r = UdpLocalPort(fd_);
  if (r < 0) {
    ErrnoError(env, -r, "getsockname").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, r);
}

Napi::Value UdpHandle::Family(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), family_ == AF_INET6 ? 6 : 4);
}

// start(slab, stride, slot, offsets, lengths, addrs, ports, locals, trains, onBatch): begins receiving.
// One recvmmsg fills up to the slots the slab holds (at most kUdpMaxBatch) and no more messages
// than the per-datagram arrays have entries for (with GRO: entries / kUdpMaxSegments). GRO is
// turned on when offloads were asked for and a slot holds a whole 64 KiB train.
Napi::Value UdpHandle::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t stride = 0;
  uint32_t slot = 0;
  uint32_t* u32 = nullptr;
  size_t offsets_len = 0;
  size_t lengths_len = 0;
  uint8_t* u8 = nullptr;
  size_t addrs_len = 0;
  uint16_t* u16 = nullptr;
  size_t ports_len = 0;
  size_t locals_len = 0;
  size_t trains_len = 0;
  if (info.Length() < 10 || !info[0].IsArrayBuffer() || !info[1].IsNumber() || !Uint32Arg(env, info[1], &stride) ||
      !info[2].IsNumber() || !Uint32Arg(env, info[2], &slot) ||
      !TypedView(env, info[3], napi_uint32_array, &u32, &offsets_len) ||
      !TypedView(env, info[4], napi_uint32_array, &u32, &lengths_len) ||
      !TypedView(env, info[5], napi_uint8_array, &u8, &addrs_len) ||
      !TypedView(env, info[6], napi_uint16_array, &u16, &ports_len) ||
      !TypedView(env, info[7], napi_uint8_array, &u8, &locals_len) ||
      !TypedView(env, info[8], napi_uint32_array, &u32, &trains_len) || !info[9].IsFunction()) {
    return ThrowType(env,
                     "start(slab: ArrayBuffer, stride: number, slot: number, offsets: Uint32Array, lengths: Uint32Array, "
                     "addrs: Uint8Array, ports: Uint16Array, locals: Uint8Array, trains: Uint32Array, "
                     "onBatch: (count: number) => void)");
  }
  if (ThrowIfClosed(env)) return env.Undefined();
  if (started_) {
    Napi::Error::New(env, "UDP receiving already started").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t capacity = std::min({offsets_len, lengths_len, addrs_len / 16, ports_len, locals_len / kLocalAddrBytes, trains_len});
  size_t slab_len = info[0].As<Napi::ArrayBuffer>().ByteLength();
  if (capacity == 0 || slot == 0 || slot > static_cast<uint32_t>(kMaxDatagram) + 1 || stride < slot || slab_len < slot) {
    Napi::RangeError::New(env, "start: need 1..65536-byte slots, stride >= slot, a slab of (batch-1)*stride+slot bytes, "
                               "per-datagram arrays of >= 1 entry")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t batch = std::min((slab_len - slot) / stride + 1, static_cast<size_t>(kUdpMaxBatch));
  batch_ = static_cast<uint32_t>(batch);
  capacity_ = static_cast<uint32_t>(capacity);
  stride_ = stride;
  slot_ = slot;
  gro_ = offload_ && slot_ >= static_cast<uint32_t>(kMaxDatagram) && capacity_ >= kUdpMaxSegments && UdpEnableGro(fd_);
  rx_msgs_.assign(batch_, mmsghdr{});
  rx_iov_.assign(batch_, iovec{});
  rx_names_.assign(batch_, sockaddr_in6{});
  rx_control_.assign(batch_, ControlBuf{});
  slab_ref_ = Napi::Persistent(info[0].As<Napi::ArrayBuffer>());
  offsets_ref_ = Napi::Persistent(info[3].As<Napi::Uint32Array>());
  lengths_ref_ = Napi::Persistent(info[4].As<Napi::Uint32Array>());
  addrs_ref_ = Napi::Persistent(info[5].As<Napi::Uint8Array>());
  ports_ref_ = Napi::Persistent(info[6].As<Napi::Uint16Array>());
  locals_ref_ = Napi::Persistent(info[7].As<Napi::Uint8Array>());
  trains_ref_ = Napi::Persistent(info[8].As<Napi::Uint32Array>());
  on_batch_ = Napi::Persistent(info[9].As<Napi::Function>());
  started_ = true;
  int r = Arm();
  if (r != 0) ErrnoError(env, -r, "poll UDP socket").ThrowAsJavaScriptException();
  return env.Undefined();
}

// send(buf, off, len, addr, port, scope?, src?) -> 0 once the kernel holds a copy of the datagram,
// else the errno (counted): EAGAIN/ENOBUFS full, EAFNOSUPPORT IPv6 on an IPv4 socket, EINVAL bad
// arguments, EMSGSIZE, ENETUNREACH, EPERM (firewall), EBADF after close. `scope` is the
// destination's scope id (link-local), `src` the local address to leave from (see LocalAddr);
// a source the kernel refuses is dropped for this datagram, which goes from the kernel's choice.
Napi::Value UdpHandle::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SendArgs a;
  if (!ParseSendArgs(info, &a)) {
    return ThrowType(env, "send(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, scope?: number, src?: Uint8Array)");
  }
  int err = 0;
  sockaddr_in6 dest;
  socklen_t dest_len = 0;
  if (!Live()) {
    counters_[kUdpTxDropsClosed] += 1;
    err = EBADF;
  } else if (!a.slice_ok) {
    counters_[kUdpTxErrors] += 1;
    err = EINVAL;
  } else if (!UdpDestination(family_, a.addr, a.port, a.scope, &dest, &dest_len)) {
    counters_[kUdpTxDropsFamily] += 1;
    err = EAFNOSUPPORT;
  } else {
    SendMeta meta;
    meta.has_src = a.has_src;
    meta.src = a.src;
    err = SendWithSource(a.data, a.len, dest, dest_len, meta);
    if (err != 0) {
      CountSendError(err, 1);
    } else {
      counters_[kUdpTxDatagrams] += 1;
      counters_[kUdpTxBytes] += a.len;
    }
  }
  return Napi::Number::New(env, err);
}

// Appends one datagram to the send queue, leaving from `src` (nullptr: the kernel's choice). With
// GSO it joins the last queued message when that goes to the same destination from the same
// source as a train of equal-sized datagrams it may end (not longer than them, at most
// kUdpMaxSegments and kUdpMaxTrainBytes; a shorter one closes the train).
void UdpHandle::Enqueue(const uint8_t* data, uint32_t len, const sockaddr_in6& dest, socklen_t dest_len, const LocalAddr* src) {
  if (!tx_slab_) {
    tx_slab_.reset(new uint8_t[kTxSlabBytes]);
    tx_msgs_.assign(kTxQueueMessages, mmsghdr{});
    tx_iov_.assign(kTxQueueMessages, iovec{});
    tx_names_.assign(kTxQueueMessages, sockaddr_in6{});
    tx_segments_.assign(kTxQueueMessages, 0);
    tx_gso_.assign(kTxQueueMessages, 0);
    tx_closed_.assign(kTxQueueMessages, 0);
    tx_has_src_.assign(kTxQueueMessages, 0);
    tx_src_.assign(kTxQueueMessages, LocalAddr{});
    tx_control_.assign(kTxQueueMessages, ControlBuf{});
  }
  if (tx_used_ + len > kTxSlabBytes) FlushQueue();
  uint8_t* at = tx_slab_.get() + tx_used_;
  if (tx_count_ > 0 && len > 0 && GsoAllowed(dest)) {
    uint32_t k = tx_count_ - 1;
    iovec& iov = tx_iov_[k];
    uint32_t seg = tx_segments_[k] == 1 ? static_cast<uint32_t>(iov.iov_len) : tx_gso_[k];
    if (!tx_closed_[k] && tx_segments_[k] < kUdpMaxSegments && len <= seg && seg > 0 &&
        iov.iov_len + len <= kUdpMaxTrainBytes && static_cast<uint8_t*>(iov.iov_base) + iov.iov_len == at &&
        tx_msgs_[k].msg_hdr.msg_namelen == dest_len && SameDestination(tx_names_[k], dest, dest_len) &&
        SameSource(tx_has_src_[k] != 0, tx_src_[k], src)) {
      memcpy(at, data, len);
      iov.iov_len += len;
      tx_gso_[k] = seg;
      tx_segments_[k]++;
      if (len < seg) tx_closed_[k] = 1;
      tx_used_ += len;
      return;
    }
  }
  uint32_t k = tx_count_;
  memcpy(&tx_names_[k], &dest, dest_len);
  memcpy(at, data, len);
  tx_iov_[k].iov_base = at;
  tx_iov_[k].iov_len = len;
  tx_segments_[k] = 1;
  tx_gso_[k] = len;
  tx_closed_[k] = 0;
  tx_has_src_[k] = src != nullptr ? 1 : 0;
  if (src != nullptr) tx_src_[k] = *src;
  msghdr& m = tx_msgs_[k].msg_hdr;
  m.msg_name = &tx_names_[k];
  m.msg_namelen = dest_len;
  m.msg_iov = &tx_iov_[k];
  m.msg_iovlen = 1;
  m.msg_control = nullptr;
  m.msg_controllen = 0;
  m.msg_flags = 0;
  tx_used_ += len;
  tx_count_ = k + 1;
  if (tx_count_ == kTxQueueMessages) FlushQueue();
}

// queue(buf, off, len, addr, port, scope?, src?): copies the datagram into the send queue (the
// caller may reuse its buffer at once); the queue is flushed when it is full, on flush() and on
// close(). Invalid datagrams are counted and dropped here, like send() would.
Napi::Value UdpHandle::Queue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SendArgs a;
  if (!ParseSendArgs(info, &a)) {
    return ThrowType(env, "queue(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, scope?: number, src?: Uint8Array)");
  }
  if (!Live()) {
    counters_[kUdpTxDropsClosed] += 1;
    return env.Undefined();
  }
  if (!a.slice_ok) {
    counters_[kUdpTxErrors] += 1;
    return env.Undefined();
  }
  sockaddr_in6 dest;
  socklen_t dest_len = 0;
  if (!UdpDestination(family_, a.addr, a.port, a.scope, &dest, &dest_len)) {
    counters_[kUdpTxDropsFamily] += 1;
    return env.Undefined();
  }
  Enqueue(a.data, a.len, dest, dest_len, a.has_src ? &a.src : nullptr);
  return env.Undefined();
}

// queueMany(buf, offsets, lengths, start, count, addr, port, scope?, src?): queue() for datagrams
// buf[offsets[k], offsets[k] + lengths[k]) with start <= k < start + count, all to one
// destination from one source, in one call. Entries of length 0 are skipped (not datagrams).
Napi::Value UdpHandle::QueueMany(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  PacketList pl;
  uint32_t start = 0;
  uint32_t count = 0;
  uint8_t* addr = nullptr;
  size_t addr_len = 0;
  uint32_t port = 0;
  uint32_t scope = 0;
  LocalAddr src;
  bool has_src = false;
  if (!PacketListArgs(info, 0, &pl) || info.Length() < 7 || !Uint32Arg(env, info[3], &start) ||
      !Uint32Arg(env, info[4], &count) || !TypedView(env, info[5], napi_uint8_array, &addr, &addr_len) ||
      !Uint32Arg(env, info[6], &port) || !PathArgs(info, 7, &scope, &src, &has_src)) {
    return ThrowType(info.Env(),
                     "queueMany(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number, "
                     "addr: Uint8Array, port: number, scope?: number, src?: Uint8Array)");
  }
  const uint32_t* offsets = pl.offsets;
  const uint32_t* lengths = pl.lengths;
  Napi::Env e = info.Env();
  if (static_cast<uint64_t>(start) + count > pl.offsets_len || static_cast<uint64_t>(start) + count > pl.lengths_len) {
    Napi::RangeError::New(e, "queueMany: start + count exceeds offsets/lengths").ThrowAsJavaScriptException();
    return e.Undefined();
  }
  if (!Live()) {
    counters_[kUdpTxDropsClosed] += count;
    return e.Undefined();
  }
  sockaddr_in6 dest;
  socklen_t dest_len = 0;
  if (addr_len < 16 || port == 0 || port > 65535) {
    counters_[kUdpTxErrors] += count;
    return e.Undefined();
  }
  if (!UdpDestination(family_, addr, static_cast<uint16_t>(port), scope, &dest, &dest_len)) {
    counters_[kUdpTxDropsFamily] += count;
    return e.Undefined();
  }
  for (uint32_t k = start; k < start + count; k++) {
    uint32_t off = offsets[k];
    uint32_t len = lengths[k];
    if (len == 0) continue;
    if (static_cast<uint64_t>(off) + len > pl.buf_len || len > static_cast<uint32_t>(kMaxDatagram)) {
      counters_[kUdpTxErrors] += 1;
      continue;
    }
    Enqueue(pl.buf + off, len, dest, dest_len, has_src ? &src : nullptr);
  }
  return e.Undefined();
}

// offloads() -> bit mask: 1 GSO for IPv4 destinations, 2 GSO for IPv6 destinations, 4 GRO on.
Napi::Value UdpHandle::Offloads(const Napi::CallbackInfo& info) {
  uint32_t mask = (gso_[0] ? 1u : 0u) | (gso_[1] ? 2u : 0u) | (gro_ ? 4u : 0u);
  return Napi::Number::New(info.Env(), mask);
}

// flush() -> datagrams sent now.
Napi::Value UdpHandle::Flush(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Live() ? FlushQueue() : 0);
}

Napi::Value UdpHandle::SetMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t mark = 0;
  if (info.Length() < 1 || !info[0].IsNumber() || !Uint32Arg(env, info[0], &mark)) return ThrowType(env, "setMark(mark: number)");
  if (ThrowIfClosed(env)) return env.Undefined();
  int r = UdpSetMark(fd_, mark);
  if (r < 0) ErrnoError(env, -r, "set SO_MARK " + std::to_string(mark)).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value UdpHandle::Mark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env)) return env.Undefined();
  uint32_t mark = 0;
  int r = UdpGetMark(fd_, &mark);
  if (r < 0) {
    ErrnoError(env, -r, "get SO_MARK").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, mark);
}

// bufferSizes() -> [SO_RCVBUF, SO_SNDBUF] as the kernel reports them.
Napi::Value UdpHandle::BufferSizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env)) return env.Undefined();
  int rcv = UdpBufferSize(fd_, SO_RCVBUF);
  int snd = UdpBufferSize(fd_, SO_SNDBUF);
  if (rcv < 0 || snd < 0) {
    ErrnoError(env, rcv < 0 ? -rcv : -snd, "get socket buffer sizes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, rcv));
  out.Set(1u, Napi::Number::New(env, snd));
  return out;
}

Napi::Value UdpHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace wgts

namespace wgts {

// setGate(gate: HandshakeGate | null): received batches pass the gate first (its verdicts array
// must hold a whole batch); null removes it.
Napi::Value UdpHandle::SetGate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || (!info[0].IsNull() && !info[0].IsObject())) return ThrowType(env, "setGate(gate: HandshakeGate | null)");
  if (info[0].IsNull()) {
    gate_ = nullptr;
    gate_ref_.Reset();
    return env.Undefined();
  }
  Napi::Object obj = info[0].As<Napi::Object>();
  HandshakeGate* g = nullptr;
  if (napi_unwrap(env, obj, reinterpret_cast<void**>(&g)) != napi_ok || g == nullptr) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return ThrowType(env, "setGate(gate: HandshakeGate | null)");
  }
  if (g->Capacity() < capacity_) return ThrowType(env, "setGate: the gate's verdicts array is smaller than a receive batch");
  gate_ = g;
  gate_ref_ = Napi::Persistent(obj);
  return env.Undefined();
}

// A cookie reply from the gate: into the send queue, flushed with the batch, from the local
// address the initiation was sent to (when known).
void UdpHandle::GateSend(void* ctx, const uint8_t* data, uint32_t len, const uint8_t addr[16], uint16_t port, const uint8_t* local) {
  UdpHandle* self = static_cast<UdpHandle*>(ctx);
  sockaddr_in6 dest;
  socklen_t dest_len = 0;
  LocalAddr src;
  memcpy(&src, local, sizeof(src));
  // A link-local source address carries its scope in the interface it arrived on.
  uint32_t scope = addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80 ? src.ifindex : 0;
  if (!UdpDestination(self->family_, addr, port, scope, &dest, &dest_len)) {
    self->counters_[kUdpTxDropsFamily] += 1;
    return;
  }
  self->Enqueue(data, len, dest, dest_len, HasLocalAddr(src) ? &src : nullptr);
}

}  // namespace wgts
