#!/usr/bin/env node
// gcm_interop: the two Vultisig backup schemes written again on Node's own
// crypto (OpenSSL underneath), so test_backup_crypto can check that blobs
// cross between two independent implementations in both directions.
//
//   node gcm_interop.js encrypt legacy|current PASSWORD_FILE PLAIN_FILE OUT_FILE
//   node gcm_interop.js decrypt PASSWORD_FILE BLOB_FILE OUT_FILE
//
// The password is read from a file, byte for byte (no trimming), so it never
// shows up in a process listing. Exit status: 0 done, 1 the blob does not
// verify, 2 usage or I/O error.
'use strict';

const crypto = require('crypto');
const fs = require('fs');

const MAGIC = Buffer.from('VLT\x02', 'latin1');
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const ITERATIONS = 600000;

function keyLegacy(password) {
  return crypto.createHash('sha256').update(password).digest();
}

function keyCurrent(password, salt) {
  return crypto.pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
}

// nonce || ct || tag, the part both schemes share.
function seal(key, plain) {
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]);
}

function open(key, sealed) {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('blob too short');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const ct = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  // Pin the tag length: setAuthTag alone would accept a truncated tag.
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce,
    { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ct), decipher.final()]);
}

function encrypt(scheme, password, plain) {
  if (scheme === 'legacy') return seal(keyLegacy(password), plain);
  if (scheme !== 'current') throw new Error(`unknown scheme ${scheme}`);
  const salt = crypto.randomBytes(SALT_BYTES);
  return Buffer.concat([MAGIC, salt, seal(keyCurrent(password, salt), plain)]);
}

// Same rule as backup_crypto_detect: the magic and room for the whole
// current layout, else legacy.
function decrypt(password, blob) {
  const header = MAGIC.length + SALT_BYTES;
  if (blob.length >= header + NONCE_BYTES + TAG_BYTES &&
      blob.subarray(0, MAGIC.length).equals(MAGIC)) {
    const salt = blob.subarray(MAGIC.length, header);
    return open(keyCurrent(password, salt), blob.subarray(header));
  }
  return open(keyLegacy(password), blob);
}

function main(argv) {
  let out;
  let outFile;
  try {
    if (argv[0] === 'encrypt' && argv.length === 5) {
      const [, scheme, pwFile, plainFile] = argv;
      outFile = argv[4];
      out = encrypt(scheme, fs.readFileSync(pwFile), fs.readFileSync(plainFile));
    } else if (argv[0] === 'decrypt' && argv.length === 4) {
      const [, pwFile, blobFile] = argv;
      outFile = argv[3];
      const password = fs.readFileSync(pwFile);
      const blob = fs.readFileSync(blobFile);
      try {
        out = decrypt(password, blob);
      } catch (err) {
        process.stderr.write(`gcm_interop: ${blobFile}: ${err.message}\n`);
        return 1;
      }
    } else {
      process.stderr.write('usage: gcm_interop.js encrypt legacy|current PASSWORD_FILE PLAIN_FILE OUT_FILE\n' +
                           '       gcm_interop.js decrypt PASSWORD_FILE BLOB_FILE OUT_FILE\n');
      return 2;
    }
    fs.writeFileSync(outFile, out);
  } catch (err) {
    process.stderr.write(`gcm_interop: ${err.message}\n`);
    return 2;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
