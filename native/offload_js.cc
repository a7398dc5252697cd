// offloadSplit / offloadCoalesce: the exact code the TUN handle runs on the device, called on
// buffers from JS so the tests can check every byte. They allocate freely: not for the data path.
//
//   offloadSplit(vnet: Uint8Array(10), packet: Uint8Array) -> Uint8Array[] | number
//     The packets a read of `vnet` + `packet` from an offloading TUN turns into (one for a plain
//     packet, its NEEDS_CSUM checksum completed; the segments of a super-packet), or the
//     SplitError code (> 0) that drops it. `packet` itself is not modified.
//   offloadCoalesce(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number,
//                   udp: boolean) -> { vnet: Uint8Array, bytes: Uint8Array, head: number, packets: number }[]
//     The writes a batch of packets turns into: each unit's virtio header and the bytes written
//     after it (head packet + merged payloads). Heads of merged units are rewritten in `buf`.
#include "offload_js.h"

#include <vector>

#include "napi_util.h"
#include "offload.h"

namespace wgts {

namespace {

Napi::Value Split(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    return ThrowType(env, "offloadSplit(vnet: Uint8Array, packet: Uint8Array)");
  }
  Napi::Uint8Array vnet = info[0].As<Napi::Uint8Array>();
  Napi::Uint8Array packet = info[1].As<Napi::Uint8Array>();
  if (vnet.ByteLength() < kVnetHdrLen) return ThrowType(env, "offloadSplit: vnet must hold 10 bytes");
  std::vector<uint8_t> pkt(packet.Data(), packet.Data() + packet.ByteLength());
  SplitPlan plan;
  int err = PlanSplit(DecodeVnetHdr(vnet.Data()), pkt.data(), static_cast<uint32_t>(pkt.size()), &plan);
  if (err != kSplitOk) return Napi::Number::New(env, err);
  Napi::Array out = Napi::Array::New(env, plan.segments);
  std::vector<uint8_t> seg(plan.max_segment);
  for (uint32_t i = 0; i < plan.segments; i++) {
    uint32_t len;
    if (plan.gso) {
      len = WriteSegment(plan, pkt.data(), static_cast<uint32_t>(pkt.size()), i, seg.data());
    } else {
      len = static_cast<uint32_t>(pkt.size());
      seg.assign(pkt.begin(), pkt.end());
    }
    out.Set(i, Napi::Uint8Array::New(env, len));
    memcpy(out.Get(i).As<Napi::Uint8Array>().Data(), seg.data(), len);
  }
  return out;
}

Napi::Value Coalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PacketList pl;
  uint32_t count = 0;
  if (!PacketListArgs(info, 0, &pl) || info.Length() < 5 || !Uint32Arg(env, info[3], &count) || !info[4].IsBoolean()) {
    return ThrowType(env, "offloadCoalesce(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, udp: boolean)");
  }
  if (count > pl.offsets_len || count > pl.lengths_len) return ThrowType(env, "offloadCoalesce: count exceeds offsets/lengths");
  uint8_t* buf = pl.buf;
  const uint32_t* offsets = pl.offsets;
  const uint32_t* lengths = pl.lengths;
  for (uint32_t k = 0; k < count; k++) {
    if (lengths[k] == 0 || static_cast<uint64_t>(offsets[k]) + lengths[k] > pl.buf_len) {
      return ThrowType(env, "offloadCoalesce: a packet lies outside buf");
    }
  }
  std::vector<GroUnit> units(count);
  std::vector<GroSlice> slices(count);
  GroPlanner planner;
  uint32_t n = planner.Plan(buf, offsets, lengths, count, info[4].As<Napi::Boolean>().Value(), units.data(), slices.data(), nullptr);
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    const GroUnit& u = units[i];
    size_t total = lengths[u.head];
    for (uint32_t j = 0; j < u.slices; j++) total += slices[u.slice_start + j].len;
    Napi::Uint8Array bytes = Napi::Uint8Array::New(env, total);
    uint8_t* d = bytes.Data();
    memcpy(d, buf + offsets[u.head], lengths[u.head]);
    d += lengths[u.head];
    for (uint32_t j = 0; j < u.slices; j++) {
      const GroSlice& sl = slices[u.slice_start + j];
      memcpy(d, buf + offsets[sl.packet] + sl.off, sl.len);
      d += sl.len;
    }
    Napi::Uint8Array vnet = Napi::Uint8Array::New(env, kVnetHdrLen);
    memcpy(vnet.Data(), u.vnet, kVnetHdrLen);
    Napi::Object o = Napi::Object::New(env);
    o.Set("vnet", vnet);
    o.Set("bytes", bytes);
    o.Set("head", Napi::Number::New(env, u.head));
    o.Set("packets", Napi::Number::New(env, u.packets));
    out.Set(i, o);
  }
  return out;
}

}  // namespace

void RegisterOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("offloadSplit", Napi::Function::New(env, Split, "offloadSplit"));
  exports.Set("offloadCoalesce", Napi::Function::New(env, Coalesce, "offloadCoalesce"));
}

}  // namespace wgts
