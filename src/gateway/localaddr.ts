// The gateway host's own addresses (every interface of the network namespace `wgts up` runs in),
// kept current: read with `ip -j address show` at start and again whenever `ip monitor address`
// reports a change. The access rules use them so that no peer reaches the gateway host itself
// through the default policy, whichever of its addresses it aims at (README "Access").
import { spawn, type ChildProcess } from 'node:child_process';
import { jsonRows, type CommandRunner } from './netcfg.js';

/** Quiet time after an address event before re-reading (ms). */
const DEBOUNCE_MS = 20;

/** The `local` addresses of `ip -j address show` output (IPv4 and IPv6, zone-free). */
export function parseLocalAddresses(json: string): string[] {
  const out = new Set<string>();
  for (const link of jsonRows(json)) {
    if (!Array.isArray(link.addr_info)) continue;
    for (const a of link.addr_info as { local?: unknown }[]) {
      if (typeof a.local === 'string' && a.local !== '') out.add(a.local.split('%')[0] as string);
    }
  }
  return [...out].sort();
}

/** A running watch of the local addresses. */
export class LocalAddresses {
  private monitor: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(private readonly run: CommandRunner, private readonly onChange: (addrs: string[]) => void,
    private readonly onError: (e: Error) => void) {}

  /** Reads the addresses (onChange is called before this resolves) and starts watching. */
  static async start(run: CommandRunner, onChange: (addrs: string[]) => void, onError: (e: Error) => void): Promise<LocalAddresses> {
    const w = new LocalAddresses(run, onChange, onError);
    await w.read();
    w.watch();
    return w;
  }

  private async read(): Promise<void> {
    this.onChange(parseLocalAddresses(await this.run('ip', ['-j', 'address', 'show'])));
  }

  private watch(): void {
    const child = spawn('ip', ['monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor = child;
    child.on('error', (e) => this.onError(new Error(`ip monitor address: ${e.message}`)));
    child.on('exit', () => {
      if (!this.closed) this.onError(new Error('ip monitor address exited: local addresses are no longer followed'));
    });
    child.stdout?.on('data', () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.read().catch((e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e))));
      }, DEBOUNCE_MS);
    });
  }

  /** Stops watching (idempotent; also safe from an 'exit' handler). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.monitor && this.monitor.exitCode === null) this.monitor.kill('SIGTERM');
    this.monitor = null;
  }
}
