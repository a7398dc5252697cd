// `wgts ha keepalived-conf` (src/gateway/ha/keepalived.ts): what it writes is accepted by Debian's
// keepalived itself (`keepalived --config-test`, in a namespace that has the interfaces it names),
// the choices the README describes are in it, and bad options are refused naming the option.
import { writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keepalivedConf, type KeepalivedOptions } from '../../../src/gateway/ha/keepalived.js';
import { Netns } from '../../helpers/netns.js';
import { secretFile } from '../../helpers/wg.js';
import { wgts } from '../../helpers/up.js';

const base: KeepalivedOptions = {
  wgIf: 'gw0', vrrpIf: 'eth0', vip: '198.51.100.10/24', routerId: 51, priority: 200, advertInt: 1,
  endpointsFile: '/var/lib/wgts/gw0.endpoints', wgts: ['/usr/bin/wgts'], wg: '/usr/bin/wg',
};

test('the config: nopreempt BACKUP, the TUN tracked, a health check, the kick on MASTER, the VIP with its prefix', () => {
  const c = keepalivedConf(base);
  assert.match(c, /vrrp_instance wgts_gw0 \{\n {2}state BACKUP\n {2}nopreempt\n {2}interface eth0\n {2}virtual_router_id 51\n {2}priority 200\n {2}advert_int 1\n/);
  assert.match(c, '  track_interface {\n    gw0\n  }\n');
  assert.match(c, '  script "/usr/bin/wg show gw0 listen-port"\n');
  assert.match(c, '    198.51.100.10/24 dev eth0\n');
  assert.match(c, '  notify_master "/usr/bin/wgts ha kick gw0 --endpoints /var/lib/wgts/gw0.endpoints"\n');
  assert.not.match(c, 'version 3');
  assert.match(keepalivedConf({ ...base, advertInt: 0.5 }), '  advert_int 0.5\n  version 3\n', 'fractions need VRRPv3');
  assert.match(keepalivedConf({ ...base, vip: 'fd00::10/64' }), '  version 3\n', 'IPv6 needs VRRPv3');
  const { endpointsFile: _e, ...noFile } = base;
  assert.match(keepalivedConf(noFile), '  notify_master "/usr/bin/wgts ha kick gw0"\n');
});

test('bad options are refused naming the option', () => {
  assert.throws(() => keepalivedConf({ ...base, wgIf: 'a name' }), /^--wg a name: not an interface name/);
  assert.throws(() => keepalivedConf({ ...base, vip: '198.51.100.10' }), /^--vip 198\.51\.100\.10: .*needs a \/prefix/);
  assert.throws(() => keepalivedConf({ ...base, routerId: 0 }), /^--router-id 0: expected 1-255/);
  assert.throws(() => keepalivedConf({ ...base, priority: 255 }), /^--priority 255: expected 1-254/);
  assert.throws(() => keepalivedConf({ ...base, endpointsFile: 'relative' }), /relative: keepalived needs absolute paths/);
  assert.throws(() => keepalivedConf({ ...base, endpointsFile: '/a b' }), /cannot put "\/a b" into a keepalived script line/);
  const r = wgts(['ha', 'keepalived-conf', '--wg', 'gw0', '--interface', 'eth0', '--vip', '10.0.0.1/24', '--priority', '300']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--priority.*expected a whole number, 1-254/);
});

test('keepalived --config-test accepts what wgts ha keepalived-conf prints', () => {
  const ns = new Netns('kacf');
  try {
    ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'gw0']);
    const r = wgts(['ha', 'keepalived-conf', '--wg', 'gw0', '--interface', 'eth0', '--vip', '198.51.100.10/24', '--endpoints', '/var/lib/wgts/gw0.endpoints']);
    assert.is(r.status, 0, r.stderr);
    const file = secretFile(r.stdout);
    const t = ns.tryExec('keepalived', ['--config-test', '-f', file]);
    assert.is(t.status, 0, `${t.stdout}${t.stderr}`);
    // The control: keepalived's check does fail on a config it does not accept.
    writeFileSync(file, r.stdout.replace('nopreempt', 'nopreempt_typo'));
    assert.is.not(ns.tryExec('keepalived', ['--config-test', '-f', file]).status, 0);
  } finally {
    ns.delete();
  }
});

test.run();
