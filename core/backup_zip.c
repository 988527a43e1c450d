/*
 * backup_zip: the apps' multi-vault zips, through libzip (see backup_zip.h).
 */
#include "backup_zip.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zip.h>

#include "alloc.h"
#include "dat.h"

bool backup_zip_sniff(const uint8_t *data, size_t len)
{
    /* a local file header, or the end record of an empty zip */
    return len >= 4 && data[0] == 'P' && data[1] == 'K' &&
           ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6));
}

/* Why an entry is not taken, or NULL when it is a backup to import. The
 * apps walk the archive recursively, take .bak/.vult/.dat, and skip hidden,
 * __MACOSX/ and ._* entries (iOS). */
static const char *skip_reason(const char *name)
{
    size_t len = strlen(name);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (len == 0 || name[len - 1] == '/')
        return "a directory";
    if (strncmp(name, "__MACOSX/", 9) == 0 || strstr(name, "/__MACOSX/"))
        return "macOS metadata (__MACOSX/)";
    if (strncmp(base, "._", 2) == 0)
        return "macOS metadata (._*)";
    if (name[0] == '.' || strstr(name, "/."))
        return "hidden";
    const char *dot = strrchr(base, '.');
    if (!dot || (strcasecmp(dot, ".vult") != 0 && strcasecmp(dot, ".bak") != 0 &&
                 strcasecmp(dot, ".dat") != 0))
        return "not a .vult, .bak or .dat file";
    return NULL;
}

static int open_zip(zip_t **out, const uint8_t *data, size_t len)
{
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t *source = zip_source_buffer_create(data, len, 0, &error);
    *out = source ? zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error) : NULL;
    int sys = zip_error_code_system(&error);
    int code = zip_error_code_zip(&error);
    zip_error_fini(&error);
    if (*out)
        return 0;
    zip_source_free(source);
    return code == ZIP_ER_MEMORY || sys == ENOMEM ? -ENOMEM : -EINVAL;
}

/* The caps, from the central directory, before anything is inflated.
 * Reading checks each entry against its declared size again. */
static int check_caps(zip_t *zip, zip_int64_t entries)
{
    uint64_t total = 0;
    if (entries > BACKUP_ZIP_MAX_ENTRIES)
        return -EFBIG;
    for (zip_int64_t i = 0; i < entries; i++) {
        zip_stat_t st;
        if (zip_stat_index(zip, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
            !(st.valid & ZIP_STAT_NAME))
            return -EINVAL;
        if (skip_reason(st.name))
            continue;
        if (st.size > BACKUP_ZIP_MAX_ENTRY)
            return -EFBIG;
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
            return -EACCES;
        total += st.size;
        if (total > BACKUP_ZIP_MAX_INFLATED)
            return -EFBIG;
    }
    return 0;
}

/* Inflates one entry into secret memory: exactly its declared size. */
static int read_entry(uint8_t **out, size_t *len, zip_t *zip, zip_uint64_t index)
{
    zip_stat_t st;
    uint8_t extra;
    if (zip_stat_index(zip, index, 0, &st) < 0)
        return -EINVAL;
    zip_file_t *file = zip_fopen_index(zip, index, 0);
    if (!file)
        return -EINVAL;
    uint8_t *buf = alloc_secret(st.size ? st.size : 1);
    int ret = buf ? 0 : -ENOMEM;
    if (ret == 0 && zip_fread(file, buf, st.size) != (zip_int64_t)st.size)
        ret = -EINVAL;
    if (ret == 0 && zip_fread(file, &extra, 1) != 0)
        ret = -EINVAL; /* more than it declared, or a CRC mismatch */
    zip_fclose(file);
    if (ret < 0) {
        alloc_secret_free(buf);
        return ret;
    }
    *out = buf;
    *len = st.size;
    return 0;
}

size_t backup_zip_entry_count(const uint8_t *data, size_t len)
{
    zip_t *zip = NULL;
    zip_int64_t entries = -1;

    if (len <= BACKUP_ZIP_MAX_FILE && open_zip(&zip, data, len) == 0) {
        entries = zip_get_num_entries(zip, 0);
        zip_discard(zip);
    }
    return entries > 0 ? (size_t)entries : 0;
}

int backup_zip_foreach(const uint8_t *data, size_t len, backup_zip_each each, void *ctx)
{
    zip_t *zip = NULL;
    int ret = len > BACKUP_ZIP_MAX_FILE ? -EFBIG : open_zip(&zip, data, len);
    if (ret < 0)
        return ret;
    zip_int64_t entries = zip_get_num_entries(zip, 0);
    ret = entries < 0 ? -EINVAL : check_caps(zip, entries);
    size_t backups = 0;
    for (zip_int64_t i = 0; ret == 0 && i < entries; i++) {
        const char *name = zip_get_name(zip, (zip_uint64_t)i, 0);
        struct backup_zip_entry entry = {.name = name ? name : ""};
        entry.skip_reason = name ? skip_reason(name) : "unnamed";
        uint8_t *bytes = NULL;
        size_t n = 0;
        if (!entry.skip_reason) {
            backups++;
            entry.ret = read_entry(&bytes, &n, zip, (zip_uint64_t)i);
        }
        ret = entry.ret == -ENOMEM ? -ENOMEM : each(ctx, &entry, bytes, n);
        alloc_secret_free(bytes);
    }
    zip_discard(zip);
    return ret == 0 && backups == 0 ? -EINVAL : ret;
}

struct import_run {
    backup_zip_importer import;
    void *import_ctx;
    backup_zip_report report;
    void *ctx;
    int first_refusal;
};

/* Imports one entry and reports it. */
static int import_entry(void *ctx, const struct backup_zip_entry *found, const uint8_t *bytes,
                        size_t len)
{
    struct import_run *run = ctx;
    struct store_import_result result;
    struct backup_zip_entry entry = *found;

    if (entry.skip_reason) {
        entry.skipped = true;
        run->report(run->ctx, &entry);
        return 0;
    }
    const char *misnamed = entry.ret == 0 ? dat_misnamed_binary(entry.name, bytes, len) : NULL;
    if (misnamed) { /* no password would open it (dat.h) */
        memset(&result, 0, sizeof(result));
        result.outcome = EPOCHS_UNREADABLE;
        snprintf(result.reason, sizeof(result.reason), "not a Vultisig backup: %s", misnamed);
        entry.ret = -EINVAL;
    } else if (entry.ret == 0) {
        entry.ret = run->import(run->import_ctx, bytes, len, &result);
    } else {
        memset(&result, 0, sizeof(result));
        result.outcome = EPOCHS_UNREADABLE;
        snprintf(result.reason, sizeof(result.reason), "%s", "the zip entry is damaged");
    }
    entry.result = &result;
    run->report(run->ctx, &entry);
    if (entry.ret < 0 && run->first_refusal == 0)
        run->first_refusal = entry.ret;
    return entry.ret == -ENOMEM ? -ENOMEM : 0;
}

int backup_zip_import_with(const uint8_t *data, size_t len, backup_zip_importer import,
                           void *import_ctx, backup_zip_report report, void *ctx)
{
    struct import_run run = {import, import_ctx, report, ctx, 0};
    int ret = backup_zip_foreach(data, len, import_entry, &run);
    return ret < 0 ? ret : run.first_refusal;
}

static int import_into_store(void *store, const uint8_t *bytes, size_t len,
                             struct store_import_result *result)
{
    return store_import(store, bytes, len, NULL, result);
}

int backup_zip_import(struct store *store, const uint8_t *data, size_t len,
                      backup_zip_report report, void *ctx)
{
    return backup_zip_import_with(data, len, import_into_store, store, report, ctx);
}

int backup_zip_write(const char *path, const struct backup_zip_file *files, size_t count)
{
    struct stat st;
    int err = 0;
    if (lstat(path, &st) == 0)
        return -EEXIST;
    zip_t *zip = zip_open(path, ZIP_CREATE | ZIP_EXCL, &err);
    if (!zip)
        return err == ZIP_ER_EXISTS ? -EEXIST : -EIO;
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < count; i++) {
        zip_source_t *source = zip_source_buffer(zip, files[i].data, files[i].len, 0);
        zip_int64_t index = source ? zip_file_add(zip, files[i].name, source,
                                                  ZIP_FL_ENC_UTF_8)
                                   : -1;
        if (index < 0) {
            zip_source_free(source);
            ret = zip_get_error(zip)->zip_err == ZIP_ER_EXISTS ? -EEXIST : -EIO;
        } else if (zip_set_file_compression(zip, (zip_uint64_t)index, ZIP_CM_STORE, 0) < 0) {
            ret = -EIO;
        }
    }
    mode_t old = umask(077); /* libzip creates its temporary from the umask */
    if (ret < 0)
        zip_discard(zip);
    else if (zip_close(zip) < 0) {
        zip_discard(zip);
        ret = -EIO;
    }
    umask(old);
    return ret;
}
