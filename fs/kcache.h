/*
 * kcache: what the kernel's page cache holds of the store's files
 * (share.vult, history files, vault.json), by path, so that reads use it
 * and still never mix two contents.
 *
 * The kernel keeps one page cache and one size per inode, and the
 * high-level FUSE API gives a path one inode whatever its content: a
 * handle opened before an import that replaced share.vult reads the old
 * export, one opened after reads the new one. So a path's pages are used
 * (buffered, not direct I/O) only by handles that read one content: the
 * content key of the handles open on it. A handle whose content differs
 * from theirs reads with direct I/O, and while they are open a stat of the
 * path shows their size (a buffered read stops at the inode's size).
 * Until the kernel has been told of a change (kcache_changed, then
 * kcache_done once the notifier has told it), opens use direct I/O too,
 * and so do they while someone writes over the file: the kernel sets its
 * size to what a writer writes (0 at an O_TRUNC open), although readers
 * read the stored file until an import is accepted.
 *
 * Not thread-safe: the mount holds its lock around every call. No FUSE.
 */
#ifndef VULTFS_KCACHE_H
#define VULTFS_KCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"
#include "wur.h"

struct kcache_file {
    char *path;       /* owned; the map's key */
    uint64_t key;     /* the content the kernel's pages hold or may hold */
    size_t size;      /* its size */
    unsigned opens;   /* buffered handles open on key */
    unsigned pending; /* invalidations queued and not yet done */
    unsigned writers; /* handles writing over the store file at path */
    bool known;       /* the kernel may hold pages of key */
    bool stale;       /* the path's content changed while opens > 0 */
};

struct kcache {
    struct strmap by_path;
};

enum kcache_mode {
    KCACHE_DIRECT, /* direct I/O: another content holds the pages, or a change is pending */
    KCACHE_KEEP,   /* keep the kernel's pages: they hold this content */
    KCACHE_FRESH,  /* through the page cache, dropping what it held */
};

void kcache_init(struct kcache *c);
void kcache_free(struct kcache *c);

/* An open for reading of path, whose content is key (size bytes): how it
 * reads. For KEEP and FRESH, *file is set (else NULL): pass it to
 * kcache_release when the handle goes. -ENOMEM. */
int kcache_open(enum kcache_mode *mode, struct kcache_file **file, struct kcache *c,
                const char *path, uint64_t key, size_t size) VULTFS_WUR;
/* A buffered handle goes. true: the path changed while it was open, so
 * the kernel's size and pages of it are to be invalidated now (queue it,
 * kcache_changed). */
bool kcache_release(struct kcache_file *file);

/* A handle writing over the store file at path (kcache_write_end when it
 * goes). NULL: -ENOMEM (then readers may use the page cache meanwhile). */
struct kcache_file *kcache_write_begin(struct kcache *c, const char *path);
void kcache_write_end(struct kcache_file *file);

/* The size stat shows for path while buffered handles hold it open: true
 * and *size, else false (show the store's). */
bool kcache_held_size(const struct kcache *c, const char *path, size_t *size);

/* path's content or size changed: an invalidation of it is queued.
 * -ENOMEM (then opens of it stay buffered on the old key: the caller
 * must not queue, and nothing is pending). */
int kcache_changed(struct kcache *c, const char *path) VULTFS_WUR;
/* The queued invalidation of path was done. */
void kcache_done(struct kcache *c, const char *path);

#endif
