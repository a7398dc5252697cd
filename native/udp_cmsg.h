// Control messages (ancillary data) of the UDP socket, built and parsed in this one place:
// UDP_SEGMENT on sends (GSO: one sendmsg carries a train of equal-sized datagrams) and UDP_GRO on
// receives (the kernel hands over a train of datagrams of one flow with their segment size); and
// the packet info of sticky source addresses: IPV6_PKTINFO / IP_PKTINFO on receives (the local
// address a datagram was sent to and the interface it arrived on) and on sends (the address a
// datagram leaves from).
#ifndef WGTS_UDP_CMSG_H
#define WGTS_UDP_CMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

namespace wgts {

// Room for every control message one send or receive may carry, aligned for cmsghdr.
constexpr size_t kControlLen = 128;
struct alignas(cmsghdr) ControlBuf {
  uint8_t bytes[kControlLen];
};

// The local end of a path, as the TypeScript side holds it: 20 bytes, the address (IPv4 as
// v4-mapped IPv6) then the interface index as a native-endian uint32. All-zero address: none.
constexpr size_t kLocalAddrBytes = 20;
struct LocalAddr {
  uint8_t addr[16];
  uint32_t ifindex;
};
static_assert(sizeof(LocalAddr) == kLocalAddrBytes, "LocalAddr is the 20-byte layout the TypeScript side uses");

// True when `a` holds an address (not the all-zero "none").
bool HasLocalAddr(const LocalAddr& a);

// What a send asks of the kernel beyond payload and destination.
struct SendMeta {
  uint16_t gso_size = 0;  // > 0: the payload is a train of datagrams of this size (the last may be shorter)
  // The sticky source: leave from this local address (IP_PKTINFO / IPV6_PKTINFO). The interface is
  // not forced (the kernel routes as usual from that address), except for an IPv6 link-local
  // source, which only exists on its interface.
  bool has_src = false;
  LocalAddr src = {};
};

// What the kernel reported about a received message.
struct RecvMeta {
  uint16_t gso_size = 0;  // > 0: the payload is a train of datagrams of this size (UDP_GRO)
  // The destination address of the datagram (one of ours) and the interface it arrived on.
  bool has_dst = false;
  LocalAddr dst = {};
};

// Writes the control messages for `meta` into `buf`; returns the bytes used (0: none, then pass
// msg_control = nullptr).
size_t BuildSendControl(const SendMeta& meta, ControlBuf* buf);

// Reads the control messages of a received message into `meta` (unknown ones are ignored).
void ParseRecvControl(const msghdr& m, RecvMeta* meta);

// The errors a send gets when its source address is no longer usable: the address left the host
// (IPv4: ENETUNREACH on current kernels, EINVAL on older ones; IPv6: EINVAL; EADDRNOTAVAIL), or
// the interface of a link-local source went away (ENODEV). Such a datagram is sent again without
// its source: the kernel's choice, as the kernel's WireGuard does (one wasted call when the
// network is unreachable anyway).
bool SourceRefused(int err);

}  // namespace wgts

#endif
