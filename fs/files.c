#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "attr.h"
#include "commit.h"
#include "log.h"
#include "vultfs.h"

enum handle_kind {
    HANDLE_EXPORT, /* a .vult file read: its export, made on first read */
    HANDLE_JSON,   /* vault.json read: a snapshot */
    HANDLE_STAGE,  /* anything opened for writing, and staged files */
};

struct handle {
    enum handle_kind kind;
    struct store_export_ref ref; /* EXPORT: what the bytes are made of */
    const uint8_t *data; /* JSON: json */
    size_t len;
    char *json; /* owned (alloc_bytes) */
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

/* A read-only open of a store file: its export, or a vault.json snapshot. */
static int open_read(struct vultfs *fs, const char *path, const struct tree_node *n,
                     struct fuse_file_info *fi)
{
    struct handle *h;
    int ret = handle_new(fi, n->kind == TREE_JSON ? HANDLE_JSON : HANDLE_EXPORT);

    if (ret < 0)
        return ret;
    h = handle_of(fi);
    if (n->kind == TREE_JSON) {
        ret = store_vault_json(&h->json, &h->len, fs->store, n->vault);
        h->data = (const uint8_t *)h->json;
    } else {
        /* the bytes come on read (often from the page cache instead) */
        ret = store_export_ref(&h->ref, fs->store, n->vault, n->epoch->number);
    }
    if (ret < 0)
        handle_free(fs, fi);
    return ret;
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
    else if ((fi->flags & O_ACCMODE) != O_RDONLY || n->kind == TREE_STAGED)
        ret = open_write(op.fs, path, n, fi->flags & O_TRUNC, fi);
    else
        ret = open_read(op.fs, path, n, fi);
    return op_end(&op, ret);
}

int files_op_read(const char *path, char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret = 0;

    if (!h)
        return -EBADF;
    op_begin_handle(&op);
    if (h->kind == HANDLE_STAGE) {
        ret = (int)staging_read(h->stage, buf, size, off);
    } else if (h->kind == HANDLE_EXPORT) {
        ret = (int)store_export_read(op.fs->store, &h->ref, buf, size, off);
        if (ret < 0)
            log_err("reading %s: %s", path ? path : "an open file", strerror(-ret));
    } else if (off >= 0 && (size_t)off < h->len) {
        size_t n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
        memcpy(buf, h->data + off, n);
        ret = (int)n;
    }
    return op_end(&op, ret);
}

int files_op_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret;

    (void)path;
    if (!h || h->kind != HANDLE_STAGE)
        return -EBADF;
    op_begin_handle(&op);
    ret = staging_write(&op.fs->staging, h->stage, buf, size, off);
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
    if (!s->dirty)
        return s->imported ? s->result : 0;
    s->dirty = false;
    if (f->discarded)
        return 0;
    ret = tree_resolve(&at, &fs->tree, f->path);
    if (ret == 0)
        ret = commit_write(fs, f->path, &at, s->buf.data, s->buf.len, s->too_big);
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
