/*
 * backup_keycache: the current scheme's keys by (password, salt), see
 * backup_keycache.h.
 */
#include "backup_keycache.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"

#define KEYCACHE_SLOTS 8

struct keycache_slot {
    bool used;
    uint8_t password_hash[crypto_generichash_BYTES]; /* BLAKE2b, never the password */
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
};

/* Decodes run on several threads at once (a mount decodes outside its
 * lock): the slots are read and filled under the cache's own mutex, and
 * PBKDF2 runs outside it, so a slow derivation holds up no other file. */
struct backup_keycache {
    pthread_mutex_t lock;
    struct keycache_slot slots[KEYCACHE_SLOTS];
    size_t next;
};

struct backup_keycache *backup_keycache_new(void)
{
    struct backup_keycache *cache = alloc_secret(sizeof(*cache));
    if (!cache)
        return NULL;
    sodium_memzero(cache, sizeof(*cache));
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        alloc_secret_free(cache);
        return NULL;
    }
    return cache;
}

void backup_keycache_free(struct backup_keycache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    alloc_secret_free(cache);
}

/* The cached key for (pw_hash, salt) into key: true when there is one. */
static bool keycache_find(struct backup_keycache *cache, uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                          const uint8_t pw_hash[crypto_generichash_BYTES],
                          const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    bool found = false;

    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < KEYCACHE_SLOTS && !found; i++) {
        const struct keycache_slot *slot = &cache->slots[i];
        found = slot->used &&
                sodium_memcmp(slot->password_hash, pw_hash, crypto_generichash_BYTES) == 0 &&
                memcmp(slot->salt, salt, sizeof(slot->salt)) == 0;
        if (found)
            memcpy(key, slot->key, BACKUP_CRYPTO_KEY_BYTES);
    }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

static void keycache_add(struct backup_keycache *cache, const uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                         const uint8_t pw_hash[crypto_generichash_BYTES],
                         const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    pthread_mutex_lock(&cache->lock);
    struct keycache_slot *slot = &cache->slots[cache->next];
    cache->next = (cache->next + 1) % KEYCACHE_SLOTS;
    slot->used = true;
    memcpy(slot->password_hash, pw_hash, crypto_generichash_BYTES);
    memcpy(slot->salt, salt, sizeof(slot->salt));
    memcpy(slot->key, key, BACKUP_CRYPTO_KEY_BYTES);
    pthread_mutex_unlock(&cache->lock);
}

void backup_keycache_key(struct backup_keycache *cache, uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                         const uint8_t *password, size_t password_len,
                         const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    uint8_t pw_hash[crypto_generichash_BYTES];

    if (!cache) {
        backup_crypto_key_current(key, password, password_len, salt);
        return;
    }
    crypto_generichash(pw_hash, sizeof(pw_hash), password, password_len, NULL, 0);
    if (!keycache_find(cache, key, pw_hash, salt)) {
        backup_crypto_key_current(key, password, password_len, salt);
        keycache_add(cache, key, pw_hash, salt);
    }
    sodium_memzero(pw_hash, sizeof(pw_hash));
}
