#include "attr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify.h"

static void fill(const struct vultfs *fs, struct stat *st, uint64_t ino, mode_t mode,
                 size_t size, int64_t sec, int32_t nsec)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)ino;
    st->st_mode = mode;
    st->st_nlink = S_ISDIR(mode) ? 2 : 1;
    st->st_uid = fs->owner_uid;
    st->st_gid = fs->owner_gid;
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

static void staged_attr(const struct vultfs *fs, struct stat *st, const struct staging_file *f,
                        uint64_t ino)
{
    fill(fs, st, ino, S_IFREG | 0600, staging_size(f), f->created.tv_sec,
         (int32_t)f->created.tv_nsec);
}

void attr_of_staged(const struct vultfs *fs, struct stat *st, const struct staging_file *f)
{
    staged_attr(fs, st, f, f->ino);
}

void attr_of_landed(const struct vultfs *fs, struct stat *st, const struct landed_name *n)
{
    fill(fs, st, n->ino, S_IFREG | 0600, n->size, n->shown.tv_sec, (int32_t)n->shown.tv_nsec);
}

/* The root changes when any vault does. */
static void root_attr(const struct vultfs *fs, struct stat *st)
{
    int64_t sec;
    int32_t nsec;

    store_latest_change(fs->store, &sec, &nsec);
    fill(fs, st, TREE_ROOT_INO, S_IFDIR | 0700, 0, sec, nsec);
}

/* A directory's link count is 2 + its subdirectories (find and ls rely
 * on it), so it counts what readdir lists (ops.c's list_dir). */
static nlink_t subdirectories(const struct vultfs *fs, const struct tree_node *n)
{
    const struct tree_placeholder *p = n->placeholder;
    nlink_t count = 0;

    switch (n->kind) {
    case TREE_ROOT:
        count = store_vault_count(fs->store);
        for (p = fs->tree.placeholders; p; p = p->next)
            count += !store_vault_by_dir(fs->store, p->name);
        return count;
    case TREE_VAULT:
        return !p || p->history_made;
    case TREE_PLACEHOLDER:
        return p->history_made;
    default:
        return 0;
    }
}

static int attr_of_node(const struct vultfs *fs, struct stat *st, const struct tree_node *n);

/* A store file's size: while handles reading it through the page cache
 * are open, the size of what they read (kcache.h: the kernel stops a
 * buffered read at the size it last saw). */
static size_t shown_size(const struct vultfs *fs, const struct tree_node *n, size_t size)
{
    const struct kcache *cache = notify_kcache(fs);
    char path[2 * TREE_NAME_MAX + 16];
    size_t held;

    if (!cache)
        return size;
    snprintf(path, sizeof(path), n->kind == TREE_EPOCH ? "/%s/history/%s" : "/%s/%s", n->dir,
             n->name);
    return kcache_held_size(cache, path, &held) ? held : size;
}

int attr_of(const struct vultfs *fs, struct stat *st, const struct tree_node *n)
{
    int ret = attr_of_node(fs, st, n);
    if (ret == 0 && S_ISDIR(st->st_mode))
        st->st_nlink = 2 + subdirectories(fs, n);
    return ret;
}

static int attr_of_node(const struct vultfs *fs, struct stat *st, const struct tree_node *n)
{
    const struct store_vault *v = n->vault;
    const struct tree_placeholder *p = n->placeholder;
    int64_t sec;
    int32_t nsec;

    switch (n->kind) {
    case TREE_ROOT:
        root_attr(fs, st);
        return 0;
    case TREE_VAULT:
        fill(fs, st, v->ino_dir, S_IFDIR | 0700, 0, v->changed_sec, v->changed_nsec);
        return 0;
    case TREE_PLACEHOLDER:
        fill(fs, st, p->ino, S_IFDIR | 0700, 0, p->created.tv_sec, (int32_t)p->created.tv_nsec);
        return 0;
    case TREE_HISTORY:
        if (v)
            fill(fs, st, v->ino_history, S_IFDIR | 0700, 0, v->changed_sec, v->changed_nsec);
        else
            fill(fs, st, p->ino + 1, S_IFDIR | 0700, 0, p->created.tv_sec,
                 (int32_t)p->created.tv_nsec);
        return 0;
    case TREE_SHARE:
    case TREE_EPOCH:
        store_export_time(&sec, &nsec, fs->store, n->epoch);
        fill(fs, st, n->epoch->ino, S_IFREG | (n->kind == TREE_SHARE ? 0600 : 0400),
             shown_size(fs, n, n->epoch->export_size), sec, nsec);
        return 0;
    case TREE_JSON:
        fill(fs, st, v->ino_json, S_IFREG | 0600, shown_size(fs, n, v->json_size), v->changed_sec,
             v->changed_nsec);
        return 0;
    case TREE_STAGED:
        if (n->under != TREE_NONE) {
            /* written over: the store file shows until an import is accepted */
            struct tree_node stored = *n;
            stored.kind = n->under;
            return attr_of(fs, st, &stored);
        }
        staged_attr(fs, st, n->staged, staged_ino(n));
        return 0;
    case TREE_NONE:
        break;
    }
    return tree_exists(n);
}
