// mkdat: writes a SYNTHETIC 2024 Vultisig .dat backup to stdout, in the
// layout of the fixtures' MANIFEST (no real sample is public), for tests.
//
//   node tests/tools/mkdat.js FORM [PASSWORD] < VAULT.json > out.dat
//
// FORM: plain-wrapped ({"version": "v1", "vault": VAULT}, hex), plain-bare
// (VAULT alone, hex), ios (raw AES-256-GCM blob of the wrapped hex text),
// android (Base64.DEFAULT lines of AES-256-CBC, zero IV, of it); both keyed
// with SHA-256(PASSWORD). With nothing on stdin, VAULT is a fixed synthetic
// GG20 vault whose key shares are fake (they hold "FAKEKEYSHARE").
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const ECDSA = '02' + '5a'.repeat(32);
const EDDSA = 'a5'.repeat(32);
const DEFAULT_VAULT = {
  name: 'Old Vault 2024', signers: ['iPhone-1A2', 'Pixel-3B4'],
  createdAt: 735000000.5, // iOS: seconds since 2001-01-01
  pubKeyECDSA: ECDSA, pubKeyEdDSA: EDDSA, hexChainCode: 'c0de'.repeat(16),
  localPartyID: 'iPhone-1A2',
  keyshares: [
    {pubkey: ECDSA, keyshare: JSON.stringify({FAKEKEYSHARE: 'NOT A REAL SECRET 1'})},
    {pubkey: EDDSA, keyshare: JSON.stringify({FAKEKEYSHARE: 'NOT A REAL SECRET 2'})},
  ],
};

const [form, password = ''] = process.argv.slice(2);
let input = '';
try { input = fs.readFileSync(0, 'utf8'); } catch (e) { /* no stdin */ }
const vault = input.trim() ? JSON.parse(input) : DEFAULT_VAULT;
const doc = form === 'plain-bare' ? vault : {version: 'v1', vault};
const hex = Buffer.from(Buffer.from(JSON.stringify(doc), 'utf8').toString('hex'), 'utf8');
const key = crypto.createHash('sha256').update(password, 'utf8').digest();

let out;
if (form === 'plain-wrapped' || form === 'plain-bare') {
  out = hex;
} else if (form === 'ios') {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  const ct = Buffer.concat([c.update(hex), c.final()]);
  out = Buffer.concat([nonce, ct, c.getAuthTag()]);
} else if (form === 'android') {
  const c = crypto.createCipheriv('aes-256-cbc', key, Buffer.alloc(16));
  const b64 = Buffer.concat([c.update(hex), c.final()]).toString('base64');
  out = Buffer.from(b64.match(/.{1,76}/g).join('\n') + '\n', 'utf8');
} else {
  process.stderr.write('mkdat: FORM must be plain-wrapped, plain-bare, ios or android\n');
  process.exit(2);
}
process.stdout.write(out);
