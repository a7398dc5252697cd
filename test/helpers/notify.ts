// A stand-in for systemd's notification socket: an AF_UNIX datagram socket (a path, or `@name`
// for an abstract one) bound by a small python3 program with SO_PASSCRED, so every datagram
// arrives with the sender's pid, as systemd receives it. With `freezeOn`, the receiver stops the
// sender (SIGSTOP) when a datagram holds that line, runs `check` (a shell command; `$PID` is the
// sender) while it is stopped, and lets it go on (SIGCONT): the check sees the host exactly as it
// was when the sender said so, and records whether any child process of the sender inherited
// NOTIFY_SOCKET. Node has no AF_UNIX datagram sockets, hence python.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Netns } from './netns.js';
import { waitFor } from './netns.js';

const RECEIVER = String.raw`
import json, os, signal, socket, struct, subprocess, sys, time
addr, freeze, check, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({'bound': addr}), flush=True)
end = time.time() + limit
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        msg, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = -1
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
    text = msg.decode()
    out = {'pid': pid, 'lines': text.strip('\n').split('\n')}
    if freeze and freeze in out['lines'] and pid > 0:
        os.kill(pid, signal.SIGSTOP)
        try:
            r = subprocess.run(['sh', '-c', check], capture_output=True, text=True, timeout=20, env=dict(os.environ, PID=str(pid)))
            out['check'] = r.stdout + r.stderr
            kids = []
            for d in os.listdir('/proc'):
                try:
                    if d.isdigit() and open('/proc/%s/stat' % d).read().rsplit(')', 1)[1].split()[1] == str(pid):
                        kids.append(b'NOTIFY_SOCKET=' in open('/proc/%s/environ' % d, 'rb').read())
                except OSError:
                    pass
            out['children'] = kids
        finally:
            os.kill(pid, signal.SIGCONT)
    print(json.dumps(out), flush=True)
`;

/** One datagram the receiver got. */
export interface Notification {
  pid: number;
  lines: string[];
  /** Output of the check, for the datagram that froze the sender. */
  check?: string;
  /** The sender's child processes then: whether each has NOTIFY_SOCKET in its environment. */
  children?: boolean[];
}

export interface NotifyReceiver {
  /** The NOTIFY_SOCKET value. */
  readonly address: string;
  /** Datagrams so far. */
  received(): Notification[];
  /** Waits until a datagram holds `line` (at or after index `from`); returns it. */
  waitFor(line: string, from?: number, timeoutMs?: number): Promise<Notification>;
  stop(): void;
}

/**
 * Starts a receiver at `address` (`@name` or a path) inside `ns` (abstract names belong to a
 * network namespace), for at most `limitS` seconds.
 */
export async function notifyReceiver(ns: Netns | null, address: string, opts: { freezeOn?: string; check?: string; limitS?: number } = {}): Promise<NotifyReceiver> {
  const args = ['-c', RECEIVER, address, opts.freezeOn ?? '', opts.check ?? 'true', String(opts.limitS ?? 120)];
  const child: ChildProcess = ns ? ns.spawn('python3', args) : spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const got: Notification[] = [];
  let bound = false;
  let err = '';
  let buf = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const v = JSON.parse(line) as Notification | { bound: string };
      if ('bound' in v) bound = true;
      else got.push(v);
    }
  });
  let exited = false;
  child.on('exit', () => { exited = true; });
  await waitFor(() => { if (exited) throw new Error(`notify receiver exited: ${err}`); return bound; }, 10_000, 20, `notify receiver at ${address}`);
  return {
    address,
    received: () => [...got],
    async waitFor(line: string, from = 0, timeoutMs = 20_000): Promise<Notification> {
      const found = await waitFor(() => got.slice(from).find((n) => n.lines.includes(line)), timeoutMs, 20, `${line} at ${address} (got ${JSON.stringify(got)}; ${err})`);
      if (found === undefined) throw new Error('unreachable: waitFor returns a value');
      return found;
    },
    stop: () => { if (!exited) child.kill('SIGKILL'); },
  };
}
