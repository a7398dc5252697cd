// `wgts service install | uninstall` (src/cli/service.ts, service-unit.ts): the unit files are
// written into temporary directories only (--unit-dir, or --root as `systemctl --root` does),
// never into this host's systemd. Each generated unit is checked by the real
// `systemd-analyze verify` strictly (exit 0 and not one complaint about our files), and so are
// broken variants, to show the check fails where it should; `systemd-analyze security --offline`
// scores the sandbox; `systemctl --root` enables and disables an instance offline.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dropIn, instanceName, templateUnit, unitName, unitWord } from '../../src/cli/service-unit.js';
import { trySh } from '../helpers/netns.js';
import { wgts, wgtsOk } from '../helpers/up.js';
import { wgtsScript } from '../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-svc-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => {
  const d = join(work, `d${dirs++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A gateway config named IFNAME.conf in a new directory. */
function gatewayConf(ifname: string, dir = newDir()): string {
  const file = join(dir, `${ifname}.conf`);
  wgtsOk(['gateway', 'init', file, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', 'vpn.example.com:51820']);
  return file;
}

/**
 * `systemd-analyze verify` of unit `unit` in `dir`, strictly: the problems it reports about our
 * files (it exits 0 after most of them, printing `Unknown key`, `Failed to parse`, ...), plus its
 * exit status. Empty when the unit is clean.
 */
function verify(dir: string, unit: string): string[] {
  const r = trySh('systemd-analyze', ['--man=no', 'verify', join(dir, unit)], { timeoutMs: 30_000 });
  const ours = r.stderr.split('\n').filter((l) => l.includes(dir) || l.includes(unit) || l.includes('wgts@'));
  return [...ours, ...(r.status !== 0 ? [`exit ${r.status}: ${r.stderr.trim()}`] : [])];
}

test('pure: instance names, words, the template defaults and when a drop-in is needed', () => {
  assert.is(instanceName('gw0'), 'gw0');
  assert.is(instanceName('wg-home.1'), 'wg-home.1', 'wg-quick@wg-home works the same');
  assert.is(instanceName('a=b+c'), 'a\\x3db\\x2bc');
  assert.is(instanceName('.x'), '\\x2ex');
  assert.is(unitName('gw0'), 'wgts@gw0.service');
  assert.is(unitWord('/usr/bin/node'), '/usr/bin/node');
  assert.is(unitWord('/opt/my dir/50%/x"y'), '"/opt/my dir/50%%/x\\"y"');
  assert.is(dropIn('gw0', '/etc/wireguard/gw0.conf'), null, 'the template default needs no drop-in');
  assert.match(dropIn('gw0', '/srv/vpn/gw0.conf') ?? '', /^Environment=WGTS_CONFIG=\/srv\/vpn\/gw0\.conf$/m);
  assert.match(dropIn('a=b', '/etc/wireguard/a=b.conf') ?? '', 'WGTS_CONFIG=/etc/wireguard/a=b.conf', 'an escaped instance names its file');
  assert.match(dropIn('gw0', '/home/ops/gw0.conf') ?? '', /^ProtectHome=read-only$/m);
  assert.match(dropIn('gw0', '/tmp/x/gw0.conf') ?? '', /^PrivateTmp=no$/m);
  const t = templateUnit({ node: '/usr/bin/node', script: '/usr/lib/node_modules/wgts/dist/src/cli/wgts.js' });
  for (const line of [
    'Type=notify', 'NotifyAccess=main', 'Environment=WGTS_CONFIG=/etc/wireguard/%i.conf',
    'ExecStart=/usr/bin/node /usr/lib/node_modules/wgts/dist/src/cli/wgts.js up ${WGTS_CONFIG}',
    'ExecReload=/usr/bin/node /usr/lib/node_modules/wgts/dist/src/cli/wgts.js reload ${WGTS_CONFIG}',
    'Restart=on-failure', 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW', 'DeviceAllow=/dev/net/tun rw',
    'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
    'NoNewPrivileges=yes', 'RuntimeDirectory=wgts wireguard', 'WantedBy=multi-user.target',
  ]) assert.ok(t.split('\n').includes(line), line);
  assert.not.match(t, 'ProtectKernelTunables', 'a gateway writes net.ipv4.ip_forward');
  assert.not.match(t, 'MemoryDenyWriteExecute', "node's JIT");
  assert.not.match(t, 'xtables.lock', 'iptables-nft takes no lock file');
  assert.match(templateUnit({ node: '/n', script: '/s', iptablesLegacy: true }), /^ExecStartPre=\+\/usr\/bin\/touch \/run\/xtables\.lock\nReadWritePaths=\/run\/xtables\.lock$/m);
  assert.match(templateUnit({ node: '/root/.nvm/node', script: '/s' }), /^ProtectHome=read-only$/m, 'node in a home directory stays reachable');
  assert.match(templateUnit({ node: '/n', script: '/s', logFormat: 'json' }), /^ExecStart=\/n \/s up --log-format json \$\{WGTS_CONFIG\}$/m);
});

test('install --unit-dir: the template and the drop-in, verified by systemd-analyze; install again changes nothing', () => {
  const dir = newDir();
  const file = gatewayConf('gw0');
  const out = wgtsOk(['service', 'install', file, '--unit-dir', dir]);
  assert.match(out, `wrote ${join(dir, 'wgts@.service')}`);
  assert.match(out, `wrote ${join(dir, 'wgts@gw0.service.d', 'wgts.conf')}`);
  assert.match(out, 'start it with: systemctl enable --now wgts@gw0.service');
  assert.not.match(out, 'ran: systemctl', 'nothing is enabled or reloaded for a --unit-dir');
  const unit = readFileSync(join(dir, 'wgts@.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${process.execPath} ${wgtsScript} up \\$\\{WGTS_CONFIG\\}$`, 'm'), 'this node and this wgts, absolute');
  assert.is(lstatSync(join(dir, 'wgts@.service')).mode & 0o777, 0o644);
  assert.equal(readFileSync(join(dir, 'wgts@gw0.service.d', 'wgts.conf'), 'utf8').split('\n').filter((l) => l.startsWith('Environment=') || l.startsWith('PrivateTmp')),
    [`Environment=WGTS_CONFIG=${file}`, 'PrivateTmp=no'], 'the file, and its /tmp kept visible');
  assert.equal(verify(dir, 'wgts@gw0.service'), [], 'systemd-analyze verify finds nothing');
  const again = wgtsOk(['service', 'install', file, '--unit-dir', dir]);
  assert.match(again, 'wgts@gw0.service is installed already, unchanged');
});

test('systemd-analyze verify (strict) fails on broken units: a typo, a bad value, a missing program, a bad drop-in', () => {
  const dir = newDir();
  const file = gatewayConf('gw1');
  wgtsOk(['service', 'install', file, '--unit-dir', dir]);
  const template = join(dir, 'wgts@.service');
  const good = readFileSync(template, 'utf8');
  const breakages: [string, (t: string) => string][] = [
    ['a misspelt directive', (t) => t.replace('ProtectSystem=strict', 'ProtectSytem=strict')],
    ['a bad Type', (t) => t.replace('Type=notify', 'Type=notified')],
    ['an unknown address family', (t) => t.replace('AF_NETLINK', 'AF_NETLUNK')],
    ['a missing program', (t) => t.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node')],
    ['a relative ReadWritePaths', (t) => `${t.replace('[Install]', 'ReadWritePaths=run/wgts\n\n[Install]')}`],
  ];
  for (const [what, change] of breakages) {
    writeFileSync(template, change(good));
    assert.ok(verify(dir, 'wgts@gw1.service').length > 0, `verify catches ${what}`);
  }
  writeFileSync(template, good);
  assert.equal(verify(dir, 'wgts@gw1.service'), [], 'restored: clean again');
  const drop = join(dir, 'wgts@gw1.service.d', 'wgts.conf');
  const dropGood = readFileSync(drop, 'utf8');
  writeFileSync(drop, `${dropGood}Enviroment=X=1\n`);
  assert.ok(verify(dir, 'wgts@gw1.service').length > 0, 'verify reads the drop-in too');
  writeFileSync(drop, dropGood);
});

test('names that need escaping, JSON logs, a config in a home directory: all verified', () => {
  const dir = newDir();
  const odd = gatewayConf('a=b+c');
  const out = wgtsOk(['service', 'install', odd, '--unit-dir', dir, '--log-format', 'json']);
  assert.match(out, 'wgts@a\\x3db\\x2bc.service');
  assert.ok(existsSync(join(dir, 'wgts@a\\x3db\\x2bc.service.d', 'wgts.conf')));
  assert.match(readFileSync(join(dir, 'wgts@.service'), 'utf8'), / up --log-format json \$\{WGTS_CONFIG\}$/m);
  assert.equal(verify(dir, 'wgts@a\\x3db\\x2bc.service'), []);
  // A config below /home: the drop-in makes /home readable for this instance only.
  const home = `/home/wgts-test-${process.pid}`;
  mkdirSync(home, { recursive: true });
  try {
    const file = gatewayConf('hm0', home);
    wgtsOk(['service', 'install', file, '--unit-dir', dir]);
    assert.match(readFileSync(join(dir, 'wgts@hm0.service.d', 'wgts.conf'), 'utf8'), /^ProtectHome=read-only$/m);
    assert.equal(verify(dir, 'wgts@hm0.service'), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the sandbox scores as systemd-analyze security rates it (offline)', () => {
  const dir = newDir();
  wgtsOk(['service', 'install', gatewayConf('gw2'), '--unit-dir', dir]);
  const r = trySh('systemd-analyze', ['--offline=true', '--man=no', 'security', join(dir, 'wgts@gw2.service')], { timeoutMs: 30_000 });
  const m = /Overall exposure level for wgts@gw2\.service: ([0-9.]+) (\w+)/.exec(r.stdout + r.stderr);
  assert.ok(m, r.stdout + r.stderr);
  const level = Number(m?.[1]);
  console.log(`  systemd-analyze security: exposure ${level} ${m?.[2] ?? ''}`);
  assert.ok(level <= 3.0, `exposure ${level} (a root network daemon: 10 = no sandbox)`);
});

test('--root: install --enable links the instance like systemctl enable; uninstall disables it and keeps the template for others', () => {
  const root = newDir();
  const units = join(root, 'etc', 'systemd', 'system');
  const a = gatewayConf('gwa');
  const b = gatewayConf('gwb');
  const outA = wgtsOk(['service', 'install', a, '--root', root, '--enable']);
  assert.match(outA, `ran: systemctl --root=${root} enable wgts@gwa.service`);
  const link = join(units, 'multi-user.target.wants', 'wgts@gwa.service');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.is(readlinkSync(link), '/etc/systemd/system/wgts@.service', 'relative to the root, as systemd sees it there');
  wgtsOk(['service', 'install', b, '--root', root]);
  assert.not.ok(existsSync(join(units, 'multi-user.target.wants', 'wgts@gwb.service')), 'not enabled without --enable');

  const un = wgtsOk(['service', 'uninstall', 'gwa', '--root', root]);
  assert.match(un, `ran: systemctl --root=${root} disable wgts@gwa.service`);
  assert.not.ok(existsSync(link), 'disabled');
  assert.not.ok(existsSync(join(units, 'wgts@gwa.service.d')), 'its drop-in gone');
  assert.match(un, 'wgts@.service kept: wgts@gwb.service still uses it');
  assert.ok(existsSync(join(units, 'wgts@.service')));
  const last = wgtsOk(['service', 'uninstall', b, '--root', root]);
  assert.match(last, `removed ${join(units, 'wgts@.service')}`);
  assert.equal(readdirSync(units, { recursive: true }).map(String).filter((f) => f.includes('wgts')), [], 'nothing of wgts left');
  const again = wgts(['service', 'uninstall', 'gwb', '--root', root]);
  assert.is(again.status, 1);
  assert.match(again.stderr, 'wgts@gwb.service is not installed');
});

test('refusals: a unit wgts did not write, --now without --enable, --enable outside systemd\'s directory, a config wgts up refuses', () => {
  const dir = newDir();
  writeFileSync(join(dir, 'wgts@.service'), '[Service]\nExecStart=/bin/true\n');
  const file = gatewayConf('gw3');
  const foreign = wgts(['service', 'install', file, '--unit-dir', dir]);
  assert.is(foreign.status, 1);
  assert.match(foreign.stderr, 'exists and was not written by wgts service install: not replaced (--force replaces it)');
  assert.is(readFileSync(join(dir, 'wgts@.service'), 'utf8'), '[Service]\nExecStart=/bin/true\n', 'untouched');
  wgtsOk(['service', 'install', file, '--unit-dir', dir, '--force']);
  assert.match(wgts(['service', 'install', file, '--unit-dir', dir, '--now']).stderr, '--now starts the service it enables: give --enable too');
  assert.match(wgts(['service', 'install', file, '--unit-dir', dir, '--enable']).stderr, '--enable needs the unit in /etc/systemd/system (of --root)');
  const bad = join(newDir(), 'gw4.conf');
  writeFileSync(bad, readFileSync(file, 'utf8').replace('[Interface]', '[Interface]\nPostUp = echo hi'), { mode: 0o600 });
  const refused = wgts(['service', 'install', bad, '--unit-dir', dir]);
  assert.is(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`^wgts: ${bad}:[0-9]+: PostUp hooks are not supported by wgts up$`, "m"));
});

test.run();
