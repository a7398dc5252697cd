/**
 * The switch for the kernel offloads of the I/O edges: TSO/USO and coalesced writes on the TUN
 * (virtio-net header, native/offload.h) and UDP GSO/GRO on the socket. On by default; each edge
 * falls back by itself where the kernel or device lacks them. `WGTS_OFFLOAD=0` turns them off
 * (one packet per read, write and datagram, as before), so both paths stay in use and tested.
 */

/** Name of the environment variable. */
export const OFFLOAD_ENV = 'WGTS_OFFLOAD';

/**
 * Whether offloads are wanted, per `value` (the raw WGTS_OFFLOAD): unset, empty, '1', 'on' or
 * 'auto' = yes; '0' or 'off' = no. Anything else throws an Error naming the variable.
 */
export function offloadWanted(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase() ?? '';
  if (v === '' || v === '1' || v === 'on' || v === 'auto') return true;
  if (v === '0' || v === 'off') return false;
  throw new Error(`${OFFLOAD_ENV} must be 1 (on, the default) or 0 (off), got '${value}'`);
}
