// Secrets leave no copies (issue 10, section 5): after handshakes, data and the erasure of every
// session, a child process running two engines is searched for its private keys, ephemeral keys
// and session keys, on each backend:
// - its heap snapshot (live JS strings) holds none of them as hex, base64 or base64url;
// - its memory (/proc/PID/mem: JS heap, off-heap buffers, malloc arenas, OpenSSL, stacks, freed
//   memory) holds each static private key exactly once (the engine's own copy, still in use) and
//   no ephemeral or session key at all (native backend; see the pure backend's note below).
// A control child that deliberately keeps copies proves that both searches find what is there.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backends } from '../../src/crypto/index.js';
import { generatePrivateKey, keyToHex } from '../../src/crypto/keys.js';
import { countInMemory, findInSnapshot, KIND_EPHEMERAL, KIND_SESSION, needleOf } from '../helpers/secrets.js';
import { repoRoot } from '../helpers/vectors.js';

const CHILD = join(repoRoot(), 'dist', 'test', 'noise', 'secrets-child.js');

interface Run {
  readonly child: ChildProcess;
  readonly statics: Uint8Array[];
  readonly ephemerals: Uint8Array[];
  readonly sessions: Uint8Array[];
  readonly snapshot: string;
  readonly dir: string;
}

/** Reads stdout until `want` arrives as a line. */
function waitLine(out: Readable, want: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (d: Buffer): void => {
      acc += d.toString();
      if (acc.split('\n').includes(want)) {
        out.off('data', onData);
        resolve();
      }
    };
    out.on('data', onData);
    out.once('close', () => reject(new Error(`child closed before "${want}"`)));
  });
}

async function runChild(backend: string, leak: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-secrets-'));
  const child = spawn(process.execPath, [CHILD], {
    stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
    env: { ...process.env, WGTS_CRYPTO: backend, WGTS_TEST_LEAK: leak ? '1' : '0' },
  });
  const records: Buffer[] = [];
  (child.stdio[3] as Readable).on('data', (d: Buffer) => records.push(d));
  const statics = [generatePrivateKey(backends.native), generatePrivateKey(backends.native)];
  const stdin = child.stdin as Writable;
  const ready = waitLine(child.stdout!, 'ready');
  stdin.write(`keys ${keyToHex(statics[0]!)} ${keyToHex(statics[1]!)}\n`);
  await ready;
  const snapshot = join(dir, 'child.heapsnapshot');
  const written = waitLine(child.stdout!, 'written');
  stdin.write(`snapshot ${snapshot}\n`);
  await written;
  const all = Buffer.concat(records);
  assert.is(all.length % 33, 0, 'whole key records');
  const ephemerals: Uint8Array[] = [];
  const sessions: Uint8Array[] = [];
  for (let off = 0; off < all.length; off += 33) {
    const key = new Uint8Array(all.subarray(off + 1, off + 33));
    if (all[off] === KIND_EPHEMERAL) ephemerals.push(key);
    else if (all[off] === KIND_SESSION) sessions.push(key);
  }
  return { child, statics, ephemerals, sessions, snapshot, dir };
}

function finish(r: Run): void {
  (r.child.stdin as Writable).write('exit\n');
  if (r.child.exitCode === null) setTimeout(() => r.child.kill('SIGKILL'), 2000).unref();
  rmSync(r.dir, { recursive: true, force: true });
}

function labelled(prefix: string, keys: readonly Uint8Array[]): Map<string, Uint8Array> {
  return new Map(keys.map((k, i) => [`${prefix} ${i}`, k]));
}

for (const backend of ['native', 'pure'] as const) {
  test(`${backend}: no private, ephemeral or session key in the heap snapshot; in memory only the static keys in use`, async () => {
    const r = await runChild(backend, false);
    try {
      assert.ok(r.ephemerals.length >= 24, `ephemeral keys reported: ${r.ephemerals.length}`);
      assert.ok(r.sessions.length >= 48, `session keys reported: ${r.sessions.length}`);
      const keys = new Map([...labelled('static', r.statics), ...labelled('ephemeral', r.ephemerals), ...labelled('session', r.sessions)]);
      assert.equal(findInSnapshot(r.snapshot, keys), [], 'key text in the heap snapshot');
      const counts = countInMemory(r.child.pid!, [...r.statics, ...r.ephemerals, ...r.sessions].map(needleOf));
      assert.equal(counts.slice(0, 2), [1, 1], 'each static private key exactly once in memory (the engine\'s copy)');
      const lingering = (keys: readonly Uint8Array[], from: number): number => keys.filter((_, i) => counts[from + i]! > 0).length;
      const eph = lingering(r.ephemerals, 2);
      const ses = lingering(r.sessions, 2 + r.ephemerals.length);
      if (backend === 'native') {
        assert.is(eph, 0, 'ephemeral private keys left in memory');
        assert.is(ses, 0, 'erased session keys left in memory');
      } else {
        // tweetnacl's scalar multiplication copies the scalar into temporaries it never clears;
        // everything of wgts's own (ChaCha20-Poly1305, BLAKE2s, KDF, handshake state) is zeroed.
        assert.is(ses, 0, 'erased session keys left in memory');
        console.log(`  pure backend: ${eph} of ${r.ephemerals.length} ephemeral keys still in freed JS memory (tweetnacl temporaries)`);
      }
    } finally {
      finish(r);
    }
  });
}

test('control: a child that keeps copies is caught by both searches', async () => {
  const r = await runChild('native', true);
  try {
    const found = findInSnapshot(r.snapshot, new Map([...labelled('static', r.statics), ...labelled('session', r.sessions)]));
    assert.ok(found.some((f) => f.startsWith('static 0')), `the leaked base64 of static key 0 is found (${found.join(', ')})`);
    assert.ok(found.some((f) => f.startsWith('session ')), `the leaked hex of a session key is found (${found.join(', ')})`);
    const counts = countInMemory(r.child.pid!, r.ephemerals.slice(0, 3).map(needleOf));
    assert.ok(counts.every((c) => c >= 1), `the leaked raw ephemeral keys are found in memory: ${counts.join(', ')}`);
  } finally {
    finish(r);
  }
});

test.run();
