#include "udp_cmsg.h"

#include "udp_fd.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <errno.h>
#include <string.h>

namespace wgts {

namespace {

bool IsLinkLocal6(const uint8_t a[16]) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

// Appends one control message of `len` data bytes; returns where its data goes.
uint8_t* Append(ControlBuf* buf, size_t* used, int level, int type, size_t len) {
  cmsghdr* c = reinterpret_cast<cmsghdr*>(buf->bytes + *used);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  *used += CMSG_SPACE(len);
  return CMSG_DATA(c);
}

}  // namespace

bool HasLocalAddr(const LocalAddr& a) {
  for (uint8_t b : a.addr) {
    if (b != 0) return true;
  }
  return false;
}

size_t BuildSendControl(const SendMeta& meta, ControlBuf* buf) {
  size_t used = 0;
  if (meta.gso_size > 0) {
    uint8_t* data = Append(buf, &used, SOL_UDP, UDP_SEGMENT, sizeof(uint16_t));
    memcpy(data, &meta.gso_size, sizeof(uint16_t));
  }
  if (meta.has_src) {
    if (IsV4Mapped(meta.src.addr)) {
      // ipi_spec_dst is the source of the datagram; a zero ipi_ifindex leaves routing to the kernel.
      in_pktinfo info;
      memset(&info, 0, sizeof(info));
      memcpy(&info.ipi_spec_dst, meta.src.addr + 12, 4);
      memcpy(Append(buf, &used, IPPROTO_IP, IP_PKTINFO, sizeof(info)), &info, sizeof(info));
    } else {
      in6_pktinfo info;
      memset(&info, 0, sizeof(info));
      memcpy(&info.ipi6_addr, meta.src.addr, 16);
      if (IsLinkLocal6(meta.src.addr)) info.ipi6_ifindex = meta.src.ifindex;
      memcpy(Append(buf, &used, IPPROTO_IPV6, IPV6_PKTINFO, sizeof(info)), &info, sizeof(info));
    }
  }
  return used;
}

void ParseRecvControl(const msghdr& m, RecvMeta* meta) {
  *meta = RecvMeta();
  if (m.msg_control == nullptr) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
    size_t n = c->cmsg_len - CMSG_LEN(0);
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      // The kernel puts an int; older ones a u16. Either way the low 16 bits come first here.
      if (n >= sizeof(int)) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        meta->gso_size = static_cast<uint16_t>(v);
      } else if (n >= sizeof(uint16_t)) {
        memcpy(&meta->gso_size, CMSG_DATA(c), sizeof(uint16_t));
      }
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && n >= sizeof(in6_pktinfo)) {
      // On the dual-stack socket IPv4 datagrams report here too, v4-mapped.
      in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(meta->dst.addr, &info.ipi6_addr, 16);
      meta->dst.ifindex = info.ipi6_ifindex;
      meta->has_dst = true;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && n >= sizeof(in_pktinfo)) {
      // The IPv4-only socket: ipi_addr is the header's destination (as the kernel's WireGuard takes it).
      in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(meta->dst.addr, kV4MappedPrefix, sizeof(kV4MappedPrefix));
      memcpy(meta->dst.addr + 12, &info.ipi_addr, 4);
      meta->dst.ifindex = static_cast<uint32_t>(info.ipi_ifindex);
      meta->has_dst = true;
    }
  }
}

bool SourceRefused(int err) { return err == EINVAL || err == EADDRNOTAVAIL || err == ENODEV || err == ENETUNREACH; }

}  // namespace wgts
