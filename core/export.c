/*
 * export: how exports are written (scheme, password, key) and the exports
 * themselves, built on first read and cached by share record (bounded,
 * least recently used out) until the settings change or the store closes. Encrypted exports are deterministic: the nonce is a
 * keyed hash (see make_export).
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

/* Exports are cached in locked memory, least recently used first out once
 * they hold more than EXPORT_CACHE_BYTES (counted in whole pages, as they
 * are locked): a non-root user's RLIMIT_MEMLOCK is often 8 MiB, and the
 * kernel's page cache keeps what is read often anyway. */
#define EXPORT_CACHE_BYTES ((size_t)2 << 20)
#define PAGE_BYTES ((size_t)4096)

struct export_entry {
    char record[2 * RECORD_NAME_BYTES + 1]; /* by_record's key */
    uint8_t *data; /* alloc_secret: unencrypted exports are the share itself */
    size_t len;
    struct export_entry *newer, *older; /* the LRU list */
};

static size_t cost_of(const struct export_entry *e)
{
    return (e->len + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES + PAGE_BYTES;
}

static void unlink_entry(struct store *store, struct export_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        store->export_newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        store->export_oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(struct store *store, struct export_entry *e)
{
    e->older = store->export_newest;
    e->newer = NULL;
    if (store->export_newest)
        store->export_newest->newer = e;
    else
        store->export_oldest = e;
    store->export_newest = e;
}

static void free_entry(struct export_entry *e)
{
    alloc_secret_free(e->data);
    alloc_free(e);
}

void export_free_all(struct store *store)
{
    while (store->export_oldest) {
        struct export_entry *e = store->export_oldest;
        unlink_entry(store, e);
        free_entry(e);
    }
    strmap_free(&store->exports_by_record);
    store->export_bytes = 0;
}

/* Drops the least recently used exports but keep until the cache fits
 * again; the map is filled anew (it has no removal). */
static int evict_for(struct store *store, const struct export_entry *keep)
{
    size_t cap = store->export_cap ? store->export_cap : EXPORT_CACHE_BYTES;
    bool evicted = false;

    while (store->export_bytes > cap && store->export_oldest &&
           store->export_oldest != keep) {
        struct export_entry *e = store->export_oldest;
        unlink_entry(store, e);
        store->export_bytes -= cost_of(e);
        free_entry(e);
        evicted = true;
    }
    if (!evicted)
        return 0;
    strmap_clear(&store->exports_by_record);
    for (struct export_entry *e = store->export_newest; e; e = e->older)
        if (strmap_put(&store->exports_by_record, e->record, e) < 0)
            return -ENOMEM; /* cannot happen: the map only shrank */
    return 0;
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
    views_set_export_sizes(store);
    return 0;
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

/* The share record an epoch's export is made of. */
static int record_of(const char **out, const struct store *store,
                     const struct store_vault *vault, uint64_t epoch)
{
    const struct store_epoch *e = store_vault_epoch(vault, epoch);

    if (!store->export_set)
        return -EINVAL;
    if (!e)
        return -ENOENT;
    *out = e->record;
    return 0;
}

/* The cached export of a share record, made on first use. Valid until the
 * next call that makes an export. */
static int export_entry_of(struct export_entry **out, struct store *store, const char *record)
{
    struct export_entry *entry = strmap_get(&store->exports_by_record, record);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int ret;

    if (!store->export_set)
        return -EINVAL;
    if (entry) {
        unlink_entry(store, entry);
        push_newest(store, entry);
        *out = entry;
        return 0;
    }
    entry = alloc_zeroed(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    snprintf(entry->record, sizeof(entry->record), "%s", record);
    ret = record_load_share(&plain, &plain_len, store, record);
    if (ret == 0)
        ret = make_export(entry, store, plain, plain_len);
    alloc_secret_free(plain);
    if (ret == 0 && strmap_put(&store->exports_by_record, entry->record, entry) < 0)
        ret = -ENOMEM;
    if (ret < 0) {
        free_entry(entry);
        return ret;
    }
    push_newest(store, entry);
    store->export_bytes += cost_of(entry);
    *out = entry;
    return evict_for(store, entry);
}

static int epoch_entry(struct export_entry **out, struct store *store,
                       const struct store_vault *vault, uint64_t epoch)
{
    const char *record = NULL;
    int ret = record_of(&record, store, vault, epoch);
    return ret < 0 ? ret : export_entry_of(out, store, record);
}

int store_export_ref(struct store_export_ref *out, const struct store *store,
                     const struct store_vault *vault, uint64_t epoch)
{
    const char *record = NULL;
    int ret = record_of(&record, store, vault, epoch);
    if (ret == 0)
        snprintf(out->record, sizeof(out->record), "%s", record);
    return ret;
}

ssize_t store_export_read(struct store *store, const struct store_export_ref *ref, void *buf,
                          size_t size, off_t off)
{
    struct export_entry *entry;
    int ret = export_entry_of(&entry, store, ref->record);

    if (ret < 0)
        return ret;
    if (off < 0 || (size_t)off >= entry->len)
        return 0;
    size_t n = entry->len - (size_t)off < size ? entry->len - (size_t)off : size;
    memcpy(buf, entry->data + off, n);
    return (ssize_t)n;
}

int store_export(const uint8_t **data, size_t *len, struct store *store,
                 const struct store_vault *vault, uint64_t epoch)
{
    struct export_entry *entry;
    int ret = epoch_entry(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    *data = entry->data;
    *len = entry->len;
    return 0;
}

int store_export_info(struct store_export_info *out, struct store *store,
                      const struct store_vault *vault, uint64_t epoch)
{
    const struct store_epoch *e = store_vault_epoch(vault, epoch);
    struct export_entry *entry;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!e)
        return -ENOENT;
    ret = epoch_entry(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    out->data = entry->data;
    out->len = entry->len;
    out->ino = e->ino;
    store_export_time(&out->mtime_sec, &out->mtime_nsec, store, e);
    return 0;
}

int store_export_name(char **out, const struct store *store, const struct store_vault *vault,
                      uint64_t epoch)
{
    const struct store_epoch *e = store_vault_epoch(vault, epoch);
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    int ret;

    *out = NULL;
    if (!e)
        return -ENOENT;
    /* the share itself: its key shares say GG20 or DKLS where lib_type is
     * silent (early DKLS files), and it holds every signer whole */
    ret = record_load_share(&plain, &len, store, e->record);
    if (ret == 0 && (ret = vult_vault_parse(&v, NULL, plain, len)) == 0) {
        *out = vult_suggested_filename(&v);
        ret = *out ? 0 : -ENOMEM;
        vult_vault_clear(&v);
    } else if (ret == -EINVAL) {
        ret = -EBADMSG;
    }
    alloc_secret_free(plain);
    return ret;
}
