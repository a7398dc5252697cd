// The one error type of gateway onboarding (init, peer add/list/remove). Its message is printable
// as is; `code` lets programs tell the cases apart without parsing text.
import type { ConfigError } from '../config/errors.js';

/** What went wrong in an onboarding operation. */
export type OnboardErrorCode =
  | 'bad-option' // an init option is invalid (every problem is listed in `problems`)
  | 'exists' // init would overwrite an existing file without force
  | 'no-file' // the config file (or its directory) does not exist
  | 'config' // the config file does not parse (`configErrors` hold FILE:LINE of each problem)
  | 'not-gateway' // the file lacks what a gateway needs (a [Gateway], an IPv4 subnet, a key, an Endpoint)
  | 'bad-name' // the peer name is not a valid Name
  | 'duplicate-name' // a peer with that name already exists
  | 'bad-allow' // an access rule is malformed or outside the project networks
  | 'subnet-full' // no free tunnel address is left
  | 'no-such-peer' // remove named a peer the file does not have
  | 'peer-expired' // enable of a peer whose Expires has passed, without a new one
  | 'no-such-host' // host remove named a Host the file does not have
  | 'bad-out'; // the client config cannot be written where asked

/**
 * An onboarding failure. `message` says what is wrong and, where it helps, what to do; for
 * 'config' it is the parser's `FILE:LINE: reason` lines. `problems` holds each problem on its own
 * (one item unless several option errors were found at once).
 */
export class OnboardError extends Error {
  readonly code: OnboardErrorCode;
  readonly problems: readonly string[];
  readonly configErrors: readonly ConfigError[];

  constructor(code: OnboardErrorCode, problems: string | readonly string[], configErrors: readonly ConfigError[] = []) {
    const list = typeof problems === 'string' ? [problems] : [...problems];
    super(list.join('\n'));
    this.name = 'OnboardError';
    this.code = code;
    this.problems = list;
    this.configErrors = configErrors;
  }
}

/** The OnboardError for a file that failed to parse: every FILE:LINE error, one per line. */
export function configFailure(errors: readonly ConfigError[]): OnboardError {
  return new OnboardError('config', errors.map((e) => e.message), errors);
}
