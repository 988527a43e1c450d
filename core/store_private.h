/*
 * store_private: what the store's modules share (store.c, index.c, record.c,
 * names.c, views.c, listing.c, export.c, import.c, forget.c, fsck.c). Not
 * for fs/: store.h is the public API.
 */
#ifndef VULTFS_STORE_PRIVATE_H
#define VULTFS_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"
#include "vult.h"

#define CONFIG_NAME "vultfs.json"
#define INDEX_NAME "index.rec"
#define LOCK_NAME "lock"
#define SHARES_DIR "shares"
#define MASTER_KEY_ID "master-key"
#define INDEX_ID "index"
#define RECORD_NAME_BYTES 16 /* keyed hash of the Vault bytes, hex in names */
#define MAX_CONFIG_BYTES (64u << 10)
#define MAX_INDEX_BYTES (64u << 20)
#define MAX_RECORD_BYTES (VULT_MAX_FILE_BYTES + SEAL_OVERHEAD)
#define MAX_PASSWORDS 64

struct password {
    char *text; /* alloc_secret */
    size_t len;
};

struct export_entry; /* export.c */

struct store {
    int dirfd;
    int sharesfd;
    int lockfd;
    json_t *config;
    json_t *index;
    uint8_t *master; /* alloc_secret, SEAL_KEY_BYTES */
    uint8_t *record_key, *nonce_key, *inode_key; /* alloc_secret */

    struct password passwords[MAX_PASSWORDS]; /* export pw, passphrase, extra */
    size_t password_count;
    bool have_export_password;
    struct vult_keycache *keycache;

    bool export_set;
    enum backup_crypto_scheme export_scheme;
    uint8_t *export_key; /* alloc_secret */
    uint8_t export_salt[BACKUP_CRYPTO_SALT_BYTES];
    struct export_entry *exports;

    size_t max_import;
    uint64_t generation;
    bool tidied; /* stale temporary files removed (see remove_stale_temps) */

    /* views of the index */
    struct store_vault *vaults;
    size_t vault_count;
};

/* index.c */
void index_hex_encode(char *out, const uint8_t *bin, size_t len);
int index_hex_decode(uint8_t *out, size_t len, const char *hex);
const char *index_str(const json_t *obj, const char *key);
uint64_t index_num(const json_t *obj, const char *key);
int index_write(struct store *store, const json_t *index);
int index_read(json_t **out, struct store *store);
/* json_deep_copy, checked equal to the original; NULL on failure. */
json_t *index_copy(const json_t *index);
/* json_dumps(json, flags), decoded again and checked equal to json (see
 * index.c on jansson 2.14). *out is NUL-terminated, from jansson's
 * allocator. -ENOMEM, or -EIO when the text does not decode to json. */
int index_dumps(char **out, const json_t *json, size_t flags);
json_t *index_find_vault(const json_t *index, const char *ecdsa, size_t *position);
json_t *index_find_epoch(const json_t *vault, uint32_t number);

/* record.c */
int record_write_sealed(int dirfd, const char *name, const uint8_t *plain, size_t len,
                        enum seal_kind kind, const char *id, const uint8_t *key);
int record_read_sealed(uint8_t **plain, size_t *len, int dirfd, const char *name, size_t max_len,
                       enum seal_kind kind, const char *id, const uint8_t *key);
int record_load_share(uint8_t **vault_bytes, size_t *len, struct store *store, const char *record);
int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len);

/* names.c */
int names_assign(struct store *store);
/* Is target's directory where this share belongs: its own vault's, or a new
 * directory (a restore's mkdir) with the name it would get? 0 or -ENOMEM. */
int names_in_its_place(bool *out, const struct store *store, const struct store_target *target,
                       const struct vult_vault *v, const char *ecdsa);

/* views.c */
void views_free(struct store *store);
int views_rebuild(struct store *store);

/* export.c */
void export_free_all(struct store *store);

/* store.c */
/* vultfs.json's text, checked up to the KDF and no further: its format
 * version, the Argon2id parameters and the sealed master key's encoding.
 * Runs no Argon2id, so any bytes can be fed to it (tests/fuzz). *out is
 * the config; 0, -EIO (damaged), -EPROTONOSUPPORT (newer), -ENOMEM. */
int store_config_parse(json_t **out, const uint8_t *text, size_t len) VULTFS_WUR;
/* A NUL-terminated copy of a password in secret memory. 0 or -ENOMEM. */
int store_password_copy(struct password *out, const char *text, size_t len);
bool store_is_stale_temp(const char *name);
void store_tidy_before_change(struct store *store);

#endif
