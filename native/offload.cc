#include "offload.h"

#include <string.h>

#include <vector>

namespace wgts {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpCwr = 0x80;
constexpr uint32_t kTcpFlagsAt = 13;
constexpr uint32_t kTcpCsumAt = 16;
constexpr uint32_t kUdpCsumAt = 6;
constexpr uint32_t kUdpHdrLen = 8;

inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline uint16_t Bswap16(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }

// Final checksum value for the field: the inverted fold, with 0 sent as 0xffff (RFC 768; the
// kernel's skb_checksum_help does the same for every protocol, and both mean the same to TCP).
inline uint16_t FinalCsum(uint64_t acc) {
  uint16_t v = static_cast<uint16_t>(~CsumFold(acc));
  return v == 0 ? 0xffff : v;
}

}  // namespace

VnetHdr DecodeVnetHdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = Le16(p + 2);
  h.gso_size = Le16(p + 4);
  h.csum_start = Le16(p + 6);
  h.csum_offset = Le16(p + 8);
  return h;
}

void EncodeVnetHdr(const VnetHdr& h, uint8_t* p) {
  p[0] = h.flags;
  p[1] = h.gso_type;
  PutLe16(p + 2, h.hdr_len);
  PutLe16(p + 4, h.gso_size);
  PutLe16(p + 6, h.csum_start);
  PutLe16(p + 8, h.csum_offset);
}

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint32_t Load32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
void Store32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// The sum is kept over little-endian 32-bit words (any byte order gives the same one's-complement
// sum up to a final byte swap, RFC 1071 §2(B)); a trailing odd byte is the high byte of a
// network-order word, i.e. the low byte of a little-endian one.
uint64_t CsumAdd(const uint8_t* p, size_t n, uint64_t acc) {
  while (n >= 32) {
    uint64_t w[4];
    memcpy(w, p, 32);
    acc += (w[0] & 0xffffffffu) + (w[0] >> 32) + (w[1] & 0xffffffffu) + (w[1] >> 32) + (w[2] & 0xffffffffu) +
           (w[2] >> 32) + (w[3] & 0xffffffffu) + (w[3] >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    acc += Le16(p);
    p += 2;
    n -= 2;
  }
  if (n == 1) acc += *p;
  return acc;
}

uint16_t CsumFold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return Bswap16(static_cast<uint16_t>(acc));
}

uint64_t PseudoHeaderSum(const uint8_t* ip, uint8_t proto, uint32_t l4_len) {
  uint64_t acc = (ip[0] >> 4) == 6 ? CsumAdd(ip + 8, 32, 0) : CsumAdd(ip + 12, 8, 0);
  // proto and length as network-order 16-bit words, seen little-endian (IPv6's 32-bit length
  // never exceeds 16 bits here).
  acc += Bswap16(proto);
  acc += Bswap16(static_cast<uint16_t>(l4_len & 0xffff)) + (l4_len >> 16 ? Bswap16(static_cast<uint16_t>(l4_len >> 16)) : 0);
  return acc;
}

void FixIpv4HeaderChecksum(uint8_t* ip) {
  uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0f) * 4;
  ip[10] = 0;
  ip[11] = 0;
  Store16(ip + 10, static_cast<uint16_t>(~CsumFold(CsumAdd(ip, ihl, 0))));
}

bool L4ChecksumValid(const uint8_t* ip, uint32_t len, uint32_t l4_off, uint8_t proto) {
  if (proto == kProtoUdp && (ip[0] >> 4) == 4 && Load16(ip + l4_off + kUdpCsumAt) == 0) return true;
  uint64_t acc = PseudoHeaderSum(ip, proto, len - l4_off);
  return CsumFold(CsumAdd(ip + l4_off, len - l4_off, acc)) == 0xffff;
}

// ---- read side ---------------------------------------------------------------------------------

int PlanSplit(const VnetHdr& h, uint8_t* pkt, uint32_t len, SplitPlan* plan) {
  *plan = SplitPlan();
  if (len < 1) return kSplitShort;
  uint8_t version = pkt[0] >> 4;
  if (version != 4 && version != 6) return kSplitBadVersion;
  plan->ipv6 = version == 6;
  uint8_t type = h.gso_type & static_cast<uint8_t>(~kGsoEcn);
  if (type == kGsoNone) {
    if ((h.flags & kVnetFlagNeedsCsum) != 0) {
      uint32_t at = static_cast<uint32_t>(h.csum_start) + h.csum_offset;
      if (h.csum_start >= len || at + 2 > len) return kSplitBadCsum;
      // The field holds the pseudo-header sum; summing over it completes the checksum.
      uint16_t v = FinalCsum(CsumAdd(pkt + h.csum_start, len - h.csum_start, 0));
      Store16(pkt + at, v);
    }
    plan->max_segment = len;
    return kSplitOk;
  }
  if (type == kGsoTcpV4 ? version != 4 : type == kGsoTcpV6 ? version != 6 : type != kGsoUdpL4) {
    return type == kGsoTcpV4 || type == kGsoTcpV6 ? kSplitBadVersion : kSplitBadGso;
  }
  plan->tcp = type != kGsoUdpL4;
  plan->ecn = (h.gso_type & kGsoEcn) != 0;
  uint32_t l4 = h.csum_start;
  if (l4 < (plan->ipv6 ? 40u : 20u)) return kSplitBadGso;
  // hdr_len is not trusted (on the forwarding path the kernel may report the whole first
  // packet): the L4 header length is read from the packet itself.
  uint32_t l4_hdr;
  if (plan->tcp) {
    if (len < l4 + 20) return kSplitShort;
    l4_hdr = static_cast<uint32_t>(pkt[l4 + 12] >> 4) * 4;
    if (l4_hdr < 20 || l4_hdr > 60) return kSplitBadGso;
  } else {
    l4_hdr = kUdpHdrLen;
  }
  if (len < l4 + l4_hdr) return kSplitShort;
  if (h.gso_size == 0) return kSplitBadGso;
  plan->gso = true;
  plan->l4_off = l4;
  plan->hdr_len = l4 + l4_hdr;
  plan->gso_size = h.gso_size;
  uint32_t payload = len - plan->hdr_len;
  plan->segments = payload == 0 ? 1 : (payload + h.gso_size - 1) / h.gso_size;
  plan->max_segment = plan->hdr_len + (payload < h.gso_size ? payload : h.gso_size);
  return kSplitOk;
}

uint32_t WriteSegment(const SplitPlan& p, const uint8_t* pkt, uint32_t len, uint32_t i, uint8_t* out) {
  uint32_t start = p.hdr_len + i * p.gso_size;
  uint32_t end = start + p.gso_size;
  if (end > len) end = len;
  if (start > end) start = end;
  uint32_t seg_len = p.hdr_len + (end - start);
  memcpy(out, pkt, p.hdr_len);
  memcpy(out + p.hdr_len, pkt + start, end - start);
  if (p.ipv6) {
    Store16(out + 4, static_cast<uint16_t>(seg_len - 40));
  } else {
    Store16(out + 2, static_cast<uint16_t>(seg_len));
    Store16(out + 4, static_cast<uint16_t>(Load16(pkt + 4) + i));
    FixIpv4HeaderChecksum(out);
  }
  uint8_t* l4 = out + p.l4_off;
  uint8_t proto;
  uint32_t csum_at;
  if (p.tcp) {
    proto = kProtoTcp;
    csum_at = kTcpCsumAt;
    Store32(l4 + 4, Load32(pkt + p.l4_off + 4) + i * p.gso_size);
    if (i + 1 < p.segments) l4[kTcpFlagsAt] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (i > 0) l4[kTcpFlagsAt] &= static_cast<uint8_t>(~kTcpCwr);
  } else {
    proto = kProtoUdp;
    csum_at = kUdpCsumAt;
    Store16(l4 + 4, static_cast<uint16_t>(seg_len - p.l4_off));
  }
  l4[csum_at] = 0;
  l4[csum_at + 1] = 0;
  uint64_t acc = PseudoHeaderSum(out, proto, seg_len - p.l4_off);
  Store16(l4 + csum_at, FinalCsum(CsumAdd(l4, seg_len - p.l4_off, acc)));
  return seg_len;
}

// ---- write side --------------------------------------------------------------------------------

namespace {

enum Kind : uint8_t { kNone = 0, kTcp4, kTcp6, kUdp4, kUdp6 };

// A coalescing candidate's parsed headers.
struct Cand {
  Kind kind = kNone;
  uint32_t l4_off = 0;
  uint32_t l4_hdr = 0;
  uint32_t payload = 0;
  uint32_t seq = 0;
  bool psh = false;
};

bool IsTcp(Kind k) { return k == kTcp4 || k == kTcp6; }

Cand Classify(const uint8_t* p, uint32_t len, bool udp) {
  Cand c;
  if (len < 28) return c;
  uint8_t version = p[0] >> 4;
  uint8_t proto;
  if (version == 4) {
    if ((p[0] & 0x0f) != 5) return c;                   // IPv4 options never coalesce
    if ((Load16(p + 6) & 0x3fff) != 0) return c;        // MF or a fragment offset
    if (Load16(p + 2) != len) return c;
    proto = p[9];
    c.l4_off = 20;
  } else if (version == 6) {
    if (len < 48) return c;
    if (static_cast<uint32_t>(Load16(p + 4)) + 40 != len) return c;
    proto = p[6];                                       // extension headers never coalesce
    c.l4_off = 40;
  } else {
    return c;
  }
  const uint8_t* l4 = p + c.l4_off;
  if (proto == kProtoTcp) {
    if (len < c.l4_off + 20) return c;
    uint32_t thl = static_cast<uint32_t>(l4[12] >> 4) * 4;
    if (thl < 20 || thl > 60 || len < c.l4_off + thl) return c;
    uint8_t flags = l4[kTcpFlagsAt];
    if (flags != kTcpAck && flags != (kTcpAck | kTcpPsh)) return c;
    c.l4_hdr = thl;
    c.payload = len - c.l4_off - thl;
    if (c.payload == 0) return c;
    c.seq = Load32(l4 + 4);
    c.psh = (flags & kTcpPsh) != 0;
    c.kind = version == 4 ? kTcp4 : kTcp6;
  } else if (proto == kProtoUdp && udp) {
    if (Load16(l4 + 4) != len - c.l4_off) return c;
    c.l4_hdr = kUdpHdrLen;
    c.payload = len - c.l4_off - kUdpHdrLen;
    if (c.payload == 0) return c;
    c.kind = version == 4 ? kUdp4 : kUdp6;
  }
  return c;
}

// Same flow: addresses, ports and (TCP) the ACK number.
bool SameFlow(const uint8_t* a, const uint8_t* b, const Cand& c) {
  bool v6 = c.kind == kTcp6 || c.kind == kUdp6;
  if (v6 ? memcmp(a + 8, b + 8, 32) != 0 : memcmp(a + 12, b + 12, 8) != 0) return false;
  if (memcmp(a + c.l4_off, b + c.l4_off, 4) != 0) return false;
  return !IsTcp(c.kind) || memcmp(a + c.l4_off + 8, b + c.l4_off + 8, 4) == 0;
}

uint32_t FlowHash(const uint8_t* p, const Cand& c) {
  bool v6 = c.kind == kTcp6 || c.kind == kUdp6;
  const uint8_t* a = p + (v6 ? 8 : 12);
  uint32_t n = v6 ? 32 : 8;
  uint32_t h = 2166136261u ^ c.kind;
  for (uint32_t i = 0; i < n; i++) h = (h ^ a[i]) * 16777619u;
  for (uint32_t i = 0; i < 4; i++) h = (h ^ p[c.l4_off + i]) * 16777619u;
  if (IsTcp(c.kind)) {
    for (uint32_t i = 8; i < 12; i++) h = (h ^ p[c.l4_off + i]) * 16777619u;
  }
  return h;
}

// IP header fields GRO requires to be equal: IPv4 TOS, TTL and the DF/reserved bits; IPv6 the
// first word (version, traffic class, flow label) and the hop limit.
bool IpHeadersMatch(const uint8_t* a, const uint8_t* b) {
  if ((a[0] >> 4) == 6) return memcmp(a, b, 4) == 0 && a[7] == b[7];
  return a[1] == b[1] && a[8] == b[8] && (a[6] >> 5) == (b[6] >> 5);
}

struct Item {
  uint32_t unit;
  uint32_t prev;        // previous item in the same hash bucket (kNil: none)
  uint32_t hash;
  Cand head;            // the head packet's parsed headers
  uint32_t gso;         // the head's payload size: every merged payload but the last equals it
  uint32_t next_seq;    // TCP: the sequence number the next segment must carry
  uint32_t last_slice;  // last linked slice (kNil: none)
  bool closed;          // nothing may follow: a shorter segment, PSH, a bad head checksum
  bool head_valid;      // the head's checksum was verified
  bool psh;             // a merged segment carried PSH
};

constexpr uint32_t kNil = 0xffffffffu;

bool CanAppend(const Item& it, const GroUnit& u, const uint8_t* h, const uint8_t* p, const Cand& c) {
  if (it.closed || u.packets >= kGroMaxSegments || u.total_len + c.payload > kGroMaxLen) return false;
  if (c.payload > it.gso) return false;
  if (!IpHeadersMatch(h, p)) return false;
  if (!IsTcp(c.kind)) return true;
  if (c.l4_hdr != it.head.l4_hdr || c.seq != it.next_seq) return false;
  return memcmp(h + c.l4_off + 20, p + c.l4_off + 20, c.l4_hdr - 20) == 0;
}

struct GroState {
  std::vector<Item> items;
  std::vector<uint32_t> buckets;
  std::vector<GroSlice> linked;
  std::vector<uint32_t> next;         // slice chain
  std::vector<uint32_t> first_slice;  // per unit
  std::vector<uint32_t> unit_item;    // per unit: its item, or kNil for a packet that is no candidate
};

GroState& State() {
  // One planner runs at a time per thread (the TUN handle and the test entry point run on the
  // thread that loaded the addon); the vectors only grow.
  thread_local GroState state;
  return state;
}

}  // namespace

uint32_t GroPlanner::Plan(uint8_t* base, const uint32_t* offsets, const uint32_t* lengths, uint32_t count, bool udp,
                          GroUnit* units, GroSlice* slices, uint8_t* restore) {
  GroState& s = State();
  s.items.clear();
  s.linked.clear();
  s.next.clear();
  s.first_slice.assign(count, kNil);
  s.unit_item.assign(count, kNil);
  uint32_t nb = 16;
  while (nb < count * 2) nb <<= 1;
  s.buckets.assign(nb, kNil);
  uint32_t n_units = 0;

  auto new_unit = [&](uint32_t k) -> uint32_t {
    GroUnit& u = units[n_units];
    u = GroUnit();
    u.head = k;
    u.total_len = lengths[k];
    return n_units++;
  };

  for (uint32_t k = 0; k < count; k++) {
    uint8_t* p = base + offsets[k];
    uint32_t len = lengths[k];
    Cand c = Classify(p, len, udp);
    if (c.kind == kNone) {
      new_unit(k);
      continue;
    }
    uint8_t proto = IsTcp(c.kind) ? kProtoTcp : kProtoUdp;
    uint32_t hash = FlowHash(p, c);
    uint32_t bucket = hash & (nb - 1);
    uint32_t target = kNil;
    bool pkt_checked = false;
    bool pkt_valid = false;
    int walked = 0;
    // Newest item of the flow first; UDP only ever tries the newest (no reordering).
    for (uint32_t i = s.buckets[bucket]; i != kNil && walked < 8; i = s.items[i].prev) {
      Item& it = s.items[i];
      if (it.hash != hash || it.head.kind != c.kind) continue;
      GroUnit& u = units[it.unit];
      uint8_t* h = base + offsets[u.head];
      if (!SameFlow(h, p, c)) continue;
      walked++;
      if (CanAppend(it, u, h, p, c)) {
        if (!it.head_valid) {
          if (!L4ChecksumValid(h, lengths[u.head], it.head.l4_off, proto)) {
            it.closed = true;  // the head is written alone, untouched
            if (IsTcp(c.kind)) continue;
            break;
          }
          it.head_valid = true;
        }
        if (!pkt_checked) {
          pkt_valid = L4ChecksumValid(p, len, c.l4_off, proto);
          pkt_checked = true;
        }
        if (pkt_valid) target = i;
        break;
      }
      if (!IsTcp(c.kind)) break;
    }
    if (target != kNil) {
      Item& it = s.items[target];
      GroUnit& u = units[it.unit];
      u.packets++;
      u.total_len += c.payload;
      uint32_t si = static_cast<uint32_t>(s.linked.size());
      s.linked.push_back(GroSlice{k, c.l4_off + c.l4_hdr, c.payload});
      s.next.push_back(kNil);
      if (it.last_slice == kNil) s.first_slice[it.unit] = si;
      else s.next[it.last_slice] = si;
      it.last_slice = si;
      it.next_seq += c.payload;
      if (c.psh) it.psh = true;
      if (c.psh || c.payload < it.gso) it.closed = true;
      continue;
    }
    // A new item: the packet heads its own unit. A packet whose checksum failed stays alone
    // (closed) and, for UDP, keeps later datagrams of its flow from jumping ahead of it.
    uint32_t unit = new_unit(k);
    Item it;
    it.unit = unit;
    it.prev = s.buckets[bucket];
    it.hash = hash;
    it.head = c;
    it.gso = c.payload;
    it.next_seq = c.seq + c.payload;
    it.last_slice = kNil;
    it.closed = c.psh || (pkt_checked && !pkt_valid);
    it.head_valid = pkt_checked && pkt_valid;
    it.psh = false;
    s.buckets[bucket] = static_cast<uint32_t>(s.items.size());
    s.unit_item[unit] = static_cast<uint32_t>(s.items.size());
    s.items.push_back(it);
  }

  // Rewrite the heads of merged units and lay the slices out unit by unit.
  uint32_t out = 0;
  for (uint32_t ui = 0; ui < n_units; ui++) {
    GroUnit& u = units[ui];
    u.slice_start = out;
    u.slices = 0;
    if (u.packets < 2) continue;
    const Item& it = s.items[s.unit_item[ui]];
    uint8_t* h = base + offsets[u.head];
    const Cand& c = it.head;
    bool tcp = IsTcp(c.kind);
    u.hdr_len = c.l4_off + c.l4_hdr;
    if (restore != nullptr) memcpy(restore + static_cast<size_t>(ui) * kGroMaxHeader, h, u.hdr_len);
    uint32_t l4_len = u.total_len - c.l4_off;
    if ((h[0] >> 4) == 6) {
      Store16(h + 4, static_cast<uint16_t>(u.total_len - 40));
    } else {
      Store16(h + 2, static_cast<uint16_t>(u.total_len));
      FixIpv4HeaderChecksum(h);
    }
    uint8_t* l4 = h + c.l4_off;
    uint32_t csum_at = tcp ? kTcpCsumAt : kUdpCsumAt;
    if (tcp) {
      if (it.psh) l4[kTcpFlagsAt] |= kTcpPsh;
    } else {
      Store16(l4 + 4, static_cast<uint16_t>(l4_len));
    }
    // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not inverted.
    Store16(l4 + csum_at, CsumFold(PseudoHeaderSum(h, tcp ? kProtoTcp : kProtoUdp, l4_len)));
    VnetHdr v;
    v.flags = kVnetFlagNeedsCsum;
    v.gso_type = c.kind == kTcp4 ? kGsoTcpV4 : c.kind == kTcp6 ? kGsoTcpV6 : kGsoUdpL4;
    v.hdr_len = static_cast<uint16_t>(u.hdr_len);
    v.gso_size = static_cast<uint16_t>(it.gso);
    v.csum_start = static_cast<uint16_t>(c.l4_off);
    v.csum_offset = static_cast<uint16_t>(csum_at);
    EncodeVnetHdr(v, u.vnet);
    for (uint32_t si = s.first_slice[ui]; si != kNil; si = s.next[si]) {
      slices[out++] = s.linked[si];
      u.slices++;
    }
  }
  return n_units;
}

void GroRestoreHead(uint8_t* base, const uint32_t* offsets, const GroUnit& unit, const uint8_t* saved) {
  memcpy(base + offsets[unit.head], saved, unit.hdr_len);
}

}  // namespace wgts
