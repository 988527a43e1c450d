/*
 * vultfs export --zip: every vault's current share in one zip, as the
 * Vultisig apps write their "all vaults" backup: flat .vult entries with
 * the apps' names (<name>-<last4>-share<i>of<n>.vult, "part" for GG20) and
 * one export password, so a new phone imports all of this location's
 * vaults in one step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "backup_zip.h"
#include "cli.h"
#include "commands.h"
#include "log.h"
#include "options.h"
#include "progress.h"
#include "store.h"

static void free_files(struct backup_zip_file *files, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        alloc_free((char *)files[i].name);
        alloc_secret_free((uint8_t *)files[i].data);
    }
    alloc_free(files);
}

/* A copy of the vault's current export: the store's cache is bounded, so
 * the bytes it lends may be gone after the next export. */
static int copy_export(struct backup_zip_file *file, struct store *store,
                       const struct store_vault *vault)
{
    const uint8_t *data;
    size_t len;
    int ret = store_export(&data, &len, store, vault, vault->current->number);
    uint8_t *copy = ret == 0 ? alloc_secret_copy(data, len) : NULL;

    if (ret < 0)
        return ret;
    if (!copy)
        return -ENOMEM;
    file->data = copy;
    file->len = len;
    return 0;
}

/* Every current share: its apps' name and a copy of its export bytes. */
static int collect(struct backup_zip_file **out, size_t *count, struct store *store,
                   struct progress *progress)
{
    size_t n = store_vault_count(store), k = 0;
    struct backup_zip_file *files = alloc_zeroed(n ? n : 1, sizeof(*files));
    int ret = files ? 0 : -ENOMEM;

    for (size_t i = 0; ret == 0 && i < n; i++, progress_step(progress, 1)) {
        const struct store_vault *vault = store_vault_at(store, i);
        if (!vault->current)
            continue; /* only history held: nothing current to export */
        ret = copy_export(&files[k], store, vault);
        if (ret == 0) {
            char *name = NULL;
            ret = store_export_name(&name, store, vault, vault->current->number);
            files[k].name = name;
        }
        if (ret < 0)
            log_err("cannot export vault '%s': %s", vault->dir_name, strerror(-ret));
        k++;
    }
    *out = files;
    *count = k;
    return ret;
}

int export_zip_run(const struct options *o)
{
    struct store *store = NULL;
    struct secret passphrase = {0};
    struct backup_zip_file *files = NULL;
    size_t count = 0;
    int status = 1, ret;

    if (o->operand_count != 2 || o->epoch) {
        log_err("export --zip takes STORE OUT.zip and every vault's current epoch "
                "(see vultfs export --help)");
        return 2;
    }
    if (o->export_password_file && o->export_none) {
        log_err("give --export-password-file or --export-password none, not both");
        return 2;
    }
    const char *out_path = o->operands[1];
    if (cli_get_secret(&passphrase, o->passphrase_file, "Store passphrase: ",
                       "store passphrase", 0) < 0)
        return 1;
    if (cli_open_store_readonly(&store, o->operands[0], &passphrase, true) < 0 ||
        cli_set_export(store, o->export_none, o->export_password_file, o->scheme, &passphrase) < 0)
        goto out;
    struct progress progress;
    progress_start(&progress, "export --zip", "vaults", store_vault_count(store));
    ret = collect(&files, &count, store, &progress);
    progress_end(&progress);
    if (ret < 0)
        goto out;
    if (count == 0) {
        log_err("the store holds no current share: no zip written");
        goto out;
    }
    ret = backup_zip_write(out_path, files, count);
    if (ret == -EEXIST)
        log_err("cannot write %s: it exists (or two vaults would get one name)", out_path);
    else if (ret < 0)
        log_err("cannot write %s: %s", out_path, strerror(-ret));
    else
        log_result("exported %zu vaults to %s", count, out_path);
    status = ret < 0;
out:
    free_files(files, count);
    store_close(store);
    secret_free(&passphrase);
    return status;
}
