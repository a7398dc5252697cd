// Bare-name fallback: a project whose own DNS resolves bare service names (a platform's internal
// DNS answers `app`) works through the gateway without a single Host line. For a question `NAME`
// or `NAME.DOMAIN` (NAME one label) that no Host line holds, the gateway asks its upstream for
// `NAME` and answers the question with what comes back, under the question's own name:
//
// - the records of the asked type at the end of the answer's CNAME chain (at most MAX_CHAIN
//   links, followed inside the answer only) become records of the question's name, with the
//   smallest TTL met along the chain (the flattened answer expires when any link would);
// - a chain that ends without such records is NODATA: the upstream is a recursive resolver, which
//   follows chains itself, so a chain without records at its end means the last name has none of
//   that type (the AAAA of a name whose target has only A). Handing the client a CNAME to the
//   last name instead would break on platform DNS, whose CNAME targets are often bare names that
//   stub resolvers (systemd-resolved) will not look up;
// - NXDOMAIN stays NXDOMAIN, an answer without records NODATA; other RCODEs are relayed.
//
// Only the answer section is used: authority and additional records name the upstream's zones,
// not ours, and signatures cannot cover a renamed record, so RRSIGs are dropped.
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Question } from 'dns-packet';
import { asciiLower } from './zone.js';

/** CNAME links followed inside one answer. */
export const MAX_CHAIN = 8;
/** UDP size the gateway advertises to its upstream for its own queries. */
const UDP_SIZE = 1232;

/** The query for `bare` that stands for `question`: RD set, CD as the client asked, EDNS(0). */
export function bareQuery(id: number, bare: string, question: Question, checkingDisabled: boolean): Buffer {
  const opt: OptAnswer = { type: 'OPT', name: '.', udpPayloadSize: UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
  return dnsPacket.encode({
    type: 'query', id, flags: dnsPacket.RECURSION_DESIRED | (checkingDisabled ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ name: bare, type: question.type, class: question.class ?? 'IN' }], additionals: [opt],
  });
}

/** RCODE and answer records for the question, from the upstream's reply for the bare name. */
export interface Rewritten {
  rcode: number;
  answers: Answer[];
}

const ttlOf = (a: Answer): number => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0);

/** Whether a record answers `type` at its name (ANY: every record but CNAME, signatures and OPT). */
function answersType(a: Answer, type: string): boolean {
  if (type === 'ANY') return a.type !== 'CNAME' && a.type !== 'RRSIG' && a.type !== 'OPT';
  return a.type === type;
}

/** The answer to `question` built from `reply`, the upstream's answer for `bare` (see the file comment). */
export function rewriteBareAnswer(reply: DecodedPacket, question: Question, bare: string): Rewritten {
  const rcode = (reply.flags ?? 0) & 0xf;
  if (rcode !== 0) return { rcode, answers: [] };
  const answers = (reply.answers ?? []).filter((a) => a.type !== 'OPT');
  const rename = (a: Answer, ttl: number): Answer => ({ ...a, name: question.name, ttl: Math.min(ttl, ttlOf(a)) } as Answer);
  let name = asciiLower(bare);
  let ttl = Infinity;
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const here = answers.filter((a) => asciiLower(a.name) === name);
    const direct = here.filter((a) => answersType(a, question.type));
    if (direct.length > 0) return { rcode, answers: direct.map((a) => rename(a, ttl)) };
    const cname = here.find((a) => a.type === 'CNAME');
    if (cname === undefined || cname.type !== 'CNAME') break;
    ttl = Math.min(ttl, ttlOf(cname));
    name = asciiLower(cname.data.endsWith('.') ? cname.data.slice(0, -1) : cname.data);
  }
  return { rcode, answers: [] };
}
