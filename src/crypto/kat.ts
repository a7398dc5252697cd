// Known answers the start-up self-tests check (src/crypto/probe.ts for node:crypto,
// src/crypto/addon-handshake.ts for the addon): a wrong answer keeps that path out of use.

/** Bytes of a hex string (self-test inputs only; never for keys). */
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
/** Hex of bytes, 'null' for null (self-test comparisons only). */
export const toHex = (b: Uint8Array | null): string => (b === null ? 'null' : Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'));

/** RFC 8439 section 2.8.2 ("Ladies and Gentlemen..."): ciphertext || tag. */
export const AEAD_KAT = {
  key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
  nonce: '070000004041424344454647',
  aad: '50515253c0c1c2c3c4c5c6c7',
  plain:
    '4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e',
  sealed:
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691',
} as const;

/** RFC 7748 section 6.1. */
export const X25519_KAT = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** BLAKE2s-256 of the empty string (BLAKE2 reference KAT). */
export const BLAKE2S_EMPTY = '69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9';
/** KDF1 with empty key and input, i.e. HMAC(HMAC('', ''), 0x01) (wireguard-go kdf_test). */
export const KDF1_EMPTY = '8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0';
/** Keyed BLAKE2s-128: the Linux kernel's blake2s self-test case i = 15 (test/vectors/hmac-blake2s.json). */
export const MAC_KAT = {
  key: '020305080d1522375990e97962db3d18556dc22ff12011314273b528dd05',
  input: '000102030405060708090a0b0c0d0e',
  mac: '4fe0f95212da84b7abaeb0a6472ac7f5',
} as const;
