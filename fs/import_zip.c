/*
 * import_zip: the apps' multi-vault zips into a store (see import_zip.h).
 */
#include "import_zip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "backup_zip.h"
#include "generations.h"
#include "io.h"
#include "log.h"
#include "progress.h"
#include "store.h"

struct zip_run {
    const char *path;
    bool to_stdout;
    size_t imported; /* entries tried (not skipped) */
    size_t refused;  /* of those */
    struct progress *progress; /* the CLI's, or NULL */
    struct generations *generations; /* what the batch brought, or NULL */
};

bool import_zip_named(const char *path)
{
    size_t len = strlen(path);
    return len > 4 && strcasecmp(path + len - 4, ".zip") == 0;
}

static void report_entry(void *ctx, const struct backup_zip_entry *e)
{
    struct zip_run *run = ctx;
    const struct store_import_result *r = e->result;
    const char *outcome = r ? epochs_outcome_name(r->outcome) : "";

    run->imported += !e->skipped;
    run->refused += !e->skipped && e->ret < 0;
    if (!e->skipped && e->ret == 0 && r)
        generations_note(run->generations, r);

    if (e->skipped) {
        if (run->to_stdout)
            log_result("import of %s: %s: skipped, %s", run->path, e->name,
                       e->skip_reason);
        else
            log_info("import of %s: %s: skipped, %s", run->path, e->name, e->skip_reason);
    } else if (e->ret == 0 && run->to_stdout) {
        log_result("import of %s: %s: %s: %s/ (%s)", run->path, e->name, outcome,
                   r->dir_name, r->reason);
    } else if (e->ret == 0) {
        log_info("import of %s: %s: %s: /%s/ (%s)", run->path, e->name, outcome, r->dir_name,
                 r->reason);
    } else {
        log_warn("import of %s: %s: refused, %s: %s", run->path, e->name, outcome, r->reason);
    }
    if (run->progress)
        progress_step(run->progress, 1);
}

/* The line for the whole zip, after its entries' own. Once an entry was
 * tried, ret is the first entry's refusal, which its own line explained:
 * an entry over the import limit is -EFBIG too, and not a zip over its
 * caps. */
static void report_whole(const struct zip_run *run, int ret)
{
    const char *path = run->path;

    if (ret == 0)
        return;
    if (ret == -ENOMEM) {
        log_err("import of %s: out of memory", path);
        return;
    }
    if (run->imported) {
        log_warn("import of %s: not every entry was imported: %zu of %zu refused (see the "
                 "lines above)", path, run->refused, run->imported);
        return;
    }
    switch (ret) {
    case -EFBIG:
        log_warn("import of %s: refused: larger than a backup zip can be (%d entries, "
                 "%u MiB inflated, %u MiB an entry); nothing imported", path,
                 BACKUP_ZIP_MAX_ENTRIES, BACKUP_ZIP_MAX_INFLATED >> 20,
                 BACKUP_ZIP_MAX_ENTRY >> 20);
        break;
    case -EACCES:
        log_warn("import of %s: refused: its entries are encrypted by zip itself, which the "
                 "apps never do", path);
        break;
    case -EINVAL:
        log_warn("import of %s: refused: not a zip, damaged, or no .vult, .bak or .dat in it",
                 path);
        break;
    default:
        log_warn("import of %s: refused: %s", path, strerror(-ret));
        break;
    }
}

static int import_zip_counted(struct store *store, const char *path, const uint8_t *data,
                              size_t len, bool to_stdout, struct progress *progress,
                              struct generations *generations)
{
    struct zip_run run = {path, to_stdout, 0, 0, progress, generations};
    int ret = backup_zip_import(store, data, len, report_entry, &run);

    report_whole(&run, ret);
    return ret;
}

int import_zip_data(struct store *store, const char *path, const uint8_t *data, size_t len,
                    bool to_stdout)
{
    return import_zip_counted(store, path, data, len, to_stdout, NULL, NULL);
}

int import_zip_data_with(const char *path, const char *store_dir, const uint8_t *data,
                         size_t len, backup_zip_importer import, void *import_ctx)
{
    struct generations generations = {0};
    struct zip_run run = {path, false, 0, 0, NULL, &generations};
    int ret = backup_zip_import_with(data, len, import, import_ctx, report_entry, &run);

    report_whole(&run, ret);
    generations_warn(&generations, store_dir);
    generations_free(&generations);
    return ret;
}

int import_zip_file(struct store *store, const char *path, struct progress *progress,
                    struct generations *generations)
{
    uint8_t *bytes = NULL;
    size_t len = 0, entries = 0;
    int ret = io_read_secret(&bytes, &len, AT_FDCWD, path, BACKUP_ZIP_MAX_FILE + 1);
    if (ret == 0 && progress && (entries = backup_zip_entry_count(bytes, len)) > 0)
        progress_add_total(progress, entries - 1); /* the zip was one unit: now its entries */
    if (ret == -EFBIG)
        ret = import_zip_data(store, path, NULL, BACKUP_ZIP_MAX_FILE + 1, true);
    else if (ret < 0)
        log_err("import of %s: cannot read it: %s", path, strerror(-ret));
    else
        ret = import_zip_counted(store, path, bytes, len, true, entries ? progress : NULL,
                                 generations);
    if (progress && !entries)
        progress_step(progress, 1); /* it stayed one unit */
    alloc_secret_free(bytes);
    return ret;
}
