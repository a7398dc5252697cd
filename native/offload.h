// TUN offloads on plain buffers, no fds and no N-API: the virtio-net header the kernel puts in
// front of every packet on a TUN opened with IFF_VNET_HDR, Internet checksums, the split of a
// TSO/USO super-packet into MTU-sized segments (read side), and the coalescing of TCP/UDP segments
// of one flow into super-packets (write side, the kernel's GRO rules). tun_handle.cc drives them on
// the device; offload_js.cc exposes them to the tests.
#ifndef WGTS_OFFLOAD_H
#define WGTS_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

namespace wgts {

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), the legacy 10-byte layout a TUN uses
// by default; its 16-bit fields are little-endian on the hosts this runs on (x86, arm64).
constexpr uint32_t kVnetHdrLen = 10;
constexpr uint8_t kVnetFlagNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from csum_start to csum_start+csum_offset
constexpr uint8_t kVnetFlagDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoTcpV6 = 4;
constexpr uint8_t kGsoUdpL4 = 5;
constexpr uint8_t kGsoEcn = 0x80;

struct VnetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = kGsoNone;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};

VnetHdr DecodeVnetHdr(const uint8_t* p);
void EncodeVnetHdr(const VnetHdr& h, uint8_t* p);

// ---- checksums (RFC 1071) ----------------------------------------------------------------------

// Adds bytes p[0, n) to a running one's-complement sum (any length; only the last piece of a
// sum may be odd). Start with 0; combine pieces by passing the previous result.
uint64_t CsumAdd(const uint8_t* p, size_t n, uint64_t acc);
// Folds a running sum to the 16-bit one's-complement sum in network byte order (not inverted).
uint16_t CsumFold(uint64_t acc);
// Running sum of the TCP/UDP pseudo-header: addresses of the IP header at `ip` (version from its
// first nibble), protocol and the L4 length.
uint64_t PseudoHeaderSum(const uint8_t* ip, uint8_t proto, uint32_t l4_len);
uint16_t Load16(const uint8_t* p);  // big-endian
void Store16(uint8_t* p, uint16_t v);
uint32_t Load32(const uint8_t* p);
void Store32(uint8_t* p, uint32_t v);
// Recomputes an IPv4 header's checksum in place (header length from its IHL).
void FixIpv4HeaderChecksum(uint8_t* ip);
// True when the TCP/UDP checksum of the L4 part at ip[l4_off, len) verifies against the
// pseudo-header (an IPv4 UDP checksum of 0, "none", counts as valid).
bool L4ChecksumValid(const uint8_t* ip, uint32_t len, uint32_t l4_off, uint8_t proto);

// ---- read side: complete and split ---------------------------------------------------------------

// What a packet read from the TUN (after its virtio header) turns into.
struct SplitPlan {
  bool gso = false;        // a super-packet to cut into `segments` segments
  bool tcp = false;
  bool ipv6 = false;
  bool ecn = false;        // VIRTIO_NET_HDR_GSO_ECN: CWR stays on the first segment only
  uint32_t l4_off = 0;     // csum_start: IP header(s) length
  uint32_t hdr_len = 0;    // l4_off + TCP header length (data offset) or + 8 for UDP
  uint32_t gso_size = 0;   // payload bytes per segment (the last one may carry fewer)
  uint32_t segments = 1;
  uint32_t max_segment = 0;  // bytes of the largest output segment
};

// Reasons a read is dropped (plan returns one of these, 0 = usable).
enum SplitError {
  kSplitOk = 0,
  kSplitShort,        // shorter than the headers it claims
  kSplitBadVersion,   // not IPv4/IPv6, or the GSO type does not match the IP version
  kSplitBadGso,       // unknown GSO type, gso_size 0, bad L4 header length, ...
  kSplitBadCsum,      // NEEDS_CSUM with a start/offset outside the packet
};

// Examines packet pkt[0, len) read with virtio header `h`. For a plain packet (gso false) a
// NEEDS_CSUM checksum is completed in place here; a super-packet is only planned.
int PlanSplit(const VnetHdr& h, uint8_t* pkt, uint32_t len, SplitPlan* plan);

// Writes segment `i` (< plan.segments) of super-packet pkt[0, len) to out (room for
// plan.max_segment bytes): IP header with its total length / payload length (IPv4: id + i and
// a fresh header checksum), L4 header with TCP sequence number advanced by i * gso_size (FIN and
// PSH only on the last segment, CWR only on the first) or the UDP length, the payload slice and a
// full TCP/UDP checksum. Returns the segment's length.
uint32_t WriteSegment(const SplitPlan& plan, const uint8_t* pkt, uint32_t len, uint32_t i, uint8_t* out);

// ---- write side: coalesce --------------------------------------------------------------------------

// One write(2) of the coalesced output: a virtio header, the head packet (its headers rewritten
// for the whole super-packet when more were merged) and the payloads of the merged packets.
struct GroUnit {
  uint32_t head = 0;       // index of the head packet in the input
  uint32_t packets = 1;    // input packets carried (head + merged)
  uint32_t total_len = 0;  // IP packet length after coalescing
  uint32_t slices = 0;     // merged payload slices, at slice_start.. in the slice list
  uint32_t slice_start = 0;
  uint32_t hdr_len = 0;    // merged units: IP + L4 header bytes of the head that were rewritten
  uint8_t vnet[kVnetHdrLen] = {0};
};

// A payload slice of a merged packet: input packet `packet`, bytes [off, off + len) of it.
struct GroSlice {
  uint32_t packet;
  uint32_t off;
  uint32_t len;
};

// Largest coalesced packet and most packets per super-packet.
constexpr uint32_t kGroMaxLen = 65535;
constexpr uint32_t kGroMaxSegments = 64;

// Coalesces packets k < count (packet k = base[offsets[k], offsets[k] + lengths[k])) into units,
// in the order of their head packets. TCP segments of one flow merge when the kernel's GRO would
// merge them: same addresses, ports and ACK number, adjacent sequence numbers, same TCP header
// length and options, same IPv4 TOS/TTL/DF or IPv6 first word and hop limit, flags ACK or
// ACK|PSH only, no IPv4 options or fragments, every payload but the last exactly the first's
// size, PSH only on the last; with `udp` also UDP datagrams of one flow (equal sizes, the last
// may be shorter). Each packet's checksum is verified before it is merged; packets that fail are
// written alone, untouched, so the kernel counts the error. The heads of merged units get their
// IP length (and IPv4 header checksum), PSH and a pseudo-header partial checksum rewritten in
// place, and a NEEDS_CSUM + GSO virtio header in the unit. `units` needs room for `count` units,
// `slices` for `count` slices. Returns the number of units.
class GroPlanner {
 public:
  // `restore` (room for count * kGroMaxHeader bytes) keeps each merged head's original headers so a
  // unit the kernel refuses can be written packet by packet.
  uint32_t Plan(uint8_t* base, const uint32_t* offsets, const uint32_t* lengths, uint32_t count, bool udp,
                GroUnit* units, GroSlice* slices, uint8_t* restore);
};

constexpr uint32_t kGroMaxHeader = 120;  // 60 bytes of IPv4 header + 60 of TCP, or 40 + 60

// Undoes the header rewrite of a merged unit's head from `saved` (the unit's kGroMaxHeader bytes
// of Plan's `restore`).
void GroRestoreHead(uint8_t* base, const uint32_t* offsets, const GroUnit& unit, const uint8_t* saved);

}  // namespace wgts

#endif
