/*
 * vult: the Vultisig backup file format (.vult, and .bak which is the same).
 *
 *   file      = base64(VaultContainer)            one line, padded
 *   container = {1 version = 1, 2 vault string, 3 is_encrypted bool}
 *   vault     = base64(Vault protobuf)            or, when encrypted,
 *               base64(backup_crypto blob of the Vault protobuf)
 *
 * This module unwraps and wraps the container (and its encryption) and
 * sends a 2024 .dat to dat.h; the Vault message inside is vult_vault.h's.
 * Every malformed input is -EINVAL at this boundary.
 */
#ifndef VULTFS_VULT_H
#define VULTFS_VULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup_crypto.h"
#include "backup_keycache.h"
#include "vult_vault.h"
#include "wur.h"

/* The codec's own sanity cap on a whole file; the store's import cap
 * (store_set_max_import) is the one users meet and raise. */
#define VULT_MAX_FILE_BYTES ((size_t)256 << 20)
#define VULT_CONTAINER_VERSION 1

/* A decoded file: the exact Vault bytes and how they were wrapped. */
struct vult_file {
    uint64_t version;
    enum backup_crypto_scheme scheme;
    uint8_t *vault_bytes; /* alloc_secret; vult_file_clear frees */
    size_t vault_len;
    struct vult_vault vault; /* parsed: views into vault_bytes */
    const char *problem;     /* after -EINVAL: what is damaged, or NULL */
};

/* Decodes a whole file: a .vult or .bak, or a 2024 .dat (dat.h), whose
 * Vault bytes are then made like a .vult's (version 1; scheme NONE, or
 * LEGACY when encrypted, as both apps keyed it with SHA-256(password)).
 * Passwords are tried in order when it is encrypted;
 * cache may be NULL. The Vault is parsed as vult_vault_parse does, into
 * out->vault. Returns 0, or:
 *   -EINVAL   not a Vultisig backup, truncated, corrupt, or not a Vault
 *             (out->problem says which, when a key share is damaged)
 *   -EACCES   encrypted and no password fits (or none given)
 *   -EFBIG    larger than VULT_MAX_FILE_BYTES
 *   -ENOMEM
 * On error *out is cleared. */
int vult_decode(struct vult_file *out, const uint8_t *file, size_t file_len,
                const struct vult_password *passwords, size_t password_count,
                struct backup_keycache *cache) VULTFS_WUR;

/* Wipes and frees what vult_decode filled in; NULL-safe, idempotent. */
void vult_file_clear(struct vult_file *file);
/* Exact size of what vult_encode writes. */
size_t vult_encoded_len(size_t vault_len, enum backup_crypto_scheme scheme);

/* Writes the .vult text of vault bytes into out (vult_encoded_len bytes;
 * no NUL, no newline), unencrypted or in either scheme, as the apps do.
 * key, salt and nonce are unused for NONE; salt only for CURRENT. The
 * caller allocates out (secret memory when the scheme is NONE).
 * Returns 0, -EINVAL (out_cap too small), -ENOMEM. */
int vult_encode(char *out, size_t out_cap, const uint8_t *vault, size_t vault_len,
                enum backup_crypto_scheme scheme,
                const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                const uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                const uint8_t key[BACKUP_CRYPTO_KEY_BYTES]) VULTFS_WUR;

#endif
