/*
 * ops: the FUSE operations table and the operations on names: lookups,
 * directories, unlink and rename. Open files are in files.c, extended
 * attributes in xattr.c, what a written file becomes in commit.c. Each
 * operation starts with op_begin (the mount's lock and what the path
 * names, vultfs.h) and ends with op_end.
 *
 * Caching: the kernel keeps entries and attributes for ANNOUNCED_TIMEOUT
 * and file pages across opens (files.c and kcache.h decide keep_cache),
 * because every change the mount makes is told to it at once (notify.h):
 * imports, vault.json writes, files leaving the tree. Negative entries are
 * not kept (a new vault's directory shows to the next lookup). Files
 * opened for writing use direct I/O, so what a tool writes never lands in
 * the page cache of an export.
 */
#include "fuse_ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "attr.h"
#include "commit.h"
#include "files.h"
#include "fm_names.h"
#include "log.h"
#include "notify.h"
#include "op.h"
#include "vultfs.h"
#include "xattr.h"

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    const struct staging_file *open_file = files_staged(fi);
    struct op op;
    int ret = op_begin(&op, path);

    if (ret == 0)
        ret = attr_of(op.fs, st, &op.node);
    /* an open file that left the tree (imported, unlinked) still answers fstat */
    if (ret == -ENOENT && open_file)
        ret = (attr_of_staged(op.fs, st, open_file), 0);
    /* and one an import just took, a lookup (landed.h) */
    const struct landed_name *landed = ret == -ENOENT && path ? landed_find(&op.fs->landed, path)
                                                              : NULL;
    if (landed)
        ret = (attr_of_landed(op.fs, st, landed), 0);
    return op_end(&op, ret);
}

/* ---- directories --------------------------------------------------------- */

struct listing {
    void *buf;
    fuse_fill_dir_t filler;
    const struct tree *tree;
    const struct vultfs *fs;
    const char *path; /* the directory's */
    bool plus;        /* readdirplus: each entry with its attributes */
    off_t skip;       /* entries the kernel has already */
    off_t next;       /* the offset after the entry being added */
    bool full;        /* the kernel's buffer is: the next call goes on */
};

/* With readdirplus, the kernel gets each entry's attributes (as getattr
 * would give them) with its name, and needs no lookup and no stat of it
 * after (ls -l, cp -r and backup tools stat everything they list). */
static bool entry_attr(struct stat *st, const struct listing *l, const char *name)
{
    char path[3 * TREE_NAME_MAX + 8];
    struct tree_node n;
    int len = snprintf(path, sizeof(path), "%s/%s", strcmp(l->path, "/") ? l->path : "", name);

    return len > 0 && (size_t)len < sizeof(path) && tree_resolve(&n, l->tree, path) == 0 &&
           attr_of(l->fs, st, &n) == 0;
}

/* Entries go with offsets, one call filling as much as the kernel's
 * buffer takes: libfuse 3.14 drops the attributes of a listing filled
 * without offsets. */
static void add_entry(struct listing *l, const char *name, uint64_t ino, mode_t mode)
{
    bool dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
    enum fuse_fill_dir_flags plus = 0;
    struct stat st;

    if (l->full || l->next++ < l->skip)
        return;
    if (l->plus && !dots && entry_attr(&st, l, name)) {
        plus = FUSE_FILL_DIR_PLUS;
    } else {
        memset(&st, 0, sizeof(st));
        st.st_ino = (ino_t)ino;
        st.st_mode = mode;
    }
    l->full = l->filler(l->buf, name, &st, l->next, plus) != 0;
}

/* Staged files in a directory, except those shadowing a listed store file. */
static void add_staged(void *ctx, const struct staging_file *f)
{
    struct listing *l = ctx;
    struct tree_node n;

    if (tree_resolve(&n, l->tree, f->path) == 0 && n.kind == TREE_STAGED && n.under == TREE_NONE)
        add_entry(l, n.name, f->ino, S_IFREG);
}

static void list_root(struct listing *l, const struct vultfs *fs)
{
    for (size_t i = 0; i < store_vault_count(fs->store); i++) {
        const struct store_vault *v = store_vault_at(fs->store, i);
        add_entry(l, v->dir_name, v->ino_dir, S_IFDIR);
    }
    for (const struct tree_placeholder *p = fs->tree.placeholders; p; p = p->next)
        if (!store_vault_by_dir(fs->store, p->name))
            add_entry(l, p->name, p->ino, S_IFDIR);
}

static void list_history(struct listing *l, const struct store_vault *v)
{
    char name[64];

    for (size_t i = 0; v && i < v->epoch_count; i++) {
        const struct store_epoch *e = &v->epochs[i];
        if (e->current)
            continue;
        snprintf(name, sizeof(name), "epoch-%" PRIu64 ".vult", e->number);
        add_entry(l, name, e->ino, S_IFREG);
    }
}

static void list_dir(struct listing *l, const struct vultfs *fs, const struct tree_node *n)
{
    const struct tree_placeholder *p = n->placeholder;

    switch (n->kind) {
    case TREE_ROOT:
        list_root(l, fs);
        break;
    case TREE_VAULT:
        /* history/ first, share.vult last: see DESIGN, "The tree" */
        if (!p || p->history_made)
            add_entry(l, "history", n->vault->ino_history, S_IFDIR);
        if (!p || p->json_written)
            add_entry(l, "vault.json", n->vault->ino_json, S_IFREG);
        if (n->vault->current)
            add_entry(l, "share.vult", n->vault->current->ino, S_IFREG);
        break;
    case TREE_PLACEHOLDER:
        if (p->history_made)
            add_entry(l, "history", p->ino + 1, S_IFDIR);
        break;
    case TREE_HISTORY:
        list_history(l, n->vault);
        break;
    default:
        break;
    }
}

/* What ".." of the directory at path is: the inode of the one above it
 * (the root's own for the root). */
static uint64_t parent_ino(const struct vultfs *fs, const char *path)
{
    char parent[TREE_NAME_MAX * 3 + 4];
    const char *slash = strrchr(path, '/');
    size_t len = slash && slash != path ? (size_t)(slash - path) : 1;
    struct tree_node n;
    struct stat st;

    if (len >= sizeof(parent))
        return TREE_ROOT_INO;
    memcpy(parent, path, len);
    parent[len] = '\0';
    if (tree_resolve(&n, &fs->tree, parent) == 0 && attr_of(fs, &st, &n) == 0)
        return st.st_ino;
    return TREE_ROOT_INO;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    struct stat self;
    struct op op;
    int ret = op_begin_existing(&op, path);
    struct listing l = {.buf = buf,
                        .filler = filler,
                        .tree = &op.fs->tree,
                        .fs = op.fs,
                        .path = path,
                        .plus = flags & FUSE_READDIR_PLUS,
                        .skip = off < 0 ? 0 : off};

    (void)fi;
    if (ret == 0 && !tree_is_dir(op.node.kind))
        ret = -ENOTDIR;
    if (ret == 0 && l.skip == 0)
        ret = attr_of(op.fs, &self, &op.node);
    if (ret < 0)
        return op_end(&op, ret);
    add_entry(&l, ".", l.skip == 0 ? self.st_ino : 0, S_IFDIR);
    /* not 0: readdir(3) skips entries with inode 0, so ls -a would miss it */
    add_entry(&l, "..", l.skip <= 1 ? parent_ino(op.fs, path) : 0, S_IFDIR);
    list_dir(&l, op.fs, &op.node);
    staging_foreach_in(&op.fs->staging, path, add_staged, &l);
    return op_end(&op, 0);
}

/* gio trash and KDE make .Trash-UID at the root to move a file there: say
 * once why there is none, and leave nothing behind. */
static int refuse_metadata_dir(const char *path, const char *name)
{
    if (fm_names_is_trash(name))
        log_info("mkdir of %s refused: the mount has no trash, as it never deletes shares "
                 "(vultfs forget does, offline)", path);
    return -EPERM;
}

static int op_mkdir(const char *path, mode_t mode)
{
    struct op op;
    struct tree_node *n = &op.node;
    int ret = op_begin(&op, path);

    (void)mode;
    if (ret < 0)
        return op_end(&op, ret);
    if (n->kind != TREE_NONE)
        ret = -EEXIST;
    else if (fm_names_is_metadata(n->name))
        ret = refuse_metadata_dir(path, n->name);
    else if (n->parent == TREE_IN_ROOT)
        /* a vault directory being restored, or made to copy a share into */
        ret = tree_placeholder_add(&op.fs->tree, n->name, vultfs_caller_process());
    else if (n->parent == TREE_IN_DIR && n->placeholder && strcmp(n->name, "history") == 0)
        n->placeholder->history_made = true;
    else if (n->parent == TREE_IN_NOTHING || n->parent == TREE_IN_FILE)
        ret = tree_exists(n);
    else
        ret = -EPERM;
    return op_end(&op, ret);
}

static int rmdir_node(struct vultfs *fs, const char *path, const struct tree_node *n)
{
    switch (n->kind) {
    case TREE_PLACEHOLDER:
        if (staging_any_below(&fs->staging, path))
            return -ENOTEMPTY;
        tree_placeholder_remove(&fs->tree, n->placeholder);
        return 0;
    case TREE_ROOT:
        return -EBUSY;
    case TREE_VAULT:
    case TREE_HISTORY:
        log_info("rmdir of %s refused: vultfs never deletes shares through the mount "
                 "(vultfs forget does, offline)", path);
        return -EPERM;
    default:
        return -ENOTDIR;
    }
}

static int op_rmdir(const char *path)
{
    struct op op;
    int ret = op_begin_existing(&op, path);

    if (ret == 0)
        ret = rmdir_node(op.fs, path, &op.node);
    return op_end(&op, ret);
}

/* ---- names ---------------------------------------------------------------- */

static int unlink_node(struct vultfs *fs, const char *path, const struct tree_node *n)
{
    if (n->kind == TREE_STAGED) {
        n->staged->discarded = true; /* an open writer's flush imports nothing */
        staging_remove(&fs->staging, n->staged);
        return 0;
    }
    if (tree_is_dir(n->kind))
        return -EISDIR;
    log_info("unlink of %s refused: vultfs never deletes shares through the mount "
             "(vultfs forget does, offline)", path);
    return -EPERM;
}

static int op_unlink(const char *path)
{
    struct op op;
    int ret = op_begin_existing(&op, path);

    if (ret == 0)
        ret = unlink_node(op.fs, path, &op.node);
    return op_end(&op, ret);
}

/* Moves the temporary at src to dst (resolved to, path to). */
static int rename_temp(struct vultfs *fs, const struct tree_node *src, const char *to,
                       const struct tree_node *dst, unsigned int flags)
{
    struct staging_file *f = src->staged;
    int ret;

    if ((flags & RENAME_NOREPLACE) && dst->kind != TREE_NONE)
        return -EEXIST;
    if (tree_is_dir(dst->kind))
        return -EISDIR;
    if (dst->kind == TREE_STAGED && dst->staged == f)
        return 0; /* onto itself */
    if (dst->kind == TREE_NONE && (ret = commit_can_create(dst)) < 0)
        return ret;
    if (dst->temp)
        return staging_move(&fs->staging, f, to);
    return commit_renamed(fs, to, dst, f);
}

/* Renaming a temporary onto a final name imports it (rsync, gio, KDE's
 * .part); temporaries may move between temporary names. Everything else
 * is refused: store files and vaults are never renamed. */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
    struct tree_node dst;
    struct op op;
    int ret;

    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    ret = op_begin(&op, from);
    if (ret == 0)
        ret = tree_resolve(&dst, &op.fs->tree, to);
    if (ret == 0)
        ret = tree_exists(&op.node);
    if (ret < 0)
        return op_end(&op, ret);
    if (op.node.kind != TREE_STAGED || !op.node.staged->temp) {
        if (op.node.kind != TREE_STAGED)
            log_info("rename of %s refused: vultfs never renames vaults or shares", from);
        return op_end(&op, -EPERM);
    }
    return op_end(&op, rename_temp(op.fs, &op.node, to, &dst, flags));
}

/* ---- what copying tools set ------------------------------------------------ */

/* Times, modes and owners that copying tools set are accepted and ignored,
 * on a name an import just took too when the tool set them by name while
 * it wrote the file (landed.h: KDE sets the mode again after closing it). */
static int accept_if_exists(const char *path, struct fuse_file_info *fi)
{
    struct op op;
    int ret;

    if (fi && fi->fh)
        return 0;
    ret = op_begin_existing(&op, path);
    if (ret == 0 && op.node.kind == TREE_STAGED && !op.node.staged->temp)
        landed_mark(&op.fs->landed, path);
    if (ret == -ENOENT && path && landed_find(&op.fs->landed, path))
        ret = 0;
    return op_end(&op, ret);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)tv;
    return accept_if_exists(path, fi);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)mode;
    return accept_if_exists(path, fi);
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    (void)uid, (void)gid;
    return accept_if_exists(path, fi);
}

static int op_statfs(const char *path, struct statvfs *sv)
{
    size_t files = 1;
    struct op op;

    (void)path;
    op_begin_handle(&op);
    for (size_t i = 0; i < store_vault_count(op.fs->store); i++)
        files += 3 + store_vault_at(op.fs->store, i)->epoch_count;
    op_end(&op, 0);
    memset(sv, 0, sizeof(*sv));
    sv->f_bsize = sv->f_frsize = 4096;
    sv->f_blocks = 1u << 20;
    sv->f_bfree = sv->f_bavail = (1u << 20) - 1;
    sv->f_files = files + 1000000;
    sv->f_ffree = sv->f_favail = 1000000;
    sv->f_namemax = TREE_NAME_MAX;
    return 0;
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
    (void)mode, (void)dev;
    log_info("mknod %s refused: the mount holds only vault shares", path);
    return -EPERM;
}

/* ---- setup ------------------------------------------------------------------ */

/* Seconds the kernel keeps entries and attributes: what the mount changes
 * is announced (a staged file that expires too: the notifier expires it
 * when due), so this bounds only a change whose announcement timed out
 * (notify_settle) or could not be queued. One second, as go-fuse
 * (gocryptfs) does: a walk (ls -lR, cp -r, restic) looks an entry up and
 * then stats and reads it within that time. */
#define ANNOUNCED_TIMEOUT 1.0

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* nothing is kept without a notifier to announce changes */
    double timeout = vultfs_current()->notify ? ANNOUNCED_TIMEOUT : 0;

    cfg->use_ino = 1;
    cfg->readdir_ino = 0;
    cfg->nullpath_ok = 0; /* paths for readdir; unlinked files still get NULL */
    cfg->hard_remove = 1; /* no .fuse_hidden renames: rename means import here */
    cfg->entry_timeout = timeout;
    cfg->negative_timeout = 0;
    cfg->attr_timeout = timeout;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0; /* files.c sets keep_cache itself */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    /* what init returns becomes the private data: keep fuse_new's */
    return vultfs_current();
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
    .create = files_op_create,
    .open = files_op_open,
    .read = files_op_read,
    .write = files_op_write,
    .flush = files_op_flush,
    .release = files_op_release,
    .fsync = files_op_fsync,
    .truncate = files_op_truncate,
    .utimens = op_utimens,
    .chmod = op_chmod,
    .chown = op_chown,
    .statfs = op_statfs,
    .getxattr = xattr_op_get,
    .listxattr = xattr_op_list,
    .setxattr = xattr_op_set,
    .removexattr = xattr_op_remove,
};
