// Bare-name fallback: a project whose own DNS resolves bare service names (a platform's internal
// DNS answers `app`) works through the gateway without a single Host line. For a question `NAME`
// or `NAME.DOMAIN` (NAME one label) that no Host line holds, the gateway asks its upstream for
// `NAME` and answers the question with what comes back, under the question's own name:
//
// - the records of the asked type at the end of the answer's CNAME chain (at most MAX_CHAIN
//   links, followed inside the answer only) become records of the question's name, with the
//   smallest TTL met along the chain (the flattened answer expires when any link would);
// - a chain that ends without such records but at a name outside the answer becomes one CNAME from
//   the question's name to that last name (the client asks for it itself);
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
  let last: string | null = null;
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const here = answers.filter((a) => asciiLower(a.name) === name);
    const direct = here.filter((a) => answersType(a, question.type));
    if (direct.length > 0) return { rcode, answers: direct.map((a) => rename(a, ttl)) };
    const cname = here.find((a) => a.type === 'CNAME');
    if (cname === undefined || cname.type !== 'CNAME') break;
    ttl = Math.min(ttl, ttlOf(cname));
    last = cname.data;
    name = asciiLower(cname.data.endsWith('.') ? cname.data.slice(0, -1) : cname.data);
  }
  if (last === null) return { rcode, answers: [] };
  // Did the chain end at a name the answer says nothing more about? Then point the client there.
  const endsOutside = !answers.some((a) => asciiLower(a.name) === name);
  if (!endsOutside) return { rcode, answers: [] };
  return { rcode, answers: [{ type: 'CNAME', name: question.name, ttl: ttl === Infinity ? 0 : ttl, class: 'IN', data: last }] };
}
