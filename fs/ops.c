/*
 * ops: the FUSE operations (see ops.h). Reading serves the store's exports;
 * writing stages bytes in memory and imports them at flush (close) or when
 * a temporary name is renamed onto a final one, so that a refusal reaches
 * the tool as close()'s or rename()'s errno. Every operation holds one
 * lock for its whole run.
 *
 * Caching: attributes and entries are not cached by the kernel (timeouts
 * 0: an import changes sizes and makes names appear and vanish), file data
 * is, with libfuse's auto_cache (kept across opens while size and mtime
 * stay the same; every import that changes an export changes its mtime).
 * Files opened for writing use direct I/O, so what a tool writes never
 * lands in the page cache of an export.
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "staging.h"
#include "tree.h"

static struct store *store;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uid_t owner_uid;
static gid_t owner_gid;

enum handle_kind {
    HANDLE_EXPORT, /* a .vult file read: the store's cached export */
    HANDLE_JSON,   /* vault.json read: a snapshot */
    HANDLE_STAGE,  /* anything opened for writing, and staged files */
};

struct handle {
    enum handle_kind kind;
    const uint8_t *data; /* EXPORT: borrowed, valid until store_close; JSON: json */
    size_t len;
    char *json; /* owned (alloc_bytes) */
    struct staging_handle *stage;
};

void ops_setup(struct store *s, size_t max_import)
{
    store = s;
    owner_uid = getuid();
    owner_gid = getgid();
    staging_set_cap(max_import);
    store_set_max_import(s, max_import);
}

void ops_shutdown(void)
{
    pthread_mutex_lock(&lock);
    staging_clear();
    tree_placeholder_clear();
    store = NULL;
    pthread_mutex_unlock(&lock);
}

static struct handle *handle_of(const struct fuse_file_info *fi)
{
    return fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
}

/* ---- attributes ---------------------------------------------------------- */

static void fill(struct stat *st, uint64_t ino, mode_t mode, size_t size, int64_t sec,
                 int32_t nsec)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)ino;
    st->st_mode = mode;
    st->st_nlink = S_ISDIR(mode) ? 2 : 1;
    st->st_uid = owner_uid;
    st->st_gid = owner_gid;
    st->st_size = (off_t)size;
    st->st_blksize = 4096;
    st->st_blocks = (blkcnt_t)((size + 511) / 512);
    st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)sec;
    st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec = nsec;
}


/* The inode number of the store file a staged file shadows, else its own. */
static uint64_t staged_ino(const struct tree_node *n)
{
    if ((n->under == TREE_SHARE || n->under == TREE_EPOCH) && n->epoch)
        return n->epoch->ino;
    if (n->under == TREE_JSON && n->vault)
        return n->vault->ino_json;
    return n->staged->ino;
}

static void staged_attr(struct stat *st, const struct staging_file *f, uint64_t ino)
{
    fill(st, ino, S_IFREG | 0600, staging_size(f), f->created.tv_sec, (int32_t)f->created.tv_nsec);
}

static int attr_of(struct stat *st, const struct tree_node *n)
{
    const struct store_vault *v = n->vault;

    switch (n->kind) {
    case TREE_ROOT: {
        int64_t sec = 0;
        int32_t nsec = 0;
        for (size_t i = 0; i < store_vault_count(store); i++) {
            const struct store_vault *x = store_vault_at(store, i);
            if (x->changed_sec > sec || (x->changed_sec == sec && x->changed_nsec > nsec)) {
                sec = x->changed_sec;
                nsec = x->changed_nsec;
            }
        }
        fill(st, TREE_ROOT_INO, S_IFDIR | 0700, 0, sec, nsec);
        return 0;
    }
    case TREE_VAULT:
        fill(st, v->ino_dir, S_IFDIR | 0700, 0, v->changed_sec, v->changed_nsec);
        return 0;
    case TREE_PLACEHOLDER:
        fill(st, n->placeholder->ino, S_IFDIR | 0700, 0, n->placeholder->created.tv_sec,
             (int32_t)n->placeholder->created.tv_nsec);
        return 0;
    case TREE_HISTORY:
        if (v)
            fill(st, v->ino_history, S_IFDIR | 0700, 0, v->changed_sec, v->changed_nsec);
        else
            fill(st, n->placeholder->ino + 1, S_IFDIR | 0700, 0, n->placeholder->created.tv_sec,
                 (int32_t)n->placeholder->created.tv_nsec);
        return 0;
    case TREE_SHARE:
    case TREE_EPOCH:
        fill(st, n->epoch->ino, S_IFREG | (n->kind == TREE_SHARE ? 0600 : 0400),
             n->epoch->export_size, n->epoch->imported_sec, n->epoch->imported_nsec);
        return 0;
    case TREE_JSON:
        fill(st, v->ino_json, S_IFREG | 0600, v->json_size, v->changed_sec, v->changed_nsec);
        return 0;
    case TREE_STAGED:
        staged_attr(st, n->staged, staged_ino(n));
        return 0;
    case TREE_NONE:
        break;
    }
    return n->parent == TREE_IN_FILE ? -ENOTDIR : -ENOENT;
}

/* 0 when something is at n, else the errno a lookup gives. */
static int exists(const struct tree_node *n)
{
    if (n->kind != TREE_NONE)
        return 0;
    return n->parent == TREE_IN_FILE ? -ENOTDIR : -ENOENT;
}

static int resolve(struct tree_node *n, const char *path)
{
    if (!path)
        return -ENOENT;
    return tree_resolve(n, store, path);
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct tree_node n;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = attr_of(st, &n);
    /* an open file that left the tree (imported, unlinked) still answers fstat */
    if (ret == -ENOENT && h && h->kind == HANDLE_STAGE)
        ret = (staged_attr(st, h->stage->file, h->stage->file->ino), 0);
    pthread_mutex_unlock(&lock);
    return ret;
}

/* ---- importing ----------------------------------------------------------- */

static bool is_json_place(const struct tree_node *n)
{
    return n->parent == TREE_IN_DIR && strcmp(n->name, "vault.json") == 0;
}

/* Whether a new file may be made at n (nothing there yet): 0 or errno. */
static int can_create(const struct tree_node *n)
{
    switch (n->parent) {
    case TREE_IN_NOTHING:
        return -ENOENT;
    case TREE_IN_FILE:
        return -ENOTDIR;
    case TREE_IN_HISTORY:
        /* history/ takes old epochs back by their names, nothing else */
        return n->temp || n->slot ? 0 : -EPERM;
    case TREE_IN_DIR:
        /* a directory made by mkdir has no history/ until one is made */
        return strcmp(n->name, "history") == 0 ? -EPERM : 0;
    case TREE_IN_ROOT:
        break;
    }
    return 0;
}

/* vault.json is derived: writing it is a no-op when the bytes are what it
 * shows, or while a restore is in progress: the directory holds no current
 * share yet, or was made by mkdir in this mount (copying tools bring the
 * files of a directory in any order, so vault.json may come before the
 * epochs it lists). Anything else is EPERM. */
static int commit_json(const char *path, const struct tree_node *at, const uint8_t *data,
                       size_t len)
{
    const struct store_vault *v = at->vault;
    char *json = NULL;
    size_t json_len = 0;
    int ret;

    if (at->placeholder) {
        at->placeholder->json_written = true;
        log_info("write of %s: discarded: vault.json follows from the shares", path);
        return 0;
    }
    if (!v || !v->current) {
        log_info("write of %s: discarded: the directory holds no share yet", path);
        return 0;
    }
    ret = store_vault_json(&json, &json_len, store, v);
    if (ret < 0) {
        log_err("write of %s: cannot compare with vault.json: %s", path, strerror(-ret));
        return ret;
    }
    ret = json_len == len && memcmp(json, data, len) == 0 ? 0 : -EPERM;
    alloc_free(json);
    if (ret < 0)
        log_warn("write of %s: refused: vault.json is derived from the shares; only its "
                 "current content may be written back", path);
    return ret;
}

static void log_import(const char *path, int ret, const struct store_import_result *r)
{
    const char *outcome = epochs_outcome_name(r->outcome);
    if (ret == 0)
        log_info("import of %s: %s: /%s/ (%s)", path, outcome, r->dir_name, r->reason);
    else if (r->outcome == EPOCHS_FAILED)
        log_err("import of %s: %s: %s", path, outcome, r->reason);
    else
        log_warn("import of %s: %s: %s", path, outcome, r->reason);
}

/* Imports data as a file written at path (resolved to at). The store's
 * views are rebuilt by an import: at's pointers are stale afterwards. */
static int commit(const char *path, const struct tree_node *at, const uint8_t *data, size_t len,
                  bool too_big)
{
    struct store_import_result result;
    struct store_target target = {0};
    int ret;

    if (is_json_place(at))
        return commit_json(path, at, data, len);
    if (too_big) {
        log_warn("import of %s: %s: larger than the import limit of %zu bytes", path,
                 epochs_outcome_name(EPOCHS_TOO_LARGE), staging_cap());
        return -EFBIG;
    }
    target.dir_name = at->parent == TREE_IN_ROOT ? NULL : at->dir;
    target.history_slot = at->parent == TREE_IN_HISTORY ? at->slot : 0;
    ret = store_import(store, data ? data : (const uint8_t *)"", len, &target, &result);
    log_import(path, ret, &result);
    return ret;
}

/* ---- directories --------------------------------------------------------- */

struct listing {
    void *buf;
    fuse_fill_dir_t filler;
    const struct tree_node *dir;
};

static void add_entry(struct listing *l, const char *name, uint64_t ino, mode_t mode)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_ino = (ino_t)ino;
    st.st_mode = mode;
    l->filler(l->buf, name, &st, 0, 0);
}

/* Staged files in a directory, except those shadowing a listed store file. */
static void add_staged(void *ctx, const struct staging_file *f)
{
    struct listing *l = ctx;
    struct tree_node n;

    if (tree_resolve(&n, store, f->path) == 0 && n.kind == TREE_STAGED && n.under == TREE_NONE)
        add_entry(l, n.name, f->ino, S_IFREG);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    struct tree_node n;
    struct stat self;
    struct listing l = {buf, filler, &n};
    char name[64];
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = attr_of(&self, &n);
    if (ret == 0 && !tree_is_dir(n.kind))
        ret = -ENOTDIR;
    if (ret < 0)
        goto out;
    add_entry(&l, ".", self.st_ino, S_IFDIR);
    add_entry(&l, "..", 0, S_IFDIR);
    switch (n.kind) {
    case TREE_ROOT:
        for (size_t i = 0; i < store_vault_count(store); i++) {
            const struct store_vault *v = store_vault_at(store, i);
            add_entry(&l, v->dir_name, v->ino_dir, S_IFDIR);
        }
        for (struct tree_placeholder *p = tree_placeholders(); p; p = p->next)
            if (!store_vault_by_dir(store, p->name))
                add_entry(&l, p->name, p->ino, S_IFDIR);
        break;
    case TREE_VAULT:
        /* history/ first, share.vult last: see DESIGN, "The tree" */
        if (!n.placeholder || n.placeholder->history_made)
            add_entry(&l, "history", n.vault->ino_history, S_IFDIR);
        if (!n.placeholder || n.placeholder->json_written)
            add_entry(&l, "vault.json", n.vault->ino_json, S_IFREG);
        if (n.vault->current)
            add_entry(&l, "share.vult", n.vault->current->ino, S_IFREG);
        break;
    case TREE_PLACEHOLDER:
        if (n.placeholder->history_made)
            add_entry(&l, "history", n.placeholder->ino + 1, S_IFDIR);
        break;
    case TREE_HISTORY:
        for (size_t i = 0; n.vault && i < n.vault->epoch_count; i++) {
            const struct store_epoch *e = &n.vault->epochs[i];
            if (e->current)
                continue;
            snprintf(name, sizeof(name), "epoch-%u.vult", e->number);
            add_entry(&l, name, e->ino, S_IFREG);
        }
        break;
    default:
        break;
    }
    staging_foreach_in(path, add_staged, &l);
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_mkdir(const char *path, mode_t mode)
{
    struct tree_node n;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret < 0)
        goto out;
    if (n.kind != TREE_NONE)
        ret = -EEXIST;
    else if (n.parent == TREE_IN_ROOT)
        ret = tree_placeholder_add(n.name); /* a vault directory being restored */
    else if (n.parent == TREE_IN_DIR && n.placeholder && strcmp(n.name, "history") == 0)
        n.placeholder->history_made = true;
    else if (n.parent == TREE_IN_NOTHING || n.parent == TREE_IN_FILE)
        ret = exists(&n);
    else
        ret = -EPERM;
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_rmdir(const char *path)
{
    struct tree_node n;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0 && (ret = exists(&n)) == 0) {
        switch (n.kind) {
        case TREE_PLACEHOLDER:
            if (staging_any_below(path))
                ret = -ENOTEMPTY;
            else
                tree_placeholder_remove(n.placeholder);
            break;
        case TREE_ROOT:
            ret = -EBUSY;
            break;
        case TREE_VAULT:
        case TREE_HISTORY:
            log_info("rmdir of %s refused: vultfs never deletes shares through the mount "
                     "(vultfs forget does, offline)", path);
            ret = -EPERM;
            break;
        default:
            ret = -ENOTDIR;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

/* ---- names ---------------------------------------------------------------- */

static int op_unlink(const char *path)
{
    struct tree_node n;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0 && (ret = exists(&n)) == 0) {
        if (n.kind == TREE_STAGED) {
            n.staged->discarded = true; /* an open writer's flush imports nothing */
            staging_remove(n.staged);
        } else if (tree_is_dir(n.kind)) {
            ret = -EISDIR;
        } else {
            log_info("unlink of %s refused: vultfs never deletes shares through the mount "
                     "(vultfs forget does, offline)", path);
            ret = -EPERM;
        }
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

/* Renaming a temporary onto a final name imports it (rsync, gio, KDE's
 * .part); temporaries may move between temporary names. Everything else
 * is refused: store files and vaults are never renamed. */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
    struct tree_node src, dst;
    struct staging_file *f;
    int ret;

    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    pthread_mutex_lock(&lock);
    ret = resolve(&src, from);
    if (ret == 0)
        ret = resolve(&dst, to);
    if (ret == 0)
        ret = exists(&src);
    if (ret < 0)
        goto out;
    if (src.kind != TREE_STAGED || !src.staged->temp) {
        if (src.kind != TREE_STAGED)
            log_info("rename of %s refused: vultfs never renames vaults or shares", from);
        ret = -EPERM;
        goto out;
    }
    f = src.staged;
    if ((flags & RENAME_NOREPLACE) && dst.kind != TREE_NONE) {
        ret = -EEXIST;
        goto out;
    }
    if (tree_is_dir(dst.kind)) {
        ret = -EISDIR;
        goto out;
    }
    if (dst.kind == TREE_STAGED && dst.staged == f)
        goto out; /* onto itself */
    if (dst.kind == TREE_NONE && (ret = can_create(&dst)) < 0)
        goto out;
    if (dst.temp) {
        ret = staging_move(f, to);
        goto out;
    }
    ret = commit(to, &dst, f->buf.data, f->buf.len, f->too_big);
    if (ret == 0)
        staging_remove(f);
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

/* ---- files ---------------------------------------------------------------- */

static int handle_new(struct fuse_file_info *fi, enum handle_kind kind)
{
    struct handle *h = alloc_zeroed(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->kind = kind;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static void handle_free(struct handle *h)
{
    if (!h)
        return;
    staging_release(h->stage);
    alloc_free(h->json);
    alloc_free(h);
}

/* Opens n (at path) for writing: a staging buffer that starts with the
 * file's content, or empty with O_TRUNC. */
static int open_write(const char *path, const struct tree_node *n, bool truncate,
                      struct fuse_file_info *fi)
{
    const uint8_t *initial = NULL;
    size_t initial_len = 0;
    char *json = NULL;
    struct handle *h;
    int ret = 0;

    if (!truncate && (n->kind == TREE_SHARE || n->kind == TREE_EPOCH))
        ret = store_export(&initial, &initial_len, store, n->vault, n->epoch->number);
    else if (!truncate && n->kind == TREE_JSON)
        ret = store_vault_json(&json, &initial_len, store, n->vault);
    if (ret < 0)
        return ret;
    if (json)
        initial = (const uint8_t *)json;
    ret = handle_new(fi, HANDLE_STAGE);
    if (ret == 0) {
        h = handle_of(fi);
        bool shadow = n->kind == TREE_SHARE || n->kind == TREE_EPOCH || n->kind == TREE_JSON;
        ret = staging_open(&h->stage, path, truncate, shadow, initial, initial_len);
        if (ret < 0) {
            handle_free(h);
            fi->fh = 0;
        }
    }
    alloc_free(json);
    fi->direct_io = 1;
    return ret;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct tree_node n;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret < 0)
        goto out;
    if (tree_is_dir(n.kind))
        ret = -EISDIR;
    else if (n.kind != TREE_NONE)
        ret = (fi->flags & O_EXCL) ? -EEXIST : open_write(path, &n, fi->flags & O_TRUNC, fi);
    else if ((ret = can_create(&n)) == 0)
        ret = open_write(path, &n, true, fi);
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    struct tree_node n;
    struct handle *h;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    if (ret < 0)
        goto out;
    if (tree_is_dir(n.kind)) {
        ret = -EISDIR;
        goto out;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || n.kind == TREE_STAGED) {
        ret = open_write(path, &n, fi->flags & O_TRUNC, fi);
        goto out;
    }
    ret = handle_new(fi, n.kind == TREE_JSON ? HANDLE_JSON : HANDLE_EXPORT);
    if (ret < 0)
        goto out;
    h = handle_of(fi);
    if (n.kind == TREE_JSON) {
        ret = store_vault_json(&h->json, &h->len, store, n.vault);
        h->data = (const uint8_t *)h->json;
    } else {
        ret = store_export(&h->data, &h->len, store, n.vault, n.epoch->number);
        if (ret < 0)
            log_err("reading %s: %s", path, strerror(-ret));
    }
    if (ret < 0) {
        handle_free(h);
        fi->fh = 0;
    }
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    int ret = 0;

    if (!h)
        return -EBADF;
    pthread_mutex_lock(&lock);
    if (h->kind == HANDLE_STAGE) {
        ret = (int)staging_read(h->stage, buf, size, off);
    } else if (off >= 0 && (size_t)off < h->len) {
        size_t n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
        memcpy(buf, h->data + off, n);
        ret = (int)n;
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    int ret;

    if (!h || h->kind != HANDLE_STAGE)
        return -EBADF;
    pthread_mutex_lock(&lock);
    ret = staging_write(h->stage, buf, size, off);
    pthread_mutex_unlock(&lock);
    return ret < 0 ? ret : (int)size;
}

/* close(): a file with a final name is imported here, so its errno reaches
 * the tool. A flush with nothing new written (a dup'ed descriptor closed,
 * as shells do for redirections) repeats the last result. */
static int op_flush(const char *path, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct staging_handle *s;
    struct staging_file *f;
    struct tree_node at;
    int ret;

    if (!h || h->kind != HANDLE_STAGE)
        return 0;
    pthread_mutex_lock(&lock);
    s = h->stage;
    f = s->file;
    if (f->temp) {
        /* imported when renamed onto a final name, if ever */
        ret = s->too_big ? -EFBIG : 0;
        goto out;
    }
    if (!s->dirty) {
        ret = s->imported ? s->result : 0;
        goto out;
    }
    s->dirty = false;
    if (f->discarded) {
        ret = 0;
        goto out;
    }
    ret = tree_resolve(&at, store, f->path);
    if (ret == 0)
        ret = commit(f->path, &at, s->buf.data, s->buf.len, s->too_big);
    s->imported = true;
    s->result = ret;
    f->imported = true;
    /* imported or refused, the file leaves the tree (what it became shows) */
    if (f->opens == 1)
        f->gone = true;
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    pthread_mutex_lock(&lock);
    handle_free(handle_of(fi));
    pthread_mutex_unlock(&lock);
    return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    /* imports are durable when they return; staged bytes have no disk */
    return 0;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct handle *h = handle_of(fi);
    struct tree_node n;
    struct stat st;
    int ret;

    pthread_mutex_lock(&lock);
    if (h && h->kind == HANDLE_STAGE) {
        ret = staging_truncate(h->stage, size);
        goto out;
    }
    ret = resolve(&n, path);
    if (ret == 0)
        ret = attr_of(&st, &n);
    if (ret < 0)
        goto out;
    if (tree_is_dir(n.kind))
        ret = -EISDIR;
    else if (n.kind == TREE_STAGED)
        ret = staging_truncate_file(n.staged, size);
    else
        ret = size == st.st_size ? 0 : -EPERM; /* a write is an import: open it */
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

/* Times, modes and owners that copying tools set are accepted and ignored. */
static int accept_if_exists(const char *path, struct fuse_file_info *fi)
{
    struct tree_node n;
    int ret;

    if (handle_of(fi))
        return 0;
    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    return accept_if_exists(path, fi);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return accept_if_exists(path, fi);
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    return accept_if_exists(path, fi);
}

static int op_statfs(const char *path, struct statvfs *sv)
{
    size_t files = 1;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < store_vault_count(store); i++)
        files += 3 + store_vault_at(store, i)->epoch_count;
    pthread_mutex_unlock(&lock);
    memset(sv, 0, sizeof(*sv));
    sv->f_bsize = sv->f_frsize = 4096;
    sv->f_blocks = 1u << 20;
    sv->f_bfree = sv->f_bavail = (1u << 20) - 1;
    sv->f_files = files + 1000000;
    sv->f_ffree = sv->f_favail = 1000000;
    sv->f_namemax = TREE_NAME_MAX;
    return 0;
}

/* ---- extended attributes ------------------------------------------------- */

enum xattr_id {
    XATTR_EPOCH,
    XATTR_DEVICE,
    XATTR_RESHARE_PREFIX,
    XATTR_PUBKEY_ECDSA,
    XATTR_PUBKEY_EDDSA,
    XATTR_SIGNERS,
    XATTR_LIB_TYPE,
    XATTR_CREATED_AT,
    XATTR_SUPERSEDED,
    XATTR_COUNT,
};

static const char *const xattr_names[XATTR_COUNT] = {
    "user.vult.epoch",          "user.vult.device",        "user.vult.reshare_prefix",
    "user.vult.pubkey.ecdsa",   "user.vult.pubkey.eddsa",  "user.vult.signers",
    "user.vult.lib_type",       "user.vult.created_at",    "user.vult.superseded",
};

static int xattr_id(const char *name)
{
    for (int i = 0; i < XATTR_COUNT; i++)
        if (strcmp(name, xattr_names[i]) == 0)
            return i;
    return -1;
}

/* The epoch whose facts n shows: a vault directory shows its current
 * epoch, else its latest; *superseded for history files. */
static const struct store_epoch *facts_epoch(const struct tree_node *n, bool *superseded)
{
    *superseded = n->kind == TREE_EPOCH;
    if (n->kind == TREE_VAULT)
        return n->vault->current ? n->vault->current : n->vault->latest;
    if (n->kind == TREE_SHARE || n->kind == TREE_EPOCH)
        return n->epoch;
    return NULL;
}

/* The value of attribute id on n; number is scratch space. -ENODATA. */
static int xattr_value(const char **value, char number[16], const struct tree_node *n, int id)
{
    bool superseded;
    const struct store_epoch *e = facts_epoch(n, &superseded);

    if (!e)
        return -ENODATA;
    switch (id) {
    case XATTR_EPOCH:
        snprintf(number, 16, "%u", e->number);
        *value = number;
        return 0;
    case XATTR_DEVICE:
        *value = e->facts.device;
        return 0;
    case XATTR_RESHARE_PREFIX:
        *value = e->facts.reshare_prefix;
        return 0;
    case XATTR_PUBKEY_ECDSA:
        *value = e->facts.public_key_ecdsa;
        return 0;
    case XATTR_PUBKEY_EDDSA:
        *value = e->facts.public_key_eddsa;
        return 0;
    case XATTR_SIGNERS:
        *value = e->facts.signers;
        return 0;
    case XATTR_LIB_TYPE:
        *value = e->facts.lib_type;
        return 0;
    case XATTR_CREATED_AT:
        *value = e->facts.created_at;
        return 0;
    case XATTR_SUPERSEDED:
        *value = "true";
        return superseded ? 0 : -ENODATA;
    }
    return -ENODATA;
}

static int op_getxattr(const char *path, const char *name, char *buf, size_t size)
{
    int id = xattr_id(name);
    struct tree_node n;
    const char *value = NULL;
    char number[16];
    int ret;

    if (id < 0)
        return -ENOTSUP;
    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    if (ret == 0)
        ret = xattr_value(&value, number, &n, id);
    if (ret == 0) {
        size_t len = strlen(value);
        if (size && size < len)
            ret = -ERANGE;
        else if (size)
            memcpy(buf, value, len);
        if (ret == 0)
            ret = (int)len;
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_listxattr(const char *path, char *buf, size_t size)
{
    struct tree_node n;
    const char *value;
    char number[16];
    size_t total = 0;
    int ret;

    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    for (int id = 0; ret == 0 && id < XATTR_COUNT; id++) {
        if (xattr_value(&value, number, &n, id) < 0)
            continue;
        size_t len = strlen(xattr_names[id]) + 1;
        if (size && total + len > size) {
            ret = -ERANGE;
            break;
        }
        if (size)
            memcpy(buf + total, xattr_names[id], len);
        total += len;
    }
    pthread_mutex_unlock(&lock);
    return ret < 0 ? ret : (int)total;
}

/* Read-only, except that restoring a value that is already there works
 * (cp -a, rsync -X, tar), and files still being written or directories
 * not yet holding a share accept anything: the import decides. */
static int op_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    int id = xattr_id(name);
    struct tree_node n;
    const char *have = NULL;
    char number[16];
    int ret;

    if (id < 0)
        return -ENOTSUP;
    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    if (ret < 0 || n.kind == TREE_STAGED || n.kind == TREE_PLACEHOLDER)
        goto out;
    if (xattr_value(&have, number, &n, id) < 0 || strlen(have) != size ||
        memcmp(have, value, size) != 0)
        ret = -EPERM;
out:
    pthread_mutex_unlock(&lock);
    return ret;
}

static int op_removexattr(const char *path, const char *name)
{
    struct tree_node n;
    int ret;

    if (xattr_id(name) < 0)
        return -ENOTSUP;
    pthread_mutex_lock(&lock);
    ret = resolve(&n, path);
    if (ret == 0)
        ret = exists(&n);
    if (ret == 0 && n.kind != TREE_STAGED && n.kind != TREE_PLACEHOLDER)
        ret = -EPERM;
    pthread_mutex_unlock(&lock);
    return ret;
}

/* ---- setup ------------------------------------------------------------------ */

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    cfg->use_ino = 1;
    cfg->readdir_ino = 0;
    cfg->nullpath_ok = 0; /* paths for readdir; unlinked files still get NULL */
    cfg->hard_remove = 1; /* no .fuse_hidden renames: rename means import here */
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 1;
    cfg->ac_attr_timeout_set = 1;
    cfg->ac_attr_timeout = 0; /* fuse_new derived it from the old attr_timeout */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    return NULL;
}

/* Links, symlinks and special files have no place among vault shares;
 * EPERM says so more plainly than the ENOSYS FUSE would give. */
static int op_symlink(const char *target, const char *path)
{
    (void)target;
    log_info("symlink %s refused: the mount holds only vault shares", path);
    return -EPERM;
}

static int op_link(const char *from, const char *to)
{
    (void)from;
    log_info("link %s refused: the mount holds only vault shares", to);
    return -EPERM;
}

static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
    (void)mode;
    (void)dev;
    log_info("mknod %s refused: the mount holds only vault shares", path);
    return -EPERM;
}

const struct fuse_operations ops_table = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .unlink = op_unlink,
    .rename = op_rename,
    .symlink = op_symlink,
    .link = op_link,
    .mknod = op_mknod,
    .create = op_create,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .truncate = op_truncate,
    .utimens = op_utimens,
    .chmod = op_chmod,
    .chown = op_chown,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
};
