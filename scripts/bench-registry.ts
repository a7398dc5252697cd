// `npm run bench -- registry` (root: a namespace): what a gateway in etcd costs against one in a
// file. A one-member etcd is started in a namespace of its own (on its loopback, data in a temp
// dir) and the measuring runs inside that namespace: the same in-process calls as `bench store` on
// a gateway with 250 laptops, against the file and against the registry (each registry call opens a
// client, reads PREFIX, commits one transaction and closes, as a CLI call does); 20 `peer add`s
// at once (transactions that conflict and retry); and the watch latency a running gateway sees:
// from an edit's commit to the registry source telling the runtime (RegistrySource, debounce
// included) with the peer in its text. Medians of repeated calls.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addPeer, initGateway } from '../src/gateway/onboard.js';
import { RegistrySource } from '../src/gateway/registry/source.js';
import { Netns } from '../src/io/netns.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { median } from '../test/helpers/measure.js';
import { STORE_PEERS as PEERS, storeCosts } from './store-costs.js';

async function inner(base: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-registry-'));
  try {
    const file = await storeCosts(join(dir, 'bench.conf'), { list: 10, set: 5 }, 'bench');
    const reg = await storeCosts(`${base}/bench`, { list: 10, set: 5 }, 'bench');
    const rows = ['peer add (10 peers)', `peer add (${PEERS - 10} peers)`, `peer list (${PEERS})`, 'peer disable', 'gateway set --endpoint'];
    console.log(`gateway with ${PEERS} peers: median ms per call, in process (a CLI call adds node's start-up and, for etcd, loading the client: ~0.3 s)`);
    console.log('| operation | file | etcd |\n|---|---|---|');
    rows.forEach((r, i) => console.log(`| ${r} | ${(file[i] ?? NaN).toFixed(1)} | ${(reg[i] ?? NaN).toFixed(1)} |`));

    const race = `${base}/race`;
    await initGateway(race, { address: '10.123.0.1/22', networks: ['10.124.0.0/24'], endpoint: 'vpn.example.com:51820', name: 'race' });
    const t0 = performance.now();
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => addPeer(race, `c${i}`)));
    const ms = performance.now() - t0;
    console.log(`\n20 peer adds at once (one process, 20 clients): ${ms.toFixed(0)} ms in all, ${new Set(got.map((g) => g.address)).size} distinct addresses`);

    const src = await RegistrySource.open(`${base}/bench`, 'bench');
    let notified: (() => void) | null = null;
    src.watch(() => notified?.(), () => undefined);
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const seen = new Promise<void>((res) => { notified = res; });
      await addPeer(`${base}/bench`, `w${i}`);
      const t = performance.now();
      await seen;
      const r = await src.read();
      if (!r.ok || !r.text.includes(`Name = w${i}\n`)) throw new Error(`w${i} is not in the watched state`);
      lat.push(performance.now() - t);
    }
    await src.close();
    console.log(`watch latency, edit committed -> running gateway's source has it: median ${median(lat).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (20 edits; includes the 20 ms debounce)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--inner') {
  await inner(process.argv[3] ?? '');
  process.exit(0);
} else {
  const ns = new Netns('bench-reg');
  const etcd = await startEtcd(ns, '127.0.0.1', 23795);
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, fileURLToPath(import.meta.url), '--inner', etcd.url('wgts')], { stdio: 'inherit', timeout: 9 * 60_000 });
    if (r.status !== 0) process.exitCode = 1;
  } finally {
    await etcd.remove();
    ns.delete();
  }
}
