#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>
#include <xxhash.h>

#include "alloc.h"
#include "attr.h"
#include "commit.h"
#include "log.h"
#include "notify.h"
#include "op.h"
#include "vultfs.h"

enum handle_kind {
    HANDLE_EXPORT, /* a .vult file read: an epoch's export, by its share record */
    HANDLE_JSON,   /* vault.json read: a snapshot */
    HANDLE_STAGE,  /* anything opened for writing, and staged files */
};

struct handle {
    enum handle_kind kind;
    struct store_export_ref ref; /* EXPORT: the record its export is made of */
    size_t len;                  /* EXPORT, JSON: the content's size */
    char *json;                  /* owned (alloc_bytes) */
    struct kcache_file *cached;  /* read through the page cache (kcache.h), or NULL */
    struct kcache_file *writing; /* writes over a store file (kcache.h), or NULL */
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

/* Releases a staged file's handle; a file that leaves the tree with it (an
 * import ran, or it was written over a store file) is told to the kernel. */
static void release_stage(struct vultfs *fs, struct staging_handle *stage)
{
    char *path = stage ? alloc_strndup(stage->file->path, strlen(stage->file->path)) : NULL;

    staging_release(&fs->staging, stage);
    if (path && !staging_find(&fs->staging, path))
        notify_left(fs, path);
    else if (path)
        notify_staged_idle(fs); /* it may expire now */
    alloc_free(path);
}

static void handle_free(struct vultfs *fs, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);

    if (!h)
        return;
    release_stage(fs, h->stage);
    notify_reader_end(fs, h->cached);
    notify_writer_end(h->writing);
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

/* What a read-only open of n reads: the store file, also while someone
 * writes over it (a staged shadow), until an import is accepted. */
static enum tree_kind read_kind(const struct tree_node *n)
{
    return n->kind == TREE_STAGED ? n->under : n->kind;
}

/* Opens for writing; over a store file only once the readers that read it
 * through the page cache have gone (kcache.h says why). */
static int open_write_gated(struct op *op, const char *path, bool truncate,
                            struct fuse_file_info *fi)
{
    enum tree_kind stored = read_kind(&op->node);
    struct kcache_file *writing = NULL;
    bool waited = false;
    int ret = 0;

    if (stored == TREE_SHARE || stored == TREE_EPOCH || stored == TREE_JSON)
        writing = notify_writer_begin(op->fs, path, &waited);
    if (waited) /* the lock was let go: the store may have changed */
        ret = tree_resolve(&op->node, &op->fs->tree, path);
    if (ret == 0)
        ret = open_write(op->fs, path, &op->node, truncate, fi);
    if (ret == 0)
        handle_of(fi)->writing = writing;
    else
        notify_writer_end(writing);
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
                                   : open_write_gated(&op, path, fi->flags & O_TRUNC, fi);
    else if ((ret = commit_can_create(n)) == 0)
        ret = open_write(op.fs, path, n, true, fi);
    /* a file made in a directory that another process made (tree.h) */
    if (ret == 0 && n->placeholder && n->parent == TREE_IN_DIR &&
        vultfs_caller_process() != n->placeholder->maker)
        n->placeholder->other_writer = true;
    return op_end(&op, ret);
}

static int log_read_error(const char *path, const struct tree_node *n, int ret)
{
    if (ret == -EIO || ret == -EBADMSG)
        log_err("reading %s: the record of vault '%s' is damaged (%s); run vultfs fsck, "
                "then import a good copy of the share to repair it",
                path, n->vault->dir_name, strerror(-ret));
    else if (ret < 0)
        log_err("reading %s: %s", path, strerror(-ret));
    return ret;
}

/* An epoch's export is read by the share record it is made of: an import
 * that replaces the epoch never changes what an open handle reads (the
 * export of a record is the same bytes for the whole mount, remade when
 * the store's bounded cache dropped it). */
static int export_ref(struct handle *h, struct vultfs *fs, const char *path,
                      const struct tree_node *n)
{
    h->len = n->epoch->export_size;
    return log_read_error(path, n,
                          store_export_ref(&h->ref, fs->store, n->vault, n->epoch->number));
}

/* Makes the export now (the reads that follow find it in the store's
 * cache), so that a damaged record fails the open. */
static int export_make(struct vultfs *fs, const char *path, const struct tree_node *n)
{
    const uint8_t *data;
    size_t len;
    return log_read_error(path, n,
                          store_export(&data, &len, fs->store, n->vault, n->epoch->number));
}

/* What the content of h is, for kcache: the share record (its export is
 * fixed for the mount) or vault.json's text. */
static uint64_t content_key(const struct handle *h)
{
    if (h->kind == HANDLE_JSON)
        return XXH3_64bits(h->json, h->len);
    return XXH3_64bits(h->ref.record, strlen(h->ref.record));
}

/* How the kernel reads what h holds: its page cache when kcache says the
 * pages hold this content or no other (keep_cache when they already hold
 * it), direct I/O otherwise (kcache.h says why). */
static int choose_caching(struct handle *h, struct vultfs *fs, const char *path,
                          struct fuse_file_info *fi)
{
    struct kcache *cache = notify_kcache(fs);
    enum kcache_mode mode = KCACHE_DIRECT;
    int ret = 0;

    if (cache)
        ret = kcache_open(&mode, &h->cached, cache, path, content_key(h), h->len);
    fi->direct_io = mode == KCACHE_DIRECT;
    fi->keep_cache = mode == KCACHE_KEEP;
    fi->noflush = 1; /* a read-only handle has nothing to flush: no request at close */
    return ret;
}

/* A read-only open of a store file (kind: TREE_SHARE, TREE_EPOCH or
 * TREE_JSON): its export or a snapshot of vault.json, read through the
 * kernel's page cache as choose_caching says. */
static int open_read(struct vultfs *fs, const char *path, const struct tree_node *n,
                     enum tree_kind kind, struct fuse_file_info *fi)
{
    struct handle *h;
    int ret = handle_new(fi, kind == TREE_JSON ? HANDLE_JSON : HANDLE_EXPORT);

    if (ret < 0)
        return ret;
    h = handle_of(fi);
    if (kind == TREE_JSON)
        ret = store_vault_json(&h->json, &h->len, fs->store, n->vault);
    else
        ret = export_ref(h, fs, path, n);
    if (ret == 0)
        ret = choose_caching(h, fs, path, fi);
    /* pages the kernel keeps need no export (a warm read makes none) */
    if (ret == 0 && kind != TREE_JSON && !fi->keep_cache)
        ret = export_make(fs, path, n);
    if (ret < 0)
        handle_free(fs, fi);
    return ret;
}

int files_op_open(const char *path, struct fuse_file_info *fi)
{
    struct op op;
    const struct tree_node *n = &op.node;
    int ret = op_begin_existing(&op, path);

    /* a name an import just took still answers lookups (landed.h): a
     * write there is a new file, and nothing is there to read */
    if (ret == -ENOENT && landed_find(&op.fs->landed, path)) {
        bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
        ret = writing ? commit_can_create(n) : -ENOENT;
        if (ret == 0)
            ret = open_write(op.fs, path, n, true, fi);
        return op_end(&op, ret);
    }
    /* the kernel opens only what it has an entry of: one for a file that
     * has left the tree since is stale, and ESTALE makes it look again
     * (then a create goes ahead) */
    if (ret == -ENOENT)
        ret = -ESTALE;
    if (ret < 0)
        return op_end(&op, ret);
    if (tree_is_dir(n->kind))
        ret = -EISDIR;
    else if ((fi->flags & O_ACCMODE) != O_RDONLY || read_kind(n) == TREE_NONE)
        ret = open_write_gated(&op, path, fi->flags & O_TRUNC, fi);
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
    } else if (h->kind == HANDLE_EXPORT) {
        ret = (int)store_export_read(op.fs->store, &h->ref, buf, size, off);
    } else if (off >= 0 && (size_t)off < h->len) {
        size_t n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
        memcpy(buf, h->json + off, n);
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
    if (ret == 0 && s->cut.error && !s->too_big) { /* its bytes are not all there */
        ret = commit_refuse_cut_short(fs, f->path, &s->cut);
    } else if (ret == 0) {
        uint64_t generation = store_generation(fs->store);
        ret = commit_write(fs, f->path, &at, s->buf.data, s->buf.len, s->too_big);
        notify_commit(fs, f->path, generation);
    }
    s->importing = false;
    pthread_cond_broadcast(&fs->commit_done);
    s->imported = true;
    s->result = ret;
    f->imported = true;
    /* imported or refused, the file leaves the tree (what it became shows) */
    if (f->opens == 1) {
        f->gone = true;
        notify_left(fs, f->path);
    }
    return ret;
}

/* close(): a file with a final name is imported here, so its errno reaches
 * the tool. A flush with nothing new written (a dup'ed descriptor closed,
 * as shells do for redirections) repeats the last result. */
int files_op_flush(const char *path, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct op op;
    int ret;

    (void)path;
    if (!h || h->kind != HANDLE_STAGE)
        return 0;
    op_begin_handle(&op);
    ret = op_end(&op, flush_stage(op.fs, h->stage));
    /* what the tool does next (stat, ls, read) sees what the import did */
    notify_settle(op.fs);
    return ret;
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
