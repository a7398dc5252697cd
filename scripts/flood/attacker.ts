// The attacker of the handshake-flood run (scripts/flood/run.ts), started inside its namespace:
// `node attacker.js SPEC.json` sends handshake initiations with a VALID mac1 (anyone who knows
// the target's public key can compute it) as fast as the kernel takes them, or at `rate` per
// second, from `ports` source ports (one native UDP socket each, sendmmsg batches), until `seconds`
// have passed or SIGTERM. The initiations come from a pool of distinct random ones (each would
// cost the target two X25519 if it processed it); mac2 is zero, as from a host that ignores the
// cookie replies. Replies are counted, not read further. Prints one JSON line (AttackStats).
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { getCrypto } from '../../src/crypto/index.js';
import { makeEndpoint, parseIp } from '../../src/device/endpoint.js';
import { UdpSocket } from '../../src/io/udp.js';
import { INITIATION_SIZE, INIT_OFF_MAC1, LABEL_MAC1 } from '../../src/noise/constants.js';

export interface FloodSpec {
  host: string;
  port: number;
  /** Base64 public key of the target. */
  targetPublicKey: string;
  /** Source ports (sockets) to send from. */
  ports: number;
  /** Datagrams per second; 0 = as fast as the kernel takes them. */
  rate: number;
  /** Hard time limit. */
  seconds: number;
  /** Stop after this many datagrams (0: no limit). */
  count?: number;
}

export interface AttackStats {
  /** Initiations the kernel took. */
  sent: number;
  elapsedMs: number;
  /** Datagrams that came back (cookie replies). */
  replies: number;
}

const POOL = 4096;
const BATCH = 63; // below the addon's 64-datagram queue, so flush() sends each batch as one

/** `POOL` random initiations with a valid mac1 for `targetPublicKey`, back to back. */
export function initiationPool(targetPublicKey: Uint8Array, count = POOL): Uint8Array {
  const crypto = getCrypto();
  const key = crypto.hash(LABEL_MAC1, targetPublicKey);
  const pool = crypto.randomBytes(count * INITIATION_SIZE);
  for (let i = 0; i < count; i++) {
    const m = pool.subarray(i * INITIATION_SIZE, (i + 1) * INITIATION_SIZE);
    m[0] = 1; m[1] = 0; m[2] = 0; m[3] = 0;
    m.set(crypto.mac(key, m.subarray(0, INIT_OFF_MAC1)), INIT_OFF_MAC1);
    m.fill(0, INIT_OFF_MAC1 + 16);
  }
  return pool;
}

async function flood(spec: FloodSpec): Promise<AttackStats> {
  const addr = parseIp(spec.host);
  if (addr === null) throw new Error(`bad target address ${spec.host}`);
  const ep = makeEndpoint(addr, spec.port);
  const pool = initiationPool(new Uint8Array(Buffer.from(spec.targetPublicKey, 'base64')));
  let replies = 0;
  const socks: UdpSocket[] = [];
  for (let i = 0; i < spec.ports; i++) {
    const s = new UdpSocket({ batch: 64 });
    s.onReceiveBatch((b) => { replies += b.count; });
    s.open(0);
    socks.push(s);
  }
  let stop = false;
  process.on('SIGTERM', () => { stop = true; });
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  let sent = 0;
  let next = 0;
  let turn = 0;
  const limit = spec.count !== undefined && spec.count > 0 ? spec.count : Infinity;
  while (!stop && sent < limit) {
    const now = performance.now();
    if (now > deadline) break;
    if (spec.rate > 0 && sent > ((now - started) / 1000) * spec.rate) { await sleep(1); continue; }
    const s = socks[turn++ % socks.length]!;
    const n = Math.min(BATCH, limit - sent);
    for (let i = 0; i < n; i++) {
      s.queue(pool, next * INITIATION_SIZE, INITIATION_SIZE, ep);
      next = (next + 1) % POOL;
    }
    const ok = s.flush();
    sent += ok;
    if (ok < n || (turn & 63) === 0) await yieldToLoop(); // send buffer full, or now and then for the timers and replies
  }
  const elapsedMs = Math.round(performance.now() - started);
  for (const s of socks) s.close();
  return { sent, elapsedMs, replies };
}

const specPath = process.argv[2];
if (specPath !== undefined && process.argv[1]?.endsWith('attacker.js')) {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as FloodSpec;
  process.stdout.write(`${JSON.stringify(await flood(spec))}\n`);
}
