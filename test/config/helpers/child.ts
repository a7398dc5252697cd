// A child process for the file tests (atomic write crash simulation, lock contention). Modes:
//   write-loop PATH PEERS            writeFileAtomic of two big variants, alternating, until killed;
//                                    prints "ready" after the first write
//   naive-loop PATH PEERS            the same with a plain fs.writeFile (the negative control)
//   add-locked PATH FIRST COUNT HOLD_MS    COUNT peers via editConfigFile, HOLD_MS inside each cycle
//   add-unlocked PATH FIRST COUNT HOLD_MS  the same cycle without the lock (the negative control)
//   hold PATH HOLD_MS                holds the lock for HOLD_MS; prints "locked" once it has it
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { withFileLock } from '../../../src/config/lock.js';
import { parseConfig } from '../../../src/config/parse.js';
import { addPeer, editConfigFile, formatDocument, writeFileAtomic } from '../../../src/config/write.js';
import type { PeerConfig } from '../../../src/config/model.js';
import { bigConfig, indexedKey } from './fixtures.js';

const [mode, path, ...rest] = process.argv.slice(2);
const num = (i: number): number => Number(rest[i]);
const sleepSync = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
const peer = (i: number): PeerConfig => ({ publicKey: indexedKey(i), name: `n${i}`, allowedIPs: [], allow: [] });

switch (mode) {
  case 'write-loop': {
    const variants = [bigConfig(num(0), 0), bigConfig(num(0), 1)];
    for (let i = 0; ; i++) {
      await writeFileAtomic(path, variants[i % 2], 0o600);
      if (i === 0) process.stdout.write('ready\n');
    }
  }
  case 'naive-loop': {
    const variants = [bigConfig(num(0), 0), bigConfig(num(0), 1)];
    for (let i = 0; ; i++) {
      await writeFile(path, variants[i % 2]);
      if (i === 0) process.stdout.write('ready\n');
    }
  }
  case 'add-locked':
    for (let i = num(0); i < num(0) + num(1); i++) {
      const r = await editConfigFile(path, (doc) => { sleepSync(num(2)); return addPeer(doc, peer(i)); });
      if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    }
    break;
  case 'add-unlocked':
    for (let i = num(0); i < num(0) + num(1); i++) {
      const r = parseConfig(readFileSync(path, 'utf8'), path);
      if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
      sleepSync(num(2));
      await writeFileAtomic(path, formatDocument(addPeer(r.doc, peer(i))), 0o600);
    }
    break;
  case 'hold':
    await withFileLock(path, async () => {
      process.stdout.write('locked\n');
      await new Promise((r) => setTimeout(r, num(0)));
    });
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
