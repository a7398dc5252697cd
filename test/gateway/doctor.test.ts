// `wgts doctor` (src/gateway/doctor/): every check broken for real in namespaces, then fixed. A
// project network and a laptop behind a gateway namespace whose host resolver is a dnsmasq on
// 127.0.0.53 (named by the namespace's resolv.conf, as a host with systemd-resolved's stub).
// The gateway stopped: the port taken, port 53 taken (and `wgts up` really failing there), the
// resolver dead, iptables missing, nftables tables dropping, the file readable by others. The
// gateway running: forwarding off, its FORWARD / INPUT / masquerade rules deleted or a DROP put
// before them, its DNS unreachable, a failed reload, a link MTU too small for the tunnel. The
// laptop: a route overlapping the project network, an MTU too large, no handshake, its resolv.conf
// rewritten, and no way to set split DNS (an unnamed namespace). Each ✘ names the fix; the exit
// status is 1 then, 0 when everything passes.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CheckResult, DoctorReport } from '../../src/gateway/doctor/report.js';
import { Netns, sh, trySh, waitFor } from '../helpers/netns.js';
import { guardResolvConf, resolvPath } from '../helpers/stock-laptop.js';
import { startUp, stopUps, type UpProc, wgts, wgtsOk } from '../helpers/up.js';
import { repoRoot, uniqueIfname, wgtsScript } from '../helpers/wg.js';
import { startDnsmasq, type Dnsmasq } from './dns/helpers/dnsmasq.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-doctor-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const gwIf = uniqueIfname('gd');
const lIf = uniqueIfname('ld');
const conf = (ifname: string): string => join(work, `${ifname}.conf`);
const gwFile = conf(gwIf);
const lapFile = conf(lIf);

let gw: Netns;
let proj: Netns;
let lap: Netns;
let resolver: Dnsmasq;
const procs: UpProc[] = [];

/** `wgts doctor FILE --json` in `ns` (the command itself): the report and the exit status. */
function cli(ns: Netns, file: string, env?: NodeJS.ProcessEnv): { report: DoctorReport; status: number } {
  const r = ns.tryExec(process.execPath, [wgtsScript, 'doctor', file, '--json'], { timeoutMs: 60_000, ...(env ? { env } : {}) });
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.status}): ${r.stdout}${r.stderr}`);
  }
  assert.is(r.status, report.ok ? 0 : 1, 'exit 0 exactly when every check passed');
  return { report, status: r.status };
}

/**
 * The doctor's runDoctor, kept loaded in a process per namespace (a node start per check would
 * make this file slow; the command itself is run by cli() above for its output and exit status).
 */
const SERVER = `
const { runDoctor } = await import(process.argv[1]);
let buf = '';
process.stdin.on('data', async (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const file = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const r = await runDoctor(file).catch((e) => ({ error: String(e) }));
    process.stdout.write(JSON.stringify(r) + '\\n');
  }
});`;
const servers = new Map<string, { ask: (file: string) => Promise<DoctorReport> }>();

function server(ns: Netns): { ask: (file: string) => Promise<DoctorReport> } {
  const known = servers.get(ns.name);
  if (known) return known;
  const child = ns.spawn(process.execPath, ['--input-type=module', '-e', SERVER, join(repoRoot, 'dist', 'src', 'gateway', 'doctor', 'doctor.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiting: ((line: string) => void)[] = [];
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  const s = {
    ask: (file: string): Promise<DoctorReport> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no report within 60 s: ${err}`)), 60_000);
      waiting.push((line) => {
        clearTimeout(timer);
        const v = JSON.parse(line) as DoctorReport | { error: string };
        if ('error' in v) reject(new Error(v.error)); else resolve(v);
      });
      child.stdin?.write(`${file}\n`);
    }),
  };
  servers.set(ns.name, s);
  return s;
}

/** runDoctor(FILE) in `ns`: the report, and the exit status the command would have. */
async function doctor(ns: Netns, file: string): Promise<{ report: DoctorReport; status: number }> {
  const report = await server(ns).ask(file);
  return { report, status: report.ok ? 0 : 1 };
}

function check(report: DoctorReport, id: string): CheckResult {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

/** Asserts the check failed with `detail` and `fix` in its text. */
async function failed(ns: Netns, file: string, id: string, detail: string | RegExp, fix: string | RegExp): Promise<CheckResult> {
  const { report, status } = await doctor(ns, file);
  const c = check(report, id);
  assert.is(c.status, 'fail', `${id}: ${JSON.stringify(c)}`);
  assert.match(c.detail, detail);
  assert.match(c.fix ?? '', fix);
  assert.is(status, 1);
  return c;
}

/** Asserts the check passed (and returns it). */
async function passed(ns: Netns, file: string, id: string, detail?: string | RegExp): Promise<CheckResult> {
  const c = check((await doctor(ns, file)).report, id);
  assert.is(c.status, 'pass', `${id}: ${JSON.stringify(c)}`);
  if (detail !== undefined) assert.match(c.detail, detail);
  return c;
}

test('setup: project, gateway with a host resolver, a laptop', async () => {
  gw = new Netns('dgw');
  proj = new Netns('dproj');
  lap = new Netns('dlap');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24'] });
  gw.link(lap, { ifname: 'inet0', addrs: ['10.200.0.1/24'] }, { ifname: 'eth0', addrs: ['10.200.0.10/24'] });
  guardResolvConf(gw);
  guardResolvConf(lap);
  writeFileSync(resolvPath(gw), 'nameserver 127.0.0.53\n');
  resolver = await startDnsmasq(gw, '127.0.0.53', { host: { 'www.example.com': '10.124.0.10' } });
  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10', '--domain', 'zerops']);
  wgtsOk(['peer', 'add', gwFile, 'laptop', '--out', lapFile]);
});

test('a stopped gateway on a healthy host: every check passes or says it needs the interface running; exit 0; text output', async () => {
  const { report, status } = cli(gw, gwFile);
  assert.is(status, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
  assert.is(report.role, 'gateway');
  assert.is(report.running, null);
  assert.is(check(report, 'running').status, 'skip');
  assert.is(check(report, 'handshake').status, 'skip');
  assert.match(check(report, 'udp-port').detail, 'UDP 51820 is free; the Endpoint 10.200.0.1:51820 is an address of this host (inet0)');
  assert.match(check(report, 'forwarding').detail, /off now .*wgts up turns it on/);
  assert.match(check(report, 'dns-upstream').detail, /127\.0\.0\.53:53 \([0-9]+ ms\) answer \(from \/etc\/resolv\.conf \(here: \/etc\/netns\/.*\/resolv\.conf\)\)/);
  assert.match(check(report, 'routes').detail, '10.124.0.0/24 via proj0');
  const text = gw.tryExec(process.execPath, [wgtsScript, 'doctor', gwFile]);
  assert.is(text.status, 0);
  assert.match(text.stdout, new RegExp(`^wgts doctor ${gwFile}: gateway ${gwIf}, not running here$`, 'm'));
  assert.match(text.stdout, /^✔ UDP port: UDP 51820 is free/m);
  assert.match(text.stdout, /^– handshake: needs the interface running$/m);
  assert.match(text.stdout, /^[0-9]+ passed, 0 failed, [0-9]+ skipped \(.*handshake: need the interface running\)$/m);
});

test('config file permissions: readable by others, or a directory others can write', async () => {
  chmodSync(gwFile, 0o644);
  await failed(gw, gwFile, 'permissions', 'holds a private key and is accessible to its group and every user (mode 0644)', `chmod 600 ${gwFile}`);
  const text = gw.tryExec(process.execPath, [wgtsScript, 'doctor', gwFile]).stdout;
  assert.match(text, new RegExp(`^✘ config file permissions: .* — fix: chmod 600 ${gwFile}$`, 'm'), 'one line with the fix');
  chmodSync(gwFile, 0o600);
  chmodSync(work, 0o777);
  await failed(gw, gwFile, 'permissions', `${work} is writable by every user`, `chmod go-w ${work}`);
  chmodSync(work, 0o700);
  await passed(gw, gwFile, 'permissions', 'mode 0600');
});

test('UDP port in use by another program; port 53 taken on the tunnel address (and wgts up really fails there)', async () => {
  const port = gw.spawn('ncat', ['-u', '-l', '0.0.0.0', '51820']);
  const dns = gw.spawn('ncat', ['-u', '-l', '0.0.0.0', '53']);
  try {
    await waitFor(() => gw.exec('ss', ['-Hlun']).includes(':51820') && gw.exec('ss', ['-Hlun']).includes('0.0.0.0:53'), 5000, 25, 'ncat listening');
    await failed(gw, gwFile, 'udp-port', /UDP 51820 is in use by ncat \(pid [0-9]+\)/, 'stop that program, or choose another ListenPort');
    port.kill('SIGKILL');
    await waitFor(() => !gw.exec('ss', ['-Hlun']).includes(':51820'), 5000, 25, 'port free');
    await failed(gw, gwFile, 'dns-listener', /UDP 53 on 0\.0\.0\.0 by ncat \(pid [0-9]+\) \(wgts needs 10\.123\.0\.1\)/, 'bind-interfaces');
    const up = gw.tryExec(process.execPath, [wgtsScript, 'up', gwFile], { timeoutMs: 20_000 });
    assert.is(up.status, 1, 'the doctor was right: wgts up cannot start its DNS');
    assert.match(up.stderr, /EADDRINUSE/);
  } finally {
    port.kill('SIGKILL');
    dns.kill('SIGKILL');
  }
  await waitFor(() => !gw.exec('ss', ['-Hlun']).includes('0.0.0.0:53'), 5000, 25, 'port 53 free');
  await passed(gw, gwFile, 'udp-port', 'UDP 51820 is free');
  await passed(gw, gwFile, 'dns-listener', 'port 53 is free on 10.123.0.1');
});

test('DNS upstream: the host resolver stopped, or refusing', async () => {
  resolver.stop();
  await waitFor(() => !gw.exec('ss', ['-Hlun']).includes('127.0.0.53:53'), 5000, 25, 'dnsmasq gone');
  await failed(gw, gwFile, 'dns-upstream', /127\.0\.0\.53:53: .*laptops' other names fail/, /fix the nameserver lines of \/etc\/resolv\.conf/);
  // A resolver that answers but refuses (a dnsmasq with nothing to forward to, no local answers).
  const refusing = gw.spawn('dnsmasq', ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    '--listen-address=127.0.0.53', '--bind-interfaces', '--port=53']);
  try {
    await waitFor(() => gw.exec('ss', ['-Hlun']).includes('127.0.0.53:53'), 5000, 25, 'refusing dnsmasq');
    await failed(gw, gwFile, 'dns-upstream', '127.0.0.53:53 answers REFUSED', 'fix the nameserver lines');
  } finally {
    refusing.kill('SIGKILL');
  }
  await waitFor(() => !gw.exec('ss', ['-Hlun']).includes('127.0.0.53:53'), 5000, 25, 'refusing dnsmasq gone');
  resolver = await startDnsmasq(gw, '127.0.0.53', { host: { 'www.example.com': '10.124.0.10' } });
  await passed(gw, gwFile, 'dns-upstream', '127.0.0.53:53');
  // A resolv.conf naming only the gateway's own DNS would loop.
  writeFileSync(resolvPath(gw), 'nameserver 10.123.0.1\n');
  await failed(gw, gwFile, 'resolver', "names only this gateway's own DNS", 'name the host\'s real resolver');
  writeFileSync(resolvPath(gw), 'nameserver 127.0.0.53\n');
  await passed(gw, gwFile, 'resolver', 'other names go to 127.0.0.53:53');
});

test('iptables missing; nftables tables dropping forwarded and incoming packets', async () => {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const p of ['ip', 'ss']) symlinkSync(sh('sh', ['-c', `command -v ${p}`]).trim(), join(bin, p));
  const noIptables = cli(gw, gwFile, { ...process.env, PATH: bin });
  const tools = check(noIptables.report, 'tools');
  assert.is(tools.status, 'fail');
  assert.match(tools.detail, 'iptables not found');
  assert.match(tools.fix ?? '', 'apt-get install iptables');
  assert.is(noIptables.status, 1);
  await passed(gw, gwFile, 'tools', /iptables v[0-9.]+ \((nf_tables|legacy)\)/);
  gw.exec('nft', ['add', 'table', 'inet', 'hostfw']);
  gw.exec('nft', ['add', 'chain', 'inet', 'hostfw', 'gate', '{ type filter hook forward priority 0; policy drop; }']);
  gw.exec('nft', ['add', 'chain', 'inet', 'hostfw', 'guard', '{ type filter hook input priority 0; policy drop; }']);
  gw.exec('nft', ['add', 'rule', 'inet', 'hostfw', 'guard', 'iifname', 'lo', 'accept']);
  try {
    await failed(gw, gwFile, 'forward-rules', "the nftables chain 'gate' of table 'inet hostfw' (hook forward) drops", `nft insert rule inet hostfw gate iifname "${gwIf}" accept`);
    await failed(gw, gwFile, 'udp-input', "the nftables chain 'guard' of table 'inet hostfw' (hook input) drops by default and never mentions port 51820", 'nft insert rule inet hostfw guard udp dport 51820 accept');
    gw.exec('nft', ['insert', 'rule', 'inet', 'hostfw', 'gate', 'iifname', gwIf, 'accept']);
    gw.exec('nft', ['insert', 'rule', 'inet', 'hostfw', 'guard', 'udp', 'dport', '51820', 'accept']);
    await passed(gw, gwFile, 'forward-rules');
    await passed(gw, gwFile, 'udp-input');
  } finally {
    gw.exec('nft', ['delete', 'table', 'inet', 'hostfw']);
  }
});

test('a running gateway: all pass; then forwarding, FORWARD / INPUT / masquerade rules, DNS, reload and MTU broken and fixed', async () => {
  const g = await startUp(gw, gwFile, gwIf, procs);
  const l = await startUp(lap, lapFile, lIf, procs);
  try {
    await waitFor(async () => check((await doctor(lap, lapFile)).report, 'handshake').status === 'pass', 15_000, 250, 'the laptop\'s handshake');
    const { report, status } = cli(gw, gwFile);
    assert.is(status, 0, JSON.stringify(report.checks.filter((c) => c.status !== 'pass')));
    assert.equal(report.running, { pid: g.pid() });
    assert.match(check(report, 'udp-port').detail, `UDP 51820 bound by wgts up (pid ${g.pid()})`);
    assert.match(check(report, 'dns-listener').detail, /answers gateway\.zerops on 10\.123\.0\.1:53 \([0-9]+ ms\)/);
    assert.match(check(report, 'handshake').detail, '1 of 1 peer(s) online');
    assert.match(check(report, 'mtu').detail, /tunnel MTU 1420 fits inet0 MTU 1500 \(to 10\.200\.0\.10\)/);
    assert.ok(report.checks.filter((c) => c.needsRunning).length >= 6, 'which checks looked at the running interface is said');

    gw.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    await failed(gw, gwFile, 'forwarding', 'net.ipv4.ip_forward = 0', 'sysctl -w net.ipv4.ip_forward=1');
    gw.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    gw.exec('sysctl', ['-qw', 'net.ipv4.conf.proj0.forwarding=0']);
    await failed(gw, gwFile, 'forwarding', 'net.ipv4.conf.proj0.forwarding = 0', 'sysctl -w net.ipv4.conf.proj0.forwarding=1');
    gw.exec('sysctl', ['-qw', 'net.ipv4.conf.proj0.forwarding=1']);
    await passed(gw, gwFile, 'forwarding', /^on \(/);

    const tag = `wgts:${gwIf}:${g.pid()}`;
    const fwd = ['FORWARD', '-i', gwIf, '-d', '10.124.0.0/24', '-m', 'comment', '--comment', tag, '-j', 'ACCEPT'];
    gw.exec('iptables', ['-w', '5', '-D', ...fwd]);
    await failed(gw, gwFile, 'forward-rules', `missing 1 of 2 wgts rule(s): iptables -t filter -A FORWARD -i ${gwIf} -d 10.124.0.0/24 -j ACCEPT`, `systemctl restart wgts@${gwIf}`);
    gw.exec('iptables', ['-w', '5', '-I', ...fwd]);
    await passed(gw, gwFile, 'forward-rules');
    gw.exec('iptables', ['-w', '5', '-I', 'FORWARD', '1', '-s', '10.123.0.0/24', '-j', 'DROP']);
    await failed(gw, gwFile, 'forward-rules', "'-A FORWARD -s 10.123.0.0/24 -j DROP' comes before the accepts of wgts", 'move that rule after the wgts rules');
    gw.exec('iptables', ['-w', '5', '-D', 'FORWARD', '-s', '10.123.0.0/24', '-j', 'DROP']);

    const masq = ['POSTROUTING', '-s', '10.123.0.0/24', '-d', '10.124.0.0/24', '-m', 'comment', '--comment', tag, '-j', 'MASQUERADE'];
    gw.exec('iptables', ['-w', '5', '-t', 'nat', '-D', ...masq]);
    await failed(gw, gwFile, 'masquerade', 'missing: iptables -t nat -A POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 -j MASQUERADE', 'restart');
    gw.exec('iptables', ['-w', '5', '-t', 'nat', '-A', ...masq]);
    await passed(gw, gwFile, 'masquerade', '1 rule(s) in place');

    const input = ['INPUT', '-p', 'udp', '-m', 'udp', '--dport', '51820', '-m', 'comment', '--comment', tag, '-j', 'ACCEPT'];
    gw.exec('iptables', ['-w', '5', '-D', ...input]);
    await failed(gw, gwFile, 'udp-input', 'missing the wgts accept: iptables -A INPUT -p udp -m udp --dport 51820 -j ACCEPT', 'restart');
    gw.exec('iptables', ['-w', '5', '-I', ...input]);
    await passed(gw, gwFile, 'udp-input', 'the wgts accept for UDP 51820 is in place');

    // The DNS answer is a real query: dropped, the check fails.
    gw.exec('iptables', ['-w', '5', '-I', 'INPUT', '1', '-p', 'udp', '-d', '10.123.0.1', '--dport', '53', '-j', 'DROP']);
    await failed(gw, gwFile, 'dns-listener', /no answer from 10\.123\.0\.1:53 for gateway\.zerops: no answer within 1500 ms/, 'journalctl -u wgts@');
    gw.exec('iptables', ['-w', '5', '-D', 'INPUT', '-p', 'udp', '-d', '10.123.0.1', '--dport', '53', '-j', 'DROP']);
    await passed(gw, gwFile, 'dns-listener');

    const good = readFileSync(gwFile, 'utf8');
    writeFileSync(gwFile, `${good}\nNonsense = 1\n`, { mode: 0o600 });
    await waitFor(async () => check((await doctor(gw, gwFile)).report, 'running').status === 'fail', 10_000, 100, 'the failed reload seen');
    await failed(gw, gwFile, 'running', /the last reload of the file FAILED \(1 attempt\(s\)\): .*:[0-9]+: /, `wgts reload ${gwIf}`);
    await failed(gw, gwFile, 'config', /:[0-9]+: /, 'correct the file');
    writeFileSync(gwFile, good, { mode: 0o600 });
    await waitFor(async () => check((await doctor(gw, gwFile)).report, 'running').status === 'pass', 10_000, 100, 'the reload recovered');

    gw.exec('ip', ['link', 'set', 'inet0', 'mtu', '1400']);
    await failed(gw, gwFile, 'mtu', 'tunnel MTU 1420 + 60 bytes of WireGuard headers exceeds inet0 MTU 1400 (to 10.200.0.10)', 'MTU = 1340 in [Interface]');
    gw.exec('ip', ['link', 'set', 'inet0', 'mtu', '1500']);
    await passed(gw, gwFile, 'mtu');

    // From outside the gateway's namespace the doctor says where to run instead (and checks nothing else).
    const away = await doctor(lap, gwFile);
    const where = check(away.report, 'running');
    assert.is(where.status, 'fail');
    assert.match(where.fix ?? '', `ip netns exec ${gw.name} wgts doctor ${gwFile}`);
    assert.is(check(away.report, 'dns-upstream').status, 'skip');
    void l;
  } finally {
    await stopUps(procs);
  }
});

test('a laptop: routes overlapping the project network, an MTU too big, no handshake, resolv.conf rewritten, no split DNS possible', async () => {
  const { status, report } = cli(lap, lapFile);
  assert.is(status, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
  assert.is(check(report, 'tools').status, 'skip', 'a laptop needs no firewall');
  assert.match(check(report, 'resolver').detail, `wgts up writes /etc/netns/${lap.name}/resolv.conf (nameserver 10.123.0.1, search zerops)`);

  lap.exec('ip', ['route', 'add', '10.124.0.0/16', 'dev', 'eth0']);
  await failed(lap, lapFile, 'routes', '10.124.0.0/24 overlaps the host\'s route 10.124.0.0/16 dev eth0', 'remove or renumber one of them');
  lap.exec('ip', ['route', 'del', '10.124.0.0/16', 'dev', 'eth0']);
  await passed(lap, lapFile, 'routes', '10.124.0.0/24, 10.123.0.1/32 overlap no route of this host');

  const good = readFileSync(lapFile, 'utf8');
  writeFileSync(lapFile, good.replace('[Interface]\n', '[Interface]\nMTU = 1480\n'), { mode: 0o600 });
  await failed(lap, lapFile, 'mtu', 'tunnel MTU 1480 + 60 bytes of WireGuard headers exceeds eth0 MTU 1500 (to 10.200.0.1)', 'MTU = 1440 in [Interface]');
  writeFileSync(lapFile, good, { mode: 0o600 });
  await passed(lap, lapFile, 'mtu', 'tunnel MTU 1420 fits eth0 MTU 1500 (to 10.200.0.1)');

  // The gateway is down: the laptop runs but gets no handshake.
  const l = await startUp(lap, lapFile, lIf, procs);
  try {
    await failed(lap, lapFile, 'handshake', 'no recent handshake with 10.200.0.1:51820 (none since the start)', 'wgts doctor on the gateway');
    const g = await startUp(gw, gwFile, gwIf, procs);
    await waitFor(async () => check((await doctor(lap, lapFile)).report, 'handshake').status === 'pass', 20_000, 250, 'the handshake once the gateway runs');
    await passed(lap, lapFile, 'resolver', `/etc/netns/${lap.name}/resolv.conf holds nameserver 10.123.0.1, search zerops`);
    const saved = readFileSync(resolvPath(lap), 'utf8');
    writeFileSync(resolvPath(lap), 'nameserver 127.0.0.1\n');
    await failed(lap, lapFile, 'resolver', 'does not hold nameserver 10.123.0.1, search zerops', 'restart');
    writeFileSync(resolvPath(lap), saved);
    await passed(lap, lapFile, 'routes', `2 route(s) into ${lIf}`);
    void g;
    void l;
  } finally {
    await stopUps(procs);
  }

  // An unnamed network namespace without systemd-resolved: wgts up could not set split DNS there.
  const r = trySh('unshare', ['-n', process.execPath, wgtsScript, 'doctor', lapFile, '--json'], { timeoutMs: 60_000 });
  const bare = JSON.parse(r.stdout) as DoctorReport;
  const c = check(bare, 'resolver');
  assert.is(c.status, 'fail');
  assert.match(c.detail, 'no systemd-resolved and not in a named network namespace');
  assert.match(c.fix ?? '', "put 'nameserver 10.123.0.1' and 'search zerops' into /etc/resolv.conf");
  assert.is(r.status, 1);
});

test('errors: a file that does not parse is reported at its line, the rest is skipped or still checked', async () => {
  const bad = join(work, 'bad0.conf');
  writeFileSync(bad, '[Interface]\nPrivateKey = nope\n', { mode: 0o600 });
  const c = await failed(gw, bad, 'config', `${bad}:2: `, 'correct the file');
  assert.ok(c.detail.length > 0);
  const missing = wgts(['doctor', join(work, 'nothere.conf')], gw);
  assert.is(missing.status, 1);
  assert.match(missing.stdout, 'ENOENT');
});

test('teardown', async () => {
  resolver.stop();
  lap.delete();
  proj.delete();
  gw.delete();
});

test.run();
