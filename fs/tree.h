/*
 * tree: what a path in the mount names. The store's vaults and epochs,
 * directories made by mkdir (placeholders, kept in memory until removed or
 * unmounted) and files being written (staging). Also where a new file at a
 * path would be imported.
 *
 * A directory made by mkdir is a restore in progress, and copying tools
 * create what they copy with O_EXCL and mkdir without looking first, in
 * any order. So it shows only what was put into it: its history/ once
 * made, its vault.json once written, share.vult once imported; even after
 * a share has turned it into a vault's directory.
 *
 *   /                              TREE_ROOT
 *   /<dir>                         TREE_VAULT or TREE_PLACEHOLDER
 *   /<dir>/history                 TREE_HISTORY
 *   /<dir>/share.vult              TREE_SHARE (when the vault has a current epoch)
 *   /<dir>/vault.json              TREE_JSON
 *   /<dir>/history/epoch-N.vult    TREE_EPOCH (a superseded epoch)
 *   any of the file names          TREE_STAGED while being written
 *
 * Results borrow from the store: valid until the next import. A struct
 * tree is not thread-safe: the mount holds its lock (struct vultfs) around
 * every call. Nothing here needs FUSE: tests/unit/test_tree.c drives it.
 */
#ifndef VULTFS_TREE_H
#define VULTFS_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "staging.h"
#include "store.h"

#define TREE_ROOT_INO 1
#define TREE_NAME_MAX 255

enum tree_kind {
    TREE_NONE, /* nothing there (parent says whether a file could be made) */
    TREE_ROOT,
    TREE_VAULT,       /* a vault's directory (placeholder set if made by mkdir) */
    TREE_PLACEHOLDER, /* made by mkdir, no share in it yet */
    TREE_HISTORY,
    TREE_SHARE,
    TREE_JSON,
    TREE_EPOCH,
    TREE_STAGED,
};

/* What holds the path's last component. */
enum tree_parent {
    TREE_IN_NOTHING, /* the parent does not exist: ENOENT */
    TREE_IN_FILE,    /* the parent is a file: ENOTDIR */
    TREE_IN_ROOT,
    TREE_IN_DIR,     /* a vault directory or placeholder */
    TREE_IN_HISTORY,
};

struct tree_placeholder {
    char *name;
    uint64_t ino; /* the history directory inside is ino + 1 */
    struct timespec created;
    bool history_made;
    bool json_written;
    pid_t maker;       /* the process that made it (0: unknown) */
    bool other_writer; /* another process created a file in it */
    struct tree_placeholder *next;
};

struct tree_node {
    enum tree_kind kind;
    enum tree_kind under; /* TREE_STAGED: the store file it shadows, or TREE_NONE */
    enum tree_parent parent;
    char dir[TREE_NAME_MAX + 1];  /* the vault directory component, if any */
    char name[TREE_NAME_MAX + 1]; /* the last component ("" for the root) */
    bool temp;                    /* name is a temporary one */
    uint64_t slot;                /* name is epoch-N.vult, 1 <= N <= EPOCHS_MAX_SLOT: N, else 0 */
    bool bad_slot;                /* name is epoch-*.vult, but not such an N */
    const struct store_vault *vault;      /* the directory's vault, if held */
    const struct store_epoch *epoch;      /* TREE_SHARE, TREE_EPOCH */
    struct tree_placeholder *placeholder; /* the directory was made by mkdir */
    struct staging_file *staged;          /* TREE_STAGED */
};

/* What the tree is made of: the store and staging (borrowed) and the
 * placeholders (owned, in the order they were made). */
struct tree {
    const struct store *store;
    const struct staging *staging;
    struct tree_placeholder *placeholders;
    uint64_t next_placeholder_ino;
};

void tree_init(struct tree *t, const struct store *store, const struct staging *staging);

/* Fills *out for path (absolute). -ENAMETOOLONG for a long component;
 * otherwise 0, with kind TREE_NONE when nothing is there. */
int tree_resolve(struct tree_node *out, const struct tree *t, const char *path);

/* "epoch-N.vult" -> N (canonical decimal, 1 <= N <= EPOCHS_MAX_SLOT),
 * else 0. */
uint64_t tree_epoch_slot(const char *name);
/* Does name look like epoch-<anything>.vult without being a slot above
 * (epoch-0, epoch-01, epoch-+5, epoch-4294967295)? Creating one is
 * EINVAL: a history slot must be a number from 1 to EPOCHS_MAX_SLOT. */
bool tree_is_bad_slot(const char *name);

bool tree_is_dir(enum tree_kind kind);

/* 0 when something is at n, else the errno a lookup gives (-ENOENT, or
 * -ENOTDIR below a file). */
int tree_exists(const struct tree_node *n);

/* A directory made by mkdir at /name, by process maker. -ENOMEM. */
int tree_placeholder_add(struct tree *t, const char *name, pid_t maker);
void tree_placeholder_remove(struct tree *t, struct tree_placeholder *p);
/* After a share was imported into the directory made by mkdir at /name:
 * when no restore is under way there, the placeholder goes, so the vault
 * shows whole (history/, vault.json) at once rather than after a
 * remount. A tool copying a whole tree (cp -a, tar) makes the directory
 * and its files itself and expects it empty of what it has not made yet;
 * a person runs mkdir and then cp. So: a file was made there by another
 * process than mkdir's, and neither history/ nor vault.json was. True
 * when it went. */
bool tree_placeholder_retire(struct tree *t, const char *name);
/* Drops every placeholder (unmount). */
void tree_placeholder_clear(struct tree *t);

#endif
