#include "udp_fd.h"

#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

namespace wgts {

const uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsV4Mapped(const uint8_t addr[16]) { return memcmp(addr, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0; }

namespace {

// Raises one socket buffer: the FORCE variant ignores the sysctl cap but needs CAP_NET_ADMIN;
// without it the plain option still gets min(request, cap). Best effort: a small buffer only
// costs drops under bursts, it is no reason to refuse the socket.
void RaiseBuffer(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

// One attempt for one family; returns the bound fd or -errno.
int OpenFamily(int family, uint16_t port) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -errno;
  int r = 0;
  if (family == AF_INET6) {
    int v6only = 0;
    r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (r == 0) {
    // Best effort like the buffers: without it replies leave from the kernel's choice of address.
    int on = 1;
    if (family == AF_INET6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
    } else {
      setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
    }
    RaiseBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kReceiveBufferBytes);
    RaiseBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSocketBufferBytes);
    if (family == AF_INET6) {
      sockaddr_in6 sa;
      memset(&sa, 0, sizeof(sa));
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(port);
      sa.sin6_addr = in6addr_any;
      r = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    } else {
      sockaddr_in sa;
      memset(&sa, 0, sizeof(sa));
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(INADDR_ANY);
      r = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    }
  }
  if (r < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

bool NoIpv6(int err) { return err == EAFNOSUPPORT || err == EPROTONOSUPPORT || err == EADDRNOTAVAIL; }

}  // namespace

int UdpOpen(uint16_t port, int* family) {
  int fd = OpenFamily(AF_INET6, port);
  if (fd >= 0) {
    *family = AF_INET6;
    return fd;
  }
  if (!NoIpv6(-fd)) return fd;
  fd = OpenFamily(AF_INET, port);
  if (fd >= 0) *family = AF_INET;
  return fd;
}

int UdpLocalPort(int fd) {
  sockaddr_in6 sa;
  socklen_t len = sizeof(sa);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) return -errno;
  // sin_port and sin6_port sit at the same offset, right after the family.
  return ntohs(sa.sin6_port);
}

int UdpSetMark(int fd, uint32_t mark) {
  return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

int UdpGetMark(int fd, uint32_t* mark) {
  socklen_t len = sizeof(*mark);
  return getsockopt(fd, SOL_SOCKET, SO_MARK, mark, &len) < 0 ? -errno : 0;
}

bool UdpEnableGro(int fd) {
  int on = 1;
  return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
}

bool UdpHasGso(int fd) {
  int size = 0;
  socklen_t len = sizeof(size);
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
}

int UdpBufferSize(int fd, int optname) {
  int bytes = 0;
  socklen_t len = sizeof(bytes);
  return getsockopt(fd, SOL_SOCKET, optname, &bytes, &len) < 0 ? -errno : bytes;
}

bool UdpDestination(int family, const uint8_t addr[16], uint16_t port, uint32_t scope, sockaddr_in6* out, socklen_t* out_len) {
  if (family == AF_INET6) {
    memset(out, 0, sizeof(*out));
    out->sin6_family = AF_INET6;
    out->sin6_port = htons(port);
    memcpy(&out->sin6_addr, addr, 16);
    out->sin6_scope_id = scope;
    *out_len = sizeof(sockaddr_in6);
    return true;
  }
  if (!IsV4Mapped(addr)) return false;
  sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  memcpy(&sa.sin_addr, addr + 12, 4);
  memcpy(out, &sa, sizeof(sa));
  *out_len = sizeof(sockaddr_in);
  return true;
}

bool UdpSource(const sockaddr_in6& name, socklen_t name_len, uint8_t addr[16], uint16_t* port, uint32_t* scope) {
  if (name.sin6_family == AF_INET6 && name_len >= sizeof(sockaddr_in6)) {
    memcpy(addr, &name.sin6_addr, 16);
    *port = ntohs(name.sin6_port);
    *scope = name.sin6_scope_id;
    return true;
  }
  if (name.sin6_family == AF_INET && name_len >= sizeof(sockaddr_in)) {
    sockaddr_in sa;
    memcpy(&sa, &name, sizeof(sa));
    memcpy(addr, kV4MappedPrefix, sizeof(kV4MappedPrefix));
    memcpy(addr + 12, &sa.sin_addr, 4);
    *port = ntohs(sa.sin_port);
    *scope = 0;
    return true;
  }
  return false;
}

}  // namespace wgts
