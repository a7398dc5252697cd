// UDP edge throughput, 1452-byte datagrams (a WireGuard data message for a 1420-byte packet)
// over loopback, native socket (src/io/udp.ts) vs node:dgram, in one run (about 15 s):
//   node dist/scripts/bench-udp.js [seconds-per-case=1.5 (max 2)]
//   1. send only: one thread sends to a bound socket nobody reads (the kernel drops what its
//      buffer cannot hold), so only the send path is measured;
//   2. receive only: a worker thread floods the receiver with native sendmmsg; the main thread
//      receives and counts (event-loop utilisation = the receiver's busy share of one core);
//   3. drain: one thread queues DRAIN datagrams (they fit the 8 MiB receive buffer) and then
//      times only the receiver emptying the queue, repeatedly: receive capacity without a
//      sender competing for the two cores;
//   4. together: sender and receiver in one thread, bursts of 64 sends then one event-loop turn
//      (the setup design.md measured for dgram);
//   5. allocation: 1 M datagrams queued in one synchronous loop (sendmmsg every 64) to a socket
//      nobody reads, with and without a sticky source (IP_PKTINFO on every message), minor GCs
//      counted; and the minor GCs while the native receiver drains 200 k datagrams (each handed
//      over with its local address), which include the awaited event-loop turns' own promises.
// All traffic is on 127.0.0.1.
import dgram from 'node:dgram';
import { constants as perfConstants, PerformanceObserver, performance } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type Endpoint, parseEndpoint, parseIp } from '../src/device/endpoint.js';
import { loadAddon } from '../src/io/native.js';
import { UdpSocket } from '../src/io/udp.js';

const SIZE = 1452;
const BURST = 64;
const DRAIN = 2000;
/** Longest wait for one drain round before giving up on the rest (they were lost). */
const DRAIN_WAIT_MS = 500;
const payload = new Uint8Array(SIZE).fill(0x5a);

interface Result { name: string; sent: number; received: number; seconds: number; elu?: number; batch?: number }

function endpoint(port: number): Endpoint {
  const ep = parseEndpoint(`127.0.0.1:${port}`);
  if (!ep) throw new Error('bad endpoint');
  return ep;
}

/** A native socket on an ephemeral loopback port that counts the datagrams it receives. */
function countingReceiver(): { rx: UdpSocket; ep: Endpoint; count: () => number } {
  const rx = new UdpSocket();
  let n = 0;
  rx.onReceive(() => { n++; });
  return { rx, ep: endpoint(rx.open(0)), count: () => n };
}

/** A native socket on an ephemeral port, for sending. */
function sender(opts: { offload?: boolean } = {}): UdpSocket {
  const tx = new UdpSocket(opts);
  tx.open(0);
  return tx;
}

/** A bound socket that never reads: sends to it cost the sender only. */
function blackhole(): { port: number; close(): void } {
  const h = new (loadAddon().UdpHandle)(0, new Float64Array(loadAddon().udpCounterNames.length));
  return { port: h.port(), close: () => h.close() };
}

/** Calls `burst` until `seconds` pass, one event-loop turn between bursts; returns the seconds taken. */
async function timed(seconds: number, burst: () => void): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    burst();
    await turn();
  }
  return (performance.now() - start) / 1000;
}

async function sendOnly(seconds: number): Promise<Result[]> {
  const sink = blackhole();
  const ep = endpoint(sink.port);
  const out: Result[] = [];

  const native = sender();
  let t = await timed(seconds, () => { for (let i = 0; i < BURST; i++) native.send(payload, 0, SIZE, ep); });
  out.push({ name: 'native send (sendto)', sent: native.stats.txDatagrams, received: 0, seconds: t });
  native.close();

  const queued = sender();
  t = await timed(seconds, () => { for (let i = 0; i < BURST; i++) queued.queue(payload, 0, SIZE, ep); queued.flush(); });
  out.push({ name: 'native queue+flush (sendmmsg)', sent: queued.stats.txDatagrams, received: 0, seconds: t });
  queued.close();

  const d = await dgramSocket();
  let sent = 0;
  const onSent = (err: Error | null): void => { if (!err) sent++; };
  t = await timed(seconds, () => { for (let i = 0; i < BURST; i++) d.send(payload, 0, SIZE, sink.port, '127.0.0.1', onSent); });
  await turn();
  out.push({ name: 'dgram send', sent, received: 0, seconds: t });
  d.close();
  sink.close();
  return out;
}

/** Sender thread: native sendmmsg to workerData.port until told to stop; reports how many went out. */
async function floodWorker(): Promise<void> {
  const { port } = workerData as { port: number };
  const sock = sender();
  const ep = endpoint(port);
  let stop = false;
  parentPort?.once('message', () => { stop = true; });
  while (!stop) {
    for (let i = 0; i < BURST; i++) sock.queue(payload, 0, SIZE, ep);
    sock.flush();
    await turn();
  }
  parentPort?.postMessage(sock.stats.txDatagrams);
  sock.close();
}

/** Floods `port` from a worker for `seconds`; `received()` is read at the end of the window. */
async function flood(port: number, seconds: number, received: () => number): Promise<{ sent: number; received: number; seconds: number; elu: number }> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port } });
  await new Promise((r) => setTimeout(r, 200)); // worker start-up, not measured
  const r0 = received();
  const elu0 = performance.eventLoopUtilization();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const got = received() - r0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const took = (performance.now() - start) / 1000;
  const done = new Promise<number>((resolve) => worker.once('message', resolve));
  worker.postMessage('stop');
  const sent = await done;
  await worker.terminate();
  return { sent, received: got, seconds: took, elu };
}

async function receiveOnly(seconds: number): Promise<Result[]> {
  const out: Result[] = [];
  const { rx: native, ep, count } = countingReceiver();
  const r = await flood(ep.port, seconds, count);
  const s = native.stats;
  out.push({ name: 'native receive (recvmmsg)', ...r, batch: s.rxDatagrams / s.rxBatches });
  native.close();

  const d = await dgramSocket();
  let dcount = 0;
  d.on('message', () => { dcount++; });
  const rd = await flood(d.address().port, seconds, () => dcount);
  out.push({ name: 'dgram receive', ...rd });
  d.close();
  return out;
}

/**
 * Repeats for `seconds`: send DRAIN datagrams in one go with `send` (not timed), then time the
 * event-loop turns until `received()` has grown by DRAIN. Returns the receive rate.
 */
async function drainRounds(seconds: number, send: () => void, received: () => number): Promise<{ received: number; seconds: number }> {
  const end = performance.now() + seconds * 1000;
  let got = 0;
  let busy = 0;
  while (performance.now() < end) {
    const before = received();
    send();
    const start = performance.now();
    while (received() - before < DRAIN && performance.now() - start < DRAIN_WAIT_MS) await turn();
    busy += performance.now() - start;
    got += received() - before;
  }
  return { received: got, seconds: busy / 1000 };
}

async function drain(seconds: number): Promise<Result[]> {
  const tx = sender();
  const fill = (ep: Endpoint) => (): void => { for (let i = 0; i < DRAIN; i++) tx.queue(payload, 0, SIZE, ep); tx.flush(); };

  const { rx, ep, count } = countingReceiver();
  const r = await drainRounds(seconds, fill(ep), count);
  const s = rx.stats;
  rx.close();

  const d = await dgramSocket();
  let dcount = 0;
  d.on('message', () => { dcount++; });
  const rd = await drainRounds(seconds, fill(endpoint(d.address().port)), () => dcount);
  d.close();
  tx.close();
  return [
    { name: 'native drain (recvmmsg)', sent: 0, ...r, batch: s.rxDatagrams / s.rxBatches },
    { name: 'dgram drain', sent: 0, ...rd },
  ];
}

async function together(seconds: number): Promise<Result[]> {
  const out: Result[] = [];
  for (const mode of ['send', 'queue'] as const) {
    const { rx, ep, count } = countingReceiver();
    const tx = sender();
    const t = await timed(seconds, mode === 'send'
      ? () => { for (let i = 0; i < BURST; i++) tx.send(payload, 0, SIZE, ep); }
      : () => { for (let i = 0; i < BURST; i++) tx.queue(payload, 0, SIZE, ep); tx.flush(); });
    out.push({ name: `native ${mode} + receive, one thread`, sent: tx.stats.txDatagrams, received: count(), seconds: t });
    tx.close();
    rx.close();
  }
  const rx = await dgramSocket();
  let received = 0;
  rx.on('message', () => { received++; });
  const tx = await dgramSocket();
  let sent = 0;
  const onSent = (err: Error | null): void => { if (!err) sent++; };
  const port = rx.address().port;
  const t = await timed(seconds, () => { for (let i = 0; i < BURST; i++) tx.send(payload, 0, SIZE, port, '127.0.0.1', onSent); });
  await turn();
  out.push({ name: 'dgram send + receive, one thread', sent, received, seconds: t });
  tx.close();
  rx.close();
  return out;
}

/** Minor GCs while `run` goes (GC entries arrive asynchronously: waited for). */
async function minorGcs(run: () => Promise<void> | void): Promise<{ gcs: number; seconds: number }> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as unknown as { detail?: { kind?: number } }).detail;
      if (detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 100));
  obs.disconnect();
  return { gcs: minor, seconds };
}

const ALLOC_DATAGRAMS = 1_000_000;
const ALLOC_RECEIVE = 200_000;

interface AllocResult { name: string; datagrams: number; gcs: number; seconds: number }

async function allocation(): Promise<AllocResult[]> {
  const out: AllocResult[] = [];
  const sink = blackhole();
  for (const sticky of [false, true]) {
    const ep = endpoint(sink.port);
    if (sticky) ep.source.set(parseIp('127.0.0.1') ?? new Uint8Array(16));
    const tx = sender({ offload: false });
    const burst = (): void => { for (let i = 0; i < BURST; i++) tx.queue(payload, 0, SIZE, ep); tx.flush(); };
    for (let i = 0; i < 2000; i++) burst(); // warm-up: optimized code, send queue allocated
    const r = await minorGcs(() => { for (let n = 0; n < ALLOC_DATAGRAMS; n += BURST) burst(); });
    out.push({ name: `queue+flush${sticky ? ', sticky source' : ''}`, datagrams: ALLOC_DATAGRAMS, ...r });
    tx.close();
  }
  sink.close();
  const { rx, ep, count } = countingReceiver();
  const tx = sender();
  const fill = (): void => { for (let i = 0; i < DRAIN; i++) tx.queue(payload, 0, SIZE, ep); tx.flush(); };
  let turns = 0;
  const rounds = async (n: number): Promise<void> => {
    for (let got = 0; got < n;) {
      const before = count();
      fill();
      const start = performance.now();
      while (count() - before < DRAIN && performance.now() - start < DRAIN_WAIT_MS) { await turn(); turns++; }
      got += DRAIN;
    }
  };
  await rounds(20_000); // warm-up
  const before = count();
  const turnsBefore = turns;
  const r = await minorGcs(() => rounds(ALLOC_RECEIVE));
  out.push({ name: `drain with recvmmsg (${turns - turnsBefore} loop turns)`, datagrams: count() - before, ...r });
  tx.close();
  rx.close();
  return out;
}

/** A dgram socket on 127.0.0.1 with the same 4 MiB buffers the native socket asks for. */
function dgramSocket(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => { s.off('error', reject); resolve(s); });
  });
}

const rate = (n: number, s: number): string => (n === 0 ? '-' : `${(n / s / 1000).toFixed(0)} k/s`);

async function main(): Promise<void> {
  const seconds = Math.min(Number(process.argv[2] ?? 1.5), 2);
  if (!(seconds > 0)) throw new Error('usage: bench-udp [seconds-per-case<=2]');
  const results = [...await sendOnly(seconds), ...await receiveOnly(seconds), ...await drain(seconds), ...await together(seconds)];
  console.log(`UDP loopback, ${SIZE}-byte datagrams, ${seconds} s per case`);
  console.log('case                                     sent/s      received/s  notes');
  for (const r of results) {
    const notes = [
      r.elu !== undefined ? `receiver busy ${(r.elu * 100).toFixed(0)}%` : '',
      r.batch !== undefined ? `mean batch ${r.batch.toFixed(1)}` : '',
    ].filter(Boolean).join(', ');
    console.log(`${r.name.padEnd(40)} ${rate(r.sent, r.seconds).padEnd(11)} ${rate(r.received, r.seconds).padEnd(11)} ${notes}`);
  }
  console.log('\nallocation (native socket)                          datagrams   minor GCs  datagrams/s');
  for (const a of await allocation()) {
    console.log(`${a.name.padEnd(52)} ${String(a.datagrams).padEnd(11)} ${String(a.gcs).padEnd(10)} ${rate(a.datagrams, a.seconds)}`);
  }
}

if (isMainThread) await main();
else await floodWorker();
