#!/usr/bin/env node
// `wgts-go`: a drop-in for wireguard-go (`wgts-go [-f|--foreground] IFNAME`), for
// `WG_QUICK_USERSPACE_IMPLEMENTATION=wgts-go wg-quick up wg0` and everything built on `wg`.
import { fileURLToPath } from 'node:url';
import { daemonMain } from './daemon.js';

const code = await daemonMain('wgts-go', process.argv.slice(2), [fileURLToPath(import.meta.url)]);
process.exit(code);
