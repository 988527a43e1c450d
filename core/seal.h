/*
 * seal: at-rest encryption of the store.
 *
 * The passphrase key comes from Argon2id (crypto_pwhash); it only wraps the
 * random master key, so changing the passphrase rewrites one small record.
 * Every record is XChaCha20-Poly1305 under the master key with associated
 * data binding it to its kind and id, so records cannot be swapped or
 * renamed. An xxh3-64 checksum over the sealed bytes tells plain disk
 * corruption (-EIO) from tampering or a wrong key (-EBADMSG) quickly.
 *
 * Sealed record layout (all integers little-endian):
 *   "VFSR" | u8 layout version (1) | u8 kind | u16 0 | u64 xxh3_64(nonce..end)
 *   | nonce(24) | ciphertext | tag(16)
 * AD = the 8-byte header prefix ("VFSR", version, kind, 0) || id bytes.
 */
#ifndef VULTFS_SEAL_H
#define VULTFS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "wur.h"

#define SEAL_KEY_BYTES 32
#define SEAL_KDF_SALT_BYTES 16
#define SEAL_HEADER_BYTES 16
#define SEAL_NONCE_BYTES 24
#define SEAL_TAG_BYTES 16
#define SEAL_OVERHEAD (SEAL_HEADER_BYTES + SEAL_NONCE_BYTES + SEAL_TAG_BYTES)

enum seal_kind {
    SEAL_KIND_MASTER_KEY = 1, /* the master key, under the passphrase key */
    SEAL_KIND_INDEX = 2,      /* the store index */
    SEAL_KIND_SHARE = 3,      /* one imported Vault protobuf, verbatim */
};

/* Argon2id cost. Moderate (~1 s) is the default for real stores; tests
 * pass cheaper limits explicitly. */
struct seal_kdf {
    uint64_t opslimit;
    uint64_t memlimit;
    uint8_t salt[SEAL_KDF_SALT_BYTES];
};

/* The Argon2id cost a store may ask for: libsodium's minimums, and at most
 * four times the moderate default (ops 3, 256 MiB), which bounds one
 * derivation to some ten seconds and 1 GiB; a larger value read from
 * vultfs.json is damage, not a setting (it would hang every command). */
#define SEAL_KDF_OPSLIMIT_MIN 1u
#define SEAL_KDF_OPSLIMIT_MAX 12u
#define SEAL_KDF_MEMLIMIT_MIN 8192u
#define SEAL_KDF_MEMLIMIT_MAX (1024u << 20)

/* Fills kdf with moderate limits and a fresh random salt. */
void seal_kdf_default(struct seal_kdf *kdf);
/* Limits within the bounds above: 0 or -EINVAL. */
int seal_kdf_check(const struct seal_kdf *kdf) VULTFS_WUR;

/* key = Argon2id(passphrase, kdf). -ENOMEM when the memory limit cannot
 * be had, -EINVAL for limits out of range. */
int seal_derive_key(uint8_t key[SEAL_KEY_BYTES], const char *passphrase,
                    size_t passphrase_len, const struct seal_kdf *kdf) VULTFS_WUR;

/* A fresh random key into key (caller's buffer, ideally alloc_secret). */
void seal_random_key(uint8_t key[SEAL_KEY_BYTES]);

/* A subkey for one purpose, derived from the master key
 * (crypto_kdf_derive_from_key with an 8-char context). */
void seal_subkey(uint8_t out[SEAL_KEY_BYTES], uint64_t id, const char context[8],
                 const uint8_t master[SEAL_KEY_BYTES]);

/* Size of the sealed record for plain_len bytes. */
size_t seal_sealed_len(size_t plain_len);

/* Seals plain into *out (alloc_bytes, seal_sealed_len(plain_len) bytes;
 * caller alloc_free()s) with a random nonce. id is any string that names
 * the record (its file name), bound as associated data. 0 or -ENOMEM. */
int seal_record(uint8_t **out, size_t *out_len, const uint8_t *plain,
                size_t plain_len, enum seal_kind kind, const char *id,
                const uint8_t key[SEAL_KEY_BYTES]) VULTFS_WUR;

/* Opens a sealed record into *plain (alloc_secret; caller
 * alloc_secret_free()s). -EINVAL: not a record, other layout version, or
 * another kind; -EIO: checksum mismatch (disk corruption); -EBADMSG: the
 * tag does not verify (wrong key, tampered, or another id); -ENOMEM. */
int seal_open_record(uint8_t **plain, size_t *plain_len, const uint8_t *sealed,
                     size_t sealed_len, enum seal_kind kind, const char *id,
                     const uint8_t key[SEAL_KEY_BYTES]) VULTFS_WUR;

/* The same into the caller's buffer out (out_cap bytes, at least
 * sealed_len - SEAL_OVERHEAD, else -EINVAL), for records that hold no
 * secret: the index's public facts and key-share digests. Saves a
 * guarded, locked mapping (about ten system calls) per record, which was
 * most of opening a store of thousands of vaults, and lets one buffer
 * serve every record. On failure out is wiped. */
int seal_open_into(uint8_t *out, size_t out_cap, size_t *plain_len, const uint8_t *sealed,
                   size_t sealed_len, enum seal_kind kind, const char *id,
                   const uint8_t key[SEAL_KEY_BYTES]) VULTFS_WUR;

#endif
