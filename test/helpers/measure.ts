// Measuring a running tunnel from outside, for the fuzzer, the soak run and their tests: resident
// memory of a process, the kernel's UDP counters of a namespace, and an iperf3 stream whose
// per-second throughput is read while it runs.
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { type Netns, waitFor } from './netns.js';

/** Resident memory of `pid` in KiB: now (VmRSS) and the peak so far (VmHWM); null when it is gone. */
export function memoryKiB(pid: number): { rss: number; peak: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (k: string): number => Number((text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [])[1] ?? NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** CPU time (user + system, seconds) process `pid` has used so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN;
  }
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields,
  // in clock ticks (USER_HZ, 100 on Linux).
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** MiB with one decimal, for reports. */
export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

/**
 * The Udp: counters (InDatagrams, InErrors, RcvbufErrors, ...) of the network namespace process
 * `pid` lives in (/proc/PID/net/snmp is that namespace's view).
 */
export function udpCounters(pid: number): Record<string, number> {
  const lines = readFileSync(`/proc/${pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

/** One iperf3 report interval: when it was read (ms since the stream started) and its Mbit/s. */
export interface IperfSample { atMs: number; mbit: number }

/** An iperf3 TCP stream client -> server that runs until stopped; samples arrive every second. */
export interface IperfStream {
  /** Date.now() when the client started: sample times are relative to it. */
  readonly startedAt: number;
  readonly samples: IperfSample[];
  /** Lines iperf3 wrote that are neither intervals nor its banner (errors). */
  readonly problems: string[];
  /** Mbit/s of the samples read between two times (ms since start). */
  between(fromMs: number, toMs: number): number[];
  stop(): void;
}

/**
 * Starts `iperf3 -s` in `server` (bound to `addr`, one client) and a client in `client` sending to
 * it for at most `maxSeconds`, reporting each second (text output, flushed as it goes); `bitrate`
 * (iperf3 -b, e.g. '200M') caps the stream, default full speed.
 */
export async function iperfStream(server: Netns, client: Netns, addr: string, maxSeconds: number, port = 5201, bitrate?: string): Promise<IperfStream> {
  const srv = server.spawn('iperf3', ['-s', '-1', '-B', addr, '-p', String(port)]);
  await waitFor(() => server.tryExec('ss', ['-Hltn', `sport = :${port}`]).stdout.includes(`:${port}`), 5000, 20, 'iperf3 server listening');
  const started = Date.now();
  const cli: ChildProcess = client.spawn('iperf3', ['-c', addr, '-p', String(port), '-t', String(maxSeconds), '-i', '1', '-f', 'm', '--forceflush', ...(bitrate ? ['-b', bitrate] : [])]);
  const samples: IperfSample[] = [];
  const problems: string[] = [];
  let rest = '';
  const onText = (d: Buffer): void => {
    rest += d.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      const m = l.match(/\]\s+[\d.]+-[\d.]+\s+sec\s+[\d.]+ \w+\s+([\d.]+) Mbits\/sec\s+\d+/);
      if (m) samples.push({ atMs: Date.now() - started, mbit: Number(m[1]) });
      else if (/error|unable|refused/i.test(l)) problems.push(l.trim());
    }
  };
  cli.stdout?.on('data', onText);
  cli.stderr?.on('data', onText);
  return {
    startedAt: started,
    samples,
    problems,
    between: (fromMs, toMs) => samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs).map((s) => s.mbit),
    stop: () => {
      cli.kill('SIGKILL');
      srv.kill('SIGKILL');
    },
  };
}

/** Median of a list (NaN when empty). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * A child process that prints one JSON value on stdout (the fuzz and flood attackers): `result`
 * waits up to `timeoutMs` for its exit (SIGKILL after that), throws with its stderr unless it
 * exited 0, and parses what it printed.
 */
export function jsonChild<T>(child: ChildProcess, what: string): { result(timeoutMs: number): Promise<T> } {
  let out = '';
  let err = '';
  let code: number | null = null;
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  child.on('exit', (c) => { code = c ?? -1; });
  return {
    result: async (timeoutMs) => {
      await waitFor(() => code !== null, timeoutMs, 20, `${what} to finish`).catch((e: unknown) => { child.kill('SIGKILL'); throw e; });
      if (code !== 0) throw new Error(`${what} exited ${code}: ${err}`);
      return JSON.parse(out) as T;
    },
  };
}

/** Calls `fn(0..n-1)` one after another; the median wall time of one call (ms). */
export async function medianCallMs(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return median(out);
}
