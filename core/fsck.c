/*
 * fsck: verifies every record the index references and what the index
 * itself rests on (its manifest, the state file's change, the export
 * stamp), and reports what an interrupted write left behind. Share records
 * are the truth: one no epoch references is read and named (whose share it
 * is, and why it may be there: an import that did not finish, or a vault
 * record that is missing or older than its shares), never called litter.
 * Never changes the store.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "io.h"

__attribute__((format(printf, 3, 4))) static void report(void (*line)(void *, const char *),
                                                        void *ctx, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    if (!line)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    line(ctx, text);
}

/* ---- the problems opening found ------------------------------------------------ */

size_t store_problem_count(const struct store *store)
{
    return store->problem_count;
}

uint64_t store_change(const struct store *store, uint64_t *seen, bool *seen_known)
{
    if (seen)
        *seen = store->seen;
    if (seen_known)
        *seen_known = store->seen_known;
    return store->manifest.loaded ? store->manifest.counter : 0;
}

static const char *seal_error(uint64_t err)
{
    return err == EIO ? "checksum mismatch: disk corruption" : "does not verify: damaged or altered";
}

int store_problem_text(char *out, size_t cap, bool *blocks, const struct store *store, size_t i)
{
    if (i >= store->problem_count)
        return -ENOENT;
    const struct store_problem *p = &store->problems[i];
    static const char rebuild[] = "vultfs fsck --repair rebuilds it from the share records";
    static const char restamp[] = "the next mount writes it again, and every export shows as "
                                  "changed once";

    *blocks = store_problem_blocks(p->kind);
    switch (p->kind) {
    case STORE_PROBLEM_MANIFEST_MISSING:
        snprintf(out, cap, "vaults/manifest is missing, so a vault record that is missing or "
                           "older cannot be told from one that is right: vultfs fsck --repair "
                           "writes it again from the records");
        break;
    case STORE_PROBLEM_MANIFEST_DAMAGED:
        snprintf(out, cap, "vaults/manifest is damaged (%s): vultfs fsck --repair writes it again "
                           "from the records", seal_error(p->a));
        break;
    case STORE_PROBLEM_MANIFEST_FOREIGN:
        snprintf(out, cap, "vaults/manifest is another store's (its id is not vultfs.json's): "
                           "vultfs fsck --repair writes it again from the records");
        break;
    case STORE_PROBLEM_RECORD_DAMAGED:
        snprintf(out, cap, "vault record vaults/%s.rec is damaged (%s): %s", p->key,
                 seal_error(p->a), rebuild);
        break;
    case STORE_PROBLEM_RECORD_MISSING:
        snprintf(out, cap, "vault record vaults/%s.rec is missing (the manifest has it from "
                           "change %" PRIu64 "): %s", p->key, p->a, rebuild);
        break;
    case STORE_PROBLEM_RECORD_DIFFERS:
        if (p->a)
            snprintf(out, cap, "vault record vaults/%s.rec is an older copy (of change %" PRIu64
                               "; the manifest has it from change %" PRIu64 "): %s",
                     p->key, p->a, p->b, rebuild);
        else
            snprintf(out, cap, "vault record vaults/%s.rec is not the one the manifest names "
                               "(an older copy, or altered): %s", p->key, rebuild);
        break;
    case STORE_PROBLEM_RECORD_UNLISTED:
        snprintf(out, cap, "vault record vaults/%s.rec is not in the manifest (its vault was "
                           "forgotten, or the file comes from another copy): vultfs fsck "
                           "--repair takes what the share records say", p->key);
        break;
    case STORE_PROBLEM_STAMP_MISSING:
        snprintf(out, cap, "export-stamp.rec is missing: %s", restamp);
        break;
    case STORE_PROBLEM_STAMP_DIFFERS:
        snprintf(out, cap, "export-stamp.rec is not the one last written (an older copy, or "
                           "altered): %s", restamp);
        break;
    case STORE_PROBLEM_STAMP_DAMAGED:
        snprintf(out, cap, "export-stamp.rec is damaged (%s): %s", seal_error(p->a), restamp);
        break;
    case STORE_PROBLEM_ROLLBACK:
        snprintf(out, cap, "the store is older than the one last seen here: it is at change "
                           "%" PRIu64 ", and change %" PRIu64 " was seen (it was restored from "
                           "an older copy, or its files were rolled back); if that was a "
                           "deliberate restore, --accept-rollback takes it as it is",
                 p->a, p->b);
        break;
    case STORE_PROBLEM_STATE_DAMAGED:
        snprintf(out, cap, "the state file %s in the state directory is damaged, so whether "
                           "the store was rolled back cannot be told; --accept-rollback takes "
                           "the store as it is and writes it again", store->state_name);
        break;
    case STORE_PROBLEM_MANIFEST_TAIL:
        snprintf(out, cap, "leftover of an interrupted write: %" PRIu64 " bytes at the end of "
                           "vaults/manifest that are not a whole change (cut by the next change)",
                 p->a);
        break;
    case STORE_PROBLEM_UNAPPLIED:
        snprintf(out, cap, "leftover of an interrupted change: the manifest's last change did "
                           "not reach %s (settled by the next change)",
                 manifest_is_vault_key(p->key) ? "a vault record" : "export-stamp.rec");
        break;
    }
    return 0;
}

/* ---- share records ----------------------------------------------------------------- */

/* A stored list of hex digests (when there is one) is the record's:
 * count digests at base + i * stride. */
static bool same_digests(const json_t *epoch, const char *key, const uint8_t *base,
                         size_t stride, size_t count)
{
    const json_t *list = json_object_get(epoch, key);
    uint8_t want[EPOCHS_DIGEST_BYTES];
    size_t i;
    json_t *hex;

    if (!list)
        return true; /* an epoch imported before they were kept */
    if (json_array_size(list) != count)
        return false;
    json_array_foreach(list, i, hex)
        if (hex_decode(want, sizeof(want), json_string_value(hex)) < 0 ||
            memcmp(want, base + i * stride, sizeof(want)) != 0)
            return false;
    return true;
}

/* The index's key-share digests (when stored) are the record's. */
static bool same_key_shares(const json_t *epoch, const struct epochs_entry *d)
{
    return same_digests(epoch, "key_shares", d->key_shares[0].share, sizeof(*d->key_shares),
                        d->key_share_count) &&
           same_digests(epoch, "key_share_keys", d->key_shares[0].key, sizeof(*d->key_shares),
                        d->key_share_count) &&
           same_digests(epoch, "declared_keys", d->declared[0], EPOCHS_DIGEST_BYTES,
                        d->declared_count);
}

/* The share record of an epoch (or one a replace kept: then only its
 * generation and device are the epoch's, whole is false). */
static int check_share(struct store *store, const json_t *epoch, const char *record, bool whole)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v = {0};
    struct epochs_entry *d = alloc_zeroed(1, sizeof(*d));
    uint8_t want[EPOCHS_DIGEST_BYTES];
    int ret = d ? record_load_share(&plain, &len, store, record) : -ENOMEM;

    if (ret < 0) {
        alloc_free(d);
        return ret;
    }
    ret = vult_vault_parse(&v, NULL, plain, len);
    if (ret == 0 && (ret = epochs_describe(d, &v)) == 0) {
        if (hex_decode(want, sizeof(want), jsonx_str(epoch, "generation")) < 0 ||
            memcmp(want, d->generation, sizeof(want)) != 0 ||
            hex_decode(want, sizeof(want), jsonx_str(epoch, "device")) < 0 ||
            memcmp(want, d->device, sizeof(want)) != 0)
            ret = -EBADMSG;
        if (ret == 0 && whole &&
            (hex_decode(want, sizeof(want), jsonx_str(epoch, "shares")) < 0 ||
             memcmp(want, d->shares, sizeof(want)) != 0 || !same_key_shares(epoch, d)))
            ret = -EBADMSG;
        epochs_entry_clear(d);
    } else if (ret == -EINVAL) {
        ret = -EBADMSG;
    }
    vult_vault_clear(&v);
    alloc_free(d);
    alloc_secret_free(plain);
    return ret;
}

/* What the directory walks of fsck need. */
struct walk {
    struct store *store;
    struct store_fsck_report *rep;
    void (*report_line)(void *ctx, const char *line);
    void *ctx;
    const char *prefix; /* "" or "shares/", for report lines */
    struct record_set referenced;
};

static void check_one(struct walk *w, const json_t *epoch, const char *record, bool whole,
                      uint64_t number)
{
    int checked = check_share(w->store, epoch, record, whole);

    if (checked == 0) {
        w->rep->records_ok++;
    } else if (checked == -ENOENT) {
        w->rep->records_missing++;
        report(w->report_line, w->ctx, "missing share record %s.rec (epoch %" PRIu64 "%s)",
               record, number, whole ? "" : ", a file vultfs replace kept");
    } else if (checked == -ENOMEM) {
        w->rep->records_bad++;
        report(w->report_line, w->ctx, "share record %s.rec: not checked: out of memory", record);
    } else {
        w->rep->records_bad++;
        report(w->report_line, w->ctx, "share record %s.rec: %s", record,
               checked == -EIO ? "checksum mismatch (disk corruption)"
                               : "does not verify (damaged or altered)");
    }
}

/* Every epoch's share record of one vault (and those a replace kept). */
static void check_vault(struct walk *w, const json_t *vault)
{
    size_t j, k;
    json_t *e, *r;

    json_array_foreach(json_object_get(vault, "epochs"), j, e) {
        check_one(w, e, jsonx_str(e, "record"), true, jsonx_num(e, "number"));
        json_array_foreach(json_object_get(e, "replaced"), k, r)
            check_one(w, e, jsonx_str(r, "record"), false, jsonx_num(e, "number"));
    }
}

static int report_if_temp(void *ctx, const char *name)
{
    struct walk *w = ctx;
    if (io_is_stale_temp(name)) {
        w->rep->temporary_files++;
        report(w->report_line, w->ctx,
               "leftover temporary file %s%s (an interrupted write; removed by the next change)",
               w->prefix, name);
    }
    return 0;
}

/* ---- share records no epoch names ----------------------------------------------------- */

/* What an unreferenced share record holds, as fsck names it. */
struct orphan_facts {
    char ecdsa[FSCK_KEY_CHARS];
    char name[256];
    uint8_t generation[EPOCHS_DIGEST_BYTES];
    uint64_t lib_type;
};

static int orphan_facts(struct orphan_facts *out, const struct store *store, const char *record)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v = {0};
    struct epochs_entry *d = alloc_zeroed(1, sizeof(*d));
    int ret = d ? record_load_share(&plain, &len, store, record) : -ENOMEM;

    if (ret == 0)
        ret = vult_vault_parse(&v, NULL, plain, len);
    if (ret == 0 && (v.public_key_ecdsa.len == 0 || v.public_key_ecdsa.len >= sizeof(out->ecdsa)))
        ret = -EBADMSG;
    if (ret == 0)
        ret = epochs_describe(d, &v);
    if (ret == 0) {
        memcpy(out->generation, d->generation, EPOCHS_DIGEST_BYTES);
        out->lib_type = d->lib_type;
        snprintf(out->ecdsa, sizeof(out->ecdsa), "%.*s", (int)v.public_key_ecdsa.len,
                 v.public_key_ecdsa.ptr);
        snprintf(out->name, sizeof(out->name), "%.*s", (int)(v.name.len < 200 ? v.name.len : 200),
                 v.name.ptr ? v.name.ptr : "");
    }
    vult_vault_clear(&v);
    if (d)
        epochs_entry_clear(d);
    alloc_free(d);
    alloc_secret_free(plain);
    return ret;
}

/* Is generation one of vault's forgotten markers? */
static bool generation_forgotten(const json_t *vault, const uint8_t *generation)
{
    char hex[2 * EPOCHS_DIGEST_BYTES + 1];
    size_t i;
    json_t *f;

    hex_encode(hex, generation, EPOCHS_DIGEST_BYTES);
    json_array_foreach(json_object_get(vault, "forgotten"), i, f)
        if (strcmp(jsonx_str(f, "generation"), hex) == 0)
            return true;
    return false;
}

int fsck_classify_orphan(enum fsck_orphan *kind, char *ecdsa, size_t ecdsa_cap, char *name,
                         size_t name_cap, const struct store *store, const char *record)
{
    struct orphan_facts *f = alloc_zeroed(1, sizeof(*f));
    json_t *vault = NULL;
    int ret = f ? orphan_facts(f, store, record) : -ENOMEM;

    if (ret == -ENOMEM) {
        alloc_free(f);
        return ret;
    }
    if (ret < 0) {
        *kind = FSCK_ORPHAN_UNREADABLE;
        alloc_free(f);
        return 0;
    }
    snprintf(ecdsa, ecdsa_cap, "%s", f->ecdsa);
    snprintf(name, name_cap, "%s", f->name);
    ret = index_vault_get(store, f->ecdsa, &vault);
    if (ret == 0 && vault) {
        *kind = generation_forgotten(vault, f->generation) ? FSCK_ORPHAN_FORGOTTEN_EPOCH
                                                           : FSCK_ORPHAN_NOT_IN_RECORD;
    } else if (ret == 0) {
        char key[MANIFEST_KEY_BYTES];
        index_vault_record_name(key, store, f->ecdsa);
        const struct manifest_entry *e = strmap_get(&store->manifest.by_key, key);
        *kind = e && e->now.forgotten && !e->unapplied ? FSCK_ORPHAN_FORGOTTEN_VAULT
                                                       : FSCK_ORPHAN_NO_RECORD;
    }
    json_decref(vault);
    alloc_free(f);
    return ret;
}

static int report_if_orphaned(void *ctx, const char *name)
{
    struct walk *w = ctx;
    char record[2 * RECORD_NAME_BYTES + 1], ecdsa[FSCK_KEY_CHARS], vault[256];
    enum fsck_orphan kind;

    if (!record_of_file(record, name) || record_set_has(&w->referenced, record))
        return 0;
    int ret = fsck_classify_orphan(&kind, ecdsa, sizeof(ecdsa), vault, sizeof(vault), w->store,
                                   record);
    if (ret < 0)
        return ret;
    w->rep->records_orphaned++;
    switch (kind) {
    case FSCK_ORPHAN_UNREADABLE:
        report(w->report_line, w->ctx,
               "unreferenced share record %s does not open (torn by a crash, or damaged): "
               "nothing in it can be read; kept", name);
        break;
    case FSCK_ORPHAN_NOT_IN_RECORD:
        report(w->report_line, w->ctx,
               "unreferenced share record %s: a share of vault \"%s\" that its vault record does "
               "not name (an import that did not finish: import the file again; or the vault's "
               "record is older than its shares: vultfs fsck --repair adds it)", name, vault);
        break;
    case FSCK_ORPHAN_NO_RECORD:
        w->rep->vaults_without_record++;
        report(w->report_line, w->ctx,
               "unreferenced share record %s: a share of vault \"%s\" (ECDSA key %s), which has "
               "no vault record (it is missing, or the vault's first import did not finish): "
               "vultfs fsck --repair rebuilds it from its share records", name, vault, ecdsa);
        break;
    case FSCK_ORPHAN_FORGOTTEN_EPOCH:
        report(w->report_line, w->ctx,
               "unreferenced share record %s: a share of vault \"%s\" of an epoch forgotten on "
               "purpose (vultfs forget --epoch did not finish): vultfs fsck --repair removes it",
               name, vault);
        break;
    case FSCK_ORPHAN_FORGOTTEN_VAULT:
        report(w->report_line, w->ctx,
               "unreferenced share record %s: a share of vault \"%s\", forgotten on purpose "
               "(vultfs forget did not finish): vultfs fsck --repair removes it", name, vault);
        break;
    }
    return 0;
}

/* ---- the whole store ------------------------------------------------------------------- */

static bool counts_as_missing(enum store_problem_kind kind)
{
    return kind == STORE_PROBLEM_RECORD_MISSING || kind == STORE_PROBLEM_MANIFEST_MISSING ||
           kind == STORE_PROBLEM_STAMP_MISSING;
}

/* The problems opening found, and the export stamp. */
static void report_problems(struct store *store, struct store_fsck_report *rep,
                            void (*report_line)(void *ctx, const char *line), void *ctx)
{
    char text[1024];
    bool blocks, stamp_flagged = false;

    for (size_t i = 0; i < store->problem_count; i++) {
        enum store_problem_kind kind = store->problems[i].kind;
        store_problem_text(text, sizeof(text), &blocks, store, i);
        report(report_line, ctx, "%s", text);
        if (kind == STORE_PROBLEM_MANIFEST_TAIL || kind == STORE_PROBLEM_UNAPPLIED)
            rep->temporary_files++;
        else if (kind == STORE_PROBLEM_ROLLBACK || kind == STORE_PROBLEM_STATE_DAMAGED)
            rep->rolled_back++;
        else if (counts_as_missing(kind))
            rep->records_missing++;
        else
            rep->records_bad++;
        stamp_flagged |= kind == STORE_PROBLEM_STAMP_MISSING ||
                         kind == STORE_PROBLEM_STAMP_DIFFERS || kind == STORE_PROBLEM_STAMP_DAMAGED;
    }
    int stamp = export_stamp_check(store);
    if (!stamp_flagged && stamp != 0 && stamp != -ENOENT && stamp != -ENOMEM) {
        /* a store without a manifest (format 1), or a stamp the manifest
         * has right but that does not open all the same */
        rep->records_bad++;
        report(report_line, ctx, "export-stamp.rec is damaged (%s): the next mount writes it "
                                 "again, and every export shows as changed once",
               stamp == -EIO ? "checksum mismatch: disk corruption"
                             : "does not verify: damaged or altered");
    }
}

int store_fsck(struct store *store, struct store_fsck_report *rep,
               void (*report_line)(void *ctx, const char *line), void *ctx)
{
    struct walk walk = {store, rep, report_line, ctx, "", {NULL, 0, 0}};
    int ret;

    memset(rep, 0, sizeof(*rep));
    report_problems(store, rep, report_line, ctx);
    for (size_t i = 0; i < store->slot_count; i++) {
        json_t *vault = NULL;
        ret = index_vault_at(store, i, &vault);
        if (ret < 0)
            return ret;
        check_vault(&walk, vault);
        json_decref(vault);
        store_progress(store, i + 1, store->slot_count);
    }
    /* a directory that cannot be listed hides no temporary file worth failing for */
    int listed = io_list_dir(store->dirfd, report_if_temp, &walk);
    walk.prefix = "shares/";
    listed = io_list_dir(store->sharesfd, report_if_temp, &walk);
    if (store->per_vault) {
        walk.prefix = "vaults/";
        listed = io_list_dir(store->vaultsfd, report_if_temp, &walk);
    }
    (void)listed;
    ret = record_set_of(&walk.referenced, store);
    if (ret == 0)
        ret = io_list_dir(store->sharesfd, report_if_orphaned, &walk);
    record_set_free(&walk.referenced);
    if (ret < 0)
        return ret;
    return rep->records_bad || rep->records_missing || rep->records_orphaned || rep->rolled_back
               ? -EIO
               : 0;
}
