// A peer's `Issued =` record: what the client config handed to its laptop held (nothing secret),
// so that a later change of the gateway (a new Endpoint, Network, domain or key) shows which laptops
// hold an outdated config. One line:
//
//   Issued = 2026-01-05T10:00:00Z address=10.123.0.2/32 dns=10.123.0.1,shop key=<gateway public key> endpoint=vpn.example.com:51820 allowed=10.124.0.0/24,10.123.0.1/32
//
// The time, then `name=value` fields (lists comma-separated, no spaces), each exactly once.
import type { Parsed } from './ip.js';
import type { IssuedRecord } from './model.js';
import { formatTimestamp, parseTimestamp } from './time.js';

/** The fields of a record besides its time, in the order they are written. */
export const ISSUED_FIELDS = ['address', 'dns', 'key', 'endpoint', 'allowed'] as const;
export type IssuedField = typeof ISSUED_FIELDS[number];

const LIST_FIELDS: ReadonlySet<IssuedField> = new Set(['address', 'dns', 'allowed']);

/** The value of one field as text (lists joined with commas), for writing and comparing. */
export function issuedValue(r: Omit<IssuedRecord, 'at'>, f: IssuedField): string {
  const v = r[f];
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** The text of an `Issued =` value. */
export function formatIssued(r: IssuedRecord): string {
  return [formatTimestamp(r.at), ...ISSUED_FIELDS.map((f) => `${f}=${issuedValue(r, f)}`)].join(' ');
}

/** Parses an `Issued =` value (see the module comment). */
export function parseIssued(text: string): Parsed<IssuedRecord> {
  const [time, ...tokens] = text.split(/\s+/);
  const at = parseTimestamp(time ?? '');
  if (!at.ok) return { ok: false, error: `expected the time it was issued first: ${at.error}` };
  const seen = new Map<IssuedField, string>();
  for (const t of tokens) {
    const eq = t.indexOf('=');
    const name = (eq < 0 ? t : t.slice(0, eq)) as IssuedField;
    if (eq < 0 || !ISSUED_FIELDS.includes(name)) return { ok: false, error: `'${t}' is not one of ${ISSUED_FIELDS.map((f) => `${f}=...`).join(', ')}` };
    if (seen.has(name)) return { ok: false, error: `${name}= is given twice` };
    seen.set(name, t.slice(eq + 1));
  }
  const missing = ISSUED_FIELDS.filter((f) => !seen.has(f));
  if (missing.length > 0) return { ok: false, error: `missing ${missing.map((f) => `${f}=`).join(', ')}` };
  const list = (f: IssuedField): string[] => (seen.get(f) ?? '').split(',').filter((s) => s !== '');
  const one = (f: IssuedField): string => seen.get(f) ?? '';
  for (const f of ISSUED_FIELDS) if (!LIST_FIELDS.has(f) && one(f) === '') return { ok: false, error: `${f}= is empty` };
  return {
    ok: true,
    value: { at: at.value, address: list('address'), dns: list('dns'), key: one('key'), endpoint: one('endpoint'), allowed: list('allowed') },
  };
}

/** The fields in which two records differ (the time aside). */
export function issuedChanges(issued: Omit<IssuedRecord, 'at'>, current: Omit<IssuedRecord, 'at'>): IssuedField[] {
  return ISSUED_FIELDS.filter((f) => issuedValue(issued, f) !== issuedValue(current, f));
}
