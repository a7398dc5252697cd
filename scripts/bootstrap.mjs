#!/usr/bin/env node
// Makes a fresh clone on a fresh machine runnable: `node scripts/bootstrap.mjs test|lab|bench`
// first makes sure the system programs that command needs are there (scripts/prereqs.mjs: as root
// on Debian/Ubuntu it installs the missing packages with apt-get, printing the line it runs;
// otherwise it stops and names them), then installs npm dependencies and builds the native addon
// and the TypeScript sources when they are missing or stale. Quick when nothing changed.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NEEDS, ensurePrograms } from './prereqs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const what = process.argv[2] ?? 'test';
if (!(what in NEEDS)) {
  console.error(`usage: node scripts/bootstrap.mjs ${Object.keys(NEEDS).join('|')}`);
  process.exit(2);
}
if (!ensurePrograms(what)) process.exit(1);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

function newest(dir, exts) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'build' && e.name !== 'node_modules') t = Math.max(t, newest(p, exts)); }
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

if (!existsSync(join(root, 'node_modules', 'typescript'))) {
  console.log('[bootstrap] installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

const addon = join(root, 'native', 'build', 'Release', 'wgts_native.node');
if (existsSync(join(root, 'native', 'binding.gyp'))) {
  const src = newest(join(root, 'native'), ['.cc', '.h', '.gyp']);
  if (!existsSync(addon) || statSync(addon).mtimeMs < src) {
    console.log('[bootstrap] building native addon');
    // npm run gives node-gyp its bundled copy and the configured nodedir (no header downloads).
    run('npm', ['run', '--silent', 'build:native']);
  }
}

console.log('[bootstrap] compiling TypeScript');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);

// npm makes bin files executable on install; a plain build has to do it itself (wg-quick runs
// wgts-go directly through WG_QUICK_USERSPACE_IMPLEMENTATION).
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const rel of Object.values(pkg.bin ?? {})) {
  const p = join(root, rel);
  if (existsSync(p)) chmodSync(p, 0o755);
}
