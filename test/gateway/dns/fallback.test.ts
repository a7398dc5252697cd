// Bare-name fallback, the pure part: the query sent upstream for a bare name, and how the
// upstream's answer becomes the answer to the question's own name (owner names rewritten, CNAME
// chains flattened with the smallest TTL, chains leaving the answer, loops, signatures dropped).
import dnsPacket, { type Answer, type DecodedPacket, type Question } from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bareQuery, MAX_CHAIN, rewriteBareAnswer } from '../../../src/gateway/dns/fallback.js';

const NXDOMAIN = 3;
const SERVFAIL = 2;

/** A decoded upstream reply (encode + decode, so the input is exactly what the responder sees). */
function reply(answers: Answer[], rcode = 0): DecodedPacket {
  return dnsPacket.decode(dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE | rcode, questions: [{ name: 'web', type: 'A' }], answers }));
}

const q = (name: string, type: Question['type'] = 'A'): Question => ({ name, type, class: 'IN' });
const a = (name: string, data: string, ttl = 60): Answer => ({ type: 'A', name, ttl, class: 'IN', data });
const cname = (name: string, data: string, ttl = 60): Answer => ({ type: 'CNAME', name, ttl, class: 'IN', data });

test('bareQuery: the bare name, the asked type, RD, CD as the client had it, EDNS(0)', () => {
  const wire = bareQuery(0x1234, 'web', q('WEB.zerops', 'AAAA'), true);
  const d = dnsPacket.decode(wire);
  assert.is(d.id, 0x1234);
  assert.equal(d.questions, [{ name: 'web', type: 'AAAA', class: 'IN' }]);
  assert.ok(d.flag_rd);
  assert.ok(d.flag_cd);
  assert.not.ok(dnsPacket.decode(bareQuery(1, 'web', q('web'), false)).flag_cd);
  const opt = d.additionals?.find((x) => x.type === 'OPT');
  assert.is(opt?.type === 'OPT' ? opt.udpPayloadSize : 0, 1232);
});

test('direct records: owner becomes the question name (as the client spelled it), TTL kept', () => {
  const r = rewriteBareAnswer(reply([a('web', '10.124.0.20', 45), a('WEB', '10.124.0.21', 90)]), q('Web.Zerops'), 'web');
  assert.is(r.rcode, 0);
  assert.equal(r.answers.map((x) => [x.name, x.type, x.type === 'A' ? x.data : '', 'ttl' in x ? x.ttl : -1]), [
    ['Web.Zerops', 'A', '10.124.0.20', 45], ['Web.Zerops', 'A', '10.124.0.21', 90],
  ]);
});

test('CNAME chain: flattened to the final records with the smallest TTL of the chain', () => {
  const up = reply([cname('api', 'api-v2.svc.internal.', 30), cname('api-v2.svc.internal', 'node7.internal', 300), a('node7.internal', '10.124.0.77', 120)]);
  const r = rewriteBareAnswer(up, q('api.zerops'), 'api');
  assert.equal(r.answers, [{ type: 'A', name: 'api.zerops', ttl: 30, class: 'IN', data: '10.124.0.77', flush: false }]);
  // Asking for the CNAME itself returns the first link, renamed.
  const c = rewriteBareAnswer(up, q('api.zerops', 'CNAME'), 'api');
  assert.equal(c.answers.map((x) => [x.name, x.type, x.type === 'CNAME' ? x.data : '']), [['api.zerops', 'CNAME', 'api-v2.svc.internal']]);
});

test('a chain without records of the asked type at its end is NODATA, also when it leaves the answer', () => {
  // The AAAA of a platform name whose target has only A: the resolver sends the CNAME alone. A
  // CNAME to the bare target would not resolve on the client (systemd-resolved skips bare names).
  const dangling = rewriteBareAnswer(reply([cname('api', 'web', 20)]), q('api.zerops', 'AAAA'), 'api');
  assert.equal(dangling, { rcode: 0, answers: [] });
  const out = rewriteBareAnswer(reply([cname('docs', 'docs.cdn.example', 600), cname('docs.cdn.example', 'edge.cdn.example', 20)]), q('docs'), 'docs');
  assert.equal(out, { rcode: 0, answers: [] });
  const v6only = rewriteBareAnswer(reply([cname('db', 'db-1'), { type: 'AAAA', name: 'db-1', ttl: 60, class: 'IN', data: 'fd00::1' }]), q('db'), 'db');
  assert.equal(v6only, { rcode: 0, answers: [] }, 'the chain ends at a name that has no A: NODATA');
  assert.equal(rewriteBareAnswer(reply([]), q('web'), 'web'), { rcode: 0, answers: [] });
});

test('loops and over-long chains end without records; unrelated and signature records are not copied', () => {
  const loop = rewriteBareAnswer(reply([cname('a', 'b'), cname('b', 'a')]), q('a.zerops'), 'a');
  assert.equal(loop, { rcode: 0, answers: [] });
  const long = Array.from({ length: MAX_CHAIN + 2 }, (_, i) => cname(`n${i}`, `n${i + 1}`));
  const r = rewriteBareAnswer(reply([...long, a(`n${MAX_CHAIN + 2}`, '10.0.0.1')]), q('n0.zerops'), 'n0');
  assert.is(r.answers.some((x) => x.type === 'A'), false, 'a chain longer than MAX_CHAIN is not followed to its end');
  const other = rewriteBareAnswer(reply([a('elsewhere', '10.9.9.9'), a('web', '10.124.0.20')]), q('web'), 'web');
  assert.equal(other.answers.map((x) => (x.type === 'A' ? x.data : '')), ['10.124.0.20']);
  const anyq = rewriteBareAnswer(reply([a('web', '10.124.0.20'), { type: 'TXT', name: 'web', ttl: 5, class: 'IN', data: ['v=1'] }]), q('web', 'ANY' as Question['type']), 'web');
  assert.equal(anyq.answers.map((x) => `${x.name} ${x.type}`), ['web A', 'web TXT']);
});

test('NXDOMAIN, SERVFAIL and other RCODEs are relayed without records', () => {
  assert.equal(rewriteBareAnswer(reply([], NXDOMAIN), q('nope.zerops'), 'nope'), { rcode: NXDOMAIN, answers: [] });
  assert.equal(rewriteBareAnswer(reply([a('web', '10.0.0.1')], SERVFAIL), q('web'), 'web'), { rcode: SERVFAIL, answers: [] });
});

test.run();
