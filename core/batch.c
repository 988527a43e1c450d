/*
 * batch: group commit. A change staged here (batch_stage) is written (its
 * share record and its vault's record's temporary, as record_commit does,
 * not flushed) and made in memory at once, so the next decision sees it;
 * it joins the store's open batch. One writer then takes the batch
 * (store_commit_take) and makes all of it durable (store_commit_flush:
 * one syncfs, or with much unwritten data in the system each file's fsync
 * (io.h); then the renames and one fsync of vaults/), without the
 * caller's lock; then, under it again,
 * store_commit_end settles each change's ticket, or undoes every change of
 * the batch, newest first, in memory and on disk, byte for byte as
 * record_commit's failure does.
 *
 * The batch's flush also makes its one manifest frame durable (every
 * change of the batch in it, written just before): at most one frame is
 * in flight, so a change made at once (record_commit) while a batch is
 * being flushed waits for it (-EAGAIN, as a second change of a vault does).
 *
 * Why this is safe: a vault has at most one change not yet durable
 * (store_import_stage refuses a second with -EAGAIN until the first is
 * settled), so no two changes of a batch, or of the open batch and the one
 * being flushed, share a file: the flush renames only its own temporaries
 * while new changes are written beside them. A change's share record is
 * new (a repair, which replaces one, and a store's first change, which
 * moves index.rec into vaults/, are committed at once instead), so the
 * crash reasoning of record.c holds for each change of a batch.
 */
#include "store_private.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "io.h"

struct batch_change {
    struct batch_change *next;
    char *ecdsa;
    struct record_share share;
    struct index_change vault;
    json_t *old_vault; /* the vault in memory before; NULL for a new vault */
    struct store_ticket *ticket;
};

static bool in_list(const struct batch_change *c, const char *ecdsa)
{
    for (; c; c = c->next)
        if (strcmp(c->ecdsa, ecdsa) == 0)
            return true;
    return false;
}

bool batch_vault_pending(const struct store *store, const char *ecdsa)
{
    return in_list(store->batch_open, ecdsa) ||
           (store->batch_flushing && in_list(store->batch_flushing->first, ecdsa));
}

bool batch_can_stage(const struct store *store, const struct record_share *share)
{
    return store->per_vault && !share->replace;
}

static void change_free(struct batch_change *c)
{
    json_decref(c->old_vault);
    alloc_free(c->vault.old);
    alloc_free(c->ecdsa);
    alloc_free(c);
}

/* The vault in memory as it was before c. */
static int undo_in_memory(struct store *store, struct batch_change *c)
{
    json_t *old = c->old_vault;

    c->old_vault = NULL;
    return old ? index_set_vault(store, old) : index_drop_vault(store, c->ecdsa);
}

/* c undone on disk: the vault's record as it was, the share record gone.
 * False when the vault's record could not be put back. */
static bool undo_on_disk(struct store *store, struct batch_change *c)
{
    bool intact = index_undo_vault(store, &c->vault) == 0;
    record_undo_share(store, &c->share, intact);
    return intact;
}

int batch_stage(struct store *store, const struct record_share *share, json_t *vault,
                json_t *old, struct store_ticket *ticket)
{
    struct batch_change *c = alloc_zeroed(1, sizeof(*c));
    const char *ecdsa = jsonx_str(vault, "ecdsa");
    int ret = c && (c->ecdsa = alloc_strndup(ecdsa, strlen(ecdsa))) ? 0 : -ENOMEM;

    if (c) {
        c->share = *share;
        c->old_vault = json_incref(old);
    }
    if (ret == 0)
        ret = index_stage_vault(store, &c->vault, vault);
    if (ret < 0) {
        record_undo_share(store, share, true);
        json_decref(vault);
        if (c) {
            json_decref(c->old_vault);
            alloc_free(c->ecdsa);
        }
        alloc_free(c);
        return ret;
    }
    ret = index_set_vault(store, vault); /* takes vault */
    if (ret < 0) {
        /* the views are rebuilt or empty (index_set_vault): put back */
        int undone = undo_in_memory(store, c);
        (void)undone; /* out of memory twice: the views come back on the next open */
        bool intact = undo_on_disk(store, c);
        (void)intact; /* no frame was written for it: the next open reads what is there */
        change_free(c);
        return ret;
    }
    c->ticket = ticket;
    ticket->settled = false;
    struct batch_change **tail = &store->batch_open;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    return 0;
}

bool store_commit_busy(const struct store *store)
{
    return store->batch_flushing != NULL;
}

bool store_commit_idle(const struct store *store)
{
    return !store->batch_flushing && !store->batch_open;
}

struct store_batch *store_commit_take(struct store *store)
{
    if (store->batch_flushing || !store->batch_open)
        return NULL;
    store->batch_slot.first = store->batch_open;
    store->batch_open = NULL;
    store->batch_flushing = &store->batch_slot;
    return store->batch_flushing;
}

/* The batch's manifest frame: one item per change. */
static int begin_frame(struct store *store, struct store_batch *batch)
{
    size_t n = 0;

    for (struct batch_change *c = batch->first; c; c = c->next)
        n++;
    struct manifest_item *items = alloc_zeroed(n ? n : 1, sizeof(*items));
    if (!items)
        return -ENOMEM;
    n = 0;
    for (struct batch_change *c = batch->first; c; c = c->next)
        items[n++] = c->vault.item;
    int ret = manifest_begin(store, items, n);
    alloc_free(items);
    return ret;
}

int store_commit_flush(struct store *store, struct store_batch *batch)
{
    struct io_flush f;
    int ret = begin_frame(store, batch);

    if (ret < 0)
        return ret;
    io_flush_begin(&f);
    for (struct batch_change *c = batch->first; c; c = c->next) {
        record_flush_add(store, &f, &c->share);
        index_flush_add(store, &f, &c->vault);
    }
    manifest_flush_add(store, &f);
    ret = io_flush_end(&f, store->sharesfd);
    for (struct batch_change *c = batch->first; ret == 0 && c; c = c->next)
        ret = index_publish_vault(store, &c->vault);
    return ret == 0 ? io_sync_dir(store->vaultsfd) : ret;
}

/* c and the changes after it undone, newest first (a new vault appended
 * last leaves first). A batch holds one change per writer waiting. False
 * when a vault's record could not be put back. */
static bool undo_newest_first(struct store *store, struct batch_change *c)
{
    if (!c)
        return true;
    bool intact = undo_newest_first(store, c->next);
    int undone = undo_in_memory(store, c);
    (void)undone; /* out of memory: the views come back on the next open */
    return undo_on_disk(store, c) && intact;
}

void store_commit_end(struct store *store, struct store_batch *batch, int err)
{
    bool intact = true;

    if (err < 0) {
        intact = undo_newest_first(store, batch->first);
        export_free_all(store); /* no export of an undone record stays cached */
    }
    manifest_end(store, err, intact);
    while (batch->first) {
        struct batch_change *c = batch->first;
        batch->first = c->next;
        c->ticket->result = err < 0 ? err : 0;
        c->ticket->settled = true;
        alloc_free((char *)c->vault.item.skeleton);
        change_free(c);
    }
    store->batch_flushing = NULL;
    if (err == 0 && !store->batch_open)
        manifest_compact_if_due(store);
}
