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
 *
 * Share records no epoch names (an interrupted import's, or those of a
 * vault whose record was lost) are sealed again too and kept: under the
 * old key alone they would be lost with it. Only the old copies of the
 * records sealed again are removed, and records no key of the store
 * opens (an interrupted rekey's, under a key it made and lost).
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

/* What the rekey makes: the new keys, the names of the records sealed
 * under them and of the old records they replace (JSON objects as sets). */
struct rekey {
    struct keyset fresh;
    json_t *named;
    json_t *resealed; /* old names */
    json_t *dead;     /* records no key of this store opens: an interrupted rekey's */
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

/* Seals the share record `old` again under the new keys; its new name
 * into record. */
static int reseal_record(struct store *store, struct rekey *rk, const char *old,
                         char record[2 * RECORD_NAME_BYTES + 1])
{
    struct keyset *fresh = &rk->fresh;
    char name[2 * RECORD_NAME_BYTES + 8];
    uint8_t *vault = NULL;
    size_t len = 0;
    int ret = record_load_share(&vault, &len, store, old);

    if (ret < 0)
        return ret;
    swap_keys(store, fresh);
    ret = record_name(record, store, vault, len);
    snprintf(name, sizeof(name), "%s.rec", record);
    if (ret == 0)
        ret =
            sealed_write(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record, store->master);
    swap_keys(store, fresh);
    alloc_secret_free(vault);
    if (ret == 0 && (json_object_set_new(rk->named, record, json_true()) != 0 ||
                     json_object_set_new(rk->resealed, old, json_true()) != 0))
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

/* Seals one share again under the new keys; sets its new record name in
 * obj (an epoch, or a record a replace kept: a copy of the index's). */
static int reseal_share(struct store *store, struct rekey *rk, json_t *obj)
{
    char record[2 * RECORD_NAME_BYTES + 1];
    int ret = reseal_record(store, rk, jsonx_str(obj, "record"), record);

    if (ret == 0 && json_object_set_new(obj, "record", json_string(record)) != 0)
        ret = -ENOMEM;
    return ret;
}

struct orphans {
    struct store *store;
    struct rekey *rk;
    struct record_set referenced;
};

/* A share record no epoch names, sealed again when it opens (one that
 * does not is left as it is: nothing of it could be read anyway). */
static int reseal_orphan(void *ctx, const char *name)
{
    struct orphans *o = ctx;
    char old[2 * RECORD_NAME_BYTES + 1], record[2 * RECORD_NAME_BYTES + 1];

    if (!record_of_file(old, name) || record_set_has(&o->referenced, old) ||
        json_object_get(o->rk->named, old))
        return 0;
    int ret = reseal_record(o->store, o->rk, old, record);
    if (ret == -EBADMSG || ret == -EIO || ret == -EINVAL) {
        /* sealed under a key an interrupted rekey made and lost: nobody can
         * read it, ever; it goes with the old key's records */
        return json_object_set_new(o->rk->dead, old, json_true()) < 0 ? -ENOMEM : 0;
    }
    return ret == -ENOMEM || ret == -ENOSPC || ret == -EDQUOT || ret == -EROFS ? ret : 0;
}

/* Step 1: every epoch's share, sealed again; index is the copy to write;
 * then the share records no epoch names. */
static int reseal_all(struct store *store, struct rekey *rk, json_t *index)
{
    size_t i, j, k, done = 0, steps = rekey_steps(index);
    json_t *v, *e, *r;
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e) {
            int ret = reseal_share(store, rk, e);
            json_array_foreach(json_object_get(e, "replaced"), k, r)
                if (ret == 0)
                    ret = reseal_share(store, rk, r);
            if (ret < 0)
                return ret;
            store_progress(store, ++done, steps);
        }
    struct orphans o = {store, rk, {NULL, 0, 0}};
    int ret = record_set_of(&o.referenced, store);
    if (ret == 0)
        ret = io_list_dir(store->sharesfd, reseal_orphan, &o);
    record_set_free(&o.referenced);
    return ret;
}

/* Step 4's cleanup: the old copies of the records sealed again go, and
 * those no key of the store opens. */
struct cleanup {
    int sharesfd;
    const json_t *resealed, *dead;
};

static int remove_if_resealed(void *ctx, const char *name)
{
    const struct cleanup *c = ctx;
    char record[2 * RECORD_NAME_BYTES + 1];

    if (record_of_file(record, name) &&
        (json_object_get(c->resealed, record) || json_object_get(c->dead, record))) {
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
static int adopt(struct store *store, json_t *index, const json_t *resealed,
                 const json_t *dead)
{
    struct cleanup cleanup = {store->sharesfd, resealed, dead};
    index_replace_all(store, index);
    json_decref(index);
    index_tidy(store);
    /* tidying only: the rekey is complete whether or not this works */
    if (io_list_dir(store->sharesfd, remove_if_resealed, &cleanup) == 0) {
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
    struct rekey rk = {{NULL, NULL}, json_object(), json_object(), json_object()};
    struct seal_kdf cost;
    json_t *index = NULL;
    int ret;

    *switched = false;
    ret = passphrase_len ? 0 : -EINVAL;
    if (ret == 0 && !kdf) {
        ret = store_kdf(&cost, store);
        kdf = &cost;
    }
    if (ret == 0 && (!rk.named || !rk.resealed || !rk.dead))
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
                                 passphrase_len, kdf, store_id_hex(store)); /* step 2 */
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
                                 kdf, store_id_hex(store)); /* step 4 */
    if (ret < 0) {
        swap_keys(store, &rk.fresh); /* the open store goes on as it was */
        goto out;
    }
    ret = adopt(store, index, rk.resealed, rk.dead);
    index = NULL;
    /* the export stamp under the new key (the old one opens no more) */
    export_stamp_rekeyed(store, rk.fresh.master);
out:
    json_decref(index);
    json_decref(rk.named);
    json_decref(rk.resealed);
    json_decref(rk.dead);
    free_keyset(&rk.fresh);
    return ret;
}
