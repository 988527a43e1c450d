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
 * renamed, unlinked or unmounted. Buffers are secret memory (alloc_secret)
 * and never grow past the import cap. Not thread-safe: callers serialize.
 */
#ifndef VULTFS_STAGING_H
#define VULTFS_STAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct staging_buf {
    uint8_t *data; /* alloc_secret, or NULL while empty */
    size_t len, cap;
};

struct staging_file {
    char *path;    /* owned */
    bool temp;     /* temporary name: content lives in buf, shared by opens */
    bool gone;     /* unlinked, renamed away or imported: out of the tree */
    bool discarded; /* unlinked while open: never imported */
    bool imported; /* final name: an import ran; it leaves the tree once closed */
    bool shadow;   /* opened over a store file: leaves the tree once closed */
    bool too_big;  /* temp: a write went past the cap */
    unsigned opens;
    uint64_t ino;
    struct timespec created;
    struct staging_buf buf; /* temp: the content */
    size_t size;            /* final names: size of the latest writer's buffer */
    struct staging_file *next;
};

struct staging_handle {
    struct staging_file *file;
    struct staging_buf buf; /* final names: this open's content */
    bool dirty;     /* written since the last import */
    bool too_big;   /* a write went past the cap */
    bool imported;  /* an import ran (result holds its errno) */
    int result;
};

/* Sets the import cap (bytes) every buffer is held to. */
void staging_set_cap(size_t cap);
size_t staging_cap(void);

/* Hidden files (".name.XXXXXX", ".goutputstream-XXXXXX"), "*.part", "*~". */
bool staging_is_temp_name(const char *name);

/* The file at path that is in the tree, or NULL. Borrowed. */
struct staging_file *staging_find(const char *path);

/* Calls fn for each file in the tree directly inside dir ("/" or "/a/b"). */
void staging_foreach_in(const char *dir, void (*fn)(void *ctx, const struct staging_file *file),
                        void *ctx);
/* Whether any file in the tree lies below dir. */
bool staging_any_below(const char *dir);

/* Opens path for writing: makes the file when it is not in the tree
 * (shadow: over a store file, which shows again once this is closed).
 * initial (may be NULL) is the content a new buffer starts with (an
 * existing file opened without O_TRUNC); truncate empties a temporary's
 * shared buffer. *out is freed by staging_release. -ENOMEM, -EFBIG. */
int staging_open(struct staging_handle **out, const char *path, bool truncate, bool shadow,
                 const uint8_t *initial, size_t initial_len);

/* The buffer a handle reads and writes: the shared one for temporaries. */
struct staging_buf *staging_buffer(struct staging_handle *h);

/* -EFBIG past the cap (the handle remembers it), -ENOMEM. */
int staging_write(struct staging_handle *h, const void *data, size_t size, off_t off);
/* Bytes read, at most size. */
size_t staging_read(struct staging_handle *h, void *data, size_t size, off_t off);
int staging_truncate(struct staging_handle *h, off_t size);
/* For truncate(2) on a path without an open file: temporaries only. */
int staging_truncate_file(struct staging_file *file, off_t size);

/* Size shown by getattr. */
size_t staging_size(const struct staging_file *file);

/* Frees the handle; an imported file with no opens left leaves the tree.
 * One never written stays (mknod, touch: tar sets xattrs before it writes). */
void staging_release(struct staging_handle *h);

/* Takes the file out of the tree (freed once its last open is released). */
void staging_remove(struct staging_file *file);

/* Moves a temporary to another path, replacing a temporary there. -ENOMEM. */
int staging_move(struct staging_file *file, const char *to);

/* Drops every file and buffer (unmount). */
void staging_clear(void);

#endif
