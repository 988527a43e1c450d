/*
 * rekey: a new master key and a new passphrase (`vultfs passwd --rekey`),
 * for when a passphrase or a copy of vultfs.json may have leaked: after
 * it, an old vultfs.json with the old passphrase opens nothing the store
 * holds. Every share record is sealed again under the new key (and named
 * by the new key's hash, so it gets a new name), then the index (every
 * vault's record, in a new vaults/).
 *
 * Crash-safe in four steps, each atomic:
 *   1. the new share records, under new names (the old index never sees
 *      them: at most unreferenced records, as after an interrupted import);
 *   2. vultfs.json with the new passphrase holding both keys, the old one
 *      as master_key and the new one as pending_master_key;
 *   3. the index, under the new key and naming the new records: written
 *      into vaults.new/, which then changes places with vaults/ in one
 *      rename (index_write_all);
 *   4. vultfs.json with only the new key; then the old records go (the
 *      old vault records, now in vaults.new/, and index.rec with them).
 * store_open reads the index with master_key and, when that fails and a
 * pending key is there, with the pending key (a crash between 3 and 4).
 * Before step 2 the old passphrase opens the old store; after it the new
 * passphrase does. What a crash leaves (records of the other key) is
 * reported by fsck as unreferenced and harmless.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "io.h"

/* The keys a record is sealed and named with. */
struct keyset {
    uint8_t *master, *record_key; /* alloc_secret */
};

/* What the rekey makes: the new keys, and the names of the records sealed
 * under them (a JSON object used as a set). */
struct rekey {
    struct keyset fresh;
    json_t *named;
};

static void swap_keys(struct store *store, struct keyset *k)
{
    uint8_t *master = store->master, *record_key = store->record_key;
    store->master = k->master;
    store->record_key = k->record_key;
    k->master = master;
    k->record_key = record_key;
}

static int new_keyset(struct keyset *k)
{
    k->master = alloc_secret(SEAL_KEY_BYTES);
    k->record_key = alloc_secret(SEAL_KEY_BYTES);
    if (!k->master || !k->record_key)
        return -ENOMEM;
    seal_random_key(k->master);
    store_record_key(k->record_key, k->master);
    return 0;
}

static void free_keyset(struct keyset *k)
{
    alloc_secret_free(k->master);
    alloc_secret_free(k->record_key);
}

/* Seals one share again under the new keys; sets its new record name in
 * epoch (a copy of the index's). */
static int reseal_share(struct store *store, struct rekey *rk, json_t *epoch)
{
    struct keyset *fresh = &rk->fresh;
    char record[2 * RECORD_NAME_BYTES + 1], name[2 * RECORD_NAME_BYTES + 8];
    uint8_t *vault = NULL;
    size_t len = 0;
    int ret = record_load_share(&vault, &len, store, index_str(epoch, "record"));

    if (ret < 0)
        return ret;
    swap_keys(store, fresh);
    ret = record_name(record, store, vault, len);
    snprintf(name, sizeof(name), "%s.rec", record);
    if (ret == 0)
        ret = record_write_sealed(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record,
                                  store->master);
    swap_keys(store, fresh);
    alloc_secret_free(vault);
    if (ret == 0 && (json_object_set_new(epoch, "record", json_string(record)) != 0 ||
                     json_object_set_new(rk->named, record, json_true()) != 0))
        ret = -ENOMEM;
    return ret;
}

/* The steps store_progress counts: each share, then the index. */
static size_t rekey_steps(const json_t *index)
{
    size_t i, steps = 1;
    json_t *v;
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        steps += json_array_size(json_object_get(v, "epochs"));
    return steps;
}

/* Step 1: every epoch's share, sealed again; index is the copy to write. */
static int reseal_all(struct store *store, struct rekey *rk, json_t *index)
{
    size_t i, j, done = 0, steps = rekey_steps(index);
    json_t *v, *e;
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e) {
            int ret = reseal_share(store, rk, e);
            if (ret < 0)
                return ret;
            store_progress(store, ++done, steps);
        }
    return 0;
}

/* Step 4's cleanup: every record the new index does not name goes (the old
 * key's, and what an interrupted rekey or import left). One that stays is
 * unreferenced and harmless (fsck says so). */
struct cleanup {
    int sharesfd;
    const json_t *named;
};

static int remove_if_unreferenced(void *ctx, const char *name)
{
    const struct cleanup *c = ctx;
    char record[2 * RECORD_NAME_BYTES + 1];
    size_t len = strlen(name);

    if (len != 2 * RECORD_NAME_BYTES + 4 || strcmp(name + len - 4, ".rec") != 0)
        return 0;
    snprintf(record, sizeof(record), "%.*s", 2 * RECORD_NAME_BYTES, name);
    if (!json_object_get(c->named, record)) {
        int removed = unlinkat(c->sharesfd, name, 0);
        (void)removed;
    }
    return 0;
}

/* Whether vultfs.json on disk is step 2's: after a write that failed, the
 * passphrase that opens the store is the new one. */
static bool config_has_pending_key(int dirfd)
{
    uint8_t *text = NULL;
    size_t len = 0;
    bool found = false;

    if (io_read_file(&text, &len, dirfd, CONFIG_NAME, MAX_CONFIG_BYTES) == 0) {
        json_t *config = json_loadb((const char *)text, len, 0, NULL);
        found = json_object_get(config, PENDING_KEY_FIELD) != NULL;
        json_decref(config);
    }
    alloc_free(text);
    return found;
}

/* After the switch: the store's views and subkeys follow the new key. */
static int adopt(struct store *store, json_t *index, const json_t *named)
{
    struct cleanup cleanup = {store->sharesfd, named};
    index_replace_all(store, index);
    json_decref(index);
    index_tidy(store);
    /* tidying only: the rekey is complete whether or not this works */
    if (io_list_dir(store->sharesfd, remove_if_unreferenced, &cleanup) == 0) {
        int synced = io_sync_dir(store->sharesfd);
        (void)synced;
    }
    export_free_all(store);
    store->export_set = false; /* the export salt comes from the master key */
    int ret = store_derive_subkeys(store);
    return ret == 0 ? views_rebuild(store) : ret;
}

int store_rekey(struct store *store, bool *switched, const char *passphrase,
                size_t passphrase_len, const struct seal_kdf *kdf)
{
    struct rekey rk = {{NULL, NULL}, json_object()};
    struct seal_kdf cost;
    json_t *index = NULL;
    int ret;

    *switched = false;
    ret = passphrase_len ? 0 : -EINVAL;
    if (ret == 0 && !kdf) {
        ret = store_kdf(&cost, store);
        kdf = &cost;
    }
    if (ret == 0 && !rk.named)
        ret = -ENOMEM;
    if (ret < 0)
        goto out;
    store_tidy_before_change(store);
    ret = new_keyset(&rk.fresh);
    if (ret == 0)
        ret = index_whole(store, &index);
    if (ret == 0)
        ret = reseal_all(store, &rk, index); /* step 1 */
    if (ret == 0) {
        ret = store_write_config(store->dirfd, store->master, rk.fresh.master, passphrase,
                                 passphrase_len, kdf); /* step 2 */
        /* a failed directory fsync comes after the rename (io.h) */
        *switched = ret == 0 || config_has_pending_key(store->dirfd);
    }
    if (ret < 0)
        goto out;
    swap_keys(store, &rk.fresh); /* rk.fresh now holds the old keys */
    size_t steps = rekey_steps(index);
    ret = index_write_all(store, index); /* step 3 */
    if (ret == 0)
        store_progress(store, steps, steps);
    if (ret == 0)
        ret = store_write_config(store->dirfd, store->master, NULL, passphrase, passphrase_len,
                                 kdf); /* step 4 */
    if (ret < 0) {
        swap_keys(store, &rk.fresh); /* the open store goes on as it was */
        goto out;
    }
    ret = adopt(store, index, rk.named);
    index = NULL;
out:
    json_decref(index);
    json_decref(rk.named);
    free_keyset(&rk.fresh);
    return ret;
}
