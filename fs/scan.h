/*
 * scan: what `vultfs check` and `vultfs audit` read. Walks files and
 * directories (recursively, changing nothing), decodes every file as a
 * backup with the candidate passwords, and keeps only public facts and
 * epochs_describe's digests: no share material outlives the reading of its
 * file. Directories that are vultfs stores (they hold vultfs.json) are
 * listed, not entered. The apps' multi-vault zips (*.zip) are walked: one
 * item per backup entry, named "FILE.zip:ENTRY".
 *
 * Symbolic links are followed, given or found, to files and directories
 * alike: a backup kept through a link is still kept there. Each directory
 * (by device and inode) is entered once, so a link back up the tree ends
 * there; the walk goes SCAN_MAX_DEPTH directories deep. Nothing is passed
 * over in silence: what cannot be read (a dangling link, a file or
 * directory the user may not read, a tree too deep) is an item with an
 * error, and what is passed over on purpose (a directory entered already,
 * a FIFO, socket or device met in a directory, which is never opened) is
 * listed in skipped.
 */
#ifndef VULTFS_SCAN_H
#define VULTFS_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "epochs.h"
#include "vult.h"

#define SCAN_MAX_DEPTH 256

struct scan_item {
    char *path;
    int error; /* 0 read; -EINVAL not a backup or corrupt; -EACCES no password fits;
                  -EFBIG a zip over the apps' caps; with unread, why it was not read */
    bool unread;      /* error came from reaching or reading the file, not from decoding it */
    const char *why;  /* what errno alone would not say: what was in the way (unread), or
                         why a file is no backup (-EINVAL); static text */
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

/* Something passed over on purpose (scan.h's header says what). */
struct scan_skip {
    char *path;
    const char *why; /* static text */
};

struct scan {
    struct scan_item *items;
    size_t count;
    char **stores; /* directories holding vultfs.json */
    size_t store_count;
    struct scan_skip *skipped;
    size_t skipped_count;
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

/* A short reason for an item that is not a share that was read ("cannot
 * read it: Permission denied", "encrypted, and no password given fits",
 * ...), into out (cap bytes). */
void scan_reason(char *out, size_t cap, const struct scan_item *item);

/* An item that was read and is no backup at all (not unreadable, not a
 * damaged backup): reports leave it out or say so, and it is no failure. */
bool scan_not_backup(const struct scan_item *item);

void scan_free(struct scan *scan);

#endif
