import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatConfig } from '../../src/config/write.js';
import { parseConfig } from '../../src/config/parse.js';
import { toWgSetconf } from '../../src/config/strip.js';
import { FULL, key, mustParse } from './helpers/fixtures.js';

test('Upstream: repeatable and comma-separated, in order; none alone; absent means the host resolvers', () => {
  const gw = (lines: string): unknown => mustParse(`[Interface]\nAddress = 10.123.0.1/24\n[Gateway]\nNetwork = 10.124.0.0/24\n${lines}`).config.gateway?.upstream;
  assert.equal(gw('Upstream = 10.124.0.2\nUpstream = [fd00::53]:5353, 127.0.0.53\n'),
    [{ host: '10.124.0.2', port: 53 }, { host: 'fd00::53', port: 5353 }, { host: '127.0.0.53', port: 53 }]);
  assert.is(gw('Upstream = None\n'), 'none');
  assert.is(gw('Upstream = none\nUpstream = none\n'), 'none');
  assert.is(gw(''), undefined);
});

test('a config using every key parses into typed values', () => {
  const { config } = mustParse(FULL);
  assert.equal(config.interface, {
    privateKey: key(0x40),
    listenPort: 51820,
    fwMark: 0x1234,
    addresses: [
      { family: 4, address: '10.99.0.1', prefix: 24 },
      { family: 6, address: 'fd00:99::1', prefix: 64 },
      { family: 4, address: '10.99.1.1', prefix: 24 },
    ],
    dns: ['10.99.0.1'],
    dnsSearch: ['corp.internal'],
    mtu: 1420,
    table: 'off',
    preUp: ['sysctl -w net.ipv4.ip_forward=1'],
    postUp: ['iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE', 'logger up'],
    preDown: ['logger going-down'],
    postDown: ['iptables -D FORWARD -i %i -j ACCEPT'],
    saveConfig: false,
  });
  assert.equal(config.gateway, {
    networks: [
      { family: 4, address: '10.20.0.0', prefix: 16 },
      { family: 6, address: 'fd20::', prefix: 48 },
      { family: 4, address: '192.168.50.0', prefix: 24 },
    ],
    domain: 'corp.internal',
    endpoint: { host: 'vpn.example.com', port: 51820 },
    hosts: [{ name: 'db', address: '10.20.0.5' }, { name: 'wiki', address: '10.20.0.6' }, { name: 'db', address: 'fd20::5' }],
    masquerade: false,
    upstream: [{ host: '10.20.0.2', port: 53 }, { host: 'fd20::53', port: 5353 }],
    listenDns: { host: '10.99.0.1', port: 53 },
  });
  assert.equal(config.peers, [
    {
      publicKey: key(2),
      presharedKey: key(3),
      allowedIPs: [
        { family: 4, address: '10.99.0.2', prefix: 32 },
        { family: 6, address: 'fd00:99::2', prefix: 128 },
        { family: 4, address: '10.99.5.0', prefix: 24 },
      ],
      endpoint: { host: '198.51.100.7', port: 51820 },
      persistentKeepalive: 25,
      name: 'alice',
      allow: ['10.20.0.5/32:5432/tcp', '10.20.0.0/16/icmp', 'fd20::/48:443/tcp', '10.20.0.6:80-88'],
      source: { line: 33, allowLines: [41, 42, 42, 42] },
    },
    {
      publicKey: key(4),
      allowedIPs: [{ family: 4, address: '10.99.0.3', prefix: 32 }],
      endpoint: { host: '2001:db8::7', port: 4500 },
      persistentKeepalive: 0,
      name: 'Bob',
      allow: [],
      source: { line: 44, allowLines: [] },
    },
  ]);
});

test('defaults: a minimal file; masquerade on; no AllowedIPs', () => {
  const { config } = mustParse(`[Interface]\n[Gateway]\nNetwork = 10.0.0.0/8\n[Peer]\nPublicKey = ${key(9)}\n`);
  assert.equal(config.interface, { addresses: [], dns: [], dnsSearch: [], preUp: [], postUp: [], preDown: [], postDown: [], saveConfig: false });
  assert.equal(config.gateway, { networks: [{ family: 4, address: '10.0.0.0', prefix: 8 }], hosts: [], masquerade: true });
  assert.equal(config.peers[0].allowedIPs, []);
  assert.is(mustParse('[Interface]').config.peers.length, 0);
});

test('AllowedIPs with host bits: masked like the kernel, with wg\'s warning at FILE:LINE', () => {
  const r = parseConfig(`[Interface]\n[Peer]\nPublicKey = ${key(5)}\nAllowedIPs = 10.1.2.3/16\n`, 'x.conf');
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.config.peers[0].allowedIPs, [{ family: 4, address: '10.1.0.0', prefix: 16 }]);
  assert.equal(r.warnings.map((w) => w.message), ["x.conf:4: AllowedIPs '10.1.2.3/16' has a nonzero host part; using 10.1.0.0/16"]);
});

/** The messages of a text that must not parse. */
function errorsOf(text: string): string[] {
  const r = parseConfig(text, 'wg0.conf');
  if (r.ok) throw new Error(`expected errors for:\n${text}`);
  return r.errors.map((e) => e.message);
}

const I = '[Interface]\n';
const P = (n: number): string => `[Peer]\nPublicKey = ${key(n)}\n`;

test('each error kind is reported at its exact FILE:LINE', () => {
  const cases: [string, string][] = [
    // structure
    [`${I}[Foo]\nBar = 1\n`, "wg0.conf:2: unknown section [Foo] (expected [Interface], [Peer], [Gateway] or [Env])"],
    [`${I}[Peer\n`, "wg0.conf:2: malformed section header '[Peer'"],
    [`ListenPort = 1\n${I}`, "wg0.conf:1: 'ListenPort' is outside a section (put it under [Interface] or [Peer])"],
    [`${I}PrivateKey\n`, "wg0.conf:2: expected 'Key = Value' or '[Section]', got 'PrivateKey'"],
    [`${I} = 5\n`, "wg0.conf:2: missing key before '='"],
    [`${I}ListenPort = 1\n${I}`, 'wg0.conf:3: second [Interface] section (the first is at line 1)'],
    [`${P(1)}`, 'wg0.conf:1: no [Interface] section'],
    [`${I}[Peer]\nAllowedIPs = 10.0.0.1/32\n`, 'wg0.conf:2: [Peer] has no PublicKey'],
    [`${I}[Gateway]\nDomain = x.y\n`, 'wg0.conf:2: [Gateway] has no Network'],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\n[Gateway]\nNetwork = 10.0.0.0/8\n`, 'wg0.conf:4: second [Gateway] section (the first is at line 2)'],
    // unknown keys, also the wgts ones in the wrong section
    [`${I}ListenPort = 1\nPublicKey = ${key(1)}\n`, "wg0.conf:3: unknown key 'PublicKey' in [Interface]"],
    [`${I}${P(1)}Address = 10.0.0.1/32\n`, "wg0.conf:4: unknown key 'Address' in [Peer]"],
    [`${I}Name = gw\n`, "wg0.conf:2: unknown key 'Name' in [Interface]"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nAllow = 10.0.0.0/8\n`, "wg0.conf:4: unknown key 'Allow' in [Gateway]"],
    [`${I}Listen Port = 1\n`, "wg0.conf:2: unknown key 'Listen Port' in [Interface]"],
    // duplicates
    [`${I}PrivateKey = ${key(1)}\nprivatekey = ${key(2)}\n`, 'wg0.conf:3: PrivateKey is set twice in this section (first at line 2)'],
    [`${I}${P(1)}Endpoint = 1.2.3.4:5\nEndpoint = 1.2.3.4:6\n`, 'wg0.conf:5: Endpoint is set twice in this section (first at line 4)'],
    [`${I}${P(1)}${P(1)}`, 'wg0.conf:5: another peer has this PublicKey (line 3)'],
    [`${I}${P(1)}Name = alice\n${P(2)}Name = ALICE\n`, 'wg0.conf:7: another peer has this Name (line 4)'],
    // keys
    [`${I}PrivateKey = ${key(1).slice(1)}\n`, 'wg0.conf:2: bad PrivateKey: not a key (44 base64 characters encoding 32 bytes; got 43 characters)'],
    [`${I}PrivateKey = ${key(1)}A\n`, 'wg0.conf:2: bad PrivateKey: not a key (44 base64 characters encoding 32 bytes; got 45 characters)'],
    [`${I}PrivateKey = ${'A'.repeat(42)}B=\n`, 'wg0.conf:2: bad PrivateKey: not a key (44 base64 characters encoding 32 bytes; got 44 characters)'],
    [`${I}PrivateKey = ${'A'.repeat(43)}A\n`, 'wg0.conf:2: bad PrivateKey: not a key (44 base64 characters encoding 32 bytes; got 44 characters)'],
    [`${I}[Peer]\nPublicKey = ${'*'.repeat(43)}=\n`, 'wg0.conf:3: bad PublicKey: not a key (44 base64 characters encoding 32 bytes; got 44 characters)'],
    [`${I}${P(1)}PresharedKey = abc\n`, 'wg0.conf:4: bad PresharedKey: not a key (44 base64 characters encoding 32 bytes; got 3 characters)'],
    // addresses
    [`${I}${P(1)}AllowedIPs = 10.0.0.0/33\n`, "wg0.conf:4: bad AllowedIPs: '10.0.0.0/33' has a bad prefix length (0-32)"],
    [`${I}${P(1)}AllowedIPs = 10.0.0.1/32,,10.0.0.2/32\n`, "wg0.conf:4: bad AllowedIPs: empty item in the list '10.0.0.1/32,,10.0.0.2/32'"],
    [`${I}${P(1)}AllowedIPs = fd00::/64, 10.0.0.256/32\n`, "wg0.conf:4: bad AllowedIPs: '10.0.0.256' is not an IP address"],
    [`${I}Address = 300.1.1.1/24\n`, "wg0.conf:2: bad Address: '300.1.1.1' is not an IP address"],
    [`${I}[Gateway]\nNetwork = 10.20.0.1/16\n`, "wg0.conf:3: bad Network: '10.20.0.1/16' has host bits set (the network is 10.20.0.0/16)"],
    [`${I}[Gateway]\nNetwork = 10.20.0.0\n`, "wg0.conf:3: bad Network: '10.20.0.0' needs a /prefix length"],
    [`${I}DNS = 1.1.1\n`, "wg0.conf:2: bad DNS: '1.1.1' is not an IP address"],
    [`${I}DNS = bad_domain-.x\n`, "wg0.conf:2: bad DNS: 'bad_domain-.x' is neither an IP address nor a search domain"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nUpstream = dns.google\n`, "wg0.conf:4: bad Upstream: 'dns.google' is not IP, IPv4:PORT or [IPv6]:PORT, or none"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nUpstream = 10.0.0.2:0\n`, "wg0.conf:4: bad Upstream: '0' is not a port (1-65535), or none"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nUpstream = none, 10.0.0.2\n`, "wg0.conf:4: bad Upstream: '10.0.0.2': Upstream = none cannot be combined with resolver addresses"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nUpstream = 10.0.0.2\nUpstream = none\n`, "wg0.conf:5: bad Upstream: 'none' cannot be combined with resolver addresses"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nHost = db:10.0.0.1\n`, "wg0.conf:4: bad Host: 'db:10.0.0.1' is not NAME=IP"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nDomain = -x\n`, "wg0.conf:4: bad Domain: '-x' is not a domain name"],
    // ports and numbers
    [`${I}ListenPort = 70000\n`, "wg0.conf:2: bad ListenPort: '70000' is not a port (0-65535)"],
    [`${I}ListenPort = http\n`, "wg0.conf:2: bad ListenPort: 'http' is not a port (0-65535)"],
    [`${I}ListenPort =\n`, 'wg0.conf:2: ListenPort needs a value'],
    [`${I}${P(1)}AllowedIPs =\n`, 'wg0.conf:4: AllowedIPs needs a value'],
    [`${I}${P(1)}Endpoint = 1.2.3.4:0\n`, "wg0.conf:4: bad Endpoint: '0' is not a port (1-65535)"],
    [`${I}${P(1)}Endpoint = fd00::1:51820\n`, "wg0.conf:4: bad Endpoint: 'fd00::1:51820': put an IPv6 address in brackets, [ADDRESS]:PORT"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nListenDns = 10.0.0.1:5353\n`, 'wg0.conf:4: bad ListenDns: port 5353: laptops send DNS to port 53 only (a client config\'s DNS = line has no port), so the gateway\'s DNS must listen there'],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nListenDns = 10.0.0.1\n`, "wg0.conf:4: bad ListenDns: 10.0.0.1 is not one of this gateway's tunnel addresses (Address =), the only addresses laptops send DNS to; name one of them, 0.0.0.0 or ::, or leave ListenDns out (the DNS then listens on every tunnel address)"],
    [`${I}${P(1)}PersistentKeepalive = 65536\n`, "wg0.conf:4: bad PersistentKeepalive: '65536' is neither off nor 0-65535 seconds"],
    [`${I}FwMark = 0x100000000\n`, "wg0.conf:2: bad FwMark: '0x100000000' is neither off nor a 32-bit number"],
    [`${I}MTU = 50\n`, "wg0.conf:2: bad MTU: '50' is not an MTU (68-65535)"],
    [`${I}Table = 1 2\n`, "wg0.conf:2: bad Table: '1 2' is not off, auto, a table number or a table name"],
    [`${I}SaveConfig = yes\n`, "wg0.conf:2: bad SaveConfig: 'yes' is neither true nor false"],
    [`${I}[Gateway]\nNetwork = 10.0.0.0/8\nMasquerade = 1\n`, "wg0.conf:4: bad Masquerade: '1' is neither true nor false"],
    // wgts peer extensions
    [`${I}${P(1)}Name = alice laptop\n`, "wg0.conf:4: bad Name: 'alice laptop' is not a peer name (1-63 letters, digits, '.', '_', '-')"],
    [`${I}${P(1)}Allow = 10.0.0.0/8/sctp\n`, "wg0.conf:4: bad Allow: rule '10.0.0.0/8/sctp': expected CIDR[:PORT[-PORT]][/tcp|/udp|/icmp]"],
    [`${I}${P(1)}Allow = fd00::1:443/tcp\n`, "wg0.conf:4: bad Allow: rule 'fd00::1:443/tcp': an IPv6 rule needs a /prefix"],
    [`${I}${P(1)}Allow = 10.0.0.1:90-80/udp\n`, "wg0.conf:4: bad Allow: rule '10.0.0.1:90-80/udp': bad port or port range '90-80'"],
    [`${I}${P(1)}Allow = 10.0.0.0/8:7/icmp\n`, "wg0.conf:4: bad Allow: rule '10.0.0.0/8:7/icmp': icmp takes no port"],
    [`${I}${P(1)}Allow = 10.0.0.0/40\n`, "wg0.conf:4: bad Allow: rule '10.0.0.0/40': '10.0.0.0/40' has a bad prefix length (0-32)"],
    [`${I}${P(1)}Allow = host.example:80\n`, "wg0.conf:4: bad Allow: rule 'host.example:80': 'host.example:80' is not an address"],
  ];
  for (const [text, message] of cases) assert.equal(errorsOf(text), [message], text);
});

test('all errors are reported at once, in line order, with CRLF line numbers intact', () => {
  const text = [
    '# comment', '[Interface]', 'ListenPort = 99999', 'Foo = bar', '', '[Peer]', 'AllowedIPs = 10.0.0.1/32', '[Peer]',
    `PublicKey = ${key(2)}`, 'Endpoint = nowhere',
  ].join('\r\n');
  assert.equal(errorsOf(text), [
    "wg0.conf:3: bad ListenPort: '99999' is not a port (0-65535)",
    "wg0.conf:4: unknown key 'Foo' in [Interface]",
    'wg0.conf:6: [Peer] has no PublicKey',
    "wg0.conf:10: bad Endpoint: 'nowhere' has no :PORT",
  ]);
  const r = parseConfig(text, '/etc/wireguard/wg0.conf');
  assert.ok(!r.ok && r.errors[0].file === '/etc/wireguard/wg0.conf' && r.errors[0].line === 3 && r.errors[0].code === 'bad-value');
  assert.ok(!r.ok && r.errors[0].reason === "bad ListenPort: '99999' is not a port (0-65535)");
});

test('Allow with the gateway alias and AllowInbound: accepted shapes, rejected ones at FILE:LINE, written back', () => {
  const key = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';
  const good = parseConfig(`[Interface]\n\n[Peer]\nPublicKey = ${key}\nAllow = gateway:22/tcp, GATEWAY/icmp, gateway\nAllowInbound = 8080/tcp\nAllowInbound = 5000-5010, icmp, 53/UDP\n`, 'g.conf');
  assert.ok(good.ok);
  if (!good.ok) return;
  const p = good.config.peers[0];
  assert.equal(p.allow, ['gateway:22/tcp', 'GATEWAY/icmp', 'gateway']);
  assert.equal(p.allowInbound, ['8080/tcp', '5000-5010', 'icmp', '53/UDP']);
  assert.equal(p.source?.allowInboundLines, [6, 7, 7, 7]);
  assert.match(formatConfig(good.config), 'Allow = gateway:22/tcp\nAllow = GATEWAY/icmp\nAllow = gateway\nAllowInbound = 8080/tcp\nAllowInbound = 5000-5010\nAllowInbound = icmp\nAllowInbound = 53/UDP\n');
  for (const [line, why] of [
    ['Allow = gw:22/tcp', "'gw' is neither an address nor 'gateway'"],
    ['Allow = gateway:0/tcp', "bad port or port range '0'"],
    ['Allow = gateway:22/icmp', 'icmp takes no port'],
    ['AllowInbound = 22/icmp', "inbound rule '22/icmp'"],
    ['AllowInbound = 90-80', "bad port or port range '90-80'"],
    ['AllowInbound = ssh', "bad port or port range 'ssh'"],
  ]) {
    const r = parseConfig(`[Interface]\n\n[Peer]\nPublicKey = ${key}\n${line}\n`, 'g.conf');
    assert.not.ok(r.ok, line);
    if (r.ok) continue;
    assert.match(r.errors[0].message, `g.conf:5: bad ${line.split(' = ')[0]}: `);
    assert.match(r.errors[0].message, why);
  }
});

test('[Env] and Env grants: sources in order, the port, grants; every mistake at FILE:LINE; written back; stripped for wg', () => {
  const key = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';
  const gw = '[Interface]\nAddress = 10.123.0.1/24\n[Gateway]\nNetwork = 10.124.0.0/24\n';
  const good = parseConfig(`${gw}[Env]\nSource = app:/etc/wgts/app.env\nsource = db:db.env # relative\nSource = env:ci_\nPort = 5381\n[Peer]\nPublicKey = ${key}\nEnv = app_*, ci_TOKEN\nEnv = db_PASS?ORD\n`, 'g.conf');
  assert.ok(good.ok);
  if (!good.ok) return;
  assert.equal(good.config.env, { port: 5381, sources: [
    { kind: 'file', service: 'app', path: '/etc/wgts/app.env', line: 6 }, { kind: 'file', service: 'db', path: 'db.env', line: 7 }, { kind: 'environment', prefix: 'ci_', line: 8 },
  ] });
  assert.equal(good.config.peers[0].env, ['app_*', 'ci_TOKEN', 'db_PASS?ORD']);
  const text = formatConfig(good.config);
  assert.match(text, '[Env]\nSource = app:/etc/wgts/app.env\nSource = db:db.env\nSource = env:ci_\nPort = 5381\n');
  assert.match(text, 'Env = app_*\nEnv = ci_TOKEN\nEnv = db_PASS?ORD\n');
  const again = parseConfig(text, 'g.conf');
  assert.ok(again.ok && again.config.env?.sources.length === 3);
  const setconf = toWgSetconf(good.doc);
  assert.not.ok(/Env|Source|Port|\[Gateway\]/.test(setconf), setconf);
  for (const [body, line, why] of [
    ['[Env]\nSource = app', 6, "bad Source: 'app' is neither SERVICE:PATH (an env file) nor env:PREFIX"],
    ['[Env]\nSource = my-app:/x.env', 6, "'my-app' cannot prefix variable names (my-app_VAR must be a shell variable name"],
    ['[Env]\nSource = 9app:/x.env', 6, "'9app' cannot prefix variable names"],
    ['[Env]\nSource = env:', 6, "bad Source: 'env:' is neither SERVICE:PATH"],
    ['[Env]\nSource = env:a-b', 6, 'env:a-b: the prefix must be letters, digits and _'],
    ['[Env]\nSource = app:/a.env\nSource = app:/b.env', 7, 'a second Source for app (one env file per service)'],
    ['[Env]\nSource = env:x_\nSource = env:x_', 7, 'env:x_ is given twice'],
    ['[Env]\nPort = 0\nSource = env:x_', 6, 'bad Port'],
    ['[Env]\nSource = env:x_\nListen = 1', 7, "unknown key 'Listen' in [Env]"],
    ['[Env]\nPort = 1', 5, '[Env] has no Source'],
    ['[Env]\nSource = env:x_\n[Env]\nSource = env:y_', 7, 'second [Env] section (the first is at line 5)'],
    [`[Peer]\nPublicKey = ${key}\nEnv = app-*`, 7, "bad Env: 'app-*' is not a variable name pattern"],
    [`[Peer]\nPublicKey = ${key}\nEnv = app_[ab]`, 7, "bad Env: 'app_[ab]' is not a variable name pattern"],
  ] as const) {
    const r = parseConfig(`${gw}${body}\n`, 'g.conf');
    assert.not.ok(r.ok, body);
    if (r.ok) continue;
    assert.match(r.errors[0].message, `g.conf:${line}: `, body);
    assert.match(r.errors[0].message, why, body);
  }
  const noGateway = parseConfig('[Interface]\n[Env]\nSource = env:x_\n', 'l.conf');
  assert.equal(noGateway.ok ? [] : noGateway.errors.map((e) => e.message), ['l.conf:2: [Env] needs a [Gateway] section: only a gateway serves project variables']);
});

test('comments may follow any line; values keep inner spaces and may contain =', () => {
  const { config } = mustParse(`[Interface] # head\nPostUp =  echo a=b   c  # note\n# PostUp = ignored\n`);
  assert.equal(config.interface.postUp, ['echo a=b   c']);
});

test.run();
