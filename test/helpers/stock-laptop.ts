// A laptop set up the way stock WireGuard clients do it: wireguard-go driven by the real
// `wg-quick up FILE` (which runs `wg setconf IF <(wg-quick strip FILE)`, adds the addresses, the
// MTU and a route for every AllowedIPs prefix), and DNS handed to resolvconf(8) the way wg-quick
// does: `nameserver` lines for the DNS addresses and a `search` line for the DNS names. The
// resolvconf here is a stand-in that writes the namespace's /etc/netns/NS/resolv.conf with ONLY
// those lines (as wg-quick + resolvconf, and the macOS/iOS apps, leave a laptop: every query goes
// to the tunnel's DNS), never the host's. Before the tunnel, the namespace's resolv.conf is a
// guard pointing at 127.0.0.1 where nothing listens, so no lookup ever reaches the host's resolvers.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Netns } from './netns.js';

/** resolv.conf of a laptop namespace before (and after) its tunnel: nothing answers there. */
export const GUARD_RESOLV_CONF = 'nameserver 127.0.0.1\n# test guard: no resolver is reachable here\n';

/** A resolvconf(8) stand-in for wg-quick: writes the laptop namespace's resolv.conf, never the host's. */
const RESOLVCONF_SHIM = `#!/bin/sh
# Test stand-in for resolvconf, called by wg-quick (-a IF reads resolv.conf lines on stdin, -d IF).
f="$WGTS_TEST_RESOLV_CONF"
[ -n "$f" ] || { echo "resolvconf shim: WGTS_TEST_RESOLV_CONF is not set" >&2; exit 1; }
case "$1" in
  -a) [ -e "$f.shim-saved" ] || cp "$f" "$f.shim-saved"; cat > "$f" ;;
  -d) if [ -e "$f.shim-saved" ]; then mv "$f.shim-saved" "$f"; else rm -f "$f"; fi ;;
  *) exit 1 ;;
esac
`;

const shimDir = mkdtempSync(join(tmpdir(), 'wgts-stock-'));
writeFileSync(join(shimDir, 'resolvconf'), RESOLVCONF_SHIM);
chmodSync(join(shimDir, 'resolvconf'), 0o755);
process.on('exit', () => rmSync(shimDir, { recursive: true, force: true }));

/** The namespace's resolv.conf path (what glibc, dig and curl read inside `ip netns exec NS`). */
export const resolvPath = (ns: Netns): string => `/etc/netns/${ns.name}/resolv.conf`;

const etcNetnsExisted = existsSync('/etc/netns');
const guarded = new Set<string>();
process.on('exit', () => {
  for (const name of guarded) rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  if (!etcNetnsExisted) {
    try { rmdirSync('/etc/netns'); } catch { /* not empty: another user's */ }
  }
});

/**
 * Gives `ns` the guard resolv.conf (call once per namespace, before any tunnel or gateway runs in
 * it: a gateway forwards to the resolvers of its namespace's resolv.conf, which must never be the
 * host's). /etc/netns/NS is removed again when this process exits.
 */
export function guardResolvConf(ns: Netns): void {
  mkdirSync(`/etc/netns/${ns.name}`, { recursive: true });
  writeFileSync(resolvPath(ns), GUARD_RESOLV_CONF);
  guarded.add(ns.name);
}

/** Environment for wg-quick inside `ns`: wireguard-go as the implementation, the resolvconf stand-in. */
export function wgQuickEnv(ns: Netns): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${shimDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go',
    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    WGTS_TEST_RESOLV_CONF: resolvPath(ns),
  };
}

/** `wg-quick up|down FILE` inside `ns` (interface = file name without .conf); status and output. */
export function wgQuick(ns: Netns, action: 'up' | 'down', file: string): { status: number; stdout: string; stderr: string } {
  return ns.tryExec('wg-quick', [action, file], { env: wgQuickEnv(ns), timeoutMs: 20_000 });
}

/** A stock laptop brought up from a client config file; `down()` is idempotent and restores DNS. */
export interface StockLaptop {
  readonly ns: Netns;
  readonly ifname: string;
  readonly file: string;
  /** The namespace's resolv.conf while the tunnel is up. */
  resolvConf(): string;
  down(): void;
}

/** `wg-quick up FILE` in `ns` with wireguard-go; throws with wg-quick's output when it fails. */
export function stockLaptopUp(ns: Netns, file: string): StockLaptop {
  if (!existsSync(resolvPath(ns))) guardResolvConf(ns);
  const r = wgQuick(ns, 'up', file);
  if (r.status !== 0) throw new Error(`wg-quick up ${file} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  let up = true;
  return {
    ns,
    ifname: basename(file).replace(/\.conf$/, ''),
    file,
    resolvConf: () => readFileSync(resolvPath(ns), 'utf8'),
    down(): void {
      if (!up) return;
      up = false;
      const d = wgQuick(ns, 'down', file);
      if (d.status !== 0) throw new Error(`wg-quick down ${file} failed (${d.status}):\n${d.stdout}${d.stderr}`);
    },
  };
}
