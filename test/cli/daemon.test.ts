// The wireguard-go daemon contract of `wgts-go`, judged black-box: background start, the UAPI
// socket's permissions and life cycle, shutdown on SIGTERM / socket deletion / TUN deletion, a TUN
// moved to another namespace while UDP stays (IPv6 loopback endpoints), and wg-quick driving it.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, sh, sleep, waitFor } from '../helpers/netns.js';
import { type Impl, genkey, ping, secretFile, socketPath, startDaemon, uniqueIfname, wg, wgtsGoScript } from '../helpers/wg.js';

const linkExists = (ns: Netns, ifname: string): boolean => ns.tryExec('ip', ['link', 'show', ifname]).status === 0;

function pidsOf(ifname: string): number[] {
  const r = sh('ps', ['-eo', 'pid=,args=']);
  return r.split('\n').filter((l) => l.includes(wgtsGoScript) && l.trim().endsWith(` ${ifname}`)).map((l) => Number(l.trim().split(/\s+/)[0]));
}

test('background start returns once TUN and socket exist; socket 0600 in a 0755 directory; SIGTERM stops it', async () => {
  const ns = new Netns('bg');
  const ifname = uniqueIfname('bg');
  try {
    const started = Date.now();
    ns.exec(wgtsGoScript, [ifname], { timeoutMs: 15_000 });
    assert.ok(Date.now() - started < 15_000);
    assert.ok(existsSync(socketPath(ifname)), 'socket exists when the command returns');
    assert.ok(linkExists(ns, ifname), 'TUN exists when the command returns');
    assert.is(statSync(socketPath(ifname)).mode & 0o777, 0o600);
    assert.is(statSync('/var/run/wireguard').mode & 0o777, 0o755);
    const pids = pidsOf(ifname);
    assert.is(pids.length, 1, 'one daemon process keeps running');
    assert.match(wg({ ns }, ['show', ifname]), new RegExp(`interface: ${ifname}`));
    process.kill(pids[0] as number, 'SIGTERM');
    await waitFor(() => !existsSync(socketPath(ifname)) && !linkExists(ns, ifname), 5000, 50, 'clean exit');
    assert.is(pidsOf(ifname).length, 0);
  } finally {
    for (const pid of pidsOf(ifname)) process.kill(pid, 'SIGKILL');
    ns.delete();
  }
});

test('under an inherited umask 000 the socket is still 0600 from birth, and ss -xlp (in its namespace: UNIX sockets belong to one) shows its real path', async () => {
  const ns = new Netns('um');
  const ifname = uniqueIfname('um');
  try {
    ns.exec('sh', ['-c', `umask 000 && exec "$0" "$1"`, wgtsGoScript, ifname], { timeoutMs: 15_000 });
    assert.is(statSync(socketPath(ifname)).mode & 0o777, 0o600);
    assert.equal(readdirSync('/var/run/wireguard').filter((f) => f.includes(ifname)), [`${ifname}.sock`], 'no temporary name left');
    const pid = pidsOf(ifname)[0] as number;
    const listening = ns.exec('ss', ['-xlpH']).split('\n').filter((l) => l.includes(`pid=${pid},`));
    assert.is(listening.length, 1, `one listening UNIX socket of the daemon: ${listening.join(' | ')}`);
    assert.ok((listening[0] as string).includes(` ${socketPath(ifname)} `), `ss shows the real path: ${listening[0]}`);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !existsSync(socketPath(ifname)), 5000, 50, 'clean exit');
  } finally {
    for (const pid of pidsOf(ifname)) process.kill(pid, 'SIGKILL');
    ns.delete();
  }
});

/**
 * Starts `impl`, lowers its RLIMIT_NOFILE (prlimit) to the descriptors it has open plus two, opens
 * twelve UAPI connections (accept fails with EMFILE from the third), closes them again and asks
 * `wg show`. Returns whether the daemon survived and then still answered.
 */
async function emfile(impl: Impl): Promise<{ alive: boolean; answers: boolean }> {
  const ns = new Netns('emf');
  const conns: Socket[] = [];
  try {
    const d = await startDaemon(impl, ns, uniqueIfname('em'), { LOG_LEVEL: 'error' });
    await sleep(300);
    const pid = d.proc.pid as number; // `ip netns exec` execs the daemon: same pid
    const open = readdirSync(`/proc/${pid}/fd`).length;
    sh('prlimit', ['--pid', String(pid), `--nofile=${open + 2}:${open + 2}`]);
    for (let i = 0; i < 12; i++) {
      const c = connect(socketPath(d.ifname));
      c.on('error', () => c.destroy());
      conns.push(c);
      await sleep(30);
    }
    await sleep(500);
    for (const c of conns) c.destroy();
    await sleep(300);
    const alive = d.proc.exitCode === null && d.proc.signalCode === null;
    const answers = alive && ns.tryExec('wg', ['show', d.ifname], { timeoutMs: 5000 }).stdout.includes(`interface: ${d.ifname}`);
    await d.stop();
    return { alive, answers };
  } finally {
    for (const c of conns) c.destroy();
    ns.delete();
  }
}

test('EMFILE on accept does not stop the daemon (prlimit RLIMIT_NOFILE); wireguard-go printed', async () => {
  const ours = await emfile('wgts');
  const theirs = await emfile('wireguard-go');
  console.log(`  EMFILE on UAPI accept: wgts ${ours.alive ? 'kept running' : 'exited'}${ours.answers ? ' and answers wg show' : ''}; ` +
    `wireguard-go ${theirs.alive ? 'kept running' : 'exited (its accept loop ends the process on any accept error)'}`);
  assert.ok(ours.alive, 'wgts-go survives EMFILE');
  assert.ok(ours.answers, 'and serves UAPI again once descriptors are free');
});

test('a live socket is refused, a stale one replaced', async () => {
  const ns1 = new Netns('live1');
  const ns2 = new Netns('live2');
  const ifname = uniqueIfname('lv');
  try {
    const d = await startDaemon('wgts', ns1, ifname);
    const second = ns2.tryExec(process.execPath, [wgtsGoScript, '-f', ifname], { timeoutMs: 10_000 });
    assert.is.not(second.status, 0, 'second daemon on a live socket must fail');
    assert.match(second.stderr + second.stdout, /in use/);
    assert.ok(existsSync(socketPath(ifname)), 'the live socket is left alone');
    await d.stop();
    assert.not.ok(existsSync(socketPath(ifname)), 'socket removed on exit');
    // A stale socket file: bound by a process that is gone.
    sh('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(socketPath(ifname))})`]);
    assert.ok(existsSync(socketPath(ifname)));
    const d2 = await startDaemon('wgts', ns2, ifname);
    assert.match(wg(d2, ['show', ifname]), /listening port/);
    await d2.stop();
  } finally {
    ns1.delete();
    ns2.delete();
  }
});

test('deleting the UAPI socket stops the daemon', async () => {
  const ns = new Netns('sock');
  const ifname = uniqueIfname('sk');
  try {
    const d = await startDaemon('wgts', ns, ifname);
    rmSync(socketPath(ifname));
    await waitFor(() => d.proc.exitCode !== null, 5000, 50, 'exit after socket deletion');
    assert.is(d.proc.exitCode, 0);
    await waitFor(() => !linkExists(ns, ifname), 10_000, 50, 'TUN gone');
  } finally {
    ns.delete();
  }
});

test('deleting the TUN stops the daemon and removes its socket', async () => {
  const ns = new Netns('tundel');
  const ifname = uniqueIfname('td');
  try {
    const d = await startDaemon('wgts', ns, ifname);
    ns.exec('ip', ['link', 'del', ifname]);
    await waitFor(() => d.proc.exitCode !== null, 5000, 50, 'exit after TUN deletion');
    assert.not.ok(existsSync(socketPath(ifname)), 'socket removed');
  } finally {
    ns.delete();
  }
});

for (const other of ['wgts', 'wireguard-go'] as const) {
  test(`TUN moved to another namespace, UDP stays; IPv6 loopback endpoint [::1] (peer: ${other})`, async () => {
    const home = new Netns('home');
    const nsA = new Netns('ma');
    const nsB = new Netns('mb');
    try {
      const a = await startDaemon('wgts', home, uniqueIfname('ma'));
      const b = await startDaemon(other, home, uniqueIfname('mb'));
      const ka = genkey(), kb = genkey();
      wg(a, ['set', a.ifname, 'private-key', secretFile(ka.priv), 'listen-port', '52001', 'peer', kb.pub, 'allowed-ips', '10.81.0.2/32', 'endpoint', '[::1]:52002']);
      wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '52002', 'peer', ka.pub, 'allowed-ips', '10.81.0.1/32', 'endpoint', '[::1]:52001']);
      home.exec('ip', ['link', 'set', a.ifname, 'netns', nsA.name]);
      home.exec('ip', ['link', 'set', b.ifname, 'netns', nsB.name]);
      nsA.exec('ip', ['addr', 'add', '10.81.0.1/24', 'dev', a.ifname]);
      nsB.exec('ip', ['addr', 'add', '10.81.0.2/24', 'dev', b.ifname]);
      nsA.exec('ip', ['link', 'set', a.ifname, 'up']);
      nsB.exec('ip', ['link', 'set', b.ifname, 'up']);
      await sleep(300);
      assert.ok(a.proc.exitCode === null, 'moving the TUN does not stop the daemon');
      assert.ok(await waitFor(() => ping(nsA, '10.81.0.2'), 10_000, 200, 'ping across moved TUNs'), 'A->B');
      assert.ok(ping(nsB, '10.81.0.1'), 'B->A');
      assert.match(wg(a, ['show', a.ifname, 'endpoints']), /\[::1\]:52002/);
      await a.stop();
      await b.stop();
    } finally {
      nsA.delete(); nsB.delete(); home.delete();
    }
  });
}

test('wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=wgts-go', async () => {
  const nsA = new Netns('wqa');
  const nsB = new Netns('wqb');
  const dir = mkdtempSync(join(tmpdir(), 'wgts-wq-'));
  const ifname = uniqueIfname('wq');
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.82.0.1/24'] }, { ifname: 'vb', addrs: ['10.82.0.2/24'] });
    const ka = genkey(), kb = genkey();
    const b = await startDaemon('wireguard-go', nsB, uniqueIfname('wqp'));
    wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '51820', 'peer', ka.pub, 'allowed-ips', '10.83.0.1/32']);
    nsB.exec('ip', ['addr', 'add', '10.83.0.2/24', 'dev', b.ifname]);
    nsB.exec('ip', ['link', 'set', b.ifname, 'up']);
    const conf = join(dir, `${ifname}.conf`);
    writeFileSync(conf, `[Interface]\nPrivateKey = ${ka.priv}\nAddress = 10.83.0.1/24\nListenPort = 51821\nMTU = 1400\n\n[Peer]\nPublicKey = ${kb.pub}\nAllowedIPs = 10.83.0.0/24\nEndpoint = 10.82.0.2:51820\nPersistentKeepalive = 25\n`, { mode: 0o600 });
    const env = { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: wgtsGoScript, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    nsA.exec('wg-quick', ['up', conf], { env, timeoutMs: 30_000 });
    assert.ok(existsSync(socketPath(ifname)), 'wgts-go socket exists');
    assert.ok(await waitFor(() => ping(nsA, '10.83.0.2'), 10_000, 200, 'ping through wg-quick interface'));
    assert.match(nsA.exec('ip', ['link', 'show', ifname]), /mtu 1400/);
    assert.match(nsA.exec('wg', ['show', ifname, 'persistent-keepalive']), /\t25\n/);
    nsA.exec('wg-quick', ['down', conf], { env, timeoutMs: 30_000 });
    await waitFor(() => !existsSync(socketPath(ifname)), 5000, 50, 'socket removed after wg-quick down');
    assert.not.ok(linkExists(nsA, ifname));
    await b.stop();
  } finally {
    nsA.delete(); nsB.delete();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LOG_LEVEL: verbose logs DEBUG lines in wireguard-go\'s format, silent logs nothing', async () => {
  const ns = new Netns('log');
  try {
    const v = await startDaemon('wgts', ns, uniqueIfname('lg'), { LOG_LEVEL: 'verbose' });
    await v.stop();
    assert.match(v.log(), new RegExp(`^DEBUG: \\(${v.ifname}\\) \\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d `, 'm'));
    const q = await startDaemon('wgts', ns, uniqueIfname('lg'), { LOG_LEVEL: 'silent' });
    wg(q, ['set', q.ifname, 'listen-port', '1']); // something that would log at verbose
    await q.stop();
    assert.is(q.log(), '');
  } finally {
    ns.delete();
  }
});

test.run();
