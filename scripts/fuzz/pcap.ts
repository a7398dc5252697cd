// Reads what `tcpdump -w -` wrote (classic pcap, Ethernet link type) and returns the UDP payloads
// of IPv4 packets: the fuzzer's on-path view of the legitimate peer's WireGuard traffic.

/** UDP payloads (copies) of the IPv4/UDP packets in a pcap byte stream, in capture order. */
export function udpPayloads(pcap: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (pcap.length < 24) return out;
  const dv = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a pcap stream (magic ${magic.toString(16)})`);
  const linkType = dv.getUint32(20, le);
  if (linkType !== 1) throw new Error(`pcap link type ${linkType}: only Ethernet (1) is read`);
  let at = 24;
  while (at + 16 <= pcap.length) {
    const incl = dv.getUint32(at + 8, le);
    const start = at + 16;
    at = start + incl;
    if (at > pcap.length) break; // a record cut short by the end of the stream
    if (incl < 14 + 20 + 8) continue;
    if (dv.getUint16(start + 12, false) !== 0x0800) continue; // IPv4 only
    const ip = start + 14;
    const ihl = ((pcap[ip] as number) & 0x0f) * 4;
    if (pcap[ip + 9] !== 17 || ihl < 20) continue;
    const udp = ip + ihl;
    const udpLen = dv.getUint16(udp + 4, false);
    const end = Math.min(udp + udpLen, start + incl);
    if (udpLen < 8 || end <= udp + 8) continue;
    out.push(pcap.slice(udp + 8, end));
  }
  return out;
}
