// Backend selection as a pure decision, separate from the probing and caching in index.ts, so the
// rules (env override, probe fallback, error messages) are testable without spawning processes.

import type { BackendName } from './types.js';

/** Name of the environment variable that forces a backend. */
export const CRYPTO_ENV = 'WGTS_CRYPTO';

/** Outcome of probing node:crypto: usable, or the reason it is not. */
export type NativeProbe = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Decide which backend to use. `override` is the raw WGTS_CRYPTO value (undefined or empty = auto).
 * Auto picks native when the probe passed, else pure. An unknown value, or forcing native when the
 * probe failed, throws an Error whose message names the variable and the accepted values.
 */
export function selectBackendName(override: string | undefined, probe: () => NativeProbe): BackendName {
  const wanted = override?.trim() ?? '';
  if (wanted === '' || wanted === 'auto') {
    return probe().ok ? 'native' : 'pure';
  }
  if (wanted === 'pure') return 'pure';
  if (wanted === 'native') {
    const result = probe();
    if (!result.ok) throw new Error(`${CRYPTO_ENV}=native but node:crypto cannot serve as the crypto backend: ${result.reason}`);
    return 'native';
  }
  throw new Error(`${CRYPTO_ENV} must be 'native', 'pure' or 'auto' (or unset), got '${override}'`);
}
