#include "commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "dat.h"
#include "desktop.h"
#include "import_zip.h"
#include "fm_names.h"
#include "log.h"
#include "notify.h"
#include "vault_json_rule.h"

static bool is_json_place(const struct tree_node *n)
{
    return n->parent == TREE_IN_DIR && strcmp(n->name, "vault.json") == 0;
}

int commit_can_create(const struct tree_node *n)
{
    if (fm_names_is_metadata(n->name))
        return -EPERM; /* a file manager's bookkeeping: see fm_names.h */
    switch (n->parent) {
    case TREE_IN_NOTHING:
        return -ENOENT;
    case TREE_IN_FILE:
        return -ENOTDIR;
    case TREE_IN_HISTORY:
        /* history/ takes old epochs back by their names, nothing else */
        if (n->bad_slot && !n->temp)
            return -EINVAL;
        return n->temp || n->slot ? 0 : -EPERM;
    case TREE_IN_DIR:
        /* a directory made by mkdir has no history/ until one is made */
        return strcmp(n->name, "history") == 0 ? -EPERM : 0;
    case TREE_IN_ROOT:
        break;
    }
    return 0;
}

static void log_json_verdict(const char *path, enum vault_json_verdict verdict)
{
    switch (verdict) {
    case VAULT_JSON_KEEP_RESTORING:
        log_info("write of %s: discarded: vault.json follows from the shares", path);
        break;
    case VAULT_JSON_KEEP_NO_SHARE:
        log_info("write of %s: discarded: the directory holds no share yet", path);
        break;
    case VAULT_JSON_KEEP_SAME:
        break;
    case VAULT_JSON_REFUSE:
        log_warn("write of %s: refused: vault.json is derived from the shares; only its "
                 "current content may be written back", path);
        break;
    }
}

static int commit_json(struct vultfs *fs, const char *path, const struct tree_node *at,
                       const uint8_t *data, size_t len)
{
    struct vault_json_write w = {
        .made_in_mount = at->placeholder != NULL,
        .has_share = at->vault && at->vault->current,
        .data = data,
        .len = len,
    };
    char *shown = NULL;
    int ret;

    if (vault_json_rule_needs_shown(&w)) {
        ret = store_vault_json(&shown, &w.shown_len, fs->store, at->vault);
        if (ret < 0) {
            log_err("write of %s: cannot compare with vault.json: %s", path, strerror(-ret));
            return ret;
        }
        w.shown = shown;
    }
    enum vault_json_verdict verdict = vault_json_rule(&w);
    alloc_free(shown);
    if (verdict == VAULT_JSON_KEEP_RESTORING)
        at->placeholder->json_written = true;
    log_json_verdict(path, verdict);
    return vault_json_rule_errno(verdict);
}

static void log_import(const char *path, int ret, const struct store_import_result *r)
{
    const char *outcome = epochs_outcome_name(r->outcome);
    if (ret == 0)
        log_info("import of %s: %s: /%s/ (%s)", path, outcome, r->dir_name, r->reason);
    else if (r->outcome == EPOCHS_FAILED)
        log_err("import of %s: %s: %s", path, outcome, r->reason);
    else
        log_warn("import of %s: %s: %s", path, outcome, r->reason);
}

/* A refusal is also told to the desktop (desktop.h): a file manager shows
 * only the errno. The vault is the one the file is of, else the directory
 * it was written into, for the rate limit. */
static void tell_desktop(struct vultfs *fs, const char *path, const char *dir,
                         const struct store_import_result *r)
{
    const char *vault = r->dir_name[0] ? r->dir_name : dir ? dir : "";

    desktop_refused(fs->desktop, vault, path, epochs_outcome_name(r->outcome), r->reason);
}

/* Decodes data without the mount's lock: PBKDF2 takes up to a second per
 * candidate password, and reads, listings and other imports go on
 * meanwhile. The bytes are copied first, so the commit owns what it
 * decodes whatever writers or staging do to their buffer meanwhile; the
 * caller keeps the rest it points to alive (commit.h). */
static int decode_unlocked(struct store_decoded **out, struct vultfs *fs, const uint8_t *data,
                           size_t len, struct store_import_result *result)
{
    uint8_t *copy = alloc_secret_copy(data, len);
    int ret;

    *out = NULL;
    if (!copy) {
        memset(result, 0, sizeof(*result));
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    pthread_mutex_unlock(&fs->lock);
    vultfs_test_pause(fs, "decode");
    ret = store_import_decode(out, fs->store, copy, len, result);
    alloc_secret_free(copy);
    pthread_mutex_lock(&fs->lock);
    return ret;
}

/* Group commit: the first writer to find the open batch with no flush
 * under way takes it and flushes it for everyone in it, without the lock
 * (other operations, and writers adding to the next batch, go on); the
 * others wait for commit_done. Returns after one flush ended, or at once
 * when there is nothing to flush. */
static void flush_or_wait(struct vultfs *fs)
{
    struct store_batch *batch = store_commit_take(fs->store);

    if (!batch) {
        if (store_commit_busy(fs->store))
            pthread_cond_wait(&fs->commit_done, &fs->lock);
        return;
    }
    pthread_mutex_unlock(&fs->lock);
    vultfs_test_pause(fs, "flush");
    int err = store_commit_flush(fs->store, batch);
    pthread_mutex_lock(&fs->lock);
    store_commit_end(fs->store, batch, err);
    /* a failed batch is undone: its vaults show their old exports again
     * from now on, before its writers wake to say which (rare: say all) */
    if (err < 0)
        notify_all_vaults(fs);
    pthread_cond_broadcast(&fs->commit_done);
}

/* The rules applied and the change written and shown at once; then the
 * wait for its batch's flush: only a durable change is reported. */
static int stage_and_wait(struct vultfs *fs, const struct store_decoded *decoded,
                          const struct store_target *target, struct store_import_result *result)
{
    struct store_ticket ticket;
    int ret;

    /* a change of this vault not yet durable: decide on what is on disk */
    while ((ret = store_import_stage(fs->store, decoded, target, result, &ticket)) == -EAGAIN)
        flush_or_wait(fs);
    /* shown from now on (staged, or made at once: a repair, a store's
     * first change), told before the lock goes for the flush: until the
     * kernel is told, it may keep the old export's size and cut the new
     * one's pages to it (notify.h, kcache.h). A batch that fails is told
     * by flush_or_wait. */
    if (ret == 0 && result->dir_name[0])
        notify_vault(fs, result->dir_name);
    while (!ticket.settled)
        flush_or_wait(fs);
    if (ret == 0 && ticket.result < 0) {
        ret = ticket.result;
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "the store could not be written: %s",
                 strerror(-ret));
    }
    return ret;
}

/* One .vult (or .bak, .dat) at path: decoded without the lock, then the
 * rules applied and the change written under it, and made durable in a
 * group with the changes of other writers. */
static int import_file(struct vultfs *fs, const char *path, const struct tree_node *at,
                       const uint8_t *data, size_t len)
{
    struct store_target target = {
        /* at is the caller's copy: its dir outlives the unlocked decode */
        .dir_name = at->parent == TREE_IN_ROOT ? NULL : at->dir,
        .history_slot = at->parent == TREE_IN_HISTORY ? at->slot : 0,
    };
    struct store_import_result result;
    struct store_decoded *decoded = NULL;
    const char *misnamed = dat_misnamed_binary(path, data, len);
    int ret;

    if (misnamed) { /* random bytes, a zip: no password would open it (dat.h) */
        memset(&result, 0, sizeof(result));
        result.outcome = EPOCHS_UNREADABLE;
        snprintf(result.reason, sizeof(result.reason), "not a Vultisig backup: %s", misnamed);
        log_import(path, -EINVAL, &result);
        return -EINVAL;
    }
    ret = decode_unlocked(&decoded, fs, data, len, &result);
    if (ret == 0)
        ret = stage_and_wait(fs, decoded, &target, &result);
    /* `mkdir V; cp backup V/share.vult`: V is the vault's now, shown whole */
    if (ret == 0 && target.dir_name && tree_placeholder_retire(&fs->tree, target.dir_name))
        notify_vault(fs, target.dir_name);
    store_decoded_free(decoded);
    log_import(path, ret, &result);
    if (ret < 0)
        tell_desktop(fs, path, target.dir_name, &result);
    return ret;
}

/* One backup entry of a zip in the root, called without the lock (the
 * zip reader inflated it into its own secret memory): decoded so, then
 * staged and made durable under the lock as a single file is, before the
 * next entry, so that every entry is decided on what is on disk. */
struct zip_import {
    struct vultfs *fs;
    const char *path;
};

static int import_zip_entry(void *ctx, const uint8_t *bytes, size_t len,
                            struct store_import_result *result)
{
    static const struct store_target root = {0};
    struct zip_import *zip = ctx;
    struct vultfs *fs = zip->fs;
    struct store_decoded *decoded = NULL;

    vultfs_test_pause(fs, "decode");
    int ret = store_import_decode(&decoded, fs->store, bytes, len, result);

    pthread_mutex_lock(&fs->lock);
    if (ret == 0)
        ret = stage_and_wait(fs, decoded, &root, result);
    if (ret < 0)
        tell_desktop(fs, zip->path, NULL, result);
    pthread_mutex_unlock(&fs->lock);
    store_decoded_free(decoded);
    return ret;
}

/* The apps' "all vaults" zip: unzipped and each entry decoded without the
 * lock (a PBKDF2 per candidate password and entry), each committed in
 * turn by import_zip_entry; its own copy of the bytes, as decode_unlocked
 * makes. Over the zip cap nothing is read: the reader refuses on len. */
static int import_zip(struct vultfs *fs, const char *path, const uint8_t *data, size_t len)
{
    struct zip_import zip = {fs, path};
    uint8_t *copy = NULL;
    int ret;

    if (len <= BACKUP_ZIP_MAX_FILE && !(copy = alloc_secret_copy(data, len))) {
        log_err("import of %s: out of memory", path);
        return -ENOMEM;
    }
    pthread_mutex_unlock(&fs->lock);
    ret = import_zip_data_with(path, fs->options->operands[0], copy, len, import_zip_entry,
                               &zip);
    alloc_secret_free(copy);
    pthread_mutex_lock(&fs->lock);
    return ret;
}

int commit_write(struct vultfs *fs, const char *path, const struct tree_node *at,
                 const uint8_t *data, size_t len, bool too_big)
{
    if (is_json_place(at))
        return commit_json(fs, path, at, data, len);
    if (too_big) {
        struct store_import_result r = {.outcome = EPOCHS_TOO_LARGE};
        snprintf(r.reason, sizeof(r.reason),
                 "larger than the import limit of %zu bytes (-o max_import=BYTES raises it)",
                 staging_cap_for(&fs->staging, path));
        log_warn("import of %s: %s: %s", path, epochs_outcome_name(r.outcome), r.reason);
        tell_desktop(fs, path, at->parent == TREE_IN_ROOT ? NULL : at->dir, &r);
        return -EFBIG;
    }
    int ret = at->parent == TREE_IN_ROOT && import_zip_named(path) /* the apps' "all vaults" */
                  ? import_zip(fs, path, data, len)
                  : import_file(fs, path, at, data, len);
    if (ret == 0) /* it leaves the tree; KDE may still chmod it (landed.h) */
        landed_add(&fs->landed, path, len);
    return ret;
}

int commit_refuse_cut_short(const struct vultfs *fs, const char *path,
                            const struct staging_cut *cut)
{
    size_t budget_mib = staging_budget(&fs->staging) >> 20, crowd = cut->crowd;
    size_t lock = alloc_lock_limit();
    char why[512];
    bool error = false;

    if (cut->error == -ENOSPC && crowd)
        snprintf(why, sizeof(why),
                 "no room to hold it while %zu other large file%s (over %u MiB) %s copied in "
                 "(at most %zu MiB is held at once); copy it again once %s done", crowd,
                 crowd == 1 ? "" : "s", STAGING_SMALL >> 20,
                 crowd == 1 ? "was being" : "were being", budget_mib,
                 crowd == 1 ? "it is" : "they are");
    else if (cut->error == -ENOSPC)
        snprintf(why, sizeof(why),
                 "files being copied in, and temporaries left behind, filled the %zu MiB held "
                 "at once; copy it again once they are done or gone", budget_mib);
    else if ((error = true, cut->unlockable))
        snprintf(why, sizeof(why),
                 "it does not fit in locked memory (the memory-lock limit, RLIMIT_MEMLOCK, is "
                 "%zu KiB); raise it (ulimit -l, or LimitMEMLOCK= in the systemd unit) and copy "
                 "it again", lock == SIZE_MAX ? (size_t)0 : lock >> 10);
    else
        snprintf(why, sizeof(why), "a write failed: %s", strerror(-cut->error));
    if (error)
        log_err("import of %s: refused, nothing imported: %s", path, why);
    else
        log_warn("import of %s: refused, nothing imported: %s", path, why);
    desktop_refused(fs->desktop, "", path, "not imported", why);
    return cut->error;
}

int commit_renamed(struct vultfs *fs, const char *to, const struct tree_node *dst,
                   struct staging_file *f)
{
    if (f->cut.error && !f->too_big)
        return commit_refuse_cut_short(fs, to, &f->cut);
    staging_pin(f);
    uint64_t generation = store_generation(fs->store);
    int ret = commit_write(fs, to, dst, f->buf.data, f->buf.len, f->too_big);
    notify_commit(fs, to, generation);
    if (ret == 0)
        staging_remove(&fs->staging, f); /* imported: it leaves the tree */
    staging_unpin(&fs->staging, f);
    return ret;
}
