/*
 * backup_keycache: the keys of the apps' current backup encryption
 * (backup_crypto.h: PBKDF2 of the password with the file's salt), kept
 * for the files of one run.
 */
#ifndef VULTFS_BACKUP_KEYCACHE_H
#define VULTFS_BACKUP_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "backup_crypto.h"

/* Remembers PBKDF2 results for (password, salt) so a run of files from one
 * store (same salt) costs 600,000 iterations once, not once per file.
 * Lives in secret memory; backup_keycache_free wipes it. Thread-safe: one
 * cache may serve decodes on several threads at once. */
struct backup_keycache;
struct backup_keycache *backup_keycache_new(void);
void backup_keycache_free(struct backup_keycache *cache);

/* The current scheme's key for (password, salt) into key: from the cache,
 * else derived (600,000 PBKDF2 iterations) and remembered. cache may be
 * NULL (derived every time). */
void backup_keycache_key(struct backup_keycache *cache, uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                         const uint8_t *password, size_t password_len,
                         const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES]);

#endif
