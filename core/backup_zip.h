/*
 * backup_zip: the Vultisig apps' multi-vault ".zip" backups ("back up all
 * vaults"): flat .vult entries named as the apps name exports, all with one
 * password. Reading and writing go through libzip: a well-kept reader,
 * not one of ours. The caps stop a zip bomb and take the largest real
 * backups: Android caps a zip at 1000 entries and 20 MiB inflated, but a
 * KEYIMPORT backup alone can be 19 MB (the desktop and iOS apps zip such
 * vaults too); each entry then meets the store's own import cap.
 */
#ifndef VULTFS_BACKUP_ZIP_H
#define VULTFS_BACKUP_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wur.h"

#define BACKUP_ZIP_MAX_ENTRIES 1000
#define BACKUP_ZIP_MAX_INFLATED (96u << 20)
#define BACKUP_ZIP_MAX_ENTRY (64u << 20)
/* A zip file this large cannot hold less than the inflated cap allows
 * (stored entries plus headers). */
#define BACKUP_ZIP_MAX_FILE (BACKUP_ZIP_MAX_INFLATED + (1u << 20))

/* Does data start like a zip (a local file header)? */
bool backup_zip_sniff(const uint8_t *data, size_t len);

/* What happened to one entry: skipped (hidden, __MACOSX/, ._*, a directory
 * or not a .vult/.bak/.dat), or imported with ret and result as
 * store_import gives them. */
struct backup_zip_entry {
    const char *name; /* the entry's name in the zip */
    bool skipped;
    const char *skip_reason; /* set when skipped (foreach: when it is to be) */
    int ret;
    const struct store_import_result *result;
};

typedef void (*backup_zip_report)(void *ctx, const struct backup_zip_entry *entry);

/* Imports every backup entry of a zip held in memory (zip may be secret
 * memory: it is never copied), each under store_import's rules, and calls
 * report once per entry. Inflated entries live in alloc_secret memory and
 * are wiped. Returns 0 when every backup entry was stored or unchanged;
 * else the first refusal's -errno. Before importing anything: -EINVAL (not
 * a zip, damaged, or no backup entry in it), -EFBIG (over a cap: nothing is
 * imported), -EACCES (entries encrypted by zip itself), -ENOMEM. */
int backup_zip_import(struct store *store, const uint8_t *zip, size_t len,
                      backup_zip_report report, void *ctx) VULTFS_WUR;

/* backup_zip_import with each entry's bytes handed to import instead of
 * store_import (the mount decodes them without its lock and commits them
 * in groups): it returns and fills result as store_import does; bytes are
 * the zip reader's, wiped once it returns. */
typedef int (*backup_zip_importer)(void *ctx, const uint8_t *bytes, size_t len,
                                   struct store_import_result *result);
int backup_zip_import_with(const uint8_t *zip, size_t len, backup_zip_importer import,
                           void *import_ctx, backup_zip_report report,
                           void *ctx) VULTFS_WUR;

/* How many entries (skipped ones too) a zip's central directory lists,
 * reading nothing else: 0 when it is no zip or over the file cap. For a
 * count of what is to come (progress), never for a decision. */
size_t backup_zip_entry_count(const uint8_t *zip, size_t len);

/* Walks a zip held in memory for readers other than the store (check,
 * audit): the caps are checked first (-EFBIG, nothing walked), then each
 * entry is handed to each: skipped ones with skip_reason set, backup ones
 * inflated into secret memory (wiped after each returns) or with ret < 0
 * when damaged. each returns 0 to go on, -errno to stop with it. -EINVAL
 * when it is not a zip or holds no backup entry. */
typedef int (*backup_zip_each)(void *ctx, const struct backup_zip_entry *entry,
                               const uint8_t *bytes, size_t len);
int backup_zip_foreach(const uint8_t *zip, size_t len, backup_zip_each each,
                       void *ctx) VULTFS_WUR;

/* Writes a zip of named files (stored, not compressed: .vult text is
 * already base64 of ciphertext) to path, created 0600 and new (-EEXIST).
 * data may be secret; libzip reads it in place. A crash leaves no
 * partial path (libzip writes a temporary and renames it). */
struct backup_zip_file {
    const char *name;
    const uint8_t *data;
    size_t len;
};
int backup_zip_write(const char *path, const struct backup_zip_file *files,
                     size_t count) VULTFS_WUR;

#endif
