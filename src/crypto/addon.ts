// The crypto layer's use of the project's native addon (native/aead.cc): in-place ChaCha20-Poly1305
// for WireGuard data messages on the OpenSSL that Node exports. The crypto layer loads the .node
// file itself (src/io is a higher layer it must not import); require() caches it by path, so the
// io edges and this module share one instance. Whether the native backend uses it is decided here:
// the addon must load, carry both functions and pass a known-answer self-test, and the
// environment variable WGTS_AEAD may force either path.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from './kat.js';

/** Name of the environment variable choosing the data-message AEAD of the native backend. */
export const AEAD_ENV = 'WGTS_AEAD';

/** Signature of dataSeal / dataOpen (semantics: CryptoBackend.dataSeal / dataOpen in types.ts). */
export type DataAeadFn = (key: Uint8Array, counterLo: number, counterHi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number) => number;

/** Signature of dataSealBatch (semantics: CryptoBackend.dataSealBatch in types.ts). */
export type DataSealBatchFn = (key: Uint8Array, counterLo: number, counterHi: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number) => number;
/** Signature of dataOpenBatch (semantics: CryptoBackend.dataOpenBatch in types.ts). */
export type DataOpenBatchFn = (key: Uint8Array, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, counters: Uint32Array, start: number, count: number, results: Int32Array) => number;

/** The addon's data-message AEAD: one message per call, or a train of them. */
export interface DataAead {
  readonly dataSeal: DataAeadFn;
  readonly dataOpen: DataAeadFn;
  readonly dataSealBatch: DataSealBatchFn;
  readonly dataOpenBatch: DataOpenBatchFn;
  /** Erases the key and plaintext the addon's cipher contexts keep from the last call. */
  readonly dataForget: () => void;
}

/** Outcome of loading and self-testing the addon's AEAD: usable, or why not. */
export type AddonAeadProbe = { readonly ok: true; readonly aead: DataAead } | { readonly ok: false; readonly reason: string };

const ADDON_PATH = ['native', 'build', 'Release', 'wgts_native.node'] as const;

function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const h = fromHex;

/**
 * ChaCha20-Poly1305 vector 5 of WireGuard's zinc self-test (shared/vectors): one byte, empty AAD
 * and a counter with both 32-bit halves non-zero, so the lo/hi nonce layout is checked too.
 */
const KAT = {
  key: '66ca9c232a4b4b310e92898bf493c78798a3d839f8f4a701c02e0aa67e5a7887',
  counterLo: 0x5faa1c20,
  counterHi: 0x3092bf9c,
  plain: '2d',
  sealed: 'bfe15b0bdb6bf55e6c5d84443981c19cac',
} as const;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Known-answer test of both functions, in place and out of place, plus forgery rejection. */
function selfTest(aead: DataAead): string | null {
  const key = h(KAT.key);
  const plain = h(KAT.plain);
  const sealed = h(KAT.sealed);
  const n = plain.length;
  const buf = new Uint8Array(4 + n + 16 + 4);
  buf.set(plain, 2);
  if (aead.dataSeal(key, KAT.counterLo, KAT.counterHi, buf, 2, n, 4) !== n + 16 || !sameBytes(buf.subarray(4, 4 + n + 16), sealed)) {
    return 'dataSeal gave a wrong answer';
  }
  if (aead.dataOpen(key, KAT.counterLo, KAT.counterHi, buf, 4, n + 16, 4) !== n || !sameBytes(buf.subarray(4, 4 + n), plain)) {
    return 'dataOpen gave a wrong answer';
  }
  if (aead.dataSeal(key, KAT.counterLo, KAT.counterHi, buf, 4, n, 4) !== n + 16 || !sameBytes(buf.subarray(4, 4 + n + 16), sealed)) {
    return 'in-place dataSeal gave a wrong answer';
  }
  buf[4 + n]! ^= 0x80; // flip a tag bit
  const forged = buf.slice();
  if (aead.dataOpen(key, KAT.counterLo, KAT.counterHi, buf, 4, n + 16, 4) !== -1) return 'dataOpen accepted a forged message';
  if (!sameBytes(buf, forged)) return 'dataOpen wrote to the buffer of a forged message';
  return batchSelfTest(aead, key, plain, sealed);
}

/**
 * The batch forms against the single ones: a train of two messages (counters KAT and KAT + 1)
 * sealed in one call, the first byte-exact to the vector; opened in one call with the second's
 * tag broken, which must open the first and refuse the second.
 */
function batchSelfTest(aead: DataAead, key: Uint8Array, plain: Uint8Array, sealed: Uint8Array): string | null {
  const n = plain.length;
  const buf = new Uint8Array(64);
  const offsets = new Uint32Array([0, 8, 32]);
  const lengths = new Uint32Array([0, n, n]);
  buf.set(plain, 8);
  buf.set(plain, 32);
  if (aead.dataSealBatch(key, KAT.counterLo, KAT.counterHi, buf, offsets, lengths, 1, 2) !== 2) return 'dataSealBatch failed';
  if (!sameBytes(buf.subarray(8, 8 + n + 16), sealed)) return 'dataSealBatch gave a wrong answer';
  const second = new Uint8Array(n + 16);
  second.set(plain);
  aead.dataSeal(key, KAT.counterLo + 1, KAT.counterHi, second, 0, n, 0);
  if (!sameBytes(buf.subarray(32, 32 + n + 16), second)) return 'dataSealBatch did not advance the counter';
  buf[32 + n]! ^= 1;
  const counters = new Uint32Array([0, 0, KAT.counterLo, KAT.counterHi, KAT.counterLo + 1, KAT.counterHi]);
  const results = new Int32Array(3);
  lengths[1] = lengths[2] = n + 16;
  if (aead.dataOpenBatch(key, buf, offsets, lengths, counters, 1, 2, results) !== 1 || results[1] !== n || results[2] !== -1) {
    return 'dataOpenBatch gave a wrong answer';
  }
  if (!sameBytes(buf.subarray(8, 8 + n), plain)) return 'dataOpenBatch did not decrypt';
  return null;
}

function isDataAead(v: unknown): v is DataAead {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.dataSeal === 'function' && typeof o.dataOpen === 'function' && typeof o.dataSealBatch === 'function' &&
    typeof o.dataOpenBatch === 'function' && typeof o.dataForget === 'function';
}

/** The addon's exports (loaded once; require() caches by path), or why it cannot be loaded. */
export type AddonModule = { readonly ok: true; readonly exports: Record<string, unknown>; readonly path: string } | { readonly ok: false; readonly reason: string };

/** Loads the addon if it is built; never throws. */
export function loadAddonModule(): AddonModule {
  try {
    const root = packageRoot();
    if (root === null) return { ok: false, reason: 'no package.json above the crypto layer' };
    const path = join(root, ...ADDON_PATH);
    if (!existsSync(path)) return { ok: false, reason: `native addon not built (${path})` };
    const loaded: unknown = createRequire(import.meta.url)(path);
    if (typeof loaded !== 'object' || loaded === null) return { ok: false, reason: `native addon at ${path} exports nothing` };
    return { ok: true, exports: loaded as Record<string, unknown>, path };
  } catch (err: unknown) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Loads the addon (if built) and self-tests its dataSeal / dataOpen; never throws. */
export function probeAddonAead(): AddonAeadProbe {
  const m = loadAddonModule();
  if (!m.ok) return m;
  try {
    if (!isDataAead(m.exports)) return { ok: false, reason: `native addon at ${m.path} has no dataSeal/dataOpen/dataSealBatch/dataOpenBatch/dataForget (stale build?)` };
    const aead: DataAead = {
      dataSeal: m.exports.dataSeal, dataOpen: m.exports.dataOpen, dataSealBatch: m.exports.dataSealBatch, dataOpenBatch: m.exports.dataOpenBatch,
      dataForget: m.exports.dataForget,
    };
    const failure = selfTest(aead);
    return failure === null ? { ok: true, aead } : { ok: false, reason: `self-test: ${failure}` };
  } catch (err: unknown) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The data-message AEAD the native backend should use, per `override` (the raw WGTS_AEAD value):
 * unset, empty or 'auto' = the addon when its probe passes, else none (the node:crypto path);
 * 'node' = none; 'addon' = the addon, and an Error saying why when it is unusable. Any other value
 * throws an Error naming the variable and the accepted values.
 */
export function selectDataAead(override: string | undefined, probe: () => AddonAeadProbe): DataAead | undefined {
  const wanted = override?.trim() ?? '';
  if (wanted === 'node') return undefined;
  if (wanted === '' || wanted === 'auto') {
    const r = probe();
    return r.ok ? r.aead : undefined;
  }
  if (wanted === 'addon') {
    const r = probe();
    if (!r.ok) throw new Error(`${AEAD_ENV}=addon but the native addon's ChaCha20-Poly1305 is unusable: ${r.reason}`);
    return r.aead;
  }
  throw new Error(`${AEAD_ENV} must be 'addon', 'node' or 'auto' (or unset), got '${override}'`);
}
