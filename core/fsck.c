/*
 * fsck: verifies every record the index references and reports what an
 * interrupted write left behind: a share record no epoch references is a
 * finding (an encrypted copy of a share nobody was told is stored), which
 * the next change removes. Never changes the store.
 */
#include "store_private.h"

#include <errno.h>
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
    char text[512];
    va_list ap;
    if (!line)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    line(ctx, text);
}

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
        if (index_hex_decode(want, sizeof(want), json_string_value(hex)) < 0 ||
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

static int check_share(struct store *store, const json_t *epoch)
{
    const char *record = index_str(epoch, "record");
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    struct epochs_entry d;
    uint8_t want[EPOCHS_DIGEST_BYTES];
    int ret = record_load_share(&plain, &len, store, record);

    if (ret < 0)
        return ret;
    ret = vult_vault_parse(&v, NULL, plain, len);
    if (ret == 0 && (ret = epochs_describe(&d, &v)) == 0) {
        if (index_hex_decode(want, sizeof(want), index_str(epoch, "shares")) < 0 ||
            memcmp(want, d.shares, sizeof(want)) != 0 ||
            index_hex_decode(want, sizeof(want), index_str(epoch, "generation")) < 0 ||
            memcmp(want, d.generation, sizeof(want)) != 0 || !same_key_shares(epoch, &d))
            ret = -EBADMSG;
        epochs_entry_clear(&d);
    }
    vult_vault_clear(&v);
    alloc_secret_free(plain);
    return ret;
}

/* What the directory walks of fsck need. */
struct walk {
    const struct store *store;
    struct store_fsck_report *rep;
    void (*report_line)(void *ctx, const char *line);
    void *ctx;
    const char *prefix; /* "" or "shares/", for report lines */
    struct record_set referenced;
};

static int report_if_temp(void *ctx, const char *name)
{
    struct walk *w = ctx;
    if (store_is_stale_temp(name)) {
        w->rep->temporary_files++;
        report(w->report_line, w->ctx,
               "leftover temporary file %s%s (an interrupted write; removed by the next change)",
               w->prefix, name);
    }
    return 0;
}

static int report_if_orphaned(void *ctx, const char *name)
{
    struct walk *w = ctx;
    char record[2 * RECORD_NAME_BYTES + 1];

    if (record_of_file(record, name) && !record_set_has(&w->referenced, record)) {
        w->rep->records_orphaned++;
        report(w->report_line, w->ctx,
               "unreferenced share record %s (a share the index does not know, left by an "
               "interrupted import; removed by the next change)", name);
    }
    return 0;
}

/* Every epoch's share record of one vault, checked and reported. */
static void check_vault(struct store *store, struct store_fsck_report *rep,
                        void (*report_line)(void *ctx, const char *line), void *ctx,
                        const json_t *vault)
{
    size_t j;
    json_t *e;

    json_array_foreach(json_object_get(vault, "epochs"), j, e) {
        int checked = check_share(store, e);
        if (checked == 0) {
            rep->records_ok++;
        } else if (checked == -ENOENT) {
            rep->records_missing++;
            report(report_line, ctx, "missing share record %s.rec", index_str(e, "record"));
        } else {
            rep->records_bad++;
            report(report_line, ctx, "share record %s.rec: %s", index_str(e, "record"),
                   checked == -EIO ? "checksum mismatch (disk corruption)"
                                   : "does not verify (damaged or altered)");
        }
    }
}

int store_fsck(struct store *store, struct store_fsck_report *rep,
               void (*report_line)(void *ctx, const char *line), void *ctx)
{
    struct walk walk = {store, rep, report_line, ctx, "", {NULL, 0, 0}};
    int ret;

    memset(rep, 0, sizeof(*rep));
    for (size_t i = 0; i < store->slot_count; i++) {
        json_t *vault = NULL;
        ret = index_vault_at(store, i, &vault);
        if (ret < 0)
            return ret;
        check_vault(store, rep, report_line, ctx, vault);
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
    return rep->records_bad || rep->records_missing || rep->records_orphaned ? -EIO : 0;
}
