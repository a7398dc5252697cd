#include "tun_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace wgts {

namespace {

// Copies a name into an ifreq; -EINVAL if it does not fit IFNAMSIZ with its terminator.
int PrepareIfreq(struct ifreq* ifr, const char* name) {
  memset(ifr, 0, sizeof(*ifr));
  size_t len = strlen(name);
  if (len >= IFNAMSIZ) return -EINVAL;
  memcpy(ifr->ifr_name, name, len);
  return 0;
}

// Interface ioctls (SIOC[GS]IF*) are served by any socket; AF_INET is always present, the
// netlink fallback covers kernels built without IPv4.
int ControlSocket() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return s < 0 ? -errno : s;
}

int InterfaceIoctl(unsigned long request, struct ifreq* ifr) {
  int s = ControlSocket();
  if (s < 0) return s;
  int r = ioctl(s, request, ifr);
  int err = errno;
  close(s);
  return r < 0 ? -err : 0;
}

// Not in every libc's linux/if_tun.h yet (Linux 6.2).
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;
constexpr unsigned kTcpOffloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

// One attempt: the fd bound to `name` with `flags`, or -errno.
int OpenWithFlags(const char* name, short flags, char out_name[IFNAMSIZ]) {
  struct ifreq ifr;
  int r = PrepareIfreq(&ifr, name);
  if (r < 0) return r;
  ifr.ifr_flags = flags;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  out_name[IFNAMSIZ - 1] = '\0';
  return fd;
}

// Turns the offloads on for a fd opened with IFF_VNET_HDR; false when the kernel refuses TSO.
bool EnableOffloads(int fd, TunOffloads* got) {
  int hdr_size = 10;  // sizeof(struct virtio_net_hdr); a persistent device may remember another size
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) return false;
  if (ioctl(fd, TUNSETOFFLOAD, kTcpOffloads | kTunFUso4 | kTunFUso6) == 0) {
    got->tso = got->uso = true;
    return true;
  }
  if (ioctl(fd, TUNSETOFFLOAD, kTcpOffloads) == 0) {
    got->tso = true;
    return true;
  }
  return false;
}

}  // namespace

int TunOpen(const char* name, bool offload, char out_name[IFNAMSIZ], TunOffloads* got) {
  *got = TunOffloads();
  if (offload) {
    int fd = OpenWithFlags(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, out_name);
    if (fd >= 0) {
      if (EnableOffloads(fd, got)) {
        got->vnet_hdr = true;
        return fd;
      }
      // No TSO: a virtio header would only cost bytes. Start over without it (closing a fresh
      // device removes it; the plain open below creates it again).
      *got = TunOffloads();
      close(fd);
    } else if (fd != -EINVAL) {
      return fd;  // EBUSY, EPERM, ...: the plain open would fail alike
    }
  }
  return OpenWithFlags(name, IFF_TUN | IFF_NO_PI, out_name);
}

int TunName(int fd, char out_name[IFNAMSIZ]) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return -errno;
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  out_name[IFNAMSIZ - 1] = '\0';
  return 0;
}

int IfGetMtu(const char* name) {
  struct ifreq ifr;
  int r = PrepareIfreq(&ifr, name);
  if (r < 0) return r;
  r = InterfaceIoctl(SIOCGIFMTU, &ifr);
  return r < 0 ? r : ifr.ifr_mtu;
}

int IfSetMtu(const char* name, int mtu) {
  struct ifreq ifr;
  int r = PrepareIfreq(&ifr, name);
  if (r < 0) return r;
  ifr.ifr_mtu = mtu;
  return InterfaceIoctl(SIOCSIFMTU, &ifr);
}

int IfIndex(const char* name) {
  struct ifreq ifr;
  int r = PrepareIfreq(&ifr, name);
  if (r < 0) return r;
  r = InterfaceIoctl(SIOCGIFINDEX, &ifr);
  return r < 0 ? r : ifr.ifr_ifindex;
}

}  // namespace wgts
