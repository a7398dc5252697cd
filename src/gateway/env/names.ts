// Names of project variables, shared by the gateway (what it may serve) and the laptop (what it
// accepts): a served name is a POSIX shell identifier that is not one of the names changing how a
// shell, the dynamic loader or a language runtime starts a program (a compromised gateway could
// otherwise run code on a laptop through `wgts run` or `eval "$(wgts env FILE)"`: BASH_ENV,
// PROMPT_COMMAND, LD_PRELOAD, NODE_OPTIONS, ...). Grants (`Env = app_*` in a [Peer]) are globs over
// served names: `*` any run of characters (also none), `?` exactly one, everything else literal;
// matched against the whole name, case-sensitively (environment names are).

/** A POSIX shell identifier: what `export NAME=...` accepts. */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Longest served name (bytes; names are ASCII). */
export const MAX_NAME_LENGTH = 255;

/**
 * Longest `NAME=VALUE` string one environment entry may hold on Linux (MAX_ARG_STRLEN, 32 pages,
 * minus the terminating NUL): a longer one makes execve fail with E2BIG.
 */
export const MAX_ENTRY_BYTES = 131_071;

/** Names never served nor accepted: they change how shells, the loader or runtimes start programs. */
const RESERVED = new Set([
  'PATH', 'IFS', 'ENV', 'BASH_ENV', 'CDPATH', 'GLOBIGNORE', 'SHELLOPTS', 'BASHOPTS', 'PROMPT_COMMAND',
  'PS1', 'PS2', 'PS3', 'PS4', 'HOME', 'SHELL', 'USER', 'LOGNAME', 'PWD', 'OLDPWD', 'TMPDIR', 'TERM',
  'NODE_OPTIONS', 'NODE_PATH', 'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME', 'PERL5OPT', 'PERL5LIB',
  'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'GIT_SSH_COMMAND', 'GCONV_PATH',
]);
/** Prefixes of reserved names (loader and locale variables, exported bash functions). */
const RESERVED_PREFIXES = ['LD_', 'DYLD_', 'BASH_FUNC_', 'LC_'];

/** Why `name` cannot be a project variable, or null when it can. Never mentions a value. */
export function nameProblem(name: string): string | null {
  if (!NAME_RE.test(name)) return `'${name.slice(0, 64)}' is not a variable name (letters, digits and _, not starting with a digit)`;
  if (name.length > MAX_NAME_LENGTH) return `a variable name of ${name.length} characters is longer than ${MAX_NAME_LENGTH}`;
  if (RESERVED.has(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p))) {
    return `${name} changes how shells, the dynamic loader or language runtimes start programs, so it is never served as a project variable`;
  }
  return null;
}

/** Compiles grant patterns (checked by the config parser: config/schema.ts checkEnvGrant) into one matcher of whole names (no patterns: matches nothing). */
export function grantMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const alternatives = patterns.map((p) => p.replace(/[*?]/g, (w) => (w === '*' ? '[A-Za-z0-9_]*' : '[A-Za-z0-9_]')));
  const re = new RegExp(`^(?:${alternatives.join('|')})$`);
  return (name) => re.test(name);
}

/** A string as one POSIX shell word: single-quoted, each ' written as '\'' (safe for any value). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME='VALUE'` lines, sorted by name, each ending in a newline. */
export function exportLines(vars: ReadonlyMap<string, string>): string {
  return [...vars.keys()].sort().map((name) => `export ${name}=${shellQuote(vars.get(name) as string)}\n`).join('');
}
