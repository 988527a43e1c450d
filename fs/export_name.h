/*
 * export_name: the file name the Vultisig apps give an export,
 * "<name>-<last 4 hex>-share<i>of<n>.vult" ("part" for GG20, so that the
 * desktop app does not take a GG20 file for DKLS), for `vultfs export`
 * into a directory. Made by vult_suggested_filename, as `inspect` shows it.
 */
#ifndef VULTFS_EXPORT_NAME_H
#define VULTFS_EXPORT_NAME_H

#include <stdint.h>

struct store;

/* The name of epoch's export of the vault in directory dir_name. *out is
 * alloc_bytes (caller alloc_frees). 0, -ENOENT or -ENOMEM. */
int export_name(char **out, const struct store *store, const char *dir_name, uint64_t epoch);

#endif
