// Child process of secrets.test.ts: two engines (the backend WGTS_CRYPTO selects) that get their
// static keys as UAPI-style hex text, run handshakes and data, then erase their sessions. Every
// secret the test must look for afterwards leaves on fd 3 as raw bytes (one kind byte + 32 key
// bytes, written straight from the buffer: no string, no copy stays here). Commands on stdin:
//   keys HEX_A HEX_B   set the static private keys, run everything, answer "ready"
//   snapshot PATH      write a heap snapshot (after a full GC), answer "written"
//   exit
// WGTS_TEST_LEAK=1 is the control: it deliberately keeps a base64 string of a static key, a hex
// string of a session key and a raw copy of an ephemeral key, which the test must find.

import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { writeHeapSnapshot } from 'node:v8';
import { secretBytes } from '../../src/crypto/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { keyFromHex, keyToBase64, keyToHex } from '../../src/crypto/keys.js';
import { DECAP_TUNNEL, WgEngine } from '../../src/noise/engine.js';
import { fullHandshake } from '../helpers/engines.js';
import { KIND_EPHEMERAL, KIND_SESSION } from '../helpers/secrets.js';

const KEYS_FD = 3;
const LEAK = process.env.WGTS_TEST_LEAK === '1';
const crypto = getCrypto();
/** The control's deliberate leaks (kept reachable from a global). */
const leaked: unknown[] = [];
(globalThis as { leaked?: unknown[] }).leaked = leaked;
let leakedEphemerals = 0;

function report(kind: number, key: Uint8Array): void {
  const rec = secretBytes(33);
  rec[0] = kind;
  rec.set(key, 1);
  writeSync(KEYS_FD, rec);
  rec.fill(0);
}

/** Engine randomness: fresh bytes; every 32-byte draw (an ephemeral private key) is reported. */
function random(n: number): Uint8Array {
  const b = secretBytes(n);
  crypto.randomFill(b);
  if (n === 32) {
    report(KIND_EPHEMERAL, b);
    if (LEAK && leakedEphemerals++ < 3) leaked.push(b.slice());
  }
  return b; // the engine copies it and zeroes this one
}

const SOURCE = Uint8Array.of(10, 0, 0, 1, 0xca, 0x6c);

function run(hexA: string, hexB: string): void {
  const clock = { wall: 1_700_000_000_000_000_000n };
  const wallClockNs = (): bigint => (clock.wall += 1_000_000_000n);
  const a = new WgEngine({ crypto, random, wallClockNs });
  const b = new WgEngine({ crypto, random, wallClockNs });
  for (const [engine, text] of [[a, hexA], [b, hexB]] as const) {
    const key = keyFromHex(text);
    if (key === null) throw new Error('bad key text');
    engine.setPrivateKey(key);
    if (LEAK && engine === a) leaked.push(keyToBase64(key));
    key.fill(0); // as the UAPI parser does once the engine has its copy
  }
  const ia = a.addPeer(b.publicKey!);
  const ib = b.addPeer(a.publicKey!);
  const scratch = new Uint8Array(256);
  const pkt = new Uint8Array(16 + 100 + 32);
  let now = 0;
  for (let round = 0; round < 12; round++) {
    now += 6000;
    fullHandshake(a, b, ia, now, scratch, SOURCE);
    for (let i = 0; i < 20; i++) {
      pkt.fill(0);
      pkt[16] = 0x45;
      pkt[19] = 100;
      const n = a.encapsulate(ia, pkt, 16, 100, now, pkt, 0);
      if (b.decapsulate(pkt, 0, n, SOURCE, now, pkt, 16) !== DECAP_TUNNEL) throw new Error('data failed');
    }
    for (const [engine, id] of [[a, ia], [b, ib]] as const) {
      const kp = engine.internalPeer(id)!.current!;
      report(KIND_SESSION, kp.sendKey);
      report(KIND_SESSION, kp.recvKey);
      if (LEAK && round === 0 && engine === a) leaked.push(keyToHex(kp.sendKey));
    }
  }
  // Erase every session (as on peer removal); the static keys stay in use.
  a.removePeer(ia);
  b.removePeer(ib);
  (globalThis as { engines?: unknown }).engines = [a, b];
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, x, y] = line.split(' ');
  if (cmd === 'keys') {
    run(x!, y!);
    process.stdout.write('ready\n');
  } else if (cmd === 'snapshot') {
    writeHeapSnapshot(x!);
    process.stdout.write('written\n');
  } else if (cmd === 'exit') {
    process.exit(0);
  }
});
