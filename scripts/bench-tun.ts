// TUN edge throughput, 1420-byte IPv4/UDP packets, inside a namespace created here (needs root):
//   node dist/scripts/bench-tun.js [seconds=3]
// Two processes with one TUN each: a writer pushes packets into wgtbw0 with writeBatch, the
// kernel forwards them to wgtbr0, a reader drains wgtbr0 through the batch callback.
//   1. concurrent: writer and reader run together for `seconds`;
//   2. drain: the reader is paused while the writer queues DRAIN_PACKETS, then the reader drains
//      them alone (read capacity without cross-process wakeups);
//   3. write only: the writer sends to a blackhole route for `seconds`.
// CPU is the share of one core the process used (user + system) over the measured interval.
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Tun } from '../src/io/tun.js';
import { Netns, requireRoot } from '../test/helpers/netns.js';

const PACKET = 1420;
const BATCH = 64;
const DRAIN_PACKETS = 64 * 1500;
const SELF = fileURLToPath(import.meta.url);

interface Rate { packets: number; seconds: number; cpu: number; batches: number }

/** Share of one core used between two cpuUsage() samples over `seconds`. */
const cpuShare = (from: NodeJS.CpuUsage, to: NodeJS.CpuUsage, seconds: number): number =>
  (to.user - from.user + to.system - from.system) / 1e6 / seconds;

const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** BATCH copies of one IPv4/UDP packet src -> dst (UDP checksum 0: optional in IPv4). */
function packetSlab(src: number, dst: number): { slab: Uint8Array; offsets: Uint32Array; lengths: Uint32Array } {
  const stride = 1536;
  const slab = new Uint8Array(stride * BATCH);
  const view = new DataView(slab.buffer);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH).fill(PACKET);
  for (let k = 0; k < BATCH; k++) {
    const o = (offsets[k] = k * stride);
    view.setUint8(o, 0x45);
    view.setUint16(o + 2, PACKET);
    view.setUint8(o + 8, 64);
    view.setUint8(o + 9, 17);
    view.setUint32(o + 12, src);
    view.setUint32(o + 16, dst);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += view.getUint16(o + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    view.setUint16(o + 10, ~sum & 0xffff);
    view.setUint16(o + 20, 40000);
    view.setUint16(o + 22, 9);
    view.setUint16(o + 24, PACKET - 20);
  }
  return { slab, offsets, lengths };
}

/**
 * Reader role. stdin commands: "pause"; "report" (rate since the previous report, measured from
 * the first to the last packet); "drain" (resume, report once 50 ms pass without a packet).
 */
function reader(): void {
  const tun = Tun.open('wgtbr0');
  let packets = 0;
  let batches = 0;
  let first = 0;
  let last = 0;
  let cpuFirst = process.cpuUsage();
  let cpuLast = cpuFirst;
  tun.start((_slab, _offsets, _lengths, count) => {
    last = performance.now();
    if (packets === 0) { first = last; cpuFirst = process.cpuUsage(); }
    packets += count;
    batches++;
    if ((batches & 15) === 0) cpuLast = process.cpuUsage();
  });
  const report = (): void => {
    const seconds = (last - first) / 1000;
    const rate: Rate = { packets, seconds, cpu: cpuShare(cpuFirst, cpuLast, seconds), batches };
    console.log(JSON.stringify(rate));
    packets = 0;
    batches = 0;
  };
  console.log(JSON.stringify({ ready: true }));
  createInterface({ input: process.stdin }).on('line', (cmd) => {
    if (cmd === 'pause') { tun.pause(); console.log('{}'); }
    if (cmd === 'report') report();
    if (cmd === 'drain') {
      tun.resume();
      const idle = setInterval(() => {
        if (packets > 0 && performance.now() - last > 50) { clearInterval(idle); cpuLast = process.cpuUsage(); report(); }
      }, 10);
    }
  }).on('close', () => tun.close());
}

/** Writer role. stdin "go <third octet of dst> <max packets>": writes for `seconds` or max packets. */
function writer(seconds: number): void {
  const tun = Tun.open('wgtbw0');
  console.log(JSON.stringify({ ready: true }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [, net, max] = line.split(' ');
    const { slab, offsets, lengths } = packetSlab(ip(10, 212, 1, 2), ip(10, 212, Number(net), 2));
    const limit = Number(max);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const end = start + seconds * 1000;
    let packets = 0;
    let batches = 0;
    const burst = (): void => {
      for (let j = 0; j < 16 && packets < limit; j++, batches++) packets += tun.writeBatch(slab, offsets, lengths, BATCH);
      if (performance.now() < end && packets < limit) { setImmediate(burst); return; }
      const elapsed = (performance.now() - start) / 1000;
      const rate: Rate = { packets, seconds: elapsed, cpu: cpuShare(cpuBefore, process.cpuUsage(), elapsed), batches };
      console.log(JSON.stringify(rate));
    };
    burst();
  }).on('close', () => tun.close());
}

/** Sends a command line to a role process and parses its next output line. */
class Role {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  constructor(child: ChildProcess) {
    if (!child.stdout) throw new Error('role without stdout');
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  async next(cmd?: string): Promise<Rate> {
    if (cmd !== undefined) this.#child.stdin?.write(`${cmd}\n`);
    const r = await this.#lines.next();
    if (r.done) throw new Error('role process ended early');
    return JSON.parse(r.value) as Rate;
  }
  end(): void {
    this.#child.stdin?.end();
  }
}

function kernelTx(ns: Netns, dev: string): { packets: number; dropped: number } {
  const out = ns.exec('ip', ['-s', '-j', 'link', 'show', 'dev', dev]);
  const num = (key: string): number => Number(out.match(new RegExp(`"tx":\\{[^}]*"${key}":(\\d+)`))?.[1] ?? NaN);
  return { packets: num('packets'), dropped: num('dropped') };
}

const pct = (share: number): string => `${Math.round(share * 100)}%`;
const rate = (r: Rate): string =>
  `${(r.packets / r.seconds / 1000).toFixed(1).padStart(6)} kpps ${((r.packets * PACKET * 8) / r.seconds / 1e9).toFixed(2)} Gbit/s, CPU ${pct(r.cpu)}`;

async function orchestrate(seconds: number): Promise<void> {
  requireRoot();
  const load = loadavg()[0];
  const ns = new Netns('benchtun');
  try {
    ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const r = new Role(ns.spawn(process.execPath, [SELF, 'reader'], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const w = new Role(ns.spawn(process.execPath, [SELF, 'writer', String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] }));
    await r.next();
    await w.next();
    for (const [dev, net] of [['wgtbw0', 1], ['wgtbr0', 2]] as const) {
      ns.exec('ip', ['addr', 'add', `10.212.${net}.1/24`, 'dev', dev]);
      ns.exec('ip', ['link', 'set', dev, 'up']);
    }
    ns.exec('ip', ['route', 'add', 'blackhole', '10.212.9.0/24']);

    const fwd = await w.next('go 2 1e12');
    await new Promise((res) => setTimeout(res, 300));
    const queued = kernelTx(ns, 'wgtbr0');
    const read = await r.next('report');

    ns.exec('ip', ['link', 'set', 'wgtbr0', 'txqueuelen', String(DRAIN_PACKETS)]);
    await r.next('pause');
    const fill = await w.next(`go 2 ${DRAIN_PACKETS}`);
    const drain = await r.next('drain');

    const sink = await w.next('go 9 1e12');
    r.end();
    w.end();

    console.log(`TUN edge, ${PACKET}-byte packets, writer and reader in separate processes (1-min load average before: ${load.toFixed(1)})`);
    console.log(`  1. concurrent ${seconds} s`);
    console.log(`     write  ${rate(fwd)}  (${fwd.packets} packets, kernel forwards them to the reader's TUN)`);
    console.log(`     read   ${rate(read)}  (${read.packets} packets in ${read.batches} callbacks, mean ${(read.packets / read.batches).toFixed(1)})`);
    console.log(`     kernel queued ${queued.packets} to the reader's TUN and dropped ${queued.dropped} (reader queue of 500 full)`);
    console.log(`  2. drain ${DRAIN_PACKETS} queued packets`);
    console.log(`     write  ${rate(fill)}  (filling the queue, no reader running)`);
    console.log(`     read   ${rate(drain)}  (${drain.packets} packets in ${drain.batches} callbacks)`);
    console.log(`  3. write only, blackhole route, ${seconds} s`);
    console.log(`     write  ${rate(sink)}  (${sink.packets} packets)`);
  } finally {
    ns.delete();
  }
}

const role = process.argv[2];
if (role === 'reader') reader();
else if (role === 'writer') writer(Number(process.argv[3]));
else await orchestrate(Math.min(Math.max(Number(role ?? 3) || 3, 1), 30));
