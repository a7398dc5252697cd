#include "route_watch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "napi_util.h"
#include "udp_fd.h"

namespace wgts {

namespace {

// The announcement groups whose changes can move a route or take an address away.
constexpr uint32_t Group(int g) { return 1u << (g - 1); }
constexpr uint32_t kWatchGroups = Group(RTNLGRP_LINK) | Group(RTNLGRP_IPV4_IFADDR) | Group(RTNLGRP_IPV4_ROUTE) |
                                  Group(RTNLGRP_IPV4_RULE) | Group(RTNLGRP_IPV6_IFADDR) | Group(RTNLGRP_IPV6_ROUTE) |
                                  Group(RTNLGRP_IPV6_RULE);

int OpenNetlink(uint32_t groups, bool nonblock) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
  if (fd < 0) return -errno;
  sockaddr_nl sa;
  memset(&sa, 0, sizeof(sa));
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  if (!nonblock) {
    // Answers come at once; a bound wait keeps a confused kernel from hanging the event loop.
    timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  return fd;
}

struct RouteRequest {
  nlmsghdr h;
  rtmsg r;
  uint8_t attrs[64];
};

void AddAttr(RouteRequest* req, uint16_t type, const void* data, uint16_t len) {
  rtattr* a = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(req) + NLMSG_ALIGN(req->h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  req->h.nlmsg_len = NLMSG_ALIGN(req->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

struct RouteAnswer {
  uint32_t oif = 0;
  uint8_t type = 0;
};

// One RTM_GETROUTE for `dst` (16 bytes) leaving by `oif` (0: any) from `src` (nullptr: any) with
// `mark`; 0 with the answer, or -errno.
int RouteGet(int fd, uint32_t seq, const uint8_t dst[16], uint32_t oif, const uint8_t* src, uint32_t mark, RouteAnswer* out) {
  bool v4 = IsV4Mapped(dst);
  if (src != nullptr && IsV4Mapped(src) != v4) return -EAFNOSUPPORT;
  uint16_t alen = v4 ? 4 : 16;
  const uint8_t* d = v4 ? dst + 12 : dst;
  RouteRequest req;
  memset(&req, 0, sizeof(req));
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = seq;
  req.r.rtm_family = v4 ? AF_INET : AF_INET6;
  req.r.rtm_dst_len = alen * 8;
  AddAttr(&req, RTA_DST, d, alen);
  if (src != nullptr) {
    req.r.rtm_src_len = alen * 8;
    AddAttr(&req, RTA_SRC, v4 ? src + 12 : src, alen);
  }
  if (oif != 0) AddAttr(&req, RTA_OIF, &oif, sizeof(oif));
  if (mark != 0) AddAttr(&req, RTA_MARK, &mark, sizeof(mark));
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  ssize_t w;
  do {
    w = sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (w < 0 && errno == EINTR);
  if (w < 0) return -errno;
  alignas(nlmsghdr) uint8_t buf[8192];
  for (int rounds = 0; rounds < 16; rounds++) {
    ssize_t n;
    do {
      n = recv(fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    int left = static_cast<int>(n);
    for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;  // a late answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR) {
        const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return e->error != 0 ? e->error : -ENOENT;
      }
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      const rtmsg* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
      out->type = r->rtm_type;
      int alen_left = static_cast<int>(RTM_PAYLOAD(h));
      for (const rtattr* a = RTM_RTA(r); RTA_OK(a, alen_left); a = RTA_NEXT(a, alen_left)) {
        if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(uint32_t)) memcpy(&out->oif, RTA_DATA(a), sizeof(uint32_t));
      }
      return 0;
    }
  }
  return -EPROTO;
}

bool AddressArg(const Napi::CallbackInfo& info, size_t i, uint8_t** out) {
  size_t n = 0;
  return info.Length() > i && TypedView(info.Env(), info[i], napi_uint8_array, out, &n) && n >= 16;
}

Napi::Value IfIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "ifIndex(name: string)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, name.size() < IF_NAMESIZE ? if_nametoindex(name.c_str()) : 0);
}

Napi::Value IfName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index = 0;
  if (info.Length() < 1 || !info[0].IsNumber() || !Uint32Arg(env, info[0], &index)) return ThrowType(env, "ifName(index: number)");
  char name[IF_NAMESIZE];
  if (index == 0 || if_indextoname(index, name) == nullptr) return env.Null();
  return Napi::String::New(env, name);
}

}  // namespace

Napi::Function RouteWatch::Define(Napi::Env env) {
  return DefineClass(env, "RouteWatch",
                     {
                         InstanceMethod("changed", &RouteWatch::Changed),
                         InstanceMethod("lookup", &RouteWatch::Lookup),
                         InstanceMethod("isLocal", &RouteWatch::IsLocal),
                         InstanceMethod("close", &RouteWatch::Close),
                     });
}

RouteWatch::RouteWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteWatch>(info) {
  Napi::Env env = info.Env();
  int w = OpenNetlink(kWatchGroups, true);
  if (w < 0) {
    ErrnoError(env, -w, "netlink route socket").ThrowAsJavaScriptException();
    return;
  }
  int q = OpenNetlink(0, false);
  if (q < 0) {
    close(w);
    ErrnoError(env, -q, "netlink route socket").ThrowAsJavaScriptException();
    return;
  }
  watch_fd_ = w;
  query_fd_ = q;
}

RouteWatch::~RouteWatch() { CloseFds(); }

void RouteWatch::CloseFds() {
  if (watch_fd_ >= 0) close(watch_fd_);
  if (query_fd_ >= 0) close(query_fd_);
  watch_fd_ = query_fd_ = -1;
}

// changed() -> whether anything was announced since the last call; drains what is waiting.
Napi::Value RouteWatch::Changed(const Napi::CallbackInfo& info) {
  bool changed = false;
  if (watch_fd_ >= 0) {
    alignas(nlmsghdr) uint8_t buf[8192];
    for (int rounds = 0; rounds < 1024; rounds++) {
      ssize_t n = recv(watch_fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        changed = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // ENOBUFS: announcements were lost; something changed. EAGAIN: drained.
      if (n < 0 && errno == ENOBUFS) {
        changed = true;
        continue;
      }
      break;
    }
  }
  return Napi::Boolean::New(info.Env(), changed);
}

// lookup(dst: Uint8Array(16), scope: number, src: Uint8Array(16) | null, mark: number) -> oif or -errno.
Napi::Value RouteWatch::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* dst = nullptr;
  uint8_t* src = nullptr;
  uint32_t scope = 0;
  uint32_t mark = 0;
  if (!AddressArg(info, 0, &dst) || info.Length() < 4 || !Uint32Arg(env, info[1], &scope) ||
      (!info[2].IsNull() && !AddressArg(info, 2, &src)) || !Uint32Arg(env, info[3], &mark)) {
    return ThrowType(env, "lookup(dst: Uint8Array(16), scope: number, src: Uint8Array(16) | null, mark: number)");
  }
  if (query_fd_ < 0) return Napi::Number::New(env, -EBADF);
  RouteAnswer a;
  int r = RouteGet(query_fd_, ++seq_, dst, scope, src, mark, &a);
  return Napi::Number::New(env, r < 0 ? r : static_cast<double>(a.oif));
}

// isLocal(addr: Uint8Array(16), ifindex: number) -> whether addr is one of this host's addresses
// (ifindex: the interface of a link-local one, else 0).
Napi::Value RouteWatch::IsLocal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* addr = nullptr;
  uint32_t ifindex = 0;
  if (!AddressArg(info, 0, &addr) || info.Length() < 2 || !Uint32Arg(env, info[1], &ifindex)) {
    return ThrowType(env, "isLocal(addr: Uint8Array(16), ifindex: number)");
  }
  if (query_fd_ < 0) return Napi::Boolean::New(env, false);
  RouteAnswer a;
  int r = RouteGet(query_fd_, ++seq_, addr, ifindex, nullptr, 0, &a);
  return Napi::Boolean::New(env, r == 0 && a.type == RTN_LOCAL);
}

Napi::Value RouteWatch::Close(const Napi::CallbackInfo& info) {
  CloseFds();
  return info.Env().Undefined();
}

void RegisterInterfaceNames(Napi::Env env, Napi::Object exports) {
  exports.Set("ifIndex", Napi::Function::New(env, IfIndex, "ifIndex"));
  exports.Set("ifName", Napi::Function::New(env, IfName, "ifName"));
}

}  // namespace wgts
