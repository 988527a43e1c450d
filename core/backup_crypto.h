/*
 * backup_crypto: the encryption schemes the Vultisig apps use for exported
 * backups, byte for byte.
 *
 *   legacy:  key = SHA-256(password); blob = nonce(12) || ct || tag(16)
 *   current: key = PBKDF2-HMAC-SHA256(password, salt, 600000, 32);
 *            blob = "VLT" 0x02 || salt(16) || nonce(12) || ct || tag(16)
 *
 * Both use AES-256-GCM without associated data. Keys and plaintexts are the
 * caller's; this module wipes its own scratch state and never allocates.
 */
#ifndef VULTFS_BACKUP_CRYPTO_H
#define VULTFS_BACKUP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wur.h"

#define BACKUP_CRYPTO_KEY_BYTES 32
#define BACKUP_CRYPTO_SALT_BYTES 16
#define BACKUP_CRYPTO_NONCE_BYTES 12
#define BACKUP_CRYPTO_TAG_BYTES 16
#define BACKUP_CRYPTO_MAGIC_BYTES 4
#define BACKUP_CRYPTO_PBKDF2_ITERATIONS 600000u

/* Bytes a blob adds around its plaintext. */
#define BACKUP_CRYPTO_LEGACY_OVERHEAD (BACKUP_CRYPTO_NONCE_BYTES + BACKUP_CRYPTO_TAG_BYTES)
#define BACKUP_CRYPTO_CURRENT_OVERHEAD \
    (BACKUP_CRYPTO_MAGIC_BYTES + BACKUP_CRYPTO_SALT_BYTES + BACKUP_CRYPTO_LEGACY_OVERHEAD)

enum backup_crypto_scheme {
    BACKUP_CRYPTO_NONE = 0,  /* not encrypted */
    BACKUP_CRYPTO_LEGACY = 1,
    BACKUP_CRYPTO_CURRENT = 2,
};

/* sodium_init() plus a check that the CPU has AES-256-GCM.
 * Returns 0, -ENOTSUP without AES-NI/PCLMUL, -EIO if libsodium fails. */
int backup_crypto_init(void) VULTFS_WUR;

/* Name of a scheme: "none", "legacy", "current". */
const char *backup_crypto_scheme_name(enum backup_crypto_scheme scheme);

/* Which scheme wrote this blob: CURRENT when it starts with the magic and is
 * long enough to hold the current layout, LEGACY otherwise. */
enum backup_crypto_scheme backup_crypto_detect(const uint8_t *blob, size_t blob_len);

/* PBKDF2-HMAC-SHA256 (RFC 8018), any output length. */
void backup_crypto_pbkdf2_sha256(uint8_t *out, size_t out_len,
                                 const uint8_t *password, size_t password_len,
                                 const uint8_t *salt, size_t salt_len,
                                 uint32_t iterations);

/* key = SHA-256(password). */
void backup_crypto_key_legacy(uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                              const uint8_t *password, size_t password_len);

/* key = PBKDF2-HMAC-SHA256(password, salt, 600000). Slow on purpose. */
void backup_crypto_key_current(uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                               const uint8_t *password, size_t password_len,
                               const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES]);

/* The salt of a CURRENT blob (the caller derives the key from it).
 * Returns 0 or -EINVAL when the blob is not in the current layout. */
int backup_crypto_salt(uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                       const uint8_t *blob, size_t blob_len) VULTFS_WUR;

/* Decrypts a blob of the given scheme with a derived key into plain, which
 * must hold blob_len bytes. On success *plain_len is set and 0 returned.
 * -EINVAL: too short for the scheme; -EACCES: the tag does not verify
 * (wrong key or altered bytes); plain is zeroed then. */
int backup_crypto_decrypt(uint8_t *plain, size_t *plain_len,
                          const uint8_t *blob, size_t blob_len,
                          enum backup_crypto_scheme scheme,
                          const uint8_t key[BACKUP_CRYPTO_KEY_BYTES]) VULTFS_WUR;

/* Size of the blob encrypt writes for plain_len bytes. */
size_t backup_crypto_blob_len(enum backup_crypto_scheme scheme, size_t plain_len);

/* Encrypts plain into blob (backup_crypto_blob_len bytes). salt is used by
 * CURRENT only and must be the one the key was derived with. The caller
 * picks the nonce and must never reuse it with this key for other bytes.
 * Returns 0 or -EINVAL for scheme NONE. */
int backup_crypto_encrypt(uint8_t *blob,
                          const uint8_t *plain, size_t plain_len,
                          enum backup_crypto_scheme scheme,
                          const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                          const uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                          const uint8_t key[BACKUP_CRYPTO_KEY_BYTES]) VULTFS_WUR;

/* True when a password is empty or only white space (ASCII, and the
 * Unicode spaces in UTF-8): Android refuses such a password, so an export
 * made with one would never import there. */
bool backup_crypto_password_is_blank(const char *password, size_t password_len);

/* Writes one nonce candidate for attempt 0, 1, 2, ...; must be a pure
 * function of (attempt, ctx). */
typedef void backup_crypto_nonce_fn(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES], uint8_t attempt,
                                    void *ctx);

/* The first candidate a legacy blob may start with: desktop and Android
 * take a blob that begins with "VLT" 0x02 for the current scheme and never
 * retry the legacy one, so such a nonce would make an unreadable export.
 * Other schemes take candidate 0. Deterministic. 0, or -EAGAIN when all
 * 256 candidates begin with the magic (a broken candidate function). */
int backup_crypto_pick_nonce(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                             enum backup_crypto_scheme scheme,
                             backup_crypto_nonce_fn *candidate, void *ctx) VULTFS_WUR;

/* The deterministic export nonce: BLAKE2b keyed with hash_key over the
 * scheme, the export key and the plaintext (plus the attempt number after
 * the first), picked by backup_crypto_pick_nonce. The same share and
 * password give the same nonce; different plaintexts never share one. */
int backup_crypto_export_nonce(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                               enum backup_crypto_scheme scheme,
                               const uint8_t *hash_key, size_t hash_key_len,
                               const uint8_t export_key[BACKUP_CRYPTO_KEY_BYTES],
                               const uint8_t *plain, size_t plain_len) VULTFS_WUR;

/* Candidate passwords of a backup file (vult.h, dat.h), tried in order. */
struct vult_password {
    const char *ptr;
    size_t len;
};

#endif
