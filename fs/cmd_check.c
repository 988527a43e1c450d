/*
 * vultfs check: is this backup current? Reads backup files (and
 * directories, recursively) and says for each what it is against what a
 * store holds, or, with no store, how the files relate to each other. It
 * changes nothing and works while the store is mounted (it reads the store
 * without taking its lock). The rules are the store's own (freshness_classify
 * asks epochs_decide).
 */
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alloc.h"
#include "cli.h"
#include "colocation.h"
#include "commands.h"
#include "escape.h"
#include "freshness.h"
#include "log.h"
#include "options.h"
#include "passwords.h"
#include "scan.h"
#include "store.h"
#include "table.h"

const char check_usage[] =
    "usage: vultfs check [--json] [--passphrase-file F] [--import-passwords F] STORE PATH...\n"
    "       vultfs check [--json] [--import-passwords F] PATH...\n"
    "\n"
    "Says for every backup file under PATH (files and directories, recursively,\n"
    "following symbolic links) whether it is current, stale (superseded by a\n"
    "reshare), out of date (the same epoch's backup has gained a key since),\n"
    "newer than the store, another device's share, of a vault the store does\n"
    "not hold, incomplete, not a backup, or unreadable. STORE is a directory\n"
    "holding vultfs.json; it is read without its lock, so it may be mounted.\n"
    "With no STORE the files are checked against each other: which are of one\n"
    "vault, which generations. What is skipped (a directory reached twice, a\n"
    "FIFO) has a row of its own. Changes nothing. Exit status: 0 when nothing\n"
    "is stale, out of date, incomplete or unreadable, 1 otherwise, 2 for a\n"
    "usage error.\n";

/* One file's line in the report. */
struct check_row {
    const char *status;
    const char *vault;
    const char *device;
    uint64_t epoch, superseded_by;
    char superseded_on[32];
    char note[512];
};

static void format_date(char *out, size_t cap, int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(out, cap, "%Y-%m-%d", &tm);
    else
        snprintf(out, cap, "?");
}

static const struct store_vault *vault_of(const struct store *store, const char *key)
{
    for (size_t i = 0; i < store_vault_count(store); i++) {
        const struct store_vault *v = store_vault_at(store, i);
        if (strcmp(v->public_key_ecdsa, key) == 0)
            return v;
    }
    return NULL;
}

/* What an out-of-date backup lacks that the store's backup of its epoch
 * has: "its ML-DSA key's share", or how many key shares. */
static void describe_lack(char *out, size_t cap, const struct scan_item *item,
                          const struct store_epoch *held)
{
    if (held && *held->facts.public_key_mldsa44 && !item->has_mldsa44)
        snprintf(out, cap, "the key share of the ML-DSA key the vault gained since");
    else if (held && held->facts.key_share_count > item->key_share_count)
        snprintf(out, cap, "%zu key share%s the store's backup has",
                 held->facts.key_share_count - item->key_share_count,
                 held->facts.key_share_count - item->key_share_count == 1 ? "" : "s");
    else
        snprintf(out, cap, "key shares the store's backup has");
}

/* The note a person reads beside a verdict. */
static void explain(struct check_row *row, const struct freshness *f,
                    const struct store_vault *vault, const struct scan_item *item)
{
    char lack[128];
    const char *held = vault && vault->current ? vault->current->facts.device : "?";
    switch (f->verdict) {
    case FRESHNESS_CURRENT:
        snprintf(row->note, sizeof(row->note), "the store's current epoch %" PRIu64, f->epoch);
        break;
    case FRESHNESS_STALE:
        snprintf(row->note, sizeof(row->note),
                 "superseded by epoch %" PRIu64 " (imported on %s): do not rely on it; it can sign "
                 "only with the other devices' shares of its own generation", f->superseded_by,
                 row->superseded_on);
        break;
    case FRESHNESS_OUT_OF_DATE:
        describe_lack(lack, sizeof(lack), item, vault ? store_vault_epoch(vault, f->epoch) : NULL);
        snprintf(row->note, sizeof(row->note),
                 "out of date: it lacks %s (epoch %" PRIu64 "); the store keeps the fuller "
                 "backup: export it from there", lack, f->epoch);
        break;
    case FRESHNESS_NEWER:
        snprintf(row->note, sizeof(row->note),
                 f->epoch ? "a fuller backup of the store's epoch (a key added): import it"
                          : "a newer generation than the store holds: import it");
        break;
    case FRESHNESS_OTHER_DEVICE:
        snprintf(row->note, sizeof(row->note),
                 "another device's share of vault '%s' (this store keeps %s's): keep it in "
                 "another place", vault ? vault->dir_name : "?", held);
        break;
    case FRESHNESS_NOT_HELD:
        snprintf(row->note, sizeof(row->note), "a vault this store does not hold");
        break;
    case FRESHNESS_ALTERED:
        snprintf(row->note, sizeof(row->note),
                 "same device and generation as epoch %" PRIu64 " but other key shares: damaged or "
                 "altered", f->epoch);
        break;
    case FRESHNESS_INCOMPLETE:
        snprintf(row->note, sizeof(row->note), "%s",
                 item->incomplete ? item->incomplete : "it lacks a key share: cannot sign");
        break;
    default:
        break;
    }
}

/* Classifies one scanned file against the store. */
static int row_against_store(struct check_row *row, bool *ok, const struct store *store,
                             const struct scan_item *item)
{
    struct freshness f = {.verdict = FRESHNESS_UNREADABLE};
    const struct store_vault *vault = NULL;

    memset(row, 0, sizeof(*row));
    if (item->error == 0) {
        struct epochs_entry *entries = NULL;
        size_t count = 0;
        vault = vault_of(store, item->vault_key);
        if (vault) {
            int ret = store_vault_entries(&entries, &count, store, vault);
            if (ret < 0)
                return ret;
        }
        f = freshness_classify(entries, count, &item->digest, item->complete);
        epochs_entries_free(entries, count);
        row->vault = item->name;
        row->device = item->device;
    } else if (scan_not_backup(item)) {
        f.verdict = FRESHNESS_NOT_BACKUP;
    }
    row->status = freshness_name(f.verdict);
    row->epoch = f.epoch;
    row->superseded_by = f.superseded_by;
    const struct store_epoch *next = vault ? store_vault_epoch(vault, f.superseded_by) : NULL;
    if (f.verdict == FRESHNESS_STALE && next)
        format_date(row->superseded_on, sizeof(row->superseded_on), next->imported_sec);
    if (item->error)
        scan_reason(row->note, sizeof(row->note), item);
    else
        explain(row, &f, vault, item);
    *ok = freshness_ok(f.verdict);
    return 0;
}

static json_t *row_json(const struct check_row *row, const char *path)
{
    /* a path need not be UTF-8, which JSON takes only */
    json_t *obj = json_pack("{s:o, s:s, s:s?, s:s?, s:s}", "path", escape_json_string(path),
                            "status", row->status, "vault", row->vault, "device", row->device,
                            "note", row->note);
    if (obj && row->epoch)
        json_object_set_new(obj, "epoch", json_integer(row->epoch));
    if (obj && row->superseded_by) {
        json_object_set_new(obj, "superseded_by", json_integer(row->superseded_by));
        json_object_set_new(obj, "superseded_on", json_string(row->superseded_on));
    }
    return obj;
}

/* Prints the rows (a table, or JSON with "ok"); returns the exit status. */
struct report {
    bool json;
    struct table *table;
    json_t *files;
    size_t unreadable, skipped; /* rows of each: the table's last line counts them */
};

static int report_start(struct report *r, bool json)
{
    static const char *const headers[] = {"STATUS", "VAULT", "DEVICE", "FILE", "NOTE"};
    memset(r, 0, sizeof(*r));
    r->json = json;
    r->table = json ? NULL : table_new(headers, 5);
    r->files = json ? json_array() : NULL;
    return (json ? r->files != NULL : r->table != NULL) ? 0 : -ENOMEM;
}

static int report_add(struct report *r, const struct check_row *row, const char *path)
{
    r->unreadable += strcmp(row->status, freshness_name(FRESHNESS_UNREADABLE)) == 0;
    r->skipped += strcmp(row->status, "skipped") == 0;
    if (r->json)
        return json_array_append_new(r->files, row_json(row, path)) == 0 ? 0 : -ENOMEM;
    const char *cells[] = {row->status, row->vault, row->device, path, row->note};
    return table_add(r->table, cells);
}

static int report_finish(struct report *r, const char *store_dir, bool ok)
{
    if (r->json) {
        json_t *top = json_pack("{s:o?, s:o, s:b}", "store",
                                store_dir ? escape_json_string(store_dir) : NULL, "files",
                                r->files, "ok", ok);
        r->files = NULL;
        if (!top || json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
            json_decref(top);
            return -ENOMEM;
        }
        putchar('\n');
        json_decref(top);
    } else {
        table_print(r->table, stdout);
        table_free(r->table);
        r->table = NULL;
        /* a long table's rows of note are easy to miss */
        if (r->unreadable && r->skipped)
            log_result("check: %zu could not be read (so the exit status is 1) and %zu were "
                       "skipped: see the notes above", r->unreadable, r->skipped);
        else if (r->unreadable)
            log_result("check: %zu could not be read (so the exit status is 1): see the notes "
                       "above", r->unreadable);
        else if (r->skipped)
            log_result("check: %zu skipped: see the notes above", r->skipped);
    }
    return 0;
}

/* What the scan passed over on purpose, one row each, so that nothing is
 * left out of the report in silence: it does not change the exit status. */
static int report_passed_over(struct report *r, const struct scan *scan)
{
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < scan->skipped_count; i++) {
        struct check_row row = {.status = "skipped"};
        snprintf(row.note, sizeof(row.note), "%s", scan->skipped[i].why);
        ret = report_add(r, &row, scan->skipped[i].path);
    }
    for (size_t i = 0; ret == 0 && i < scan->store_count; i++) {
        struct check_row row = {.status = "skipped"};
        snprintf(row.note, sizeof(row.note), "a vultfs store: to check files against it, give "
                 "it first");
        ret = report_add(r, &row, scan->stores[i]);
    }
    return ret;
}

static void report_free(struct report *r)
{
    table_free(r->table);
    json_decref(r->files);
}

static int check_against_store(const struct scan *scan, const struct store *store,
                               const char *store_dir, bool json)
{
    struct report r;
    bool all_ok = true;
    int ret = report_start(&r, json);

    for (size_t i = 0; ret == 0 && i < scan->count; i++) {
        struct check_row row;
        bool ok = false;
        ret = row_against_store(&row, &ok, store, &scan->items[i]);
        if (ret == 0)
            ret = report_add(&r, &row, scan->items[i].path);
        all_ok = all_ok && ok;
    }
    if (ret == 0)
        ret = report_passed_over(&r, scan);
    if (ret == 0)
        ret = report_finish(&r, store_dir, all_ok);
    report_free(&r);
    if (ret < 0) {
        log_err("check: %s", strerror(-ret));
        return 1;
    }
    return all_ok ? 0 : 1;
}

/* No store: the files against each other. Several generations of one vault
 * among them mean some are stale (which, only a store can tell). */
static int row_among_files(struct check_row *row, bool *ok, const struct scan_item *item,
                           const struct colocation_label *label, size_t generations,
                           const struct scan_item *outgrown)
{
    memset(row, 0, sizeof(*row));
    *ok = false;
    if (item->error) {
        bool not_backup = scan_not_backup(item);
        row->status = freshness_name(not_backup ? FRESHNESS_NOT_BACKUP : FRESHNESS_UNREADABLE);
        scan_reason(row->note, sizeof(row->note), item);
        *ok = not_backup;
        return 0;
    }
    row->vault = item->name;
    row->device = item->device;
    if (!item->complete) {
        row->status = freshness_name(FRESHNESS_INCOMPLETE);
        snprintf(row->note, sizeof(row->note), "%s", item->incomplete);
        return 0;
    }
    if (outgrown) {
        row->status = freshness_name(FRESHNESS_OUT_OF_DATE);
        snprintf(row->note, sizeof(row->note),
                 "out of date: %s holds every key share of it and more (a key added since, "
                 "such as an ML-DSA key)", outgrown->path);
        return 0;
    }
    row->epoch = 0;
    row->status = generations > 1 ? "mixed" : "backup";
    *ok = generations == 1;
    if (generations > 1)
        snprintf(row->note, sizeof(row->note),
                 "vault #%zu, generation %zu of the %zu found: all but one generation are stale; "
                 "check against a store to tell which", label->vault + 1, label->generation + 1,
                 generations);
    else
        snprintf(row->note, sizeof(row->note), "vault #%zu, one generation among these files",
                 label->vault + 1);
    return 0;
}

/* Another file among these that is item's backup grown by a key: the
 * same vault, generation and device with every key share of it and more. */
static const struct scan_item *fuller_copy(const struct scan *scan, const struct scan_item *item)
{
    if (item->error)
        return NULL;
    for (size_t i = 0; i < scan->count; i++) {
        const struct scan_item *other = &scan->items[i];
        if (other == item || other->error || strcmp(other->vault_key, item->vault_key) != 0 ||
            memcmp(other->digest.generation, item->digest.generation, EPOCHS_DIGEST_BYTES) ||
            memcmp(other->digest.device, item->digest.device, EPOCHS_DIGEST_BYTES))
            continue;
        if (epochs_grows(&item->digest, &other->digest))
            return other;
    }
    return NULL;
}

static int check_among_files(const struct scan *scan, bool json)
{
    struct colocation_share *shares = alloc_zeroed(scan->count + 1, sizeof(*shares));
    struct colocation_label *labels = alloc_zeroed(scan->count + 1, sizeof(*labels));
    size_t *index_of = alloc_zeroed(scan->count + 1, sizeof(*index_of));
    size_t n = 0;
    struct report r = {0};
    bool all_ok = true;
    int ret = shares && labels && index_of ? report_start(&r, json) : -ENOMEM;

    for (size_t i = 0; ret == 0 && i < scan->count; i++) {
        const struct scan_item *item = &scan->items[i];
        if (item->error == 0) {
            shares[n] = (struct colocation_share){item->vault_key, item->digest,
                                                  item->signer_count};
            index_of[i] = n++;
        }
    }
    if (ret == 0)
        colocation_label(labels, shares, n);
    for (size_t i = 0; ret == 0 && i < scan->count; i++) {
        const struct colocation_label *label = &labels[index_of[i]];
        struct check_row row;
        bool ok = false;
        ret = row_among_files(&row, &ok, &scan->items[i], label,
                              colocation_generations(labels, n, label->vault),
                              fuller_copy(scan, &scan->items[i]));
        if (ret == 0)
            ret = report_add(&r, &row, scan->items[i].path);
        all_ok = all_ok && ok;
    }
    if (ret == 0)
        ret = report_passed_over(&r, scan);
    if (ret == 0)
        ret = report_finish(&r, NULL, all_ok);
    report_free(&r);
    alloc_free(index_of);
    alloc_free(labels);
    alloc_free(shares);
    if (ret < 0) {
        log_err("check: %s", strerror(-ret));
        return 1;
    }
    return all_ok ? 0 : 1;
}

/* A first operand that is a store is what the files are checked against. */
static int run_check(const struct options *o)
{
    struct passwords passwords = {0};
    struct secret passphrase = {0};
    struct store *store = NULL;
    struct scan scan = {0};
    char *const *paths = o->operands;
    size_t path_count = o->operand_count;
    const char *store_dir = NULL;
    int status = 1;

    if (scan_is_store(paths[0])) {
        store_dir = paths[0];
        paths++;
        if (--path_count == 0) {
            log_err("check: give the files or directories to check after the store %s",
                    store_dir);
            return 2;
        }
    } else if (o->passphrase_file) {
        log_err("check: %s is not a store (a directory holding vultfs.json), and "
                "--passphrase-file needs one", paths[0]);
        return 2;
    }
    if (store_dir) {
        if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                           "store passphrase", 0) < 0)
            return 1;
        if (cli_open_store_readonly(&store, store_dir, &passphrase, true) < 0 ||
            passwords_add(&passwords, &passphrase) < 0)
            goto out;
    }
    if (passwords_add_lines(&passwords, o->import_passwords) < 0)
        goto out;
    if (scan_paths(&scan, paths, path_count, passwords.views, passwords.count) < 0) {
        log_err("check: out of memory");
        goto out;
    }
    passwords_free(&passwords);
    status = store ? check_against_store(&scan, store, store_dir, o->json)
                   : check_among_files(&scan, o->json);
out:
    scan_free(&scan);
    passwords_free(&passwords);
    store_close(store);
    secret_free(&passphrase);
    return status;
}

int cmd_check(int argc, char **argv)
{
    return options_run(argc, argv, check_usage,
                       OPTION_JSON | OPTION_PASSPHRASE_FILE | OPTION_IMPORT_PASSWORDS, 1,
                       (size_t)-1, run_check);
}
