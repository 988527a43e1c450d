/*
 * import_zip: importing the apps' multi-vault .zip backups, for
 * `vultfs import STORE FILE.zip` and for a zip copied into the mount root.
 * One line per entry (skipped ones too), then one for the whole zip.
 */
#ifndef VULTFS_IMPORT_ZIP_H
#define VULTFS_IMPORT_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup_zip.h"

struct store;

/* Is path named like a zip (".zip", any case)? */
bool import_zip_named(const char *path);

/* Imports every entry of the zip in data (named path in messages).
 * Accepted entries are reported on stdout when to_stdout (the CLI), else
 * through the log (the mount); refusals always through the log. Returns 0
 * when every entry was stored or unchanged, else the first refusal's errno
 * (see backup_zip_import). */
int import_zip_data(struct store *store, const char *path, const uint8_t *data, size_t len,
                    bool to_stdout);

/* import_zip_data for the mount (through the log), each backup entry's
 * bytes handed to import (backup_zip_import_with) instead of imported into
 * a store at once; the zip is one batch (generations.h), the store at
 * store_dir. */
int import_zip_data_with(const char *path, const char *store_dir, const uint8_t *data,
                         size_t len, backup_zip_importer import, void *import_ctx);

/* Reads the file at path (into secret memory) and imports it as above.
 * progress (may be NULL) has the zip as one unit to do: that becomes one
 * unit per entry once they are counted, each stepped as it is imported.
 * Each new generation is noted in generations (the caller's batch; may be
 * NULL). */
struct progress;
struct generations;
int import_zip_file(struct store *store, const char *path, struct progress *progress,
                    struct generations *generations);

#endif
