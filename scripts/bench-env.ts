// Project-variables benchmark: what one `wgts env` costs the gateway. Over loopback (no root, no
// tunnel), with the real service, store and an env file of 50 variables (64-byte values):
//   - requests answered per second, each on a new connection as `wgts env` makes it (client and
//     server in this one process, so the figure bounds the gateway's cost from above);
//   - the store's snapshot when nothing is due (the common case: a file is looked at again at most
//     once a second) and when a file is read and parsed again (a reload, an edit);
//   - the caller check's flow-table lookup (FlowTable.hasFlow) in a table holding 50k flows.
// Each figure is the best of 3 rounds: on a shared machine other load only ever slows a round down.
//
// Run: npx tsc -p tsconfig.json && node dist/scripts/bench-env.js   (about 10 s)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIP } from '../src/config/ip.js';
import { ENV_PATH, EnvService } from '../src/gateway/env/service.js';
import { EnvStore } from '../src/gateway/env/store.js';
import { FlowTable } from '../src/router/flows.js';
import { PROTO_TCP } from '../src/router/packet.js';
import { packet, SYN, TCP } from '../test/helpers/packets.js';

const ROUNDS = 3;
const KEY = 'A'.repeat(43) + '=';
const quiet = { info: (): void => undefined, error: (): void => undefined, verbose: (): void => undefined };

function best(f: () => number): number {
  let b = 0;
  for (let i = 0; i < ROUNDS; i++) b = Math.max(b, f());
  return b;
}

async function bestAsync(f: () => Promise<number>): Promise<number> {
  let b = 0;
  for (let i = 0; i < ROUNDS; i++) b = Math.max(b, await f());
  return b;
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: ENV_PATH, agent: false, headers: { Host: `127.0.0.1:${port}` } }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => { n += d.length; });
      res.on('end', () => resolve(n));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-env-'));
  try {
    const file = join(dir, 'app.env');
    writeFileSync(file, Array.from({ length: 50 }, (_, i) => `VAR_${i}=${'v'.repeat(64)}\n`).join(''), { mode: 0o600 });
    const store = new EnvStore(quiet);
    store.configure([{ kind: 'file', service: 'app', path: file }], join(dir, 'gw0.conf'));
    const svc = new EnvService({ store, locate: () => ({ ok: true, publicKey: KEY }), clients: ['127.0.0.0/8'], log: quiet });
    svc.setPeers([{ name: 'bench', publicKey: KEY, allowedIPs: [], allow: [], env: ['app_*'] }]);
    const port = await svc.listen(['127.0.0.1'], 0);
    let bytes = 0;
    const N = 1000;
    const rps = await bestAsync(async () => {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) bytes = await get(port);
      return N / ((performance.now() - t0) / 1000);
    });
    await svc.close();

    const M = 200_000;
    const cached = await bestAsync(async () => {
      const t0 = performance.now();
      for (let i = 0; i < M; i++) await store.snapshot();
      return M / ((performance.now() - t0) / 1000);
    });
    const R = 2000;
    const reread = await bestAsync(async () => {
      const t0 = performance.now();
      for (let i = 0; i < R; i++) {
        store.configure([{ kind: 'file', service: 'app', path: file }], join(dir, 'gw0.conf'));
        await store.snapshot();
      }
      return R / ((performance.now() - t0) / 1000);
    });

    const flows = new FlowTable(65536, 1);
    for (let i = 0; i < 50_000; i++) {
      const p = packet({ src: `10.123.${(i >> 8) & 255}.${i & 255}`, dst: '10.124.0.10', proto: TCP, sport: 1024 + (i % 50000), dport: 443, flags: SYN });
      flows.parse(i % 200, p, 0, p.length, true);
      if (flows.find(0) < 0) flows.insert(0);
    }
    const laptop = parseIP('10.123.0.7') as Uint8Array;
    const gw = parseIP('10.123.0.1') as Uint8Array;
    const L = 2_000_000;
    let hits = 0;
    const lookups = best(() => {
      const t0 = performance.now();
      for (let i = 0; i < L; i++) if (flows.hasFlow(i & 127, PROTO_TCP, laptop, 40000 + (i & 1023), gw, 5380, 1)) hits++;
      return L / ((performance.now() - t0) / 1000);
    });

    console.log(`answer: ${bytes} bytes (50 variables granted)`);
    console.log('| what | per second | each |');
    console.log('|---|---|---|');
    const row = (what: string, perS: number): void => console.log(`| ${what} | ${Math.round(perS).toLocaleString('en-US')} | ${(1e6 / perS).toFixed(perS > 1e5 ? 3 : 1)} µs |`);
    row('GET /v1/env on a new connection (client + service, loopback)', rps);
    row('store snapshot, nothing due', cached);
    row('store snapshot, env file read and parsed again', reread);
    row('flow-table caller check (hasFlow, 50k flows)', lookups);
    if (hits !== 0) console.log(`(unexpected hits: ${hits})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
