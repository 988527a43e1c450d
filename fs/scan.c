/*
 * scan: reading backup files for check and audit (see scan.h).
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "io.h"
#include "progress.h"

#define SCAN_MAX_DEPTH 32

struct scanner {
    struct scan *scan;
    size_t item_cap, store_cap;
    const struct vult_password *passwords;
    size_t password_count;
    struct vult_keycache *cache;
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

static int scan_one(struct scanner *s, const char *path, int depth);

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
        return add_file(s, path); /* unreadable: reported as such */
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
        char *child = ret == 0 ? alloc_bytes(len) : NULL;
        if (child) {
            snprintf(child, len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
                     names[i]->d_name);
            ret = scan_one(s, child, depth + 1);
        } else if (ret == 0) {
            ret = -ENOMEM;
        }
        alloc_free(child);
        free(names[i]);
    }
    free(names);
    return ret;
}

static int scan_one(struct scanner *s, const char *path, int depth)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return add_file(s, path);
    if (S_ISDIR(st.st_mode)) {
        if (scan_is_store(path))
            return add_store(s, path);
        return depth < SCAN_MAX_DEPTH ? scan_dir(s, path, depth) : 0;
    }
    if (S_ISREG(st.st_mode))
        return add_file(s, path);
    return 0; /* links, devices, sockets: never backups */
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
    s.cache = vult_keycache_new();
    if (!s.cache)
        return -ENOMEM;
    /* the same walk twice, the first only counting: a total for progress */
    s.counting = progress != NULL;
    for (size_t i = 0; s.counting && i < path_count; i++)
        scan_one(&s, paths[i], 0);
    if (s.counting)
        progress_add_total(progress, s.files);
    s.counting = false;
    for (size_t i = 0; i < path_count && ret == 0; i++)
        ret = scan_one(&s, paths[i], 0);
    vult_keycache_free(s.cache);
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

const char *scan_reason(const struct scan_item *item)
{
    switch (item->error) {
    case 0:
        return "";
    case -EACCES:
        return "encrypted, and no password given fits";
    case -EFBIG:
        return "a zip larger than a backup zip can be (1000 entries, 96 MiB inflated, 64 MiB "
               "an entry)";
    case -EINVAL:
        return item->backup_name ? "damaged or truncated backup" : "not a Vultisig backup";
    default:
        return strerror(-item->error);
    }
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
    alloc_free(scan->items);
    alloc_free(scan->stores);
    memset(scan, 0, sizeof(*scan));
}
