/*
 * vultfs audit: shares that must not sit together. Walks files (and the
 * stores among them, given their passphrases) and reports every vault for
 * which the places scanned hold shares of two or more devices of one
 * generation, and whether those reach the signing threshold: then this
 * place alone can sign. The grouping is core/colocation.c; nothing is
 * changed, and stores are read without their lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "colocation.h"
#include "commands.h"
#include "cli.h"
#include "escape.h"
#include "log.h"
#include "options.h"
#include "passwords.h"
#include "progress.h"
#include "scan.h"
#include "store.h"
#include "table.h"

const char audit_usage[] =
    "usage: vultfs audit [--json] [--passphrase-file F] [--import-passwords F] PATH...\n"
    "\n"
    "Reports every vault of which the places under PATH (files, directories,\n"
    "symbolic links followed, and vultfs stores, opened read-only with the\n"
    "passphrase of F or any line of --import-passwords) hold shares of two or\n"
    "more devices of one generation, and whether they reach the signing\n"
    "threshold (2 of 2, 2 of 3, ceil(2n/3) of n): then whoever gets this place\n"
    "can sign for the vault. What could not be read, and what was skipped (a\n"
    "directory reached twice, a FIFO), is listed. Changes nothing. Exit status:\n"
    "0 when nothing is found and everything could be read, 1 otherwise, 2 for\n"
    "a usage error.\n";

/* One share found somewhere: a file, or an epoch inside a store. */
struct found {
    char *where, *name, *device, *vault_key;
};

struct audit {
    struct found *found;
    struct colocation_share *shares;
    size_t count, cap;
    struct table *unread; /* what could not be read (the exit status is 1), and what
                             was skipped on purpose (scan.h) */
    json_t *unread_json, *skipped_json;
    size_t unread_count, skipped_count;
};

static char *dup_text(const char *text)
{
    return alloc_strndup(text, strlen(text));
}

static int add_found(struct audit *a, const char *where, const char *name, const char *device,
                     const char *vault_key, const struct epochs_entry *digest, size_t signers)
{
    if (a->count == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        struct found *f = alloc_resize(a->found, cap * sizeof(*f));
        if (f)
            a->found = f;
        struct colocation_share *s = alloc_resize(a->shares, cap * sizeof(*s));
        if (s)
            a->shares = s;
        if (!f || !s)
            return -ENOMEM;
        a->cap = cap;
    }
    struct found *f = &a->found[a->count];
    *f = (struct found){dup_text(where), dup_text(name), dup_text(device), dup_text(vault_key)};
    a->shares[a->count] =
        (struct colocation_share){f->vault_key, epochs_entry_summary(digest), signers};
    a->count++;
    return f->where && f->name && f->device && f->vault_key ? 0 : -ENOMEM;
}

static int add_skipped(struct audit *a, const char *where, const char *why)
{
    const char *cells[] = {"skipped", where, why};
    a->skipped_count++;
    if (a->skipped_json)
        return json_array_append_new(a->skipped_json,
                                     json_pack("{s:o, s:s}", "path", escape_json_string(where),
                                               "note", why));
    return table_add(a->unread, cells);
}

static int add_unread(struct audit *a, const char *where, const char *why)
{
    const char *cells[] = {"unreadable", where, why};
    a->unread_count++;
    if (a->unread_json)
        return json_array_append_new(a->unread_json,
                                     json_pack("{s:o, s:s}", "path", escape_json_string(where),
                                               "note", why));
    return table_add(a->unread, cells);
}

/* Every epoch a store holds is a share in that place. */
static int add_store_shares(struct audit *a, const struct store *store, const char *dir)
{
    for (size_t i = 0; i < store_vault_count(store); i++) {
        const struct store_vault *vault = store_vault_at(store, i);
        struct epochs_entry *entries = NULL;
        size_t count = 0;
        int ret = store_vault_entries(&entries, &count, store, vault);
        for (size_t j = 0; ret == 0 && j < count; j++) {
            const struct store_epoch *e = store_vault_epoch(vault, entries[j].number);
            char where[4096];
            if (!e)
                continue;
            snprintf(where, sizeof(where), "%s (store: %s, epoch %" PRIu64 ")", dir, vault->dir_name,
                     e->number);
            ret = add_found(a, where, e->facts.name, e->facts.device, vault->public_key_ecdsa,
                            &entries[j], e->facts.signer_count);
        }
        epochs_entries_free(entries, count);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int add_store(struct audit *a, const char *dir, const struct passwords *passphrases)
{
    for (size_t i = 0; i < passphrases->count; i++) {
        struct store *store = NULL;
        int ret = store_open_readonly(&store, dir, passphrases->owned[i].text,
                                      passphrases->owned[i].len);
        if (ret == -EACCES)
            continue;
        if (ret == 0)
            ret = add_store_shares(a, store, dir);
        store_close(store);
        if (ret == -ENOMEM)
            return ret;
        return ret < 0 ? add_unread(a, dir, "a vultfs store that cannot be read") : 0;
    }
    return add_unread(a, dir, "a vultfs store that no passphrase given opens");
}

static int add_scan(struct audit *a, const struct scan *scan, const struct passwords *passphrases)
{
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < scan->count; i++) {
        const struct scan_item *item = &scan->items[i];
        char why[256];
        if (item->error == 0) {
            ret = add_found(a, item->path, item->name, item->device, item->vault_key,
                            &item->digest, item->signer_count);
        } else if (!scan_not_backup(item)) {
            scan_reason(why, sizeof(why), item);
            ret = add_unread(a, item->path, why);
        }
    }
    for (size_t i = 0; ret == 0 && i < scan->skipped_count; i++)
        ret = add_skipped(a, scan->skipped[i].path, scan->skipped[i].why);
    for (size_t i = 0; ret == 0 && i < scan->store_count; i++)
        ret = add_store(a, scan->stores[i], passphrases);
    return ret;
}

static bool in_group(const struct audit *a, size_t i, size_t first)
{
    return strcmp(a->shares[i].vault_key, a->shares[first].vault_key) == 0 &&
           memcmp(a->shares[i].digest.generation, a->shares[first].digest.generation,
                  EPOCHS_DIGEST_BYTES) == 0;
}

static json_t *finding_json(const struct audit *a, const struct colocation_finding *f)
{
    json_t *shares = json_array();
    for (size_t i = f->first; i < a->count; i++)
        if (in_group(a, i, f->first))
            json_array_append_new(shares,
                                  json_pack("{s:s, s:o}", "device", a->found[i].device, "where",
                                            escape_json_string(a->found[i].where)));
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:o}", "vault", a->found[f->first].name,
                     "public_key_ecdsa", a->found[f->first].vault_key, "signers",
                     (json_int_t)a->shares[f->first].signer_count, "threshold",
                     (json_int_t)f->threshold, "devices", (json_int_t)f->devices, "can_sign",
                     f->can_sign, "shares", shares);
}

static int print_json(const struct audit *a, const struct colocation_finding *found, size_t n,
                      bool ok)
{
    json_t *findings = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(findings, finding_json(a, &found[i]));
    json_t *top = json_pack("{s:o, s:O, s:O, s:I, s:b}", "findings", findings, "unreadable",
                            a->unread_json, "skipped", a->skipped_json, "shares_read",
                            (json_int_t)a->count, "ok", ok);
    int ret = top && json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0
                                                                                     : -ENOMEM;
    if (ret == 0)
        putchar('\n');
    json_decref(top);
    return ret;
}

static int print_table(const struct audit *a, const struct colocation_finding *found, size_t n)
{
    static const char *const headers[] = {"VERDICT", "VAULT", "DEVICE", "WHERE"};
    struct table *table = table_new(headers, 4);
    int ret = table ? 0 : -ENOMEM;

    for (size_t k = 0; ret == 0 && k < n; k++)
        for (size_t i = found[k].first; ret == 0 && i < a->count; i++) {
            const char *cells[] = {found[k].can_sign ? "CAN SIGN" : "together",
                                   a->found[i].name, a->found[i].device, a->found[i].where};
            if (in_group(a, i, found[k].first))
                ret = table_add(table, cells);
        }
    if (ret == 0 && n)
        table_print(table, stdout);
    table_free(table);
    for (size_t k = 0; ret == 0 && k < n; k++) {
        const struct colocation_finding *f = &found[k];
        log_result("audit: vault '%s': shares of %zu devices of one generation are here, "
                   "%zu of %zu needed to sign: %s", a->found[f->first].name, f->devices,
                   f->threshold, a->shares[f->first].signer_count,
                   f->can_sign ? "this place alone can sign for it"
                           : "keep them in different places");
    }
    if (ret == 0 && n == 0)
        log_result("audit: %zu shares read; no vault has shares of two devices of one "
                   "generation here", a->count);
    if (ret == 0 && a->unread_count && a->skipped_count)
        log_result("audit: %zu could not be read, and may hold shares too; %zu skipped:",
                   a->unread_count, a->skipped_count);
    else if (ret == 0 && a->unread_count)
        log_result("audit: %zu could not be read, and may hold shares too:", a->unread_count);
    else if (ret == 0 && a->skipped_count)
        log_result("audit: %zu skipped:", a->skipped_count);
    if (ret == 0 && (a->unread_count || a->skipped_count))
        table_print(a->unread, stdout);
    return ret;
}

static int report(const struct audit *a, bool json, int *status)
{
    struct colocation_finding *found = NULL;
    size_t n = 0;
    int ret = colocation_find(&found, &n, a->shares, a->count);
    bool ok = n == 0 && a->unread_count == 0;
    if (ret == 0)
        ret = json ? print_json(a, found, n, ok) : print_table(a, found, n);
    alloc_free(found);
    *status = ok ? 0 : 1;
    return ret;
}

static void audit_free(struct audit *a)
{
    for (size_t i = 0; i < a->count; i++) {
        alloc_free(a->found[i].where);
        alloc_free(a->found[i].name);
        alloc_free(a->found[i].device);
        alloc_free(a->found[i].vault_key);
    }
    alloc_free(a->found);
    alloc_free(a->shares);
    table_free(a->unread);
    json_decref(a->unread_json);
    json_decref(a->skipped_json);
}

/* The candidates for stores and encrypted files alike: the passphrase of
 * --passphrase-file, then each line of --import-passwords. */
static int read_passwords(struct passwords *set, const struct options *o)
{
    struct secret passphrase;
    int ret = 0;

    if (o->passphrase_file) {
        ret = cli_get_secret(&passphrase, o->passphrase_file, "", "store passphrase", 0);
        if (ret < 0)
            return ret;
        ret = passwords_add(set, &passphrase);
        secret_free(&passphrase);
    }
    return ret < 0 ? ret : passwords_add_lines(set, o->import_passwords);
}

static int run_audit(const struct options *o)
{
    static const char *const unread_headers[] = {"STATUS", "WHERE", "NOTE"};
    struct passwords passwords = {0};
    struct scan scan = {0};
    struct audit a = {0};
    int status = 1, ret;

    if (read_passwords(&passwords, o) < 0)
        goto out;
    if (o->json) {
        a.unread_json = json_array();
        a.skipped_json = json_array();
    } else {
        a.unread = table_new(unread_headers, 3);
    }
    ret = a.unread || (a.unread_json && a.skipped_json) ? 0 : -ENOMEM;
    if (ret == 0) {
        struct progress progress;
        progress_start(&progress, "audit", "files", 0);
        ret = scan_paths_counted(&scan, o->operands, o->operand_count, passwords.views,
                                 passwords.count, &progress);
        progress_end(&progress);
    }
    if (ret == 0)
        ret = add_scan(&a, &scan, &passwords);
    if (ret == 0)
        ret = report(&a, o->json, &status);
    if (ret < 0) {
        log_err("audit: %s", strerror(-ret));
        status = 1;
    }
out:
    audit_free(&a);
    scan_free(&scan);
    passwords_free(&passwords);
    return status;
}

int cmd_audit(int argc, char **argv)
{
    return options_run(argc, argv, audit_usage,
                       OPTION_JSON | OPTION_PASSPHRASE_FILE | OPTION_IMPORT_PASSWORDS, 1,
                       (size_t)-1, run_audit);
}
