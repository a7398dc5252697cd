// Shared test data for the config tests: deterministic keys and a config that uses every key.
import { parseConfig, type ParseResult } from '../../../src/config/parse.js';
import type { ConfigDocument, WgtsConfig } from '../../../src/config/model.js';

/** A valid base64 key whose 32 bytes are all `n` (distinct n, distinct keys). */
export const key = (n: number): string => Buffer.alloc(32, n).toString('base64');

/** Parses and fails the test with the error list when the text does not parse. */
export function mustParse(text: string, file = 'wg0.conf'): { config: WgtsConfig; doc: ConfigDocument } {
  const r: ParseResult = parseConfig(text, file);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.errors.map((e) => e.message).join('\n')}`);
  return r;
}

/**
 * A gateway config touching every key, with comments, odd spacing and mixed key case. Its private
 * key (32 x 0x40) is already X25519-clamped, as wg stores private keys.
 */
export const FULL = `# wgts gateway for the project network
#   managed by wgts; comments are kept

[Interface]
PrivateKey = ${key(0x40)}   # the gateway's key
listenport=51820
FwMark = 0x1234
Address = 10.99.0.1/24, FD00:99::1/64
Address = 10.99.1.1/24
DNS = 10.99.0.1, Corp.Internal
MTU = 1420
Table = off
PreUp = sysctl -w net.ipv4.ip_forward=1
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
PostUp = logger up
PreDown = logger going-down
PostDown = iptables -D FORWARD -i %i -j ACCEPT
SaveConfig = false

[Gateway]
Network = 10.20.0.0/16, fd20::/48
Network = 192.168.50.0/24
Domain = Corp.Internal
Endpoint = vpn.example.com:51820
Host = db=10.20.0.5, wiki=10.20.0.6
Host = db=fd20::5
Masquerade = FALSE
Upstream = 10.20.0.2, [FD20::53]:5353
ListenDns = 10.99.0.1:53

# alice's laptop
# (added 2024-05-01)
[Peer]
Name = alice
PublicKey = ${key(2)}
PresharedKey = ${key(3)}
AllowedIPs = 10.99.0.2/32, fd00:99::2/128
AllowedIPs = 10.99.5.0/24
Endpoint = 198.51.100.7:51820
PersistentKeepalive = 25
Allow = 10.20.0.5/32:5432/tcp
Allow = 10.20.0.0/16/icmp, fd20::/48:443/tcp, 10.20.0.6:80-88

	[peer]
	publickey = ${key(4)}
	allowedips = 10.99.0.3/32
	endpoint = [2001:DB8::7]:4500
	persistentkeepalive = off
	name = Bob
`;

/** A valid key for any index up to 2^32 (the index in the first 4 bytes). */
export function indexedKey(i: number): string {
  const b = Buffer.alloc(32, 0x5a);
  b.writeUInt32BE(i, 0);
  return b.toString('base64');
}

/** A large config (`peers` peers); `variant` changes every peer's endpoint port so texts differ. */
export function bigConfig(peers: number, variant: number): string {
  let out = `# big config, variant ${variant}\n[Interface]\nPrivateKey = ${key(1)}\nListenPort = 51820\n`;
  for (let i = 0; i < peers; i++) {
    out += `\n# peer ${i}\n[Peer]\nName = p${i}\nPublicKey = ${indexedKey(i)}\nAllowedIPs = 10.${(i >> 8) & 255}.${i & 255}.0/24\nEndpoint = 192.0.2.1:${10000 + variant}\n`;
  }
  return out;
}
