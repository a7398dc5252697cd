#include "udp_cmsg.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

namespace wgts {

size_t BuildSendControl(const SendMeta& meta, ControlBuf* buf) {
  size_t used = 0;
  if (meta.gso_size > 0) {
    cmsghdr* c = reinterpret_cast<cmsghdr*>(buf->bytes + used);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &meta.gso_size, sizeof(uint16_t));
    used += CMSG_SPACE(sizeof(uint16_t));
  }
  return used;
}

void ParseRecvControl(const msghdr& m, RecvMeta* meta) {
  *meta = RecvMeta();
  if (m.msg_control == nullptr) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      // The kernel puts an int; older ones a u16. Either way the low 16 bits come first here.
      size_t n = c->cmsg_len - CMSG_LEN(0);
      if (n >= sizeof(int)) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        meta->gso_size = static_cast<uint16_t>(v);
      } else if (n >= sizeof(uint16_t)) {
        memcpy(&meta->gso_size, CMSG_DATA(c), sizeof(uint16_t));
      }
    }
  }
}

}  // namespace wgts
