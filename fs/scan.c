/*
 * scan: reading backup files for check and audit (see scan.h).
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "backup_zip.h"
#include "completeness.h"
#include "dat.h"
#include "io.h"
#include "progress.h"

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)

/* A directory entered, by device and inode. */
struct dir_id {
    dev_t dev;
    ino_t ino;
    bool used;
};

struct scanner {
    struct scan *scan;
    size_t item_cap, store_cap, skip_cap;
    const struct vult_password *passwords;
    size_t password_count;
    struct backup_keycache *cache;
    struct dir_id *entered; /* a hash set, open addressing; entered_cap a power of 2 */
    size_t entered_count, entered_cap;
    struct progress *progress; /* NULL, or a file at a time (scan_paths_counted) */
    bool counting;             /* a first walk that only counts the files */
    size_t files;
};

static char *dup_view(struct vult_str s)
{
    return alloc_strndup(s.ptr ? s.ptr : "", s.len);
}

static bool named_like_backup(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".vult") == 0 || strcasecmp(dot, ".bak") == 0 ||
                   strcasecmp(dot, ".dat") == 0);
}

static bool named_like_zip(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && strcasecmp(dot, ".zip") == 0;
}

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t fresh = *cap ? 2 * *cap : 16;
    void *bigger = alloc_resize(*array, fresh * size);
    if (!bigger)
        return -ENOMEM;
    *array = bigger;
    *cap = fresh;
    return 0;
}

static size_t dir_slot(dev_t dev, ino_t ino, size_t cap)
{
    uint64_t h = (uint64_t)dev * 0x9e3779b97f4a7c15ull ^ (uint64_t)ino * 0xc2b2ae3d27d4eb4full;
    return (size_t)(h ^ h >> 31) & (cap - 1);
}

static void dir_put(struct dir_id *set, size_t cap, dev_t dev, ino_t ino)
{
    size_t i = dir_slot(dev, ino, cap);
    while (set[i].used)
        i = (i + 1) & (cap - 1);
    set[i] = (struct dir_id){dev, ino, true};
}

/* Records a directory as entered: 1 when it is new, 0 when it was entered
 * before (through another path or a link), -ENOMEM. */
static int enter_dir(struct scanner *s, const struct stat *st)
{
    for (size_t i = s->entered_cap ? dir_slot(st->st_dev, st->st_ino, s->entered_cap) : 0;
         s->entered_cap && s->entered[i].used; i = (i + 1) & (s->entered_cap - 1))
        if (s->entered[i].dev == st->st_dev && s->entered[i].ino == st->st_ino)
            return 0;
    if (2 * (s->entered_count + 1) > s->entered_cap) { /* kept at most half full */
        size_t cap = s->entered_cap ? 2 * s->entered_cap : 64;
        struct dir_id *bigger = alloc_zeroed(cap, sizeof(*bigger));
        if (!bigger)
            return -ENOMEM;
        for (size_t i = 0; i < s->entered_cap; i++)
            if (s->entered[i].used)
                dir_put(bigger, cap, s->entered[i].dev, s->entered[i].ino);
        alloc_free(s->entered);
        s->entered = bigger;
        s->entered_cap = cap;
    }
    dir_put(s->entered, s->entered_cap, st->st_dev, st->st_ino);
    s->entered_count++;
    return 1;
}

/* The public facts of a parsed share into item. */
static int take_facts(struct scan_item *item, const struct vult_vault *v)
{
    item->name = dup_view(v->name);
    item->device = dup_view(v->local_party_id);
    item->vault_key = dup_view(v->public_key_ecdsa);
    item->signers = alloc_zeroed(v->signer_count ? v->signer_count : 1, sizeof(char *));
    if (!item->name || !item->device || !item->vault_key || !item->signers)
        return -ENOMEM;
    for (size_t i = 0; i < v->signer_count; i++)
        if (!(item->signers[item->signer_count++] = dup_view(v->signers[i])))
            return -ENOMEM;
    struct completeness gap = completeness_of(v);
    char why[256];
    item->complete = gap.gap == COMPLETENESS_OK;
    completeness_describe(why, sizeof(why), &gap);
    item->incomplete = item->complete ? NULL : alloc_strndup(why, strlen(why));
    item->key_share_count = v->key_share_count;
    item->has_mldsa44 = v->public_key_mldsa44.len != 0;
    if (!item->complete && !item->incomplete)
        return -ENOMEM;
    return epochs_describe(&item->digest, v);
}

/* Decodes bytes as a backup into item's facts. */
static int decode_backup(struct scanner *s, struct scan_item *item, const uint8_t *bytes,
                         size_t len)
{
    struct vult_file file = {0};
    const char *misnamed = dat_misnamed_binary(item->path, bytes, len);

    if (misnamed) { /* no password would open it (dat.h) */
        item->why = misnamed;
        return -EINVAL;
    }
    int ret = vult_decode(&file, bytes, len, s->passwords, s->password_count, s->cache);
    if (ret == -ENOTSUP || ret == -EFBIG)
        ret = -EINVAL;
    if (ret == 0)
        ret = take_facts(item, &file.vault);
    vult_file_clear(&file);
    return ret;
}

/* A new item named path (or "zip:entry" when entry is given). */
static struct scan_item *new_item(struct scanner *s, const char *path, const char *entry)
{
    struct scan *scan = s->scan;
    if (grow((void **)&scan->items, &s->item_cap, scan->count, sizeof(*scan->items)) < 0)
        return NULL;
    struct scan_item *item = &scan->items[scan->count++];
    memset(item, 0, sizeof(*item));
    size_t len = strlen(path) + (entry ? strlen(entry) + 1 : 0) + 1;
    item->path = alloc_bytes(len);
    if (!item->path)
        return NULL;
    snprintf(item->path, len, "%s%s%s", path, entry ? ":" : "", entry ? entry : "");
    item->backup_name = named_like_backup(entry ? entry : path);
    return item;
}

/* An item for a path that could not be reached or read: err is why
 * (-errno), why a text when errno alone would mislead. */
static int add_unread(struct scanner *s, const char *path, int err, const char *why)
{
    if (s->counting)
        return 0; /* reported by the walk that reads */
    struct scan_item *item = new_item(s, path, NULL);
    if (!item)
        return -ENOMEM;
    item->error = err;
    item->unread = true;
    item->why = why;
    return 0;
}

static int add_skipped(struct scanner *s, const char *path, const char *why)
{
    struct scan *scan = s->scan;
    if (s->counting)
        return 0;
    if (grow((void **)&scan->skipped, &s->skip_cap, scan->skipped_count,
             sizeof(*scan->skipped)) < 0)
        return -ENOMEM;
    struct scan_skip *skip = &scan->skipped[scan->skipped_count];
    skip->path = alloc_strndup(path, strlen(path));
    skip->why = why;
    if (!skip->path)
        return -ENOMEM;
    scan->skipped_count++;
    return 0;
}

struct zip_walk {
    struct scanner *scanner;
    const char *path;
};

static int add_zip_entry(void *ctx, const struct backup_zip_entry *entry, const uint8_t *bytes,
                         size_t len)
{
    struct zip_walk *walk = ctx;
    if (entry->skip_reason)
        return 0; /* the apps skip it too */
    struct scan_item *item = new_item(walk->scanner, walk->path, entry->name);
    if (!item)
        return -ENOMEM;
    item->error = entry->ret < 0 ? entry->ret : decode_backup(walk->scanner, item, bytes, len);
    return item->error == -ENOMEM ? -ENOMEM : 0;
}

/* The apps' multi-vault zip: one item per backup entry; the zip itself is
 * an item only when it cannot be walked. */
static int add_zip(struct scanner *s, const char *path, const uint8_t *bytes, size_t len)
{
    struct zip_walk walk = {s, path};
    int ret = backup_zip_foreach(bytes, len, add_zip_entry, &walk);
    if (ret == 0 || ret == -ENOMEM)
        return ret;
    struct scan_item *item = new_item(s, path, NULL);
    if (!item)
        return -ENOMEM;
    item->error = ret;
    item->backup_name = ret == -EFBIG; /* over the apps' caps: unreadable, not "no backup" */
    return 0;
}

static int read_file(struct scanner *s, const char *path)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool zip = named_like_zip(path);
    int ret = io_read_secret(&bytes, &len, AT_FDCWD, path,
                             zip ? BACKUP_ZIP_MAX_FILE + 1 : VULT_MAX_FILE_BYTES);
    if (ret == 0 && zip && backup_zip_sniff(bytes, len)) {
        ret = add_zip(s, path, bytes, len);
        alloc_secret_free(bytes);
        return ret;
    }
    if (ret < 0 && ret != -EFBIG && ret != -ENOMEM) /* it changed since its stat */
        return add_unread(s, path, ret, ret == -EINVAL ? "no longer a regular file" : NULL);
    struct scan_item *item = new_item(s, path, NULL);
    if (!item) {
        alloc_secret_free(bytes);
        return -ENOMEM;
    }
    if (ret == -EFBIG)
        ret = zip ? -EFBIG : -EINVAL; /* far larger than any backup */
    item->error = ret == 0 ? decode_backup(s, item, bytes, len) : ret;
    item->backup_name = item->backup_name || (zip && ret == -EFBIG);
    alloc_secret_free(bytes);
    return item->error == -ENOMEM ? -ENOMEM : 0;
}

/* Every file the walk meets comes here: counted on the first walk,
 * read on the second. */
static int add_file(struct scanner *s, const char *path)
{
    if (s->counting) {
        s->files++;
        return 0;
    }
    int ret = read_file(s, path);
    if (s->progress)
        progress_step(s->progress, 1);
    return ret;
}

static int add_store(struct scanner *s, const char *path)
{
    struct scan *scan = s->scan;
    if (s->counting)
        return 0;
    if (grow((void **)&scan->stores, &s->store_cap, scan->store_count, sizeof(char *)) < 0)
        return -ENOMEM;
    scan->stores[scan->store_count] = alloc_strndup(path, strlen(path));
    return scan->stores[scan->store_count++] ? 0 : -ENOMEM;
}

static int scan_one(struct scanner *s, const char *path, int depth, bool given);

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool is_dot(const struct dirent *entry)
{
    return strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0;
}

static int not_dot(const struct dirent *entry)
{
    return !is_dot(entry);
}

/* Children in name order, so reports come out the same on every run. */
static int scan_dir(struct scanner *s, const char *path, int depth)
{
    struct dirent **names = NULL;
    int n = scandir(path, &names, not_dot, by_name);
    int ret = 0;

    if (n < 0)
        return errno == ENOMEM ? -ENOMEM : add_unread(s, path, -errno, NULL);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
        char *child = ret == 0 ? alloc_bytes(len) : NULL;
        if (child) {
            snprintf(child, len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
                     names[i]->d_name);
            ret = scan_one(s, child, depth + 1, false);
        } else if (ret == 0) {
            ret = -ENOMEM;
        }
        alloc_free(child);
        free(names[i]);
    }
    free(names);
    return ret;
}

/* Why a path that stat cannot follow is not read. */
static int add_unfollowed(struct scanner *s, const char *path, int err)
{
    struct stat link;
    bool is_link = lstat(path, &link) == 0 && S_ISLNK(link.st_mode);

    if (err == -ENOENT && is_link)
        return add_unread(s, path, err, "a symbolic link to nothing (dangling)");
    if (err == -ELOOP && is_link)
        return add_unread(s, path, err, "a loop of symbolic links");
    return add_unread(s, path, err, NULL);
}

static const char *kind_of(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO, not a file: never opened (it could wait forever)";
    if (S_ISSOCK(mode))
        return "a socket, not a file";
    return "a device, not a file";
}

/* A path given (an operand) or found in a directory, links followed. */
static int scan_one(struct scanner *s, const char *path, int depth, bool given)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return add_unfollowed(s, path, -errno);
    if (S_ISREG(st.st_mode))
        return add_file(s, path);
    if (!S_ISDIR(st.st_mode)) /* asked for by name, it could not be read */
        return given ? add_unread(s, path, -EINVAL, kind_of(st.st_mode))
                     : add_skipped(s, path, kind_of(st.st_mode));
    int fresh = enter_dir(s, &st);
    if (fresh <= 0)
        return fresh < 0 ? fresh
                         : add_skipped(s, path, "a directory already scanned (through another "
                                                "path or a symbolic link)");
    if (scan_is_store(path))
        return add_store(s, path);
    if (depth >= SCAN_MAX_DEPTH)
        return add_unread(s, path, -ELOOP,
                          "not entered: more than " TEXT(SCAN_MAX_DEPTH) " directories deep");
    return scan_dir(s, path, depth);
}

int scan_paths(struct scan *out, char *const *paths, size_t path_count,
               const struct vult_password *passwords, size_t password_count)
{
    return scan_paths_counted(out, paths, path_count, passwords, password_count, NULL);
}

int scan_paths_counted(struct scan *out, char *const *paths, size_t path_count,
                       const struct vult_password *passwords, size_t password_count,
                       struct progress *progress)
{
    struct scanner s = {.scan = out, .passwords = passwords, .password_count = password_count,
                        .progress = progress};
    int ret = 0;

    memset(out, 0, sizeof(*out));
    s.cache = backup_keycache_new();
    if (!s.cache)
        return -ENOMEM;
    /* the same walk twice, the first only counting: a total for progress;
     * each walk enters every directory once */
    s.counting = progress != NULL;
    for (size_t i = 0; s.counting && i < path_count && ret == 0; i++)
        ret = scan_one(&s, paths[i], 0, true) == -ENOMEM ? -ENOMEM : 0;
    if (s.counting)
        progress_add_total(progress, s.files);
    s.counting = false;
    alloc_free(s.entered);
    s.entered = NULL;
    s.entered_count = s.entered_cap = 0;
    for (size_t i = 0; i < path_count && ret == 0; i++)
        ret = scan_one(&s, paths[i], 0, true);
    backup_keycache_free(s.cache);
    alloc_free(s.entered);
    return ret;
}

bool scan_is_store(const char *dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/vultfs.json", dir);
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

void scan_reason(char *out, size_t cap, const struct scan_item *item)
{
    if (item->unread) {
        if (item->why)
            snprintf(out, cap, "%s", item->why);
        else
            snprintf(out, cap, "cannot read it: %s", strerror(-item->error));
        return;
    }
    switch (item->error) {
    case 0:
        snprintf(out, cap, "%s", "");
        break;
    case -EACCES:
        snprintf(out, cap, "encrypted, and no password given fits");
        break;
    case -EFBIG:
        snprintf(out, cap, "a zip larger than a backup zip can be (%d entries, %u MiB inflated, "
                 "%u MiB an entry)", BACKUP_ZIP_MAX_ENTRIES, BACKUP_ZIP_MAX_INFLATED >> 20,
                 BACKUP_ZIP_MAX_ENTRY >> 20);
        break;
    case -EINVAL:
        if (item->why)
            snprintf(out, cap, "not a Vultisig backup: %s", item->why);
        else
            snprintf(out, cap, "%s", item->backup_name ? "damaged or truncated backup"
                                                       : "not a Vultisig backup");
        break;
    default:
        snprintf(out, cap, "%s", strerror(-item->error));
        break;
    }
}

bool scan_not_backup(const struct scan_item *item)
{
    return !item->unread && item->error == -EINVAL && !item->backup_name;
}

void scan_free(struct scan *scan)
{
    for (size_t i = 0; i < scan->count; i++) {
        struct scan_item *item = &scan->items[i];
        for (size_t j = 0; j < item->signer_count; j++)
            alloc_free(item->signers[j]);
        alloc_free(item->incomplete);
        epochs_entry_clear(&item->digest);
        alloc_free(item->signers);
        alloc_free(item->path);
        alloc_free(item->name);
        alloc_free(item->device);
        alloc_free(item->vault_key);
    }
    for (size_t i = 0; i < scan->store_count; i++)
        alloc_free(scan->stores[i]);
    for (size_t i = 0; i < scan->skipped_count; i++)
        alloc_free(scan->skipped[i].path);
    alloc_free(scan->items);
    alloc_free(scan->stores);
    alloc_free(scan->skipped);
    memset(scan, 0, sizeof(*scan));
}
