// `wgts genkey`, `wgts pubkey`, `wgts genpsk`: byte-for-byte the behaviour of `wg genkey`,
// `wg pubkey` and `wg genpsk` (output, messages with the program name swapped, exit statuses,
// and wg's warning when a secret key is written to a world-accessible file).

import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import { generatePresharedKey, generatePrivateKey, KEY_BASE64_LEN, keyFromBase64, keyToBase64, publicKey } from '../crypto/keys.js';

/** wg's messages, with our program name. */
const FORMAT_ERROR = 'wgts: Key is not the correct length or format\n';
const TRAILING_ERROR = 'wgts: Trailing characters found after key\n';

/** Outcome of reading a base64 key the way `wg pubkey` does. */
export type KeyInput = { readonly ok: true; readonly key: Uint8Array } | { readonly ok: false; readonly message: string };

/** What wg tolerates after the key: NUL and C isspace() characters. */
function isIgnorableTrailer(c: number): boolean {
  return c === 0 || c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Read a base64 key from a byte stream like `wg pubkey`: exactly the first 44 bytes are the key
 * (leading whitespace is not skipped), after which only whitespace or NUL may follow until EOF.
 * Stops reading at the first offending trailing byte, so memory stays bounded.
 */
export async function readBase64Key(input: AsyncIterable<Uint8Array | string>): Promise<KeyInput> {
  const head = Buffer.alloc(KEY_BASE64_LEN);
  let have = 0;
  for await (const raw of input) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
    let i = 0;
    if (have < KEY_BASE64_LEN) {
      i = Math.min(KEY_BASE64_LEN - have, chunk.length);
      head.set(chunk.subarray(0, i), have);
      have += i;
    }
    for (; i < chunk.length; i++) {
      if (!isIgnorableTrailer(chunk[i]!)) return { ok: false, message: TRAILING_ERROR };
    }
  }
  if (have < KEY_BASE64_LEN) return { ok: false, message: FORMAT_ERROR };
  const key = keyFromBase64(head.toString('latin1'));
  return key === null ? { ok: false, message: FORMAT_ERROR } : { ok: true, key };
}

function printKey(key: Uint8Array): void {
  process.stdout.write(keyToBase64(key) + '\n');
}

/** wg's warning when a secret key goes to a file others may open. */
export const WORLD_ACCESSIBLE_WARNING = 'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n';

/** Whether stdout is a regular file with any permission for others (wg checks S_IRWXO the same way). */
export function stdoutWorldAccessible(fd = 1): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() && (st.mode & 0o007) !== 0;
  } catch {
    return false;
  }
}

/** genkey / genpsk: a secret key to stdout, with wg's warning first when stdout is world accessible. */
function printSecret(key: Uint8Array): void {
  if (stdoutWorldAccessible()) process.stderr.write(WORLD_ACCESSIBLE_WARNING);
  printKey(key);
}

/** Register genkey, pubkey and genpsk on the `wgts` program. */
export function registerKeyCommands(program: Command): void {
  program
    .command('genkey')
    .description('generate a new private key and write it to stdout')
    .action(() => printSecret(generatePrivateKey()));

  program
    .command('genpsk')
    .description('generate a new preshared key and write it to stdout')
    .action(() => printSecret(generatePresharedKey()));

  program
    .command('pubkey')
    .description('read a private key from stdin and write its public key to stdout')
    .action(async () => {
      const input = await readBase64Key(process.stdin);
      if (!input.ok) {
        process.stderr.write(input.message);
        process.exitCode = 1;
        return;
      }
      printKey(publicKey(input.key));
      input.key.fill(0);
    });
}
