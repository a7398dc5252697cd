// `npm install -g $(npm pack)` puts working `wgts` and `wgts-go` on the PATH: the tarball carries
// the sources, the install builds the native addon from them (no prebuilt download), and the
// installed commands run. Installed into a temporary prefix, never the machine's global one.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sh } from '../helpers/netns.js';
import { repoRoot } from '../helpers/wg.js';

test('npm pack + npm install -g: wgts and wgts-go work, the addon is built during install', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-install-'));
  try {
    const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    sh('npm', ['pack', '--silent', '--pack-destination', dir], { timeoutMs: 180_000, env }); // runs `prepare` (tsc)
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, 'npm pack produced a tarball');
    const listing = sh('tar', ['-tzf', join(dir, tgz as string)]);
    assert.match(listing, /package\/native\/binding\.gyp/);
    assert.not.match(listing, /package\/native\/build\//, 'no prebuilt binary in the tarball');
    const prefix = join(dir, 'prefix');
    sh('npm', ['install', '-g', '--prefix', prefix, join(dir, tgz as string)], { timeoutMs: 300_000, env: { ...env, npm_config_cwd: repoRoot } });
    const pkg = join(prefix, 'lib', 'node_modules', 'wgts');
    assert.ok(existsSync(join(pkg, 'native', 'build', 'Release', 'wgts_native.node')), 'addon built at install');
    const bin = join(prefix, 'bin');
    const priv = sh(join(bin, 'wgts'), ['genkey']).trim();
    assert.match(priv, /^[A-Za-z0-9+/]{43}=$/);
    assert.is(sh(join(bin, 'wgts'), ['pubkey'], { input: `${priv}\n` }), sh('wg', ['pubkey'], { input: `${priv}\n` }));
    assert.match(sh(join(bin, 'wgts-go'), ['--version']), /^wgts-go v\d+\.\d+\.\d+/);
    // The installed addon loads (the daemon's TUN/UDP edge): a UDP socket binds on loopback.
    const probe = `import(${JSON.stringify(join(pkg, 'dist', 'src', 'io', 'udp.js'))}).then((m) => { const s = new m.UdpSocket(); console.log(s.open(0) > 0); s.close(); })`;
    assert.is(sh(process.execPath, ['-e', probe]).trim(), 'true');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
