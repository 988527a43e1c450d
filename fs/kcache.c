#include "kcache.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"

void kcache_init(struct kcache *c)
{
    memset(c, 0, sizeof(*c));
}

void kcache_free(struct kcache *c)
{
    for (size_t i = 0; i < c->by_path.cap; i++) {
        struct kcache_file *f = c->by_path.slots[i].value;
        if (c->by_path.slots[i].key && f) {
            alloc_free(f->path);
            alloc_free(f);
        }
    }
    strmap_free(&c->by_path);
}

/* The record of path, made when missing. NULL: -ENOMEM. */
static struct kcache_file *file_of(struct kcache *c, const char *path)
{
    struct kcache_file *f = strmap_get(&c->by_path, path);

    if (f)
        return f;
    f = alloc_zeroed(1, sizeof(*f));
    if (!f)
        return NULL;
    f->path = alloc_strndup(path, strlen(path));
    if (!f->path || strmap_put(&c->by_path, f->path, f) < 0) {
        alloc_free(f->path);
        alloc_free(f);
        return NULL;
    }
    return f;
}

int kcache_open(enum kcache_mode *mode, struct kcache_file **file, struct kcache *c,
                const char *path, uint64_t key, size_t size)
{
    struct kcache_file *f = file_of(c, path);

    *mode = KCACHE_DIRECT;
    *file = NULL;
    if (!f)
        return -ENOMEM;
    if (f->opens && f->key != key)
        f->stale = true; /* once they close, the kernel's size is the new one's */
    if (f->pending || f->writers || (f->opens && f->key != key))
        return 0;
    *mode = f->known && f->key == key ? KCACHE_KEEP : KCACHE_FRESH;
    f->key = key;
    f->size = size;
    f->known = true;
    f->opens++;
    *file = f;
    return 0;
}

bool kcache_release(struct kcache_file *f)
{
    if (!f || f->opens == 0)
        return false;
    if (--f->opens > 0 || !f->stale)
        return false;
    f->stale = false;
    return true;
}

struct kcache_file *kcache_write_begin(struct kcache *c, const char *path)
{
    struct kcache_file *f = file_of(c, path);

    if (f)
        f->writers++;
    return f;
}

void kcache_write_end(struct kcache_file *f)
{
    if (f && f->writers)
        f->writers--;
}

bool kcache_held_size(const struct kcache *c, const char *path, size_t *size)
{
    const struct kcache_file *f = c->by_path.count ? strmap_get(&c->by_path, path) : NULL;

    if (!f || f->opens == 0)
        return false;
    *size = f->size;
    return true;
}

int kcache_changed(struct kcache *c, const char *path)
{
    struct kcache_file *f = file_of(c, path);

    if (!f)
        return -ENOMEM;
    f->pending++;
    if (f->opens)
        f->stale = true;
    return 0;
}

void kcache_done(struct kcache *c, const char *path)
{
    struct kcache_file *f = strmap_get(&c->by_path, path);

    if (f && f->pending)
        f->pending--;
}
