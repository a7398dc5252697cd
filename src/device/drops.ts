// Every drop counter of one interface under one name per reason: the protocol engine's reasons
// (noise/codes.ts: bad-mac1, replay, decrypt-failed, ...) and the device's own (no-route,
// bad-source, ...). Read by the Prometheus metrics (wgts_drops_total{reason}) and written into
// the status file of `wgts up` (`drops`), so both say the same.
import { DROP_NO_PRIVATE_KEY, DROP_REASON_COUNT, dropReasonName } from '../noise/codes.js';
import type { DeviceCounters } from './device.js';

/**
 * The `reason` name of each device drop counter (kebab case like the engine's reasons); a Record
 * so that a new DeviceCounters field cannot be forgotten here.
 */
export const DEVICE_DROP_REASONS: Readonly<Record<keyof DeviceCounters, string>> = {
  noRoute: 'no-route',
  badSource: 'bad-source',
  noEndpoint: 'no-endpoint',
  tunWriteDrops: 'tun-write-failed',
  filtered: 'filtered',
  outboundFiltered: 'not-a-flow',
  handshakeQueueFull: 'handshake-queue-full',
};

/** What dropCounts reads: the engine's counters by -code and the device's. */
export interface DropSource {
  readonly engine: { readonly dropsByReason: Float64Array };
  readonly counters: Readonly<DeviceCounters>;
}

/** [reason, count] for every reason, engine reasons first (in code order), zeros included. */
export function dropCounts(src: DropSource): [string, number][] {
  const out: [string, number][] = [];
  const byReason = src.engine.dropsByReason;
  for (let i = -DROP_NO_PRIVATE_KEY; i < DROP_REASON_COUNT; i++) out.push([dropReasonName(-i), byReason[i] ?? 0]);
  for (const [field, reason] of Object.entries(DEVICE_DROP_REASONS) as [keyof DeviceCounters, string][]) out.push([reason, src.counters[field]]);
  return out;
}
