import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAddr, formatPrefix, parseAddr, parseCidr, parsePrefix } from '../../src/router/prefix.js';

function bytes(s: string): number[] {
  const r = parseAddr(s);
  if (!r.ok) throw new Error(r.error);
  return Array.from(r.value);
}

test('parseAddr: IPv4 and IPv6 forms', () => {
  assert.equal(bytes('10.124.0.1'), [10, 124, 0, 1]);
  assert.equal(bytes('0.0.0.0'), [0, 0, 0, 0]);
  assert.equal(bytes('255.255.255.255'), [255, 255, 255, 255]);
  assert.equal(bytes('::'), new Array(16).fill(0));
  assert.equal(bytes('::1'), [...new Array(15).fill(0), 1]);
  assert.equal(bytes('1::'), [0, 1, ...new Array(14).fill(0)]);
  assert.equal(bytes('2001:DB8::a:b'), [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x0b]);
  assert.equal(bytes('1:2:3:4:5:6:7:8'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  assert.equal(bytes('::ffff:10.1.2.3'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
  assert.equal(bytes('64:ff9b::192.0.2.33'), [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 33]);
  assert.equal(bytes('1:2:3:4:5:6:1.2.3.4'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]);
});

test('parseAddr: rejects malformed text, naming the bad token', () => {
  const cases: [string, string][] = [
    ['10.0.0', '"10.0.0"'],
    ['10.0.0.256', '"256"'],
    ['10.0.0.01', '"01"'],
    ['10.0.0.-1', '"-1"'],
    ['10.0.0.1 ', '"1 "'],
    ['', '""'],
    ['1:2:3:4:5:6:7', '7 groups'],
    ['1:2:3:4:5:6:7:8:9', 'more than 8 groups'],
    ['1::2::3', 'more than one "::"'],
    [':1', 'bad IPv6 group ""'],
    ['1:', 'bad IPv6 group ""'],
    [':::', 'bad IPv6 group ""'],
    ['12345::', '"12345"'],
    ['g::', '"g"'],
    ['1:2:3:4::5:6:7:8', '"::" stands for no group'],
    ['::1.2.3', '"1.2.3"'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'too many groups before embedded IPv4'],
    ['fe80::1%eth0', 'zone'],
  ];
  for (const [text, mention] of cases) {
    const r = parseAddr(text);
    assert.is(r.ok, false, text);
    if (!r.ok) assert.ok(r.error.includes(mention), `${text}: "${r.error}" should mention ${mention}`);
  }
});

test('parsePrefix: masks host bits, bare address is a host prefix', () => {
  const p = parsePrefix('192.95.5.93/27');
  assert.ok(p.ok);
  if (p.ok) {
    assert.equal(Array.from(p.value.addr), [192, 95, 5, 64]);
    assert.is(p.value.cidr, 27);
  }
  const h = parsePrefix('fd00::1');
  assert.ok(h.ok && h.value.cidr === 128 && h.value.addr[15] === 1);
  const z = parsePrefix('1.2.3.4/0');
  assert.ok(z.ok && z.value.cidr === 0 && z.value.addr.every((b) => b === 0));
  const v6 = parsePrefix('2404:6800:4004:800:dead:beef:dead:beef/64');
  assert.ok(v6.ok && formatAddr(v6.value.addr) === '2404:6800:4004:800::');
});

test('parsePrefix: errors name the prefix and the bad part', () => {
  for (const [text, mention] of [
    ['10.0.0.0/33', '"33"'],
    ['fd00::/129', '"129"'],
    ['10.0.0.0/024', '"024"'],
    ['10.0.0.0/', '""'],
    ['10.0.0.0/+8', '"+8"'],
    ['10.0.0.0/8/8', '"8/8"'],
    ['10.0.0.0.0/8', '"10.0.0.0.0"'],
  ] as const) {
    const r = parsePrefix(text);
    assert.is(r.ok, false, text);
    if (!r.ok) {
      assert.ok(r.error.includes(`"${text}"`), r.error);
      assert.ok(r.error.includes(mention), `${text}: "${r.error}" should mention ${mention}`);
    }
  }
  assert.equal(parseCidr('32', 32), { ok: true, value: 32 });
  assert.is(parseCidr('33', 32).ok, false);
});

test('formatAddr: RFC 5952 / Go netip canonical text', () => {
  const cases: [string, string][] = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['0:0:0:0:0:ffff:a01:203', '::ffff:10.1.2.3'], // IPv4-mapped in dotted form
    ['0:0:0:0:0:0:a01:203', '::a01:203'], // IPv4-compatible is plain hex (as Go prints it)
    ['10.1.2.3', '10.1.2.3'],
  ];
  for (const [input, want] of cases) {
    const r = parseAddr(input);
    if (!r.ok) throw new Error(r.error);
    assert.is(formatAddr(r.value), want, input);
    const back = parseAddr(want);
    assert.ok(back.ok && Array.from(back.value).join() === Array.from(r.value).join(), `round trip ${want}`);
  }
});

test('formatPrefix: masked, does not modify its input', () => {
  const a = new Uint8Array([10, 1, 0, 20]);
  assert.is(formatPrefix(a, 29), '10.1.0.16/29');
  assert.equal(Array.from(a), [10, 1, 0, 20]);
  const r = parseAddr('2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523');
  if (!r.ok) throw new Error(r.error);
  assert.is(formatPrefix(r.value, 21), '2607:5000::/21');
  assert.is(formatPrefix(r.value, 0), '::/0');
  assert.is(formatPrefix(r.value, 128), '2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523/128');
});

test.run();
