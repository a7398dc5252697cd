// Plain fd-level helpers for the UDP listen socket: open (dual-stack with an IPv4-only fallback),
// local port, firewall mark, buffer sizes, and the address conversions between the socket's
// sockaddr and the 16-byte (IPv4 as v4-mapped IPv6) + port form the TypeScript side uses.
// No N-API here. Every function returns a non-negative result on success and -errno on failure.
#ifndef WGTS_UDP_FD_H
#define WGTS_UDP_FD_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

namespace wgts {

// Largest UDP payload handed over or sent: the 16-bit length field minus nothing we could use
// (the kernel caps real payloads lower: 65507 over IPv4, 65527 over IPv6).
constexpr int kMaxDatagram = 65535;

// Socket buffer size asked for in each direction, so that bursts (a whole receive batch, a
// sendmmsg) fit. As root SO_*BUFFORCE lifts the net.core.[rw]mem_max cap; otherwise the kernel
// clamps the request to that cap.
constexpr int kSocketBufferBytes = 4 << 20;
// The receive side gets more: under a handshake flood (issue 10 §1) it has to hold what arrives
// while the daemon waits for a CPU; 16 MiB is about 100 000 small datagrams (kernel memory, used
// only while they wait).
constexpr int kReceiveBufferBytes = 16 << 20;

// Addresses on the UDP edge are 16 bytes, IPv4 as v4-mapped IPv6 (::ffff:a.b.c.d): this prefix.
extern const uint8_t kV4MappedPrefix[12];
bool IsV4Mapped(const uint8_t addr[16]);

// Opens the listen socket: AF_INET6 with IPV6_V6ONLY=0 bound to [::]:port (IPv4 peers appear as
// ::ffff:a.b.c.d), non-blocking, close-on-exec, buffers raised, and every received datagram
// reporting the local address it was sent to (IPV6_RECVPKTINFO, which covers IPv4 datagrams on
// the dual-stack socket; IP_PKTINFO on the IPv4 fallback). Falls back to AF_INET bound to
// 0.0.0.0:port only when the kernel has no usable IPv6 (EAFNOSUPPORT, EPROTONOSUPPORT or
// EADDRNOTAVAIL for the IPv6 wildcard); every other failure (EADDRINUSE, EACCES, ...) is
// returned as is. Writes AF_INET6 or AF_INET to *family. Returns the fd or -errno.
int UdpOpen(uint16_t port, int* family);

// Port the socket is bound to (getsockname), or -errno.
int UdpLocalPort(int fd);

// SO_MARK: routing/firewall mark of every datagram sent (0 clears it). Needs CAP_NET_ADMIN.
int UdpSetMark(int fd, uint32_t mark);
int UdpGetMark(int fd, uint32_t* mark);

// UDP_GRO on (Linux >= 5.0): receives may be trains of datagrams. False where the kernel lacks it.
bool UdpEnableGro(int fd);
// Whether the kernel takes UDP_SEGMENT (Linux >= 4.18) on this socket.
bool UdpHasGso(int fd);

// SO_RCVBUF or SO_SNDBUF as the kernel reports it (twice the usable size: bookkeeping included).
int UdpBufferSize(int fd, int optname);

// Destination for a send on a socket of `family`: on AF_INET6 the 16 bytes are used as they are
// (v4-mapped addresses reach IPv4 peers) with `scope` as the scope id (the interface of a
// link-local address; the kernel ignores it for others); on AF_INET only v4-mapped addresses are
// expressible. Returns false when the address cannot be sent to from this socket.
bool UdpDestination(int family, const uint8_t addr[16], uint16_t port, uint32_t scope, sockaddr_in6* out, socklen_t* out_len);

// Source of a received datagram as 16 bytes (IPv4 v4-mapped) + port + scope id (0 for IPv4).
// False for other families.
bool UdpSource(const sockaddr_in6& name, socklen_t name_len, uint8_t addr[16], uint16_t* port, uint32_t* scope);

}  // namespace wgts

#endif
