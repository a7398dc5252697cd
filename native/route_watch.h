// Routes, addresses and interfaces of this process's network namespace, as the sticky source
// addresses of the UDP socket need them (see udp_cmsg.h). N-API class RouteWatch:
// - changed(): a NETLINK_ROUTE socket joined to the announcement groups of links, addresses,
//   routes and rules, drained without blocking: true when anything was announced since the last
//   call (or the kernel dropped announcements for lack of room, which may hide one). Polled by the
//   interface's timer, so there is no event-loop handle to manage.
// - lookup(dst, scope, src, mark): the interface the kernel routes a datagram to `dst` through when
//   it leaves from `src` with firewall mark `mark` (RTM_GETROUTE, as `ip route get DST from SRC
//   mark M`), or -errno (EINVAL: `src` is not an address of this host; ENETUNREACH: no route).
// - isLocal(addr, ifindex): whether `addr` is an address of this host (its route is a local one).
// Plus ifIndex(name) / ifName(index) (if_nametoindex / if_indextoname) for endpoint zones.
// Addresses are 16 bytes, IPv4 as v4-mapped IPv6, as everywhere on the UDP edge. Nothing here is
// on the per-packet path.
#ifndef WGTS_ROUTE_WATCH_H
#define WGTS_ROUTE_WATCH_H

#include <napi.h>
#include <stdint.h>

namespace wgts {

class RouteWatch : public Napi::ObjectWrap<RouteWatch> {
 public:
  static Napi::Function Define(Napi::Env env);

  // JS: new RouteWatch(); throws an Error with `code` when netlink is not available.
  explicit RouteWatch(const Napi::CallbackInfo& info);
  ~RouteWatch() override;

 private:
  Napi::Value Changed(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value IsLocal(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void CloseFds();

  int watch_fd_ = -1;
  int query_fd_ = -1;
  uint32_t seq_ = 0;
};

// Adds ifIndex and ifName to the exports.
void RegisterInterfaceNames(Napi::Env env, Napi::Object exports);

}  // namespace wgts

#endif
