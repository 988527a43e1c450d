/*
 * record: sealed files (seal.h's records written with io_write_atomic) and
 * the share records in shares/, named by a keyed hash of their Vault bytes:
 * writing one with the index that references it, undone on failure. Share
 * records are the truth (the index is derived from them): one that no
 * epoch references is kept (fsck reports it; importing its file again, or
 * fsck --repair, adopts it), never removed by a change.
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

int record_load_share(uint8_t **vault_bytes, size_t *len, const struct store *store,
                      const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    snprintf(name, sizeof(name), "%s.rec", record);
    return sealed_read(vault_bytes, len, store->sharesfd, name, MAX_RECORD_BYTES, SEAL_KIND_SHARE,
                       record, store->master);
}

int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len)
{
    uint8_t digest[RECORD_NAME_BYTES];
    if (crypto_generichash(digest, sizeof(digest), vault, len, store->record_key,
                           SEAL_KEY_BYTES) != 0)
        return -EINVAL;
    hex_encode(out, digest, sizeof(digest));
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

static int compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int add_record(struct record_set *set, const char *record)
{
    if (alloc_reserve((void **)&set->names, &set->cap, set->count + 1, sizeof(*set->names)) < 0)
        return -ENOMEM;
    snprintf(set->names[set->count++], sizeof(*set->names), "%s", record);
    return 0;
}

static int add_epoch_records(struct record_set *set, const json_t *vault)
{
    size_t i, j;
    json_t *e, *r;
    int ret = 0;

    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        if (ret == 0)
            ret = add_record(set, jsonx_str(e, "record"));
        json_array_foreach(json_object_get(e, "replaced"), j, r)
            if (ret == 0)
                ret = add_record(set, jsonx_str(r, "record"));
    }
    return ret;
}

/* From the index itself: when a failure left the views empty. */
static int add_index_records(struct record_set *set, const struct store *store)
{
    int ret = 0;

    for (size_t i = 0; ret == 0 && i < store->slot_count; i++) {
        json_t *vault = NULL;
        ret = index_vault_at(store, i, &vault);
        if (ret == 0)
            ret = add_epoch_records(set, vault);
        json_decref(vault);
    }
    return ret;
}

/* From the views, which name each epoch's record: no parsing. */
static int add_view_records(struct record_set *set, const struct store *store)
{
    int ret = 0;

    for (size_t i = 0; ret == 0 && i < store->vault_count; i++)
        for (size_t j = 0; ret == 0 && j < store->vaults[i]->epoch_count; j++) {
            const struct store_epoch *e = &store->vaults[i]->epochs[j];
            ret = add_record(set, e->record);
            for (size_t k = 0; ret == 0 && k < e->replaced_count; k++)
                ret = add_record(set, e->replaced[k]);
        }
    return ret;
}

int record_set_of(struct record_set *set, const struct store *store)
{
    memset(set, 0, sizeof(*set));
    int ret = store->vault_count == store->slot_count ? add_view_records(set, store)
                                                      : add_index_records(set, store);
    if (ret < 0) {
        record_set_free(set);
        return ret;
    }
    if (set->count) /* qsort wants a real array */
        qsort(set->names, set->count, sizeof(*set->names), compare_names);
    return 0;
}

bool record_set_has(const struct record_set *set, const char *record)
{
    return set->count &&
           bsearch(record, set->names, set->count, sizeof(*set->names), compare_names) != NULL;
}

void record_set_free(struct record_set *set)
{
    alloc_free(set->names);
    memset(set, 0, sizeof(*set));
}

bool record_referenced(const struct store *store, const char *record)
{
    struct record_set set;

    if (record_set_of(&set, store) < 0)
        return true;
    bool found = record_set_has(&set, record);
    record_set_free(&set);
    return found;
}

void record_remove_superseded(struct store *store, const char *record)
{
    char file[2 * RECORD_NAME_BYTES + 8];

    if (record_referenced(store, record))
        return; /* never a record an epoch still names */
    snprintf(file, sizeof(file), "%s.rec", record);
    if (unlinkat(store->sharesfd, file, 0) == 0) {
        int synced = io_sync_dir(store->sharesfd);
        (void)synced; /* one that comes back after a crash is unreferenced: fsck says so */
    }
}

/*
 * Two flushes per commit, crash-safe by construction:
 * - A share record's name is a keyed hash of its content, and nothing
 *   refers to it until the vault's record does. A new one is written under
 *   its final name, unflushed: a crash before the vault's new record is in
 *   place leaves an unreferenced record (perhaps partial), which fsck
 *   reports and no change removes: it holds a share, and only it may, when
 *   the vault's record is the one that was lost.
 * - A record the index already refers to (a repair of a damaged one: same
 *   name) is replaced atomically: written to its temporary, renamed after
 *   the barrier.
 * - The vault's new record goes to its temporary (index_stage_vault), and
 *   the manifest gets the change's frame (manifest_begin).
 * - Flush 1 (struct io_flush: syncfs, or each file and shares/ when the
 *   system has much unwritten data) makes all of it durable at once: the
 *   contents and the new directory entries in shares/ and vaults/. The
 *   manifest is then ahead of the records until the rename (manifest.c).
 * - The rename of the vault's record is the commit point: before it the
 *   old index, after it the new one, which refers only to durable records.
 *   Flush 2, the fsync of vaults/, makes the rename durable before the
 *   import reports success.
 * A repair without a new index record renames in shares/ and fsyncs that
 * directory instead; a missing record written again needs flush 1 only.
 */
int record_stage_share(struct store *store, struct record_share *w, const char *record,
                       const uint8_t *vault, size_t len)
{
    struct stat st;

    snprintf(w->name, sizeof(w->name), "%s.rec", record);
    bool existed = fstatat(store->sharesfd, w->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    /* an unreferenced one (an interrupted import's) may be overwritten */
    w->replace = existed && record_referenced(store, record);
    w->created = !existed;
    return sealed_write_with(store->sharesfd, w->name, vault, len, SEAL_KIND_SHARE, record,
                             store->master, w->replace ? io_write_temp : io_write_unsynced);
}

void record_flush_add(struct store *store, struct io_flush *f, const struct record_share *w)
{
    if (w->replace)
        io_flush_add_temp(f, store->sharesfd, w->name);
    else
        io_flush_add(f, store->sharesfd, w->name, true);
}

void record_undo_share(struct store *store, const struct record_share *w, bool intact)
{
    if (w->replace)
        io_discard_temp(store->sharesfd, w->name);
    /* a failed import leaves no copy of a share the user was told was not
     * stored */
    if (w->created && intact && unlinkat(store->sharesfd, w->name, 0) == 0) {
        int synced = io_sync_dir(store->sharesfd);
        (void)synced; /* the import already failed; a record back after a crash goes later */
    }
}

void record_tidy_before_change(struct store *store)
{
    store_tidy_before_change(store);
}

int record_commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  const json_t *vault_json)
{
    struct record_share w = {0};
    struct index_change c;
    struct io_flush f;
    bool staged = false, framed = false, intact = true;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (store->batch_flushing)
        return -EAGAIN; /* one manifest frame in flight at a time: after that batch */
    record_tidy_before_change(store);
    ret = record_stage_share(store, &w, record, vault, len);
    if (ret == 0 && vault_json)
        staged = (ret = index_stage_vault(store, &c, vault_json)) == 0;
    if (ret == 0 && staged)
        framed = (ret = manifest_begin(store, &c.item, 1)) == 0;
    if (ret == 0) {
        io_flush_begin(&f);
        record_flush_add(store, &f, &w);
        if (staged) {
            index_flush_add(store, &f, &c);
            manifest_flush_add(store, &f);
        }
        ret = io_flush_end(&f, store->sharesfd);
    }
    if (ret == 0 && w.replace && (ret = io_rename_temp(store->sharesfd, w.name)) == 0)
        ret = io_sync_dir(store->sharesfd);
    if (ret == 0 && staged && (ret = index_publish_vault(store, &c)) == 0)
        ret = io_sync_dir(store->vaultsfd);
    if (ret < 0) {
        if (staged)
            intact = index_undo_vault(store, &c) == 0;
        record_undo_share(store, &w, intact);
    } else if (staged) {
        index_finish_vault(store, &c);
    }
    if (framed)
        manifest_end(store, ret, intact);
    return ret;
}
