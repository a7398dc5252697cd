// DNS messages for the gateway responder: classifying an incoming message (a query we answer, one
// we reject with an RCODE, or garbage we drop) and encoding responses with the right header bits,
// EDNS(0) and UDP truncation. All encoding and decoding is dns-packet's.
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Question } from 'dns-packet';

/** Response codes used by the responder (BADVERS is an EDNS extended RCODE). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

const OPCODE_MASK = 0x7800;
/** UDP payload size we advertise in EDNS(0) (the DNS flag day 2020 value). */
const ADVERTISED_UDP = 1232;
/** Largest UDP response we ever send, whatever a client advertises. */
const MAX_UDP = 4096;
/** Plain DNS UDP limit (RFC 1035) for clients without EDNS. */
const CLASSIC_UDP = 512;

/** An incoming message: answer it, reject it with an RCODE (no question echoed), or drop it. */
export type Incoming =
  | { kind: 'drop'; reason: string }
  | { kind: 'reject'; rcode: number; request: DecodedPacket; edns: boolean; reason: string }
  | { kind: 'query'; request: DecodedPacket; question: Question; edns: boolean; udpLimit: number };

/**
 * Classifies a message received from a client. `scratch` (>= 1024 bytes, reused) holds the
 * re-encoded question: a question that does not survive decode+encode byte for byte (a dot or
 * invalid UTF-8 inside a label, a compression pointer, an unknown class) cannot be echoed
 * faithfully, so it is rejected with FORMERR instead of being answered under a different name.
 */
export function parseQuery(msg: Buffer, scratch: Buffer): Incoming {
  if (msg.length < 12) return { kind: 'drop', reason: `${msg.length} bytes, shorter than a DNS header` };
  let request: DecodedPacket;
  try {
    request = dnsPacket.decode(msg);
  } catch (e) {
    return { kind: 'drop', reason: `undecodable: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (request.type === 'response') return { kind: 'drop', reason: 'a response, not a query' };
  const opts = (request.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  const edns = opts.length === 1;
  const opcode = ((request.flags ?? 0) & OPCODE_MASK) >> 11;
  if (opcode !== 0) return { kind: 'reject', rcode: RCODE.NOTIMP, request, edns, reason: `opcode ${opcode}` };
  if (opts.length > 1) return { kind: 'reject', rcode: RCODE.FORMERR, request, edns, reason: 'several OPT records' };
  const questions = request.questions ?? [];
  if (questions.length !== 1) {
    return { kind: 'reject', rcode: RCODE.FORMERR, request, edns, reason: `${questions.length} questions` };
  }
  const question = questions[0] as Question;
  if (!roundTrips(msg, question, scratch)) {
    return { kind: 'reject', rcode: RCODE.FORMERR, request, edns, reason: 'question cannot be represented' };
  }
  const opt = opts[0];
  if (opt !== undefined && opt.ednsVersion !== 0) {
    return { kind: 'reject', rcode: RCODE.BADVERS, request, edns, reason: `EDNS version ${opt.ednsVersion}` };
  }
  const udpLimit = opt === undefined ? CLASSIC_UDP : Math.min(Math.max(opt.udpPayloadSize, CLASSIC_UDP), MAX_UDP);
  return { kind: 'query', request, question, edns, udpLimit };
}

function roundTrips(msg: Buffer, question: Question, scratch: Buffer): boolean {
  try {
    dnsPacket.encode({ questions: [question] }, scratch);
  } catch {
    return false;
  }
  const end = dnsPacket.encode.bytes;
  return end <= msg.length && scratch.subarray(12, end).equals(msg.subarray(12, end));
}

/** The records of a response besides the question. */
export interface ResponseBody {
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/**
 * Encodes a response to `request`: same ID and opcode, RD and CD echoed, AA and RA as given, the
 * question copied, an OPT record when the client used EDNS(0). A response longer than `limit`
 * (the client's UDP size; use Infinity for TCP) is re-encoded without records and with TC set, so
 * the client retries over TCP.
 */
export function encodeResponse(request: DecodedPacket, question: Question | undefined, rcode: number,
  bits: { aa: boolean; ra: boolean }, edns: boolean, body: ResponseBody, limit: number): Buffer {
  const flags = ((request.flags ?? 0) & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED))
    | (bits.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (bits.ra ? dnsPacket.RECURSION_AVAILABLE : 0) | (rcode & 0xf);
  const opt: Answer[] = edns ? [{
    type: 'OPT', name: '.', udpPayloadSize: ADVERTISED_UDP, extendedRcode: rcode >> 4, ednsVersion: 0,
    flags: 0, flag_do: false, options: [],
  }] : [];
  const questions = question === undefined ? [] : [question];
  const out = dnsPacket.encode({
    type: 'response', id: request.id ?? 0, flags, questions,
    answers: body.answers ?? [], authorities: body.authorities ?? [], additionals: [...(body.additionals ?? []), ...opt],
  });
  if (out.length <= limit) return out;
  return dnsPacket.encode({
    type: 'response', id: request.id ?? 0, flags: flags | dnsPacket.TRUNCATED_RESPONSE, questions,
    answers: [], authorities: [], additionals: opt,
  });
}
