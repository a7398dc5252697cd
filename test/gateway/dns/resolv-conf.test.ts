// The gateway host's resolvers: resolv.conf read as glibc reads it, and read again when the file
// changes (in place or replaced by rename, as resolvconf and NetworkManager do), at most once per
// interval, on a fake clock.
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCAL_DEFAULT, parseResolvConf, SystemResolvers } from '../../../src/gateway/dns/resolv-conf.js';
import { formatUpstream, type UpstreamAddress } from '../../../src/gateway/dns/upstream.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-resolv-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const texts = (l: readonly UpstreamAddress[]): string[] => l.map(formatUpstream);

test('parse: nameserver lines in order, at most three, IPv6 with zone, the rest ignored', () => {
  const r = parseResolvConf([
    '# comment', '; also a comment', 'search corp.example', 'options timeout:1 rotate',
    'nameserver 127.0.0.53', '  nameserver\t10.0.0.2  # trailing words are ignored', 'nameserver fe80::1%eth0',
    'nameserver dns.example', 'nameserver 10.0.0.3%eth0', 'nameserver 10.0.0.4', 'nameserver',
  ].join('\n'));
  assert.equal(texts(r.servers), ['127.0.0.53:53', '10.0.0.2:53', '[fe80::1%eth0]:53']);
  assert.equal(r.servers.map((s) => s.family), [4, 4, 6]);
  assert.equal(r.ignored, ['nameserver dns.example', 'nameserver 10.0.0.3%eth0', 'nameserver 10.0.0.4 (glibc uses the first 3)', 'nameserver']);
  assert.equal(parseResolvConf('search x\n').servers, []);
});

test('SystemResolvers: first read, no re-read within the interval, in-place edit and rename noticed, missing file = 127.0.0.1', () => {
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, 'nameserver 10.0.0.2\n');
  let now = 1000;
  const seen: string[] = [];
  const sys = new SystemResolvers(path, (s, note) => seen.push(`${texts(s).join(',')} | ${note}`), 1000, () => now);
  assert.equal(texts(sys.servers()), ['10.0.0.2:53']);
  assert.equal(seen, [`10.0.0.2:53 | from ${path}`]);

  writeFileSync(path, 'nameserver 10.0.0.3\nnameserver 10.0.0.4\n'); // in place: same inode
  now += 500;
  assert.equal(texts(sys.servers()), ['10.0.0.2:53'], 'not looked at again within the interval');
  now += 500;
  assert.equal(texts(sys.servers()), ['10.0.0.3:53', '10.0.0.4:53'], 'in-place edit noticed');

  const tmp = join(dir, 'resolv.conf.new');
  writeFileSync(tmp, 'nameserver 127.0.0.53\noptions edns0\n');
  renameSync(tmp, path);
  now += 1000;
  assert.equal(texts(sys.servers()), ['127.0.0.53:53'], 'replacement by rename noticed');

  now += 1000;
  sys.servers();
  assert.is(seen.length, 3, 'an unchanged file is not reported again');

  unlinkSync(path);
  now += 1000;
  assert.equal(sys.servers(), [LOCAL_DEFAULT]);
  assert.match(seen[seen.length - 1] ?? '', 'cannot be read: the local machine, as glibc');
  writeFileSync(path, 'search only.example\n');
  sys.refresh();
  assert.equal(sys.servers(), [LOCAL_DEFAULT]);
  assert.match(seen[seen.length - 1] ?? '', 'names no usable nameserver');
});

test('SystemResolvers follows a symlink (resolv.conf -> a stub file) and notices the target changing', () => {
  const target1 = join(dir, 'stub-a.conf');
  const target2 = join(dir, 'stub-b.conf');
  const link = join(dir, 'linked.conf');
  writeFileSync(target1, 'nameserver 127.0.0.53\n');
  writeFileSync(target2, 'nameserver 192.0.2.53\n');
  symlinkSync(target1, link);
  let now = 0;
  const sys = new SystemResolvers(link, () => undefined, 1000, () => now);
  assert.equal(texts(sys.servers()), ['127.0.0.53:53']);
  const tmpLink = join(dir, 'linked.tmp');
  symlinkSync(target2, tmpLink);
  renameSync(tmpLink, link);
  now += 1000;
  assert.equal(texts(sys.servers()), ['192.0.2.53:53']);
});

test.run();
