/*
 * staging: files being written into the mount, held in memory until they
 * are imported or dropped. Nothing here touches the store.
 *
 * A staging_file is a path that shows in the tree while it is being
 * written. Files with final names give every open its own buffer (two
 * writers of one name never mix their bytes) and leave the tree once they
 * are imported. Temporary names (hidden dotfiles, "*.part", "*~") share one
 * buffer that outlives release, because tools rename them after close,
 * often before the kernel's asynchronous release arrives; they stay until
 * renamed or unlinked, or until they expire: a file that no handle holds
 * and nobody renamed for STAGING_TTL_SECONDS vanishes (staging_expire), a
 * temporary a tool left behind as much as an empty file created and closed
 * without a write. Buffers are secret memory (alloc_secret) and never grow
 * past the import cap (a zip's cap for the apps' zips).
 *
 * All buffers together are held to a budget of locked memory
 * (staging_budget). A buffer is charged what it holds while that is at
 * most STAGING_SMALL; to grow past it, it must be admitted as a large file
 * and is charged its whole limit from then on, so that once admitted it
 * always has room to finish. Large files may reserve two files at the
 * import cap, or one zip at the zip cap (64 MiB at least); STAGING_SMALL_ROOM
 * more is kept for small files, so that a large copy never blocks a share
 * of a few KiB. A large file that would not fit is refused at once
 * (-ENOSPC, at the write that would take it past STAGING_SMALL), never
 * half-way: six copies of a 20 MiB zip at once let the first in to finish,
 * and tell the others to come back, instead of starving all six. A file
 * with a write refused (cut) is never imported: its bytes are not all
 * there.
 *
 * All state is in one struct staging that the caller owns; it is not
 * thread-safe, so the mount holds its lock (struct vultfs) around every
 * call. Nothing here needs FUSE: tests/unit/test_staging.c drives it.
 */
#ifndef VULTFS_STAGING_H
#define VULTFS_STAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* DESIGN, "Writing = importing": how long a closed staged file stays. */
#define STAGING_TTL_SECONDS 60
/* A buffer up to this size is charged what it holds; a larger one its
 * whole limit (the header says why). */
#define STAGING_SMALL (1u << 20)
/* Kept for small buffers beyond what large files may reserve. */
#define STAGING_SMALL_ROOM (8u << 20)

/* Why a file's bytes are not all there: a write was refused. */
struct staging_cut {
    int error;       /* 0, -ENOSPC (no room in staging) or -ENOMEM */
    size_t crowd;    /* with -ENOSPC: how many large files staging held then */
    bool unlockable; /* with -ENOMEM: the memory-lock limit (RLIMIT_MEMLOCK) refused it */
};

struct staging_buf {
    uint8_t *data; /* alloc_secret, or NULL while empty */
    size_t len, cap;
    size_t limit;  /* it never grows past this: staging_cap_for its path */
    bool large;    /* admitted past STAGING_SMALL: charged limit, not cap */
};

struct staging_file {
    char *path;    /* owned */
    bool temp;     /* temporary name: content lives in buf, shared by opens */
    bool gone;     /* unlinked, renamed away or imported: out of the tree */
    bool discarded; /* unlinked while open: never imported */
    bool imported; /* final name: an import ran; it leaves the tree once closed */
    bool shadow;   /* opened over a store file: leaves the tree once closed */
    bool too_big;  /* temp: a write went past the cap */
    struct staging_cut cut; /* temp: as the handle's, for the rename */
    unsigned opens;
    unsigned pins; /* staging_pin: kept (never expired or freed) meanwhile */
    uint64_t ino;
    struct timespec created;
    struct timespec idle_since; /* CLOCK_MONOTONIC: last release or rename */
    struct staging_buf buf; /* temp: the content */
    size_t size;            /* final names: size of the latest writer's buffer */
    struct staging_file *next;
};

struct staging_handle {
    struct staging_file *file;
    struct staging_buf buf; /* final names: this open's content */
    bool dirty;     /* written since the last import */
    bool too_big;   /* a write went past the cap */
    struct staging_cut cut; /* a write refused: never imported */
    bool imported;  /* an import ran (result holds its errno) */
    bool importing; /* a flush is importing it (without the mount's lock) */
    int result;
};

/* Every file being written, and the limits their buffers are held to. */
struct staging {
    struct staging_file *files;
    size_t cap_bytes;   /* the import cap: no buffer grows past it */
    size_t total_bytes; /* what all buffers are charged, held to staging_budget */
    size_t large_count; /* buffers admitted past STAGING_SMALL */
    size_t large_bytes; /* their limits, together */
    uint64_t next_ino;
    unsigned ttl_seconds; /* STAGING_TTL_SECONDS, unless a test sets another */
};

/* An empty staging area whose buffers are held to cap bytes. */
void staging_init(struct staging *st, size_t cap);
size_t staging_cap(const struct staging *st);
/* The cap for a file written at path: the import cap, or the apps' zip
 * cap (BACKUP_ZIP_MAX_FILE, when larger) for a zip in the root ("/x.zip")
 * and for a temporary there named after one (".x.zip.Ab12Cd"), so that a
 * 20 MiB "all vaults" zip can be copied in. */
size_t staging_cap_for(const struct staging *st, const char *path);

/* What all buffers together may be charged (bytes of locked memory). */
size_t staging_budget(const struct staging *st);

/* Hidden files (".name.XXXXXX", ".goutputstream-XXXXXX"), "*.part", "*~". */
bool staging_is_temp_name(const char *name);

/* The file at path that is in the tree, or NULL. Borrowed. */
struct staging_file *staging_find(const struct staging *st, const char *path);

/* Calls fn for each file in the tree directly inside dir ("/" or "/a/b"). */
void staging_foreach_in(const struct staging *st, const char *dir,
                        void (*fn)(void *ctx, const struct staging_file *file), void *ctx);
/* Whether any file in the tree lies below dir. */
bool staging_any_below(const struct staging *st, const char *dir);

/* Opens path for writing: makes the file when it is not in the tree
 * (shadow: over a store file, which shows again once this is closed).
 * initial (may be NULL) is the content a new buffer starts with (an
 * existing file opened without O_TRUNC); truncate empties a temporary's
 * shared buffer. *out is freed by staging_release. -ENOMEM, -EFBIG. */
int staging_open(struct staging_handle **out, struct staging *st, const char *path,
                 bool truncate, bool shadow, const uint8_t *initial, size_t initial_len);

/* -EFBIG past the cap, -ENOSPC past the budget (no room to admit it, or
 * none left), -ENOMEM; the handle remembers each (too_big, cut). */
int staging_write(struct staging *st, struct staging_handle *h, const void *data, size_t size,
                  off_t off);
/* Bytes read, at most size. */
size_t staging_read(struct staging_handle *h, void *data, size_t size, off_t off);
int staging_truncate(struct staging *st, struct staging_handle *h, off_t size);
/* For truncate(2) on a path without an open file: temporaries only (a
 * final name accepts only its current size, else -EPERM). */
int staging_truncate_file(struct staging *st, struct staging_file *file, off_t size);

/* Size shown by getattr. */
size_t staging_size(const struct staging_file *file);

/* Frees the handle (NULL is fine); an imported or shadowing file with no
 * opens left leaves the tree. A final name opened but never written stays
 * (touch; tar creates, sets xattrs, then opens again to write) until a
 * writer's import or until it expires; a temporary until renamed, unlinked
 * or expired.
 * mknod never makes a file here: the mount refuses it. */
void staging_release(struct staging *st, struct staging_handle *h);

/* Keeps file in memory while its caller works without the mount's lock
 * (an import decoding a renamed temporary): it does not expire and is not
 * freed, whatever else happens to it meanwhile, until staging_unpin,
 * which frees it if it left the tree and no open holds it. */
void staging_pin(struct staging_file *file);
void staging_unpin(struct staging *st, struct staging_file *file);

/* Takes the file out of the tree (freed once its last open is released). */
void staging_remove(struct staging *st, struct staging_file *file);

/* Moves a temporary to another path, replacing a temporary there. -ENOMEM. */
int staging_move(struct staging *st, struct staging_file *file, const char *to);

/* For tests only (the mount's VULTFS_TEST_STAGING_TTL): how long a closed
 * file stays, instead of STAGING_TTL_SECONDS. */
void staging_set_ttl(struct staging *st, unsigned seconds);

/* Takes out of the tree (and frees) every file that no handle holds and
 * that has been idle (released, renamed) for the TTL at now
 * (CLOCK_MONOTONIC). The mount calls it before each operation, so no one
 * can see an expired file, and when the next one is due (notify.h), so
 * that the kernel forgets it then. */
void staging_expire(struct staging *st, const struct timespec *now);
/* The same, calling gone(ctx, path) for each file just before it leaves
 * (so that the mount can tell the kernel, which caches entries). */
void staging_expire_each(struct staging *st, const struct timespec *now,
                         void (*gone)(void *ctx, const char *path), void *ctx);
/* When the next file expires (CLOCK_MONOTONIC) if nothing touches it:
 * true and *at, or false when none can (every file is open or pinned). */
bool staging_next_expiry(const struct staging *st, struct timespec *at);

/* Drops every file and buffer (unmount). */
void staging_clear(struct staging *st);

#endif
