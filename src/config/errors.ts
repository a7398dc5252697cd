// Errors of the configuration layer. Every problem with a config file is tied to the file and the
// 1-based line it was found on, so the CLI can print `FILE:LINE: reason` the way compilers do.

/** What kind of problem a ConfigError reports (stable, for programs; the reason text is for people). */
export type ConfigErrorCode =
  | 'syntax' // a line that is neither blank, comment, `[Section]` nor `Key = Value`
  | 'unknown-section'
  | 'duplicate-section' // a second [Interface] or [Gateway]
  | 'missing-section' // no [Interface]
  | 'outside-section' // a key before the first section header
  | 'unknown-key'
  | 'duplicate-key' // a single-valued key given twice in one section
  | 'missing-key' // a required key is absent (reported at the section header)
  | 'bad-value'
  | 'duplicate-peer' // two peers with one PublicKey or one Name
  | 'host-bits' // warning: AllowedIPs entry with bits set after the prefix (wg warns too)
  | 'no-such-peer'; // an edit named a peer the document does not have

/**
 * One problem in a config file. `message` is the printable `FILE:LINE: reason` (or `FILE: reason`
 * when line is 0, i.e. the problem belongs to no single line); `reason` is the bare text.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
  readonly code: ConfigErrorCode;

  constructor(file: string, line: number, code: ConfigErrorCode, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.code = code;
    this.reason = reason;
  }
}
