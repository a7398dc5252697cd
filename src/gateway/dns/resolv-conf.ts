// The gateway host's own resolvers: the `nameserver` lines of /etc/resolv.conf as this process
// sees it (inside `ip netns exec NS` that is /etc/netns/NS/resolv.conf, bind-mounted over it), read
// the way glibc reads them, and read again when the file changes.
//
// glibc's rules: `nameserver ADDRESS` lines in order, at most three (MAXNS), an IPv6 address may
// carry a zone (`fe80::1%eth0`), anything else on such a line makes it ignored; no usable line at
// all (or no file) means the local machine, 127.0.0.1. Loopback stubs (systemd-resolved's
// 127.0.0.53, dnsmasq on 127.0.0.1) are ordinary servers here. Options (`rotate`, `timeout:`) are
// not used: the gateway has its own order and timeouts (upstream.ts).
//
// Changes are noticed the way glibc notices them (since 2.26): the file's identity (device, inode,
// size, change and modification times, following symlinks) is compared, at most once per
// `checkIntervalMs`, when a query needs the list; a file replaced by rename (resolvconf,
// NetworkManager, systemd-resolved) or edited in place is picked up alike. Inside a namespace, an
// edit of /etc/netns/NS/resolv.conf shows only when the file is rewritten in place: a rename on the
// host side leaves the bind mount on the old file (that is how `ip netns exec` works).
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { formatUpstream, MAX_ATTEMPTS, type UpstreamAddress } from './upstream.js';

/** Where glibc reads its resolvers. */
export const RESOLV_CONF = '/etc/resolv.conf';
/** glibc's default without nameserver lines: the local machine. */
export const LOCAL_DEFAULT: UpstreamAddress = { host: '127.0.0.1', port: 53, family: 4 };
/** The resolv.conf is looked at no more often than this (ms). */
export const CHECK_INTERVAL_MS = 1000;

/** The servers of a resolv.conf text, and the lines that were not usable (for the log). */
export function parseResolvConf(text: string): { servers: UpstreamAddress[]; ignored: string[] } {
  const servers: UpstreamAddress[] = [];
  const ignored: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const words = line.split(/\s+/);
    if (words[0] !== 'nameserver') continue;
    const addr = words[1] ?? '';
    const pct = addr.indexOf('%');
    const ip = pct < 0 ? addr : addr.slice(0, pct);
    const family = net.isIP(ip);
    // A zone only on IPv6; glibc ignores the rest of the line, as we do.
    if (family === 0 || (pct >= 0 && (family !== 6 || pct === addr.length - 1))) {
      ignored.push(line);
      continue;
    }
    if (servers.length >= MAX_ATTEMPTS) {
      ignored.push(`${line} (glibc uses the first ${MAX_ATTEMPTS})`);
      continue;
    }
    servers.push({ host: addr, port: 53, family: family === 6 ? 6 : 4 });
  }
  return { servers, ignored };
}

/** What the host's resolv.conf says now (see the file comment). */
export class SystemResolvers {
  private identity = '';
  private list: readonly UpstreamAddress[] = [LOCAL_DEFAULT];
  private checkedAt = -Infinity;
  private checkedOnce = false;
  private note = '';

  /**
   * `onChange` hears the new list (and why) after every read that changed it, the first included.
   * `now` is the clock (tests).
   */
  constructor(readonly path: string = RESOLV_CONF, private readonly onChange: (servers: readonly UpstreamAddress[], note: string) => void = () => undefined,
    private readonly checkIntervalMs = CHECK_INTERVAL_MS, private readonly now: () => number = Date.now) {}

  /** The current servers (re-checked when the last look is older than the interval). */
  servers(): readonly UpstreamAddress[] {
    if (this.now() - this.checkedAt >= this.checkIntervalMs) this.refresh();
    return this.list;
  }

  /** Looks at the file now; re-reads it when its identity changed. */
  refresh(): void {
    this.checkedAt = this.now();
    let id: string;
    try {
      const st = statSync(this.path);
      id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (e) {
      id = `missing:${e instanceof Error && 'code' in e ? String(e.code) : '?'}`;
    }
    if (id === this.identity) return;
    this.identity = id;
    let text: string | null = null;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      // no file: glibc's default
    }
    const parsed = text === null ? { servers: [], ignored: [] } : parseResolvConf(text);
    const next = parsed.servers.length > 0 ? parsed.servers : [LOCAL_DEFAULT];
    const why = text === null
      ? `${this.path} cannot be read: the local machine, as glibc`
      : parsed.servers.length === 0 ? `${this.path} names no usable nameserver: the local machine, as glibc` : `from ${this.path}`;
    const note = parsed.ignored.length > 0 ? `${why}; ignored: ${parsed.ignored.join('; ')}` : why;
    const changed = next.map(formatUpstream).join(',') !== this.list.map(formatUpstream).join(',') || note !== this.note || !this.checkedOnce;
    this.list = next;
    this.note = note;
    this.checkedOnce = true;
    if (changed) this.onChange(next, note);
  }
}
