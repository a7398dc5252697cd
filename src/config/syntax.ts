// Line-level syntax of wg-quick files, shared by the parser and the editors: splitting text into
// lines that keep their endings, and classifying one line. A `#` starts a comment anywhere on a
// line (as in wg and wg-quick, so values cannot contain `#`); keys and values are trimmed; a key
// ends at the first `=`, so a value may itself contain `=`.
import type { ConfigDocument, DocLine, SectionKind } from './model.js';

/**
 * A copy of `s` that shares no memory with the string it was cut from. V8 represents a slice of
 * 13 or more characters as a view that keeps the whole original alive: one retained value of a
 * parsed config (a peer's public key) would keep the entire file text, PrivateKey line included,
 * for as long as the value lives. Joining the characters builds a fresh flat string.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : s.split('').join('');
}

/**
 * Splits text into lines, each keeping its own ending; a final newline opens no extra line. Each
 * line is its own string (ownString): whatever is kept of one line keeps no other line alive.
 */
export function splitLines(text: string): DocLine[] {
  const lines: DocLine[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      lines.push({ text: ownString(text.slice(start)), eol: '' });
      break;
    }
    const crlf = nl > start && text[nl - 1] === '\r';
    lines.push({ text: ownString(text.slice(start, crlf ? nl - 1 : nl)), eol: crlf ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
}

/** What one line is. For entries, [valueStart, valueEnd) locates the value inside the raw text. */
export type LineShape =
  | { kind: 'blank' }
  | { kind: 'comment' }
  | { kind: 'header'; name: string }
  | { kind: 'entry'; key: string; value: string; valueStart: number; valueEnd: number }
  | { kind: 'invalid'; reason: string };

const LEADING_SPACE = /^\s*/;

/** Classifies one line (without its ending). */
export function lineShape(text: string): LineShape {
  const hash = text.indexOf('#');
  const content = hash < 0 ? text : text.slice(0, hash);
  const trimmed = content.trim();
  if (trimmed === '') return text.trim() === '' ? { kind: 'blank' } : { kind: 'comment' };
  if (trimmed.startsWith('[')) {
    const m = /^\[([^\]]*)\]$/.exec(trimmed);
    return m ? { kind: 'header', name: m[1] } : { kind: 'invalid', reason: `malformed section header '${trimmed}'` };
  }
  const eq = content.indexOf('=');
  if (eq < 0) return { kind: 'invalid', reason: `expected 'Key = Value' or '[Section]', got '${trimmed}'` };
  const key = content.slice(0, eq).trim();
  if (key === '') return { kind: 'invalid', reason: `missing key before '='` };
  const after = content.slice(eq + 1);
  const value = after.trim();
  const valueStart = eq + 1 + (LEADING_SPACE.exec(after)?.[0].length ?? 0);
  return { kind: 'entry', key, value, valueStart, valueEnd: valueStart + value.length };
}

/**
 * The 1-based line of the first `key` entry (case-insensitive) in the first section named
 * `section` of a document, or of that section's header when `key` is null; 0 when absent.
 */
export function lineOf(doc: ConfigDocument, section: SectionKind, key: string | null): number {
  let n = doc.head.length;
  for (const s of doc.sections) {
    n += s.leading.length + 1;
    const header = n;
    if (s.kind === section && key === null) return header;
    for (const l of s.body) {
      n++;
      if (s.kind !== section || key === null) continue;
      const shape = lineShape(l.text);
      if (shape.kind === 'entry' && shape.key.toLowerCase() === key.toLowerCase()) return n;
    }
    if (s.kind === section) return 0;
  }
  return 0;
}
