#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "attr.h"
#include "commit.h"
#include "log.h"
#include "vultfs.h"

enum handle_kind {
    HANDLE_EXPORT, /* a .vult file read: the store's cached export */
    HANDLE_JSON,   /* vault.json read: a snapshot */
    HANDLE_STAGE,  /* anything opened for writing, and staged files */
};

struct handle {
    enum handle_kind kind;
    const uint8_t *data; /* EXPORT: export; JSON: json */
    size_t len;
    uint8_t *export; /* owned (alloc_secret): this open's copy of the export */
    char *json;      /* owned (alloc_bytes) */
    struct staging_handle *stage;
};

static struct handle *handle_of(const struct fuse_file_info *fi)
{
    return fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
}

const struct staging_file *files_staged(const struct fuse_file_info *fi)
{
    const struct handle *h = handle_of(fi);
    return h && h->kind == HANDLE_STAGE ? h->stage->file : NULL;
}

static int handle_new(struct fuse_file_info *fi, enum handle_kind kind)
{
    struct handle *h = alloc_zeroed(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->kind = kind;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static void handle_free(struct vultfs *fs, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);

    if (!h)
        return;
    staging_release(&fs->staging, h->stage);
    alloc_secret_free(h->export);
    alloc_free(h->json);
    alloc_free(h);
    fi->fh = 0;
}

/* Opens n (at path) for writing: a staging buffer that starts with the
 * file's content, or empty with O_TRUNC. */
static int open_write(struct vultfs *fs, const char *path, const struct tree_node *n,
                      bool truncate, struct fuse_file_info *fi)
{
    bool shadow = n->kind == TREE_SHARE || n->kind == TREE_EPOCH || n->kind == TREE_JSON;
    const uint8_t *initial = NULL;
    size_t initial_len = 0;
    char *json = NULL;
    int ret = 0;

    if (!truncate && (n->kind == TREE_SHARE || n->kind == TREE_EPOCH))
        ret = store_export(&initial, &initial_len, fs->store, n->vault, n->epoch->number);
    else if (!truncate && n->kind == TREE_JSON)
        ret = store_vault_json(&json, &initial_len, fs->store, n->vault);
    if (ret < 0)
        return ret;
    if (json)
        initial = (const uint8_t *)json;
    ret = handle_new(fi, HANDLE_STAGE);
    if (ret == 0) {
        ret = staging_open(&handle_of(fi)->stage, &fs->staging, path, truncate, shadow, initial,
                           initial_len);
        if (ret < 0)
            handle_free(fs, fi);
    }
    alloc_free(json);
    fi->direct_io = 1;
    return ret;
}

int files_op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct op op;
    const struct tree_node *n = &op.node;
    int ret = op_begin(&op, path);

    (void)mode;
    if (ret < 0)
        return op_end(&op, ret);
    if (tree_is_dir(n->kind))
        ret = -EISDIR;
    else if (n->kind != TREE_NONE)
        ret = (fi->flags & O_EXCL) ? -EEXIST
                                   : open_write(op.fs, path, n, fi->flags & O_TRUNC, fi);
    else if ((ret = commit_can_create(n)) == 0)
        ret = open_write(op.fs, path, n, true, fi);
    return op_end(&op, ret);
}

/* This open's own copy of an epoch's export: an import that replaces the
 * epoch (or anything the store's cache does) never changes what an open
 * handle reads. Unencrypted exports are the share itself: secret memory. */
static int copy_export(struct handle *h, struct vultfs *fs, const struct tree_node *n)
{
    const uint8_t *data;
    size_t len;
    int ret = store_export(&data, &len, fs->store, n->vault, n->epoch->number);

    if (ret < 0)
        return ret;
    h->export = alloc_secret(len ? len : 1);
    if (!h->export)
        return -ENOMEM;
    memcpy(h->export, data, len);
    h->data = h->export;
    h->len = len;
    return 0;
}

/* A read-only open of a store file (kind: TREE_SHARE, TREE_EPOCH or
 * TREE_JSON): a snapshot of its export or of vault.json. share.vult and
 * vault.json change with imports, and the kernel's page cache is one per
 * file, not per open: a handle opened before an import would fill it
 * with the old bytes under the new size. Those two are read with direct
 * I/O, so every read comes from its own handle's snapshot. History files
 * never change within a mount and stay cached. */
static int open_read(struct vultfs *fs, const char *path, const struct tree_node *n,
                     enum tree_kind kind, struct fuse_file_info *fi)
{
    struct handle *h;
    int ret = handle_new(fi, kind == TREE_JSON ? HANDLE_JSON : HANDLE_EXPORT);

    if (ret < 0)
        return ret;
    h = handle_of(fi);
    if (kind == TREE_JSON) {
        ret = store_vault_json(&h->json, &h->len, fs->store, n->vault);
        h->data = (const uint8_t *)h->json;
    } else {
        ret = copy_export(h, fs, n);
        if (ret == -EIO || ret == -EBADMSG)
            log_err("reading %s: the record of vault '%s' is damaged (%s); run vultfs fsck, "
                    "then import a good copy of the share to repair it",
                    path, n->vault->dir_name, strerror(-ret));
        else if (ret < 0)
            log_err("reading %s: %s", path, strerror(-ret));
    }
    if (ret < 0)
        handle_free(fs, fi);
    fi->direct_io = kind != TREE_EPOCH;
    return ret;
}

/* What a read-only open of n reads: the store file, also while someone
 * writes over it (a staged shadow), until an import is accepted. */
static enum tree_kind read_kind(const struct tree_node *n)
{
    return n->kind == TREE_STAGED ? n->under : n->kind;
}

int files_op_open(const char *path, struct fuse_file_info *fi)
{
    struct op op;
    const struct tree_node *n = &op.node;
    int ret = op_begin_existing(&op, path);

    if (ret < 0)
        return op_end(&op, ret);
    if (tree_is_dir(n->kind))
        ret = -EISDIR;
    else if ((fi->flags & O_ACCMODE) != O_RDONLY || read_kind(n) == TREE_NONE)
        ret = open_write(op.fs, path, n, fi->flags & O_TRUNC, fi);
    else
        ret = open_read(op.fs, path, n, read_kind(n), fi);
    return op_end(&op, ret);
}

int files_op_read(const char *path, char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret = 0;

    (void)path;
    if (!h)
        return -EBADF;
    op_begin_handle(&op);
    if (h->kind == HANDLE_STAGE) {
        ret = (int)staging_read(h->stage, buf, size, off);
    } else if (off >= 0 && (size_t)off < h->len) {
        size_t n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
        memcpy(buf, h->data + off, n);
        ret = (int)n;
    }
    return op_end(&op, ret);
}

/* What a tool writes is a share in plaintext (or its export password's
 * ciphertext), and buf is libfuse's own memory: its receive buffer, or a
 * heap copy it frees without wiping when the request came through a pipe.
 * Either would keep the bytes in ordinary memory (not locked, dumpable)
 * until reused. libfuse has no further use for them once write returns,
 * so buf is wiped here, once the bytes are in staging's secret memory (or
 * refused): casting away its const is the point. */
static void wipe_written(const char *buf, size_t size)
{
    sodium_memzero((void *)(uintptr_t)buf, size);
}

int files_op_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret;

    (void)path;
    if (!h || h->kind != HANDLE_STAGE) {
        wipe_written(buf, size);
        return -EBADF;
    }
    op_begin_handle(&op);
    ret = staging_write(&op.fs->staging, h->stage, buf, size, off);
    wipe_written(buf, size);
    return op_end(&op, ret < 0 ? ret : (int)size);
}

/* Imports what s holds, once per batch of writes. */
static int flush_stage(struct vultfs *fs, struct staging_handle *s)
{
    struct staging_file *f = s->file;
    struct tree_node at;
    int ret;

    if (f->temp) /* imported when renamed onto a final name, if ever */
        return s->too_big ? -EFBIG : 0;
    while (s->importing) /* by another flush of this open, without the lock */
        pthread_cond_wait(&fs->commit_done, &fs->lock);
    if (!s->dirty)
        return s->imported ? s->result : 0;
    s->dirty = false;
    if (f->discarded)
        return 0;
    ret = tree_resolve(&at, &fs->tree, f->path);
    s->importing = true;
    if (ret == 0)
        ret = commit_write(fs, f->path, &at, s->buf.data, s->buf.len, s->too_big);
    s->importing = false;
    pthread_cond_broadcast(&fs->commit_done);
    s->imported = true;
    s->result = ret;
    f->imported = true;
    /* imported or refused, the file leaves the tree (what it became shows) */
    if (f->opens == 1)
        f->gone = true;
    return ret;
}

/* close(): a file with a final name is imported here, so its errno reaches
 * the tool. A flush with nothing new written (a dup'ed descriptor closed,
 * as shells do for redirections) repeats the last result. */
int files_op_flush(const char *path, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;

    (void)path;
    if (!h || h->kind != HANDLE_STAGE)
        return 0;
    op_begin_handle(&op);
    return op_end(&op, flush_stage(op.fs, h->stage));
}

/* fsync asks for what close does here: the bytes checked and stored
 * (dd conv=fsync, rsync --fsync), so a file with a final name is imported
 * now and fsync gets the errno; the close that follows repeats the result
 * and imports nothing again. Temporaries have nothing to store until they
 * are renamed. */
int files_op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    return files_op_flush(path, fi);
}

int files_op_release(const char *path, struct fuse_file_info *fi)
{
    struct op op;

    (void)path;
    op_begin_handle(&op);
    handle_free(op.fs, fi);
    return op_end(&op, 0);
}

/* A path without an open file: only a staged one changes; a store file
 * accepts its own size (a write is an import: open it). */
static int truncate_path(struct op *op, off_t size)
{
    struct stat st;
    int ret = attr_of(op->fs, &st, &op->node);

    if (ret < 0)
        return ret;
    if (tree_is_dir(op->node.kind))
        return -EISDIR;
    if (op->node.kind == TREE_STAGED)
        return staging_truncate_file(&op->fs->staging, op->node.staged, size);
    return size == st.st_size ? 0 : -EPERM;
}

int files_op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret;

    if (h && h->kind == HANDLE_STAGE) {
        op_begin_handle(&op);
        return op_end(&op, staging_truncate(&op.fs->staging, h->stage, size));
    }
    ret = op_begin(&op, path);
    if (ret == 0)
        ret = truncate_path(&op, size);
    return op_end(&op, ret);
}
