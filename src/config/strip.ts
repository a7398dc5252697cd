// The part of a config that `wg setconf` understands, in the exact form `wg-quick strip` prints:
// every line kept as written (comments and blank lines too) but trimmed of surrounding spaces and
// tabs (bash `read` does that), LF endings, and one extra newline at the end (from `echo`).
// Dropped: the wg-quick keys of [Interface] (Address, DNS, MTU, Table, Pre/Post hooks,
// SaveConfig) and everything wgts adds (the [Gateway] and [Env] sections with their leading
// comments, and Name / Allow / AllowInbound / Env in [Peer]). For a file without wgts extensions the output is byte-identical to
// `wg-quick strip FILE`.
import type { ConfigDocument, DocLine, DocSection } from './model.js';
import { keyInfo } from './schema.js';
import { lineShape } from './syntax.js';

/** Whether a line of `section` is one `wg setconf` accepts (comments and blank lines are). */
function forWg(section: DocSection, line: DocLine): boolean {
  const shape = lineShape(line.text);
  return shape.kind !== 'entry' || keyInfo(section.kind, shape.key)?.layer === 'wg';
}

/** The `wg setconf` input for a parsed document, formatted like `wg-quick strip`. */
export function toWgSetconf(doc: ConfigDocument): string {
  const kept: DocLine[] = [...doc.head];
  for (const s of doc.sections) {
    if (s.kind === 'Gateway' || s.kind === 'Env') continue;
    kept.push(...s.leading, s.header, ...s.body.filter((l) => forWg(s, l)));
  }
  return kept.map((l) => `${l.text.replace(/^[ \t]+|[ \t]+$/g, '')}\n`).join('') + '\n';
}
