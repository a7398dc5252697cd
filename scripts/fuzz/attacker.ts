// The attacker process of `npm run fuzz` (started by run.ts inside the attacker's namespace):
// `node attacker.js SPEC.json` sends the datagrams of corpus.ts (mode flood: `count` of them as
// fast as the socket takes them) or replays captured valid data messages (mode replay: `rounds`
// times each, paced at `rate` per second) to the target, through the native UDP socket (sendmmsg
// batches), bounded by `seconds`. Prints one JSON line: what the kernel took, per category.
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { getCrypto } from '../../src/crypto/index.js';
import { makeEndpoint, parseIp } from '../../src/device/endpoint.js';
import { UdpSocket } from '../../src/io/udp.js';
import { CATEGORY_NAMES, Corpus, type Category } from './corpus.js';

export interface AttackSpec {
  mode: 'flood' | 'replay';
  host: string;
  port: number;
  /** flood: datagrams the kernel must take before stopping. */
  count: number;
  /** replay: how often each captured message is sent again. */
  rounds: number;
  /** replay: datagrams per second (paced so the target's socket buffer never overflows). */
  rate: number;
  /** Hard time limit. */
  seconds: number;
  seed: number;
  /** base64, or null. */
  targetPublicKey: string | null;
  liveIndices: number[];
  /** base64 of each captured valid data message. */
  captured: string[];
  initiation: string | null;
}

export interface AttackResult {
  /** Datagrams the kernel took. */
  sent: number;
  /** Datagrams the socket refused (send buffer full), not counted in `sent`. */
  refused: number;
  elapsedMs: number;
  byCategory: Record<string, number>;
  /** Datagrams the target sent back (cookie replies). */
  received: number;
  /** True when the time limit ended the run before `count` (or all rounds) were sent. */
  timedOut: boolean;
}

const BATCH = 63; // below the addon's 64-datagram queue, so flush() sends each batch as one

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

async function attack(spec: AttackSpec): Promise<AttackResult> {
  const addr = parseIp(spec.host);
  if (addr === null) throw new Error(`bad target address ${spec.host}`);
  const ep = makeEndpoint(addr, spec.port);
  const sock = new UdpSocket();
  let received = 0;
  sock.onReceive(() => { received++; });
  sock.open(0);
  const byCategory: Record<string, number> = Object.fromEntries(CATEGORY_NAMES.map((c) => [c, 0]));
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  let sent = 0;
  let timedOut = false;
  const taken = (): number => sock.stats.txDatagrams;
  if (spec.mode === 'flood') {
    const corpus = new Corpus({
      seed: spec.seed,
      targetPublicKey: spec.targetPublicKey === null ? null : b64(spec.targetPublicKey),
      liveIndices: spec.liveIndices,
      captured: spec.captured.map(b64),
      initiation: spec.initiation === null ? null : b64(spec.initiation),
    }, getCrypto());
    const buf = new Uint8Array(2048);
    const cats: Category[] = new Array<Category>(BATCH);
    while (sent < spec.count) {
      if (performance.now() > deadline) { timedOut = true; break; }
      const n = Math.min(BATCH, spec.count - sent);
      for (let i = 0; i < n; i++) {
        const len = corpus.next(buf);
        cats[i] = corpus.category;
        sock.queue(buf, 0, len, ep);
      }
      const before = taken();
      sock.flush();
      const ok = taken() - before;
      for (let i = 0; i < ok; i++) byCategory[cats[i] as Category]++;
      sent += ok;
      if (ok < n) await yieldToLoop(); // the send buffer is full: let the kernel drain it
      else if ((sent & 0xffff) < BATCH) await yieldToLoop(); // now and then, for the replies
    }
  } else {
    const msgs = spec.captured.map(b64);
    const perBatch = Math.max(1, Math.min(BATCH, Math.floor(spec.rate / 1000)));
    let planned = 0;
    for (let round = 0; round < spec.rounds && !timedOut; round++) {
      for (let i = 0; i < msgs.length; i += perBatch) {
        if (performance.now() > deadline) { timedOut = true; break; }
        const n = Math.min(perBatch, msgs.length - i);
        for (let j = 0; j < n; j++) {
          const m = msgs[i + j] as Uint8Array;
          sock.queue(m, 0, m.length, ep);
        }
        const before = taken();
        sock.flush();
        sent += taken() - before;
        planned += n;
        const due = started + (planned / spec.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
    }
    byCategory.replay = sent;
  }
  await sleep(200); // replies still on their way
  const refused = sock.stats.txDropsFull;
  sock.close();
  return { sent, refused, elapsedMs: Math.round(performance.now() - started), byCategory, received, timedOut };
}

const specPath = process.argv[2];
if (specPath === undefined) {
  process.stderr.write('usage: attacker.js SPEC.json\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as AttackSpec;
process.stdout.write(`${JSON.stringify(await attack(spec))}\n`);
