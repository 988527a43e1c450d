/*
 * record: sealed files (seal.h's records written with io_write_atomic) and
 * the share records in shares/, named by a keyed hash of their Vault bytes:
 * writing one with the index that references it, undone on failure, and
 * removing those no index entry references.
 */
#include "store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "io.h"

int record_write_sealed(int dirfd, const char *name, const uint8_t *plain, size_t len,
                        enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = seal_record(&sealed, &sealed_len, plain, len, kind, id, key);
    if (ret < 0)
        return ret;
    ret = io_write_atomic(dirfd, name, sealed, sealed_len, 0600);
    alloc_free(sealed);
    return ret;
}

int record_read_sealed(uint8_t **plain, size_t *len, int dirfd, const char *name, size_t max_len,
                       enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = io_read_file(&sealed, &sealed_len, dirfd, name, max_len);
    if (ret < 0)
        return ret;
    ret = seal_open_record(plain, len, sealed, sealed_len, kind, id, key);
    alloc_free(sealed);
    return ret;
}

int record_load_share(uint8_t **vault_bytes, size_t *len, const struct store *store,
                      const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    snprintf(name, sizeof(name), "%s.rec", record);
    return record_read_sealed(vault_bytes, len, store->sharesfd, name, MAX_RECORD_BYTES,
                              SEAL_KIND_SHARE, record, store->master);
}

int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len)
{
    uint8_t digest[RECORD_NAME_BYTES];
    if (crypto_generichash(digest, sizeof(digest), vault, len, store->record_key,
                           SEAL_KEY_BYTES) != 0)
        return -EINVAL;
    index_hex_encode(out, digest, sizeof(digest));
    return 0;
}

bool record_of_file(char record[2 * RECORD_NAME_BYTES + 1], const char *name)
{
    size_t len = strlen(name);

    if (len != 2 * RECORD_NAME_BYTES + 4 || strcmp(name + len - 4, ".rec") != 0)
        return false;
    for (size_t i = 0; i < 2 * RECORD_NAME_BYTES; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    memcpy(record, name, 2 * RECORD_NAME_BYTES);
    record[2 * RECORD_NAME_BYTES] = '\0';
    return true;
}

bool record_referenced(const json_t *index, const char *record)
{
    size_t i, j;
    json_t *v, *e;
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e)
            if (strcmp(index_str(e, "record"), record) == 0)
                return true;
    return false;
}

struct unreferenced {
    const struct store *store;
    bool removed;
};

static int remove_if_unreferenced(void *ctx, const char *name)
{
    struct unreferenced *u = ctx;
    char record[2 * RECORD_NAME_BYTES + 1];

    if (record_of_file(record, name) && !record_referenced(u->store->index, record) &&
        unlinkat(u->store->sharesfd, name, 0) == 0)
        u->removed = true;
    return 0;
}

void record_remove_unreferenced(struct store *store)
{
    struct unreferenced u = {store, false};
    int listed = io_list_dir(store->sharesfd, remove_if_unreferenced, &u);

    (void)listed; /* tidying only: the store is whole either way */
    if (u.removed) {
        int synced = io_sync_dir(store->sharesfd);
        (void)synced; /* a record that comes back after a crash goes next time */
    }
}

int record_commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  const json_t *vault_json)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    struct stat st;
    bool intact = true;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (!store->tidied)
        record_remove_unreferenced(store);
    store_tidy_before_change(store);
    snprintf(name, sizeof(name), "%s.rec", record);
    bool existed = fstatat(store->sharesfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    ret = record_write_sealed(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record,
                              store->master);
    /* if the vault's old record cannot be put back, the new one may
     * reference the share record: keep it (an unreferenced record is
     * removed later, a missing one is a lost share) */
    if (ret == 0 && vault_json)
        ret = index_change_vault(store, vault_json, &intact);
    if (!intact)
        existed = true;
    /* a failed import leaves no copy of a share the user was told was not
     * stored (the record's rename may have happened before a failed fsync) */
    if (ret < 0 && !existed && unlinkat(store->sharesfd, name, 0) == 0) {
        int synced = io_sync_dir(store->sharesfd);
        (void)synced; /* the import already failed; a record back after a crash goes later */
    }
    return ret;
}
