// TUN edge against the real kernel (needs root). Every TUN lives in a namespace created here: a
// tun-agent process started with `ip netns exec` owns it and is driven over a line protocol,
// while this process runs `ip` and the UDP peer as an outside party would.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TunGone } from '../../src/io/tun.js';
import { Netns, requireRoot, sleep, waitFor } from '../helpers/netns.js';
import type { AgentCommand, AgentCommands, AgentMessage, AgentStats } from './fixtures/tun-protocol.js';

const AGENT = fileURLToPath(new URL('./fixtures/tun-agent.js', import.meta.url));
const UDP_PEER = fileURLToPath(new URL('./fixtures/udp-peer.js', import.meta.url));
const CALL_TIMEOUT_MS = 15_000;

type Reply = Exclude<AgentMessage, { event: 'gone' }>;

/** Client side of tun-agent running inside `ns`. */
class Agent {
  readonly gone: TunGone[] = [];
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, (msg: Reply) => void>();
  readonly #exited: Promise<number | null>;
  #stderr = '';
  #next = 1;

  constructor(ns: Netns) {
    this.#proc = ns.spawn(process.execPath, ['--enable-source-maps', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const { stdout, stderr } = this.#proc;
    if (!stdout || !stderr) throw new Error('agent without pipes');
    stderr.setEncoding('utf8').on('data', (d: string) => { this.#stderr += d; });
    createInterface({ input: stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as AgentMessage;
      if ('event' in msg) { this.gone.push(msg.gone); return; }
      this.#pending.get(msg.id)?.(msg);
      this.#pending.delete(msg.id);
    });
    this.#exited = new Promise((resolve) => {
      this.#proc.on('exit', (code) => {
        for (const settle of this.#pending.values()) settle({ id: 0, ok: false, error: `agent exited (${code}): ${this.#stderr}` });
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  #send(cmd: AgentCommand, args: object): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`agent ${cmd} timed out; stderr: ${this.#stderr}`)); }, CALL_TIMEOUT_MS);
      this.#pending.set(id, (msg) => { clearTimeout(timer); resolve(msg); });
      this.#proc.stdin?.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  async call<K extends AgentCommand>(cmd: K, args: AgentCommands[K]['args']): Promise<AgentCommands[K]['result']> {
    const msg = await this.#send(cmd, args);
    if (!msg.ok) throw new Error(`agent ${cmd} failed: ${msg.error} ${this.#stderr}`);
    return msg.result as AgentCommands[K]['result'];
  }

  /** Runs a command expected to fail; returns the error code. */
  async fails<K extends AgentCommand>(cmd: K, args: AgentCommands[K]['args']): Promise<string> {
    const msg = await this.#send(cmd, args);
    if (msg.ok) throw new Error(`agent ${cmd} unexpectedly succeeded`);
    return msg.code ?? msg.error;
  }

  /** Closes stdin and resolves with the exit code (null if it had to be killed after `ms`). */
  async end(ms: number): Promise<number | null> {
    this.#proc.stdin?.end();
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), ms);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

/** A namespace without IPv6, so the only packets on a TUN are the ones a test sends. */
function quietNs(label: string): Netns {
  const ns = new Netns(label);
  ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  return ns;
}

function up(ns: Netns, dev: string, cidr: string, txqueuelen = 500): void {
  ns.exec('ip', ['addr', 'add', cidr, 'dev', dev]);
  ns.exec('ip', ['link', 'set', dev, 'up', 'txqueuelen', String(txqueuelen)]);
}

interface LinkInfo { ifindex: number; mtu: number; rxPackets: number }

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

/** `ip -j -s link show dev` in `ns`, or undefined when no such device. */
function link(ns: Netns, dev: string): LinkInfo | undefined {
  const r = ns.tryExec('ip', ['-j', '-s', 'link', 'show', 'dev', dev]);
  if (r.status !== 0) return undefined;
  const parsed: unknown = JSON.parse(r.stdout);
  const first = Array.isArray(parsed) ? parsed[0] : undefined;
  const ifindex = field(first, 'ifindex');
  const mtu = field(first, 'mtu');
  const rxPackets = field(field(field(first, 'stats64'), 'rx'), 'packets');
  if (typeof ifindex !== 'number' || typeof mtu !== 'number' || typeof rxPackets !== 'number') throw new Error(`unexpected ip -j output: ${r.stdout}`);
  return { ifindex, mtu, rxPackets };
}

/** Polls the agent's stats until `done` holds (bounded). */
async function statsWhen(a: Agent, done: (s: AgentStats) => boolean, ms: number, what: string): Promise<AgentStats> {
  let last: AgentStats | undefined;
  await waitFor(async () => { last = await a.call('stats', {}); return done(last); }, ms, 20, what);
  if (!last) throw new Error(`no stats while waiting for ${what}`);
  return last;
}

/** Runs udp-peer in `ns`: `count` datagrams to dst:port, then waits up to waitMs for echoes. */
function udpPeer(ns: Netns, dst: string, port: number, count: number, size: number, waitMs: number): { sent: number; echoed: number } {
  const out = ns.exec(process.execPath, [UDP_PEER, dst, String(port), String(count), String(size), String(waitMs)], { timeoutMs: waitMs + 20_000 });
  const parsed: unknown = JSON.parse(out);
  const sent = field(parsed, 'sent');
  const echoed = field(parsed, 'echoed');
  if (typeof sent !== 'number' || typeof echoed !== 'number') throw new Error(`unexpected udp-peer output: ${out}`);
  return { sent, echoed };
}

test.before(requireRoot);

test('open creates the named TUN, MTU set/get shows in ip link, "%d" names, attach to persistent, EBUSY', async () => {
  const ns = quietNs('open');
  try {
    const a = new Agent(ns);
    const opened = await a.call('open', { name: 'wgto0', mtu: 1380 });
    assert.equal(opened.name, 'wgto0');
    assert.is(opened.mtu, 1380);
    const seen = link(ns, 'wgto0');
    assert.ok(seen, 'wgto0 exists in the namespace');
    assert.is(seen.mtu, 1380);
    assert.is(seen.ifindex, opened.ifindex);
    assert.is((await a.call('setMtu', { mtu: 1280 })).mtu, 1280);
    assert.is(link(ns, 'wgto0')?.mtu, 1280);
    assert.is((await a.call('info', {})).mtu, 1280);

    const busy = new Agent(ns);
    assert.is(await busy.fails('open', { name: 'wgto0' }), 'EBUSY');

    const pattern = new Agent(ns);
    const numbered = await pattern.call('open', { name: 'wgtp%d' });
    assert.is(numbered.name, 'wgtp0');
    assert.ok(link(ns, 'wgtp0'));

    ns.exec('ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'wgtk0']);
    const persistent = link(ns, 'wgtk0');
    const attach = new Agent(ns);
    const attached = await attach.call('open', { name: 'wgtk0' });
    assert.is(attached.name, 'wgtk0');
    assert.is(attached.ifindex, persistent?.ifindex);
    await attach.call('close', {});
    assert.ok(link(ns, 'wgtk0'), 'a persistent device survives close()');
    await pattern.call('close', {});
    assert.is(link(ns, 'wgtp0'), undefined, 'a device created by open() goes with close()');
  } finally {
    ns.delete();
  }
});

test('writes reach the kernel: ICMP echo replies come back in batches; bad writes are dropped with a reason', async () => {
  const ns = quietNs('icmp');
  try {
    const a = new Agent(ns);
    await a.call('open', { name: 'wgti0' });
    await a.call('start', { watchPort: 9999 });
    assert.is((await a.call('writeUdp', { src: '10.205.0.2', dst: '10.205.0.1' })).ok, false, 'a down TUN refuses writes');
    let s = await a.call('stats', {});
    assert.is(s.tun.txDropsDown, 1);
    assert.is(s.goneCount, 0, 'EIO from a down device is not "gone"');

    up(ns, 'wgti0', '10.205.0.1/24');
    const one = await a.call('ping', { src: '10.205.0.2', dst: '10.205.0.1', count: 1, batch: false, waitMs: 3000 });
    assert.equal(one, { written: 1, replies: 1, repliesFromDst: 1 });
    const many = await a.call('ping', { src: '10.205.0.2', dst: '10.205.0.1', count: 200, batch: true, waitMs: 5000 });
    assert.equal(many, { written: 200, replies: 200, repliesFromDst: 200 });

    const bad = await a.call('writeBad', {});
    assert.equal(bad, { outOfRange: false, empty: false, notIp: false, batchWritten: 1 });
    s = await a.call('stats', {});
    assert.is(s.tun.txDropsInvalid, 5, 'out of range, empty, not IP, and two bad batch slots');
    assert.is(s.tun.txPackets, 202);
    assert.is(s.tun.txBytes, 84 + 200 * 84 + 44);
    assert.is(link(ns, 'wgti0')?.rxPackets, 202, 'the kernel counted exactly the packets we say we wrote');
    assert.is(s.tun.rxPackets, 201, 'every echo reply was read');
    assert.is(s.tun.rxBytes, 201 * 84);
    assert.ok(s.maxBatch > 1, `200 replies to one writeBatch arrive batched (max ${s.maxBatch})`);
  } finally {
    ns.delete();
  }
});

test('a UDP flood from the kernel is read with more than one packet per callback', async () => {
  const ns = quietNs('flood');
  try {
    const a = new Agent(ns);
    await a.call('open', { name: 'wgtl0' });
    up(ns, 'wgtl0', '10.206.0.1/24', 4000);
    await a.call('start', { watchPort: 9999 });
    const sent = udpPeer(ns, '10.206.0.2', 9999, 2000, 1200, 0);
    assert.is(sent.sent, 2000);
    const s = await statsWhen(a, (x) => x.udp === 2000, 10_000, '2000 UDP packets');
    const mean = s.udp / s.udpBatches;
    console.log(`  flood: 2000 packets in ${s.udpBatches} callbacks, mean ${mean.toFixed(1)}, max ${s.maxBatch}`);
    assert.ok(mean > 1, `mean batch ${mean}`);
    assert.ok(s.maxBatch > 1 && s.maxBatch <= 64);
  } finally {
    ns.delete();
  }
});

test('pause keeps packets queued in the kernel; resume drains them in full batches', async () => {
  const ns = quietNs('pause');
  try {
    const a = new Agent(ns);
    await a.call('open', { name: 'wgtq0' });
    up(ns, 'wgtq0', '10.207.0.1/24');
    await a.call('start', { batch: 64, watchPort: 9999 });
    await a.call('pause', {});
    assert.is(udpPeer(ns, '10.207.0.2', 9999, 300, 200, 0).sent, 300);
    await sleep(300);
    assert.is((await a.call('stats', {})).udp, 0, 'nothing delivered while paused');
    assert.is((await a.call('info', {})).reading, false);
    await a.call('resume', {});
    const s = await statsWhen(a, (x) => x.udp === 300, 5000, '300 queued packets');
    assert.is(s.udpBatches, 5, '300 packets = 4 full batches of 64 + 44');
    assert.is(s.maxBatch, 64);
  } finally {
    ns.delete();
  }
});

test('UDP echo through the TUN: packets rewritten in place in the slab and written back with writeBatch', async () => {
  const ns = quietNs('echo');
  try {
    const a = new Agent(ns);
    await a.call('open', { name: 'wgte0' });
    up(ns, 'wgte0', '10.208.0.1/24');
    await a.call('start', { watchPort: 7, reflectPort: 7 });
    const r = udpPeer(ns, '10.208.0.2', 7, 100, 1000, 5000);
    assert.equal(r, { sent: 100, echoed: 100 });
    const s = await a.call('stats', {});
    assert.is(s.reflected, 100);
    assert.is(s.tun.txPackets, 100);
    assert.is(s.tun.txBytes, 100 * 1028);
  } finally {
    ns.delete();
  }
});

test('ip link del fires onGone exactly once: while reading, while paused, and never started', async () => {
  const ns = quietNs('gone');
  try {
    const reading = new Agent(ns);
    const paused = new Agent(ns);
    const idle = new Agent(ns);
    await reading.call('open', { name: 'wgtd0' });
    await paused.call('open', { name: 'wgtd1' });
    await idle.call('open', { name: 'wgtd2' });
    up(ns, 'wgtd0', '10.209.0.1/24');
    await reading.call('start', { watchPort: 9999 });
    await paused.call('start', { watchPort: 9999 });
    await paused.call('pause', {});
    await sleep(300);
    for (const agent of [reading, paused, idle]) assert.is(agent.gone.length, 0);
    for (const dev of ['wgtd0', 'wgtd1', 'wgtd2']) ns.exec('ip', ['link', 'del', dev]);
    const started = Date.now();
    await waitFor(() => reading.gone.length > 0, 10_000, 5, 'gone while reading');
    const readingMs = Date.now() - started;
    await waitFor(() => paused.gone.length > 0 && idle.gone.length > 0, 10_000, 10, 'gone while paused / idle');
    console.log(`  onGone after ${readingMs} ms while reading, ${Date.now() - started} ms for paused and idle`);
    await sleep(600);
    for (const agent of [reading, paused, idle]) {
      assert.is(agent.gone.length, 1);
      assert.is(agent.gone[0].code, 'EBADFD');
      const info = await agent.call('info', {});
      assert.is(info.closed, true);
      assert.is((await agent.call('stats', {})).goneCount, 1);
    }
    assert.equal(reading.gone.map((g) => g.name), ['wgtd0']);
  } finally {
    ns.delete();
  }
});

test('moving the TUN to another namespace is not "gone": packets still flow through the fd both ways', async () => {
  const home = quietNs('home');
  const away = quietNs('away');
  try {
    const a = new Agent(home);
    await a.call('open', { name: 'wgtm0' });
    await a.call('start', { watchPort: 7, reflectPort: 7 });
    home.exec('ip', ['link', 'set', 'wgtm0', 'netns', away.name]);
    assert.is(link(home, 'wgtm0'), undefined);
    up(away, 'wgtm0', '10.210.0.1/24');
    await a.call('pause', {});
    await sleep(700); // the liveness probe runs while paused
    await a.call('resume', {});
    await sleep(300);
    assert.is(a.gone.length, 0);

    const echoed = udpPeer(away, '10.210.0.2', 7, 50, 1000, 5000);
    assert.equal(echoed, { sent: 50, echoed: 50 }, 'kernel -> fd -> kernel in the other namespace');
    const pinged = await a.call('ping', { src: '10.210.0.2', dst: '10.210.0.1', count: 5, batch: true, waitMs: 3000 });
    assert.equal(pinged, { written: 5, replies: 5, repliesFromDst: 5 });
    const info = await a.call('info', {});
    assert.equal(info, { name: 'wgtm0', mtu: 'ENODEV', ifindex: 'ENODEV', closed: false, reading: true });
    assert.is((await a.call('stats', {})).goneCount, 0);

    away.exec('ip', ['link', 'del', 'wgtm0']);
    await waitFor(() => a.gone.length > 0, 10_000, 10, 'gone after delete in the other namespace');
    await sleep(400);
    assert.is(a.gone.length, 1);
  } finally {
    home.delete();
    away.delete();
  }
});

test('close() is idempotent, removes the device, never fires onGone, and lets the process exit', async () => {
  const ns = quietNs('close');
  try {
    const a = new Agent(ns);
    await a.call('open', { name: 'wgtc0' });
    up(ns, 'wgtc0', '10.211.0.1/24');
    await a.call('start', { watchPort: 9999 });
    const closed = await a.call('close', {});
    assert.equal(closed, { closed: true, writeAfterClose: false, startAfterClose: 'EBADF' });
    assert.is(link(ns, 'wgtc0'), undefined);
    await sleep(500);
    assert.is((await a.call('stats', {})).goneCount, 0);
    assert.is(a.gone.length, 0);
    assert.is(await a.end(5000), 0, 'no libuv handle keeps the process alive after close()');
  } finally {
    ns.delete();
  }
});

test.run();
