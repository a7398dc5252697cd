// `wgts gateway migrate FILE etcd://...`: a file-based gateway's whole state into a registry. The
// file is read through its store (checked as always), [Env] file sources given relative to the
// file's directory are made absolute (a registry has no directory: `wgts up etcd://` resolves
// relative ones against its working directory), and the registry is created (refused when PREFIX
// holds anything, unless force). The file is left as it was.
import { dirname, isAbsolute, resolve } from 'node:path';
import { keyFromBase64, keyToBase64, publicKey } from '../../crypto/keys.js';
import { OnboardError } from '../onboard-errors.js';
import { projectName } from '../project.js';
import { FileStore, storeFor } from '../store.js';
import { isRegistryLocation } from './location.js';

/** What migrate did. */
export interface MigrateResult {
  project: string;
  peers: number;
  publicKey: string;
  /** Notes for the user (paths made absolute). */
  notes: string[];
}

/** Moves the gateway of `file` into the registry `url` (see the module comment). */
export async function migrateToRegistry(file: string, url: string, opts: { force: boolean }): Promise<MigrateResult> {
  if (isRegistryLocation(file)) throw new OnboardError('bad-option', `${file} is a registry already; migrate takes a config FILE`);
  if (!isRegistryLocation(url)) throw new OnboardError('bad-option', `${url} is not a registry URL (etcd://HOST:PORT/PREFIX)`);
  const { config } = await new FileStore(file).read();
  if (!config.gateway) throw new OnboardError('not-gateway', `${file} has no [Gateway] section, so it is not a gateway config`);
  const notes: string[] = [];
  if (config.env) {
    config.env.sources = config.env.sources.map((s) => {
      if (s.kind !== 'file' || isAbsolute(s.path)) return s;
      const abs = resolve(dirname(resolve(file)), s.path);
      notes.push(`[Env] Source ${s.service}:${s.path} is now ${s.service}:${abs} (the registry has no directory)`);
      return { ...s, path: abs };
    });
  }
  // The name the file gave the project stays the project's name in the registry.
  config.gateway.name ??= projectName(config, file);
  await storeFor(url).create(config, { force: opts.force });
  const key = config.interface.privateKey === undefined ? null : keyFromBase64(config.interface.privateKey);
  return {
    project: config.gateway.name,
    peers: config.peers.length,
    publicKey: key === null ? '' : keyToBase64(publicKey(key)),
    notes,
  };
}
