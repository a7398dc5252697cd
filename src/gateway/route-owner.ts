// Who owns a route that a new tunnel's route would overlap, for the message of `wgts up`: another
// project's tunnel (a `wgts up` with a status file, or a WireGuard interface with a UAPI socket:
// wg-quick, wireguard-go) or the host's own network. Two projects whose networks (or tunnel
// subnets) overlap cannot be up at once on one laptop: the message says which one is in the way
// and what to do.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../config/lock.js';
import { DEFAULT_SOCKET_DIR } from '../device/uapi/server.js';
import type { RouteConflict } from './netcfg.js';
import { readStatus, STATUS_DIR } from './status.js';

/** The tunnel behind interface `dev`: `wgts up of FILE (pid N)`, `a WireGuard interface`, or null. */
export function tunnelOwner(dev: string, statusDir = STATUS_DIR, socketDir = DEFAULT_SOCKET_DIR): string | null {
  const s = readStatus(dev, statusDir);
  if (s !== null && processAlive(s.pid)) return `wgts up of ${s.config}, pid ${s.pid}`;
  if (existsSync(join(socketDir, `${dev}.sock`))) return 'a WireGuard interface (wg-quick, wireguard-go or wgts-go)';
  return null;
}

/** The refusal for a route of `ifname` (config `path`) that overlaps an existing route. */
export function overlapMessage(c: RouteConflict, ifname: string, path: string, statusDir = STATUS_DIR, socketDir = DEFAULT_SOCKET_DIR): string {
  const owner = c.dev === undefined ? null : tunnelOwner(c.dev, statusDir, socketDir);
  if (owner !== null && c.dev !== undefined) {
    return `${path}: the route ${c.route} of ${ifname} overlaps the route ${c.overlaps} of the tunnel ${c.dev} (${owner}): `
      + `two projects whose networks overlap cannot be up at once on one laptop; refused. Take ${c.dev} down first (wgts down ${c.dev}), `
      + 'or give one project other addresses on its gateway (its Network: wgts gateway set FILE --network CIDR; its tunnel Address)';
  }
  return `${path}: the route ${c.route} of ${ifname} overlaps the existing route ${c.overlaps}: refused, `
    + 'since one would shadow the other (is the project network also this host\'s LAN, a Docker or another VPN network?)';
}
