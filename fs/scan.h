/*
 * scan: what `vultfs check` and `vultfs audit` read. Walks files and
 * directories (recursively, never following symbolic links, changing
 * nothing), decodes every file as a backup with the candidate passwords,
 * and keeps only public facts and epochs_describe's digests: no share
 * material outlives the reading of its file. Directories that are vultfs
 * stores (they hold vultfs.json) are listed, not entered. The apps'
 * multi-vault zips (*.zip) are walked: one item per backup entry, named
 * "FILE.zip:ENTRY".
 */
#ifndef VULTFS_SCAN_H
#define VULTFS_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "epochs.h"
#include "vult.h"

struct scan_item {
    char *path;
    int error; /* 0 read; -EINVAL not a backup or corrupt; -EACCES no password fits;
                  -EFBIG a zip over the apps' caps */
    bool backup_name; /* named like a backup (.vult, .bak, .dat) */
    /* when error == 0: public facts, NUL-terminated, owned by the scan */
    char *name;
    char *device;
    char *vault_key; /* ECDSA public key */
    char **signers;
    size_t signer_count;
    bool complete;
    char *incomplete; /* when not complete: what it lacks (completeness_describe) */
    size_t key_share_count;
    bool has_mldsa44;
    struct epochs_entry digest; /* owned: epochs_entry_clear in scan_free */
};

struct scan {
    struct scan_item *items;
    size_t count;
    char **stores; /* directories holding vultfs.json */
    size_t store_count;
};

/* Scans every path. Errors reading a file land in its item; only -ENOMEM
 * fails the scan. */
int scan_paths(struct scan *out, char *const *paths, size_t path_count,
               const struct vult_password *passwords, size_t password_count);

/* scan_paths, with progress (progress.h, started with total 0) counting
 * the files the walk reads: a first walk counts them. */
struct progress;
int scan_paths_counted(struct scan *out, char *const *paths, size_t path_count,
                       const struct vult_password *passwords, size_t password_count,
                       struct progress *progress);

/* Is dir a vultfs store (it holds vultfs.json)? */
bool scan_is_store(const char *dir);

/* A short reason for an unreadable item: "no password fits", ... */
const char *scan_reason(const struct scan_item *item);

void scan_free(struct scan *scan);

#endif
