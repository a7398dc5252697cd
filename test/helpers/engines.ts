// Two protocol engines talking in memory (no sockets): one full handshake between them, as the
// secrets test's child and the noise benchmark run it.
import { DECAP_HANDLED, type WgEngine } from '../../src/noise/engine.js';

/** The outer source address both engines see (IPv4 + port, 6 bytes). */
export const ENGINE_SOURCE = Uint8Array.of(127, 0, 0, 1, 0xca, 0x6c);

/**
 * One full handshake at time `now`: a initiates to its peer `ia` (b), b answers, and a's keepalive
 * confirms the session on b. `scratch` receives what decapsulate writes (256 bytes are enough).
 * Throws naming the step that was not handled.
 */
export function fullHandshake(a: WgEngine, b: WgEngine, ia: number, now: number, scratch: Uint8Array, source: Uint8Array = ENGINE_SOURCE): void {
  a.initiateHandshake(ia, now);
  const [init] = a.takeOutbox();
  if (init === undefined || b.decapsulate(init.data, 0, init.data.length, source, now, scratch, 0) !== DECAP_HANDLED) throw new Error('initiation failed');
  const [resp] = b.takeOutbox();
  if (resp === undefined || a.decapsulate(resp.data, 0, resp.data.length, source, now, scratch, 0) !== DECAP_HANDLED) throw new Error('response failed');
  const [confirm] = a.takeOutbox();
  if (confirm === undefined || b.decapsulate(confirm.data, 0, confirm.data.length, source, now, scratch, 0) !== DECAP_HANDLED) throw new Error('confirmation failed');
}
