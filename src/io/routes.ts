/**
 * Routes, addresses and interfaces of the daemon's network namespace, for the sticky source
 * addresses of the UDP edge (native/route_watch.h). A reply leaves from the local address the
 * peer sent to (Endpoint.source), but not forever: like the kernel's WireGuard ("sticky, but not
 * too sticky"), a source is dropped when it is no longer one of this host's addresses, or when the
 * route to the peer from it now leaves by another interface than the one the peer's datagrams
 * came in on (a better route appeared). The interface polls {@link Routes.changed} on its timer
 * and, when something moved, checks every sticky source with {@link Routes.sourceUsable}; a send
 * the kernel refused in between went from the kernel's choice already (see io/udp.ts).
 */
import { type Endpoint, hasSource, isLinkLocal } from '../device/endpoint.js';
import { loadAddon, type NativeRouteWatch } from './native.js';

export class Routes {
  private constructor(private readonly native: NativeRouteWatch) {}

  /** Opens the netlink sockets; null (with the reason) where netlink is not available. */
  static open(): { routes: Routes } | { routes: null; reason: string } {
    try {
      return { routes: new Routes(new (loadAddon().RouteWatch)()) };
    } catch (e) {
      return { routes: null, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Whether links, addresses, routes or rules changed since the last call (drains the announcements). */
  changed(): boolean { return this.native.changed(); }

  /**
   * Whether the sticky source of `ep` is still right: one of this host's addresses, and the
   * kernel's route to the peer from it (with the socket's firewall mark `mark`, as policy
   * routing sees the datagrams) leaves by the interface the peer's datagrams arrived on. True
   * for an endpoint without a source.
   */
  sourceUsable(ep: Endpoint, mark: number): boolean {
    if (!hasSource(ep)) return true;
    const ifindex = ep.sourceWords[4]!;
    if (!this.native.isLocal(ep.source, isLinkLocal(ep.source) ? ifindex : 0)) return false;
    const oif = this.native.lookup(ep.addr, ep.scope, ep.source, mark);
    return oif > 0 && (ifindex === 0 || oif === ifindex);
  }

  close(): void { this.native.close(); }
}

/** The index of interface `name` in this namespace (if_nametoindex), 0 when there is none. */
export function interfaceIndex(name: string): number {
  return loadAddon().ifIndex(name);
}

/** The name of interface `index` in this namespace (if_indextoname), null when there is none. */
export function interfaceName(index: number): string | null {
  return loadAddon().ifName(index);
}
