// Env files (`Source = app:/etc/wgts/app.env` in [Env]): dotenv's format, read strictly.
//
//   # a comment                    blank lines and comments are skipped
//   API_TOKEN=s3cr3t               unquoted: the rest of the line, trimmed; ` #` starts a comment
//   export URL=http://app:3000     an optional `export ` (files that are also sourced by a shell)
//   GREETING = hello world         spaces around = are allowed; # inside an unquoted value is not
//   KEY='single quotes: literal, may span lines'
//   CERT="double quotes: \n \r \t \" \\ \$ escapes, may span lines"
//
// Nothing is expanded ($VAR stays as written). Every problem is an error at FILE:LINE (the line
// where the entry starts) whose text never contains a value: an env file holds secrets, and the
// errors go to logs. A name set twice, an unknown escape, an unclosed quote, text after a closing
// quote, a NUL byte, bytes that are not UTF-8 and an entry too long for a process environment are
// all errors; a file with errors serves nothing.
import { MAX_ENTRY_BYTES, NAME_RE } from './names.js';

/** Largest env file read (bytes). */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

/** The outcome of parsing one env file. */
export type EnvFileResult =
  | { ok: true; vars: Map<string, string> }
  | { ok: false; errors: string[] };

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

/** Parses the bytes of an env file; `file` names it in errors (`FILE:LINE: reason`). */
export function parseEnvFile(bytes: Uint8Array, file: string): EnvFileResult {
  if (bytes.length > MAX_ENV_FILE_BYTES) return { ok: false, errors: [`${file}: ${bytes.length} bytes is more than an env file may hold (${MAX_ENV_FILE_BYTES})`] };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, errors: [`${file}: not UTF-8 text`] };
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const vars = new Map<string, string>();
  const firstLine = new Map<string, number>();
  const errors: string[] = [];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const err = (line: number, reason: string): void => { errors.push(`${file}:${line}: ${reason}`); };

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i] as string;
    const body = line.replace(/^[ \t]+/, '');
    if (body === '' || body.startsWith('#')) continue;
    const m = /^(?:export[ \t]+)?([^=\s]*)[ \t]*=[ \t]*/.exec(body);
    if (!m) {
      err(n, 'expected NAME=VALUE (or a # comment)');
      continue;
    }
    const name = m[1] as string;
    if (!NAME_RE.test(name)) {
      // The text before '=' is not echoed: a pasted secret may sit there.
      err(n, 'the text before = is not a variable name (letters, digits and _, not starting with a digit)');
      continue;
    }
    let rest = body.slice(m[0].length);
    let value: string;
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // The value runs to the closing quote, across lines if need be.
      let raw = '';
      let j = 1;
      let at = i;
      let closed = false;
      let bad: string | null = null;
      for (;;) {
        while (j < rest.length) {
          const c = rest[j] as string;
          if (c === quote) { closed = true; break; }
          if (quote === '"' && c === '\\') {
            const next = rest[j + 1];
            if (next === undefined) { bad ??= 'a \\ at the end of a line inside double quotes (write \\n for a line break)'; j++; continue; }
            const e = ESCAPES[next];
            if (e === undefined) bad ??= `an unknown escape \\${/[A-Za-z0-9]/.test(next) ? next : '?'} in the value of ${name} (known: \\n \\r \\t \\" \\\\ \\$)`;
            raw += e ?? '';
            j += 2;
            continue;
          }
          raw += c;
          j++;
        }
        if (closed || at + 1 >= lines.length) break;
        at++;
        raw += '\n';
        rest = lines[at] as string;
        j = 0;
      }
      if (!closed) {
        err(n, `the ${quote === '"' ? 'double' : 'single'}-quoted value of ${name} is not closed`);
        i = at;
        continue;
      }
      const after = rest.slice(j + 1);
      i = at;
      if (!/^[ \t]*(#.*)?$/.test(after)) {
        err(at + 1, `text after the closing quote of ${name}'s value (a comment needs a space and #)`);
        continue;
      }
      if (bad !== null) {
        err(n, bad);
        continue;
      }
      value = raw;
    } else if (rest.startsWith('#') && /[ \t]$/.test(m[0])) {
      value = ''; // `NAME= # comment`
    } else {
      const hash = /[ \t]#/.exec(rest);
      value = (hash ? rest.slice(0, hash.index) : rest).replace(/[ \t]+$/, '');
      if (value.includes('#')) {
        // dotenv would cut the value there, docker compose would not: say which is meant.
        err(n, `the unquoted value of ${name} holds # (quote the value, or put a space before a comment)`);
        continue;
      }
    }
    if (value.includes('\0')) {
      err(n, `the value of ${name} holds a NUL byte, which no process environment can carry`);
      continue;
    }
    if (Buffer.byteLength(name) + 1 + Buffer.byteLength(value) > MAX_ENTRY_BYTES) {
      err(n, `${name}=VALUE is longer than one environment entry may be (${MAX_ENTRY_BYTES} bytes)`);
      continue;
    }
    const first = firstLine.get(name);
    if (first !== undefined) {
      err(n, `${name} is set again (first at line ${first})`);
      continue;
    }
    firstLine.set(name, n);
    vars.set(name, value);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, vars };
}
