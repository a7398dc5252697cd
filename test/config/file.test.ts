// Files on disk: atomic replacement under kill -9, the cross-process lock, and editConfigFile.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/parse.js';
import { addPeer, editConfigFile, setKey, writeFileAtomic, writeFileAtomicSync } from '../../src/config/write.js';
import { withFileLock } from '../../src/config/lock.js';
import { ConfigError } from '../../src/config/errors.js';
import { bigConfig, indexedKey, key } from './helpers/fixtures.js';

const CHILD = fileURLToPath(new URL('./helpers/child.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wgts-file-'));
const live = new Set<ChildProcess>();

function child(args: string[]): ChildProcess {
  const c = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(c);
  c.on('exit', () => live.delete(c));
  return c;
}

/** Resolves when the child prints `line` (rejects on exit or after 10 s). */
function waitLine(c: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child did not print ${line}: ${err}`)), 10_000);
    c.stderr?.on('data', (d: Buffer) => { err += d; });
    c.stdout?.on('data', (d: Buffer) => {
      out += d;
      if (out.includes(`${line}\n`)) { clearTimeout(timer); resolve(); }
    });
    c.on('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited ${code} before ${line}: ${err}`)); });
  });
}

/** Resolves with the exit code (rejects after 60 s). */
function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (c.exitCode !== null) { resolve(c.exitCode); return; }
    let err = '';
    c.stderr?.on('data', (d: Buffer) => { err += d; });
    const timer = setTimeout(() => reject(new Error('child did not exit')), 60_000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 && err) process.stderr.write(err);
      resolve(code);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const temps = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

test('kill -9 during atomic writes: the file is always the old or the new text, and parses', async () => {
  const path = join(dir, 'big.conf');
  const PEERS = 4000;
  const variants = [bigConfig(PEERS, 0), bigConfig(PEERS, 1)];
  writeFileSync(path, variants[1], { mode: 0o600 });
  let interrupted = 0;
  const seen = [0, 0];
  for (let i = 0; i < 30; i++) {
    const c = child(['write-loop', path, String(PEERS)]);
    await waitLine(c, 'ready');
    await sleep(Math.random() * 40);
    c.kill('SIGKILL');
    await exited(c);
    const text = readFileSync(path, 'utf8');
    const which = variants.indexOf(text);
    assert.ok(which >= 0, `iteration ${i}: the file is neither variant (${text.length} bytes)`);
    seen[which]++;
    const r = parseConfig(text, path);
    assert.ok(r.ok && r.config.peers.length === PEERS);
    assert.is(statSync(path).mode & 0o777, 0o600);
    if (temps().length > 0) interrupted++;
  }
  // The kills did land inside writes (a temp file was left behind), and both variants were seen.
  console.log(`atomic write: 30 kills, ${interrupted} left a temp file mid-write, final contents ${seen.join('/')} (variant 0/1)`);
  assert.ok(interrupted > 0);
  assert.ok(seen[0] > 0 && seen[1] > 0);
  // The next write removes the temp files of dead writers.
  await writeFileAtomic(path, variants[0], 0o600);
  assert.equal(temps(), []);
});

test('the same kills do tear a plain fs.writeFile (the check above can fail)', async () => {
  const path = join(dir, 'naive.conf');
  const PEERS = 4000;
  const variants = [bigConfig(PEERS, 0), bigConfig(PEERS, 1)];
  let kills = 0;
  let torn = false;
  while (!torn && kills < 30) {
    const c = child(['naive-loop', path, String(PEERS)]);
    await waitLine(c, 'ready');
    await sleep(Math.random() * 40);
    c.kill('SIGKILL');
    await exited(c);
    kills++;
    torn = !variants.includes(readFileSync(path, 'utf8'));
  }
  console.log(`plain writeFile: torn file after ${kills} kill(s)`);
  assert.ok(torn);
});

test('writeFileAtomic applies the mode whatever the umask', async () => {
  const path = join(dir, 'mode.conf');
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(path, 'a', 0o644);
    assert.is(statSync(path).mode & 0o777, 0o644);
    await writeFileAtomic(path, 'b', 0o600);
    assert.is(statSync(path).mode & 0o777, 0o600);
    assert.is(readFileSync(path, 'utf8'), 'b');
  } finally {
    process.umask(old);
  }
});

test('writeFileAtomicSync: the mode whatever the umask, and dead writers\' temp files removed (live ones kept)', () => {
  const path = join(dir, 'sync.conf');
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const leftover = join(dir, `.sync.conf.${dead}.0a1b2c3d4e5f.tmp`);
  const live = join(dir, `.sync.conf.${process.pid}.ffffffffffff.tmp`);
  writeFileSync(leftover, 'x');
  writeFileSync(live, 'x');
  const old = process.umask(0o077);
  try {
    writeFileAtomicSync(path, 'a', 0o644);
    assert.is(statSync(path).mode & 0o777, 0o644);
    writeFileAtomicSync(path, Buffer.from('b'), 0o600);
    assert.is(statSync(path).mode & 0o777, 0o600);
    assert.is(readFileSync(path, 'utf8'), 'b');
  } finally {
    process.umask(old);
  }
  assert.not.ok(existsSync(leftover), 'the dead writer\'s temp file is gone');
  assert.ok(existsSync(live), 'a live writer\'s temp file stays');
  rmSync(live);
});

/** Runs two adders at once over one file and returns how many of their peers survived. */
async function twoWriters(mode: 'add-locked' | 'add-unlocked', file: string, each: number, holdMs: number): Promise<number> {
  const path = join(dir, file);
  writeFileSync(path, `[Interface]\nPrivateKey = ${key(1)}\n`, { mode: 0o600 });
  const a = child([mode, path, '0', String(each), String(holdMs)]);
  const b = child([mode, path, String(each), String(each), String(holdMs)]);
  assert.equal(await Promise.all([exited(a), exited(b)]), [0, 0]);
  const r = parseConfig(readFileSync(path, 'utf8'), path);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const keys = new Set(r.config.peers.map((p) => p.publicKey));
  for (let i = 0; i < 2 * each; i++) if (mode === 'add-locked') assert.ok(keys.has(indexedKey(i)), `peer ${i} lost`);
  return r.config.peers.length;
}

test('the lock prevents lost updates between two processes adding peers', async () => {
  const started = Date.now();
  assert.is(await twoWriters('add-locked', 'locked.conf', 25, 3), 50);
  const ms = Date.now() - started;
  // The same cycle without the lock does lose peers: the check above can fail.
  const unlocked = await twoWriters('add-unlocked', 'unlocked.conf', 25, 3);
  console.log(`lock: 2x25 locked adds kept 50 peers in ${ms} ms; unlocked kept ${unlocked} of 50`);
  assert.ok(unlocked < 50);
  assert.not.ok(existsSync(join(dir, 'locked.conf.lock')));
});

test('a held lock makes others wait, or time out; a killed holder\'s lock is recovered', async () => {
  const path = join(dir, 'held.conf');
  writeFileSync(path, '[Interface]\n', { mode: 0o600 });
  let holder = child(['hold', path, '700']);
  await waitLine(holder, 'locked');
  const t0 = Date.now();
  await withFileLock(path, () => undefined, { timeoutMs: 10_000 });
  const waited = Date.now() - t0;
  assert.ok(waited > 300, `waited only ${waited} ms for a lock held 700 ms`);
  await exited(holder);

  holder = child(['hold', path, '60000']);
  await waitLine(holder, 'locked');
  try {
    await withFileLock(path, () => undefined, { timeoutMs: 200 });
    assert.unreachable('the lock was held');
  } catch (e) {
    assert.match((e as Error).message, new RegExp(`timed out after 200 ms waiting for .*held\\.conf\\.lock \\(held by pid ${holder.pid}\\)`));
  }
  holder.kill('SIGKILL');
  await exited(holder);
  assert.ok(existsSync(`${path}.lock`), 'a killed holder leaves its lock file');
  const t1 = Date.now();
  assert.is(await withFileLock(path, () => 'got it', { timeoutMs: 5_000 }), 'got it');
  assert.ok(Date.now() - t1 < 1_000);
  assert.not.ok(existsSync(`${path}.lock`));
  assert.not.ok(existsSync(`${path}.lock.break`));
});

test('a lock naming a live pid with another start time (pid reused) is stale', async () => {
  const path = join(dir, 'reused.conf');
  writeFileSync(`${path}.lock`, `${process.pid} 1\n`);
  assert.is(await withFileLock(path, () => 7, { timeoutMs: 2_000 }), 7);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(`${path}.lock`, `${dead.stdout} -\n`);
  assert.is(await withFileLock(path, () => 8, { timeoutMs: 2_000 }), 8);
  // An unreadable token is not broken: it times out instead.
  writeFileSync(`${path}.lock`, 'garbage');
  try {
    await withFileLock(path, () => 9, { timeoutMs: 100 });
    assert.unreachable('garbage lock must not be broken');
  } catch (e) {
    assert.match((e as Error).message, /timed out after 100 ms/);
  }
  rmSync(`${path}.lock`);
});

test('editConfigFile: writes valid edits, makes files with keys private, refuses bad ones', async () => {
  const path = join(dir, 'edit.conf');
  const original = `# keep me\n[Interface]\nListenPort = 1\n`;
  writeFileSync(path, original, { mode: 0o644 });
  // No secrets: the mode stays.
  let r = await editConfigFile(path, (doc) => setKey(doc, 'Interface', 'ListenPort', '2'));
  assert.ok(r.ok);
  assert.is(readFileSync(path, 'utf8'), '# keep me\n[Interface]\nListenPort = 2\n');
  assert.is(statSync(path).mode & 0o777, 0o644);
  // A private key arrives: the file becomes 0600.
  r = await editConfigFile(path, (doc) => setKey(doc, 'Interface', 'PrivateKey', key(1)));
  assert.ok(r.ok && r.config.interface.privateKey === key(1));
  assert.is(statSync(path).mode & 0o777, 0o600);
  const good = readFileSync(path, 'utf8');
  const { ino } = statSync(path);
  // An edit whose result does not parse: errors of the edited text, file untouched.
  r = await editConfigFile(path, (doc) => setKey(doc, 'Interface', 'ListenPort', '99999'));
  assert.equal(r.ok ? [] : r.errors.map((e) => e.message), [`${path}:3: bad ListenPort: '99999' is not a port (0-65535)`]);
  // An edit that throws a ConfigError.
  r = await editConfigFile(path, (doc) => setKey(doc, { peer: 'nobody' }, 'Name', 'x'));
  assert.ok(!r.ok && r.errors[0] instanceof ConfigError && r.errors[0].code === 'no-such-peer');
  // A no-op edit does not rewrite the file.
  r = await editConfigFile(path, (doc) => doc);
  assert.ok(r.ok);
  assert.is(readFileSync(path, 'utf8'), good);
  assert.is(statSync(path).ino, ino);
  // A file that does not parse is reported, not edited.
  writeFileSync(path, '[Interface]\nBogus = 1\n');
  r = await editConfigFile(path, (doc) => addPeer(doc, { publicKey: key(2), allowedIPs: [], allow: [] }));
  assert.equal(r.ok ? [] : r.errors.map((e) => e.message), [`${path}:2: unknown key 'Bogus' in [Interface]`]);
  assert.is(readFileSync(path, 'utf8'), '[Interface]\nBogus = 1\n');
  assert.not.ok(existsSync(`${path}.lock`));
});

test.after(() => {
  for (const c of live) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
test('taking the lock sweeps temp files left by killed lockers, not those of live ones', async () => {
  const path = join(dir, 'sweep.conf');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  const leftovers = [`${path}.lock.${deadPid}.0a1b2c3d4e5f.tmp`, `${path}.lock.break.${deadPid}.0a1b2c3d4e5f.tmp`];
  const live = `${path}.lock.${process.pid}.ffffffffffff.tmp`;
  for (const f of [...leftovers, live]) writeFileSync(f, `${deadPid} -\n`);
  await withFileLock(path, () => undefined);
  for (const f of leftovers) assert.not.ok(existsSync(f), `${f} swept`);
  assert.ok(existsSync(live), 'a live process\'s temp file is left alone');
  rmSync(live);
});

test.run();
