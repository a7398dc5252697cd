#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own process with a time limit,
// so one hanging or crashing file cannot take the suite down, then prints one closing line
// "N passed, N failed". Arguments filter files by substring: `npm test -- router noise`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');
const filters = process.argv.slice(2);
const FILE_LIMIT_MS = Number(process.env.WGTS_TEST_FILE_TIMEOUT_MS ?? 300_000);

function collect(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...collect(p));
    // Only files compiled from a test source that still exists: a renamed or deleted test leaves
    // its old .js in dist/ (tsc never removes outputs), and it must not run.
    else if (e.name.endsWith('.test.js') && existsSync(join(root, relative(join(root, 'dist'), p)).replace(/\.js$/, '.ts'))) out.push(p);
  }
  return out;
}

/**
 * Namespaces are named `wgts-<pid>-...` by the process that made them (src/io/netns.ts); a test
 * file killed before its cleanup ran leaves them behind: remove them with what runs inside.
 */
function removeLeftovers(pid) {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns || !ns.startsWith(`wgts-${pid}-`)) continue;
    const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split(/\s+/).filter(Boolean);
    for (const p of pids) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
    spawnSync('ip', ['netns', 'del', ns]);
    console.log(`[test] removed namespace ${ns} left by a stopped test file`);
  }
}

/**
 * What a failed file said about its failures, for the closing summary (a CI log is often cut to
 * its end): each uvu "FAIL" line with the two lines after it, a time-limit stop, or the exit.
 */
function failureLines(clean, code, signal) {
  const lines = clean.split('\n');
  const out = [];
  for (let i = 0; i < lines.length && out.length < 30; i++) {
    if (/^\s+FAIL\s/.test(lines[i])) out.push(...lines.slice(i, i + 3).map((l) => l.trim()).filter(Boolean).map((l) => l.slice(0, 300)));
    else if (lines[i].startsWith('[test] ') && lines[i].includes('exceeded')) out.push(lines[i]);
  }
  if (out.length === 0) out.push(`exited with ${signal ?? `code ${code}`}: ${lines.filter(Boolean).slice(-3).join(' | ').slice(0, 300)}`);
  return out;
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    let killer;
    const timer = setTimeout(() => {
      out += `\n[test] ${relative(root, file)} exceeded ${FILE_LIMIT_MS} ms, stopped\n`;
      // SIGTERM first so the file's own cleanup (namespaces, daemons) runs; then SIGKILL.
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      killer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    }, FILE_LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      removeLeftovers(child.pid);
      const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
      const num = (label) => { const m = clean.match(new RegExp(`${label}:\\s+(\\d+)`)); return m ? Number(m[1]) : null; };
      const total = num('Total'); const passed = num('Passed'); const skipped = num('Skipped') ?? 0;
      let p = passed ?? 0; let f = total !== null && passed !== null ? total - passed - skipped : 0;
      if (total === null || code !== 0 || signal) f = Math.max(f, 1);
      if (total === 0) f = Math.max(f, 1); // a file that ran no test is a defect
      resolve({ file: relative(root, file), passed: p, failed: f, skipped, ms: Date.now() - started, why: f ? failureLines(clean, code, signal) : [] });
    });
  });
}

const files = collect(testDir).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) { console.error('no test files found under dist/test (run the build first)'); process.exit(1); }
const results = [];
for (const f of files) results.push(await runFile(f));
let passed = 0, failed = 0, skipped = 0;
console.log('\nper file:');
for (const r of results) {
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  console.log(`  ${r.failed ? 'FAIL' : 'ok  '} ${r.file}  ${r.passed} passed, ${r.failed} failed  (${(r.ms / 1000).toFixed(1)} s)`);
}
const failedFiles = results.filter((r) => r.failed);
if (failedFiles.length) {
  console.log('\nfailures:');
  for (const r of failedFiles) {
    console.log(`  ${r.file}`);
    for (const l of r.why) console.log(`    ${l}`);
  }
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
