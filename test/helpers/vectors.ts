// Test helper: locate and load the known-answer vectors kept in the repository (test/vectors,
// found from the repository root: the nearest directory above this file holding package.json).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file containing package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Parse test/vectors/<name> (relative to the repository root) as JSON. */
export function loadVectors(name: string): unknown {
  return JSON.parse(readFileSync(join(repoRoot(), 'test', 'vectors', name), 'utf8')) as unknown;
}

/** Bytes from a hex string. */
export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Lowercase hex of bytes (for readable assertion diffs). */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

function field(obj: unknown, key: string, where: string): unknown {
  if (typeof obj !== 'object' || obj === null || !(key in obj)) throw new Error(`${where}: missing '${key}'`);
  return (obj as Record<string, unknown>)[key];
}

/** A string field of a vector object; throws (failing the test) if absent or not a string. */
export function str(obj: unknown, key: string): string {
  const v = field(obj, key, 'vector');
  if (typeof v !== 'string') throw new Error(`vector field '${key}' is not a string`);
  return v;
}

/** A number field of a vector object. */
export function num(obj: unknown, key: string): number {
  const v = field(obj, key, 'vector');
  if (typeof v !== 'number') throw new Error(`vector field '${key}' is not a number`);
  return v;
}

/** A boolean field of a vector object. */
export function bool(obj: unknown, key: string): boolean {
  const v = field(obj, key, 'vector');
  if (typeof v !== 'boolean') throw new Error(`vector field '${key}' is not a boolean`);
  return v;
}

/** An array field of an object. */
export function list(obj: unknown, key: string): unknown[] {
  const v = field(obj, key, 'object');
  if (!Array.isArray(v)) throw new Error(`field '${key}' is not an array`);
  return v as unknown[];
}

/** An object field of an object. */
export function obj(o: unknown, key: string): unknown {
  const v = field(o, key, 'object');
  if (typeof v !== 'object' || v === null) throw new Error(`field '${key}' is not an object`);
  return v;
}
