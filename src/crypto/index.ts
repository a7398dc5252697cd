// Entry point of the crypto layer: the selected backend (getCrypto) and both backends by name.

import { nativeBackend } from './native.js';
import { probeNative } from './probe.js';
import { pureBackend } from './pure.js';
import { CRYPTO_ENV, selectBackendName } from './select.js';
import type { BackendName, CryptoBackend } from './types.js';

export type { BackendName, CryptoBackend } from './types.js';

/** Both backends by name, for tests, benchmarks and explicit choice. */
export const backends: Readonly<Record<BackendName, CryptoBackend>> = Object.freeze({
  native: nativeBackend,
  pure: pureBackend,
});

let selected: CryptoBackend | null = null;

/**
 * The process-wide backend, chosen on first call and cached: native when node:crypto has
 * ChaCha20-Poly1305, X25519 and BLAKE2s-256 and its self-test passes, else pure. The environment
 * variable WGTS_CRYPTO=native|pure|auto forces the choice; an invalid value (or native when it is
 * unavailable) throws an Error saying why.
 */
export function getCrypto(): CryptoBackend {
  if (selected === null) selected = backends[selectBackendName(process.env[CRYPTO_ENV], probeNative)];
  return selected;
}
