// Points in time in config files (a peer's `Expires =`, the time of its `Issued =` record): RFC 3339
// in UTC or with an offset, or a plain date meaning its midnight UTC. Written back in one canonical
// spelling, `2026-12-31T00:00:00Z`, so equal times compare equal as text.
import type { Parsed } from './ip.js';

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const DATE_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))$/;

/** Whether the fields name a real calendar date and time (no 2026-02-30, no 24:00). */
function validFields(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d
    && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

/**
 * Parses `2026-12-31`, `2026-12-31T18:00Z`, `2026-12-31T18:00:00Z` or `2026-12-31T18:00:00+02:00`
 * into milliseconds since the Unix epoch (seconds only: no fractions).
 */
export function parseTimestamp(text: string): Parsed<number> {
  const bad: Parsed<number> = { ok: false, error: `'${text}' is not a date (2026-12-31) or a UTC time (2026-12-31T18:00:00Z, or with an offset such as +02:00)` };
  const d = DATE.exec(text);
  if (d) {
    const [y, mo, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    return validFields(y, mo, day, 0, 0, 0) ? { ok: true, value: Date.UTC(y, mo - 1, day) } : bad;
  }
  const m = DATE_TIME.exec(text);
  if (!m) return bad;
  const [y, mo, day, h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0')];
  if (!validFields(y, mo, day, h, mi, s)) return bad;
  let ms = Date.UTC(y, mo - 1, day, h, mi, s);
  if (m[7] !== undefined) {
    const oh = Number(m[8]);
    const om = Number(m[9]);
    if (oh > 23 || om > 59) return bad;
    ms -= (m[7] === '+' ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  return { ok: true, value: ms };
}

/** The canonical text of a time: `2026-12-31T18:00:00Z` (whole seconds). */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
