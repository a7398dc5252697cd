#!/usr/bin/env node
// `npm run bench [-- name...]`: runs the benchmarks one after another and prints their tables.
// Names: crypto, noise, router, env, udp, tun, tunnel, rtt (the last three need root: namespaces;
// rtt also perf), store, registry (root: etcd in a namespace).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const all = ['crypto', 'noise', 'router', 'env', 'udp', 'tun', 'tunnel', 'rtt', 'store', 'registry'];
const picked = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = 0;
for (const name of picked) {
  const script = join(root, 'dist', 'scripts', `bench-${name}.js`);
  if (!existsSync(script)) { console.error(`no benchmark named ${name} (${all.join(', ')})`); failed++; continue; }
  console.log(`\n=== bench ${name} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', script], { cwd: root, stdio: 'inherit', timeout: 10 * 60_000 });
  if (r.status !== 0) { console.error(`bench ${name} failed (${r.status ?? r.signal})`); failed++; }
}
process.exit(failed ? 1 : 0);
