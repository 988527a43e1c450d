/*
 * export: how exports are written (scheme, password, key) and the exports
 * themselves, built on first read and cached until the settings change or
 * the store closes. Encrypted exports are deterministic: the nonce is a
 * keyed hash (see make_export).
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

struct export_entry {
    char record[2 * RECORD_NAME_BYTES + 1];
    uint8_t *data; /* alloc_secret: unencrypted exports are the share itself */
    size_t len;
    struct export_entry *next;
};

void export_free_all(struct store *store)
{
    while (store->exports) {
        struct export_entry *next = store->exports->next;
        alloc_secret_free(store->exports->data);
        alloc_free(store->exports);
        store->exports = next;
    }
}

int store_set_export(struct store *store, const char *password, size_t password_len,
                     enum backup_crypto_scheme scheme)
{
    /* Android refuses blank passwords: such an export would not import. */
    if (password && backup_crypto_password_is_blank(password, password_len))
        return -EINVAL;
    export_free_all(store);
    alloc_secret_free(store->export_key);
    store->export_key = NULL;
    if (password) {
        if (scheme == BACKUP_CRYPTO_NONE)
            return -EINVAL;
        store->export_key = alloc_secret(BACKUP_CRYPTO_KEY_BYTES);
        if (!store->export_key)
            return -ENOMEM;
        if (scheme == BACKUP_CRYPTO_CURRENT)
            backup_crypto_key_current(store->export_key, (const uint8_t *)password, password_len,
                                      store->export_salt);
        else
            backup_crypto_key_legacy(store->export_key, (const uint8_t *)password, password_len);
        /* the export password is the first one an import tries */
        if (store->password_count == MAX_PASSWORDS)
            return -ENOSPC;
        struct password copy;
        int ret = store_password_copy(&copy, password, password_len);
        if (ret < 0)
            return ret;
        if (store->have_export_password) {
            alloc_secret_free(store->passwords[0].text);
        } else {
            memmove(&store->passwords[1], &store->passwords[0],
                    store->password_count * sizeof(store->passwords[0]));
            store->password_count++;
            store->have_export_password = true;
        }
        store->passwords[0] = copy;
    } else {
        scheme = BACKUP_CRYPTO_NONE;
    }
    store->export_scheme = scheme;
    store->export_set = true;
    return views_rebuild(store);
}

/* The nonce is a keyed hash of the key and the plaintext
 * (backup_crypto_export_nonce): the same share and password give the same
 * bytes, different plaintexts under one key never share a nonce, and a
 * legacy blob never starts with the current scheme's magic. */
static int make_export(struct export_entry *entry, struct store *store, const uint8_t *vault,
                       size_t vault_len)
{
    uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES] = {0};

    if (store->export_scheme != BACKUP_CRYPTO_NONE &&
        backup_crypto_export_nonce(nonce, store->export_scheme, store->nonce_key, SEAL_KEY_BYTES,
                                   store->export_key, vault, vault_len) < 0)
        return -EIO;
    entry->len = vult_encoded_len(vault_len, store->export_scheme);
    entry->data = alloc_secret(entry->len);
    if (!entry->data)
        return -ENOMEM;
    int ret = vult_encode((char *)entry->data, entry->len, vault, vault_len,
                          store->export_scheme, store->export_salt, nonce, store->export_key);
    if (ret < 0) {
        alloc_secret_free(entry->data);
        entry->data = NULL;
        return ret;
    }
    return 0;
}

/* The cached export entry of one epoch, made on first use. */
static int export_entry_of(struct export_entry **out, struct store *store,
                           const struct store_vault *vault, uint32_t epoch)
{
    const json_t *vj = index_vault_of(store, vault->public_key_ecdsa);
    const json_t *ej = vj ? index_find_epoch(vj, epoch) : NULL;
    const char *record = index_str(ej, "record");
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int ret;

    if (!store->export_set)
        return -EINVAL;
    if (!ej)
        return -ENOENT;
    for (struct export_entry *e = store->exports; e; e = e->next) {
        if (strcmp(e->record, record) == 0) {
            *out = e;
            return 0;
        }
    }
    struct export_entry *entry = alloc_zeroed(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    ret = record_load_share(&plain, &plain_len, store, record);
    if (ret == 0)
        ret = make_export(entry, store, plain, plain_len);
    alloc_secret_free(plain);
    if (ret < 0) {
        alloc_free(entry);
        return ret;
    }
    snprintf(entry->record, sizeof(entry->record), "%s", record);
    entry->next = store->exports;
    store->exports = entry;
    *out = entry;
    return 0;
}

int store_export(const uint8_t **data, size_t *len, struct store *store,
                 const struct store_vault *vault, uint32_t epoch)
{
    struct export_entry *entry;
    int ret = export_entry_of(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    *data = entry->data;
    *len = entry->len;
    return 0;
}

int store_export_info(struct store_export_info *out, struct store *store,
                      const struct store_vault *vault, uint32_t epoch)
{
    const struct store_epoch *e = store_vault_epoch(vault, epoch);
    struct export_entry *entry;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!e)
        return -ENOENT;
    ret = export_entry_of(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    out->data = entry->data;
    out->len = entry->len;
    out->ino = e->ino;
    out->mtime_sec = e->imported_sec;
    out->mtime_nsec = e->imported_nsec;
    return 0;
}
