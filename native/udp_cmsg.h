// Control messages (ancillary data) of the UDP socket, built and parsed in this one place: today
// UDP_SEGMENT on sends (GSO: one sendmsg carries a train of equal-sized datagrams) and UDP_GRO on
// receives (the kernel hands over a train of datagrams of one flow with their segment size).
// Further per-datagram metadata (e.g. IP_PKTINFO source addresses) belongs in SendMeta /
// RecvMeta, BuildSendControl and ParseRecvControl.
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

// What a send asks of the kernel beyond payload and destination.
struct SendMeta {
  uint16_t gso_size = 0;  // > 0: the payload is a train of datagrams of this size (the last may be shorter)
};

// What the kernel reported about a received message.
struct RecvMeta {
  uint16_t gso_size = 0;  // > 0: the payload is a train of datagrams of this size (UDP_GRO)
};

// Writes the control messages for `meta` into `buf`; returns the bytes used (0: none, then pass
// msg_control = nullptr).
size_t BuildSendControl(const SendMeta& meta, ControlBuf* buf);

// Reads the control messages of a received message into `meta` (unknown ones are ignored).
void ParseRecvControl(const msghdr& m, RecvMeta* meta);

}  // namespace wgts

#endif
