#include "staging.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "backup_zip.h"
#include "store.h"

/* In-memory files get inode numbers from a range of their own; the store's
 * are keyed hashes, so a clash is as unlikely as any 64-bit collision. */
#define STAGING_INO_BASE 0xfff0000000000000ull
#define STAGING_MIN_CAP (16u << 10)

/* All staged bytes together: temporaries a tool never renamed stay until
 * they expire, and each copy in progress holds its file in locked memory,
 * so without a bound they could pin any amount of it. */
#define STAGING_TOTAL_MIN (64u << 20)

void staging_init(struct staging *st, size_t cap)
{
    memset(st, 0, sizeof(*st));
    st->cap_bytes = cap;
    st->next_ino = STAGING_INO_BASE;
    st->ttl_seconds = STAGING_TTL_SECONDS;
}

void staging_set_ttl(struct staging *st, unsigned seconds)
{
    st->ttl_seconds = seconds;
}

size_t staging_cap(const struct staging *st)
{
    return st->cap_bytes;
}

size_t staging_cap_for(const struct staging *st, const char *path)
{
    bool in_root = path[0] == '/' && !strchr(path + 1, '/');
    if (in_root && strcasestr(path, ".zip") && BACKUP_ZIP_MAX_FILE > st->cap_bytes)
        return BACKUP_ZIP_MAX_FILE;
    return st->cap_bytes;
}

bool staging_is_temp_name(const char *name)
{
    size_t len = strlen(name);
    if (name[0] == '.')
        return true;
    if (len > 5 && strcmp(name + len - 5, ".part") == 0)
        return true;
    return len > 1 && name[len - 1] == '~';
}

/* What large files may reserve together: two files at the cap, or one
 * zip at its own, and never less than the minimum. */
static size_t large_budget(const struct staging *st)
{
    size_t two = st->cap_bytes * 2, zip = BACKUP_ZIP_MAX_FILE;
    size_t most = two > zip ? two : zip;
    return most > STAGING_TOTAL_MIN ? most : STAGING_TOTAL_MIN;
}

size_t staging_budget(const struct staging *st)
{
    return large_budget(st) + STAGING_SMALL_ROOM;
}

/* What a buffer counts against the budget. */
static size_t charge_of(const struct staging_buf *b)
{
    return b->large ? b->limit : b->cap;
}

static void buf_free(struct staging *st, struct staging_buf *b)
{
    st->total_bytes -= charge_of(b);
    st->large_count -= b->large;
    st->large_bytes -= b->large ? b->limit : 0;
    alloc_secret_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->large = false;
}

/* Grows b to hold want bytes: a new secret buffer, the old one wiped.
 * Growing past STAGING_SMALL admits it as a large file, charged its whole
 * limit: refused at once (-ENOSPC) when that does not fit beside the large
 * files admitted before (which can then always finish), or would eat the
 * room kept for small ones. -ENOMEM when memory cannot be had, or locked
 * (alloc_secret_lock_refused says which). */
static int buf_reserve(struct staging *st, struct staging_buf *b, size_t want)
{
    if (want <= b->cap)
        return 0;
    if (want > b->limit)
        return -EFBIG;
    size_t cap = b->cap * 2;
    if (cap < STAGING_MIN_CAP)
        cap = STAGING_MIN_CAP;
    if (cap < want)
        cap = want;
    if (cap > b->limit)
        cap = b->limit;
    /* a file is large by what it holds, not by how its buffer doubled */
    bool large = b->large || want > STAGING_SMALL;
    if (!large && cap > STAGING_SMALL)
        cap = STAGING_SMALL;
    size_t old_charge = charge_of(b), new_charge = large ? b->limit : cap;
    if (large && !b->large && st->large_bytes + b->limit > large_budget(st))
        return -ENOSPC; /* the large files let in before fill their room */
    if (new_charge > old_charge && st->total_bytes - old_charge + new_charge > staging_budget(st))
        return -ENOSPC; /* too much staged at once; the tool sees a full disk */
    uint8_t *data = alloc_secret(cap);
    if (!data)
        return -ENOMEM;
    if (b->len)
        memcpy(data, b->data, b->len);
    alloc_secret_free(b->data);
    st->total_bytes = st->total_bytes - old_charge + new_charge;
    st->large_count += large && !b->large;
    st->large_bytes += large && !b->large ? b->limit : 0;
    b->large = large;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_set_len(struct staging *st, struct staging_buf *b, size_t len)
{
    if (len > b->len) {
        int ret = buf_reserve(st, b, len);
        if (ret < 0)
            return ret;
        memset(b->data + b->len, 0, len - b->len);
    } else if (b->data) {
        memset(b->data + len, 0, b->len - len); /* wipe what is cut off */
    }
    b->len = len;
    return 0;
}

static bool is_live(const struct staging_file *f)
{
    return !f->gone;
}

struct staging_file *staging_find(const struct staging *st, const char *path)
{
    for (struct staging_file *f = st->files; f; f = f->next)
        if (is_live(f) && strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

/* Is path directly inside dir? */
static bool directly_in(const char *path, const char *dir)
{
    size_t dlen = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
    if (strncmp(path, dir, dlen) != 0 || path[dlen] != '/')
        return false;
    return strchr(path + dlen + 1, '/') == NULL;
}

void staging_foreach_in(const struct staging *st, const char *dir,
                        void (*fn)(void *ctx, const struct staging_file *file), void *ctx)
{
    for (struct staging_file *f = st->files; f; f = f->next)
        if (is_live(f) && directly_in(f->path, dir))
            fn(ctx, f);
}

bool staging_any_below(const struct staging *st, const char *dir)
{
    size_t dlen = strlen(dir);
    for (struct staging_file *f = st->files; f; f = f->next)
        if (is_live(f) && strncmp(f->path, dir, dlen) == 0 && f->path[dlen] == '/')
            return true;
    return false;
}

static void file_free(struct staging *st, struct staging_file *f)
{
    buf_free(st, &f->buf);
    alloc_free(f->path);
    alloc_free(f);
}

/* Frees f when it is out of the tree and no open holds it. */
static void maybe_free(struct staging *st, struct staging_file *f)
{
    if (!f->gone || f->opens || f->pins)
        return;
    for (struct staging_file **p = &st->files; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    file_free(st, f);
}

static struct staging_file *file_new(struct staging *st, const char *path)
{
    const char *name = strrchr(path, '/');
    struct staging_file *f = alloc_zeroed(1, sizeof(*f));
    if (!f)
        return NULL;
    f->path = alloc_strndup(path, strlen(path));
    if (!f->path) {
        alloc_free(f);
        return NULL;
    }
    f->temp = staging_is_temp_name(name ? name + 1 : path);
    f->buf.limit = staging_cap_for(st, path);
    f->ino = st->next_ino++;
    clock_gettime(CLOCK_REALTIME, &f->created);
    f->next = st->files;
    st->files = f;
    return f;
}

int staging_open(struct staging_handle **out, struct staging *st, const char *path,
                 bool truncate, bool shadow, const uint8_t *initial, size_t initial_len)
{
    struct staging_file *f = staging_find(st, path);
    struct staging_handle *h;
    bool made = false;
    int ret;

    *out = NULL;
    if (!f) {
        f = file_new(st, path);
        if (!f)
            return -ENOMEM;
        f->shadow = shadow;
        made = true;
    }
    h = alloc_zeroed(1, sizeof(*h));
    if (!h) {
        ret = -ENOMEM;
        goto out_fail;
    }
    h->file = f;
    h->buf.limit = f->buf.limit;
    if (f->temp) {
        if (truncate && (ret = buf_set_len(st, &f->buf, 0)) < 0)
            goto out_fail;
        if (truncate) {
            f->too_big = false;
            f->cut.error = 0;
        }
    } else if (!truncate && initial && initial_len) {
        ret = buf_reserve(st, &h->buf, initial_len);
        if (ret < 0)
            goto out_fail;
        memcpy(h->buf.data, initial, initial_len);
        h->buf.len = initial_len;
        f->size = initial_len;
    } else if (truncate || made) {
        f->size = 0;
    }
    f->opens++;
    *out = h;
    return 0;

out_fail:
    alloc_free(h);
    if (made) {
        f->gone = true;
        maybe_free(st, f);
    }
    return ret;
}

/* The buffer a handle reads and writes: the shared one for temporaries. */
static struct staging_buf *handle_buffer(struct staging_handle *h)
{
    return h->file->temp ? &h->file->buf : &h->buf;
}

/* The refusal is reported at close: the handle becomes dirty so that its
 * next flush reports (and logs) it. */
static void mark_too_big(struct staging_handle *h)
{
    h->too_big = true;
    h->dirty = true;
    if (h->file->temp)
        h->file->too_big = true;
}

/* A write refused for want of room or memory: what the file holds is not
 * what the tool wrote. Reported at close, as mark_too_big. Called at once
 * after the refusal, on its thread (alloc_secret_lock_refused). */
static void mark_cut_short(const struct staging *st, struct staging_handle *h, int err)
{
    h->cut = (struct staging_cut){
        .error = err,
        .crowd = st->large_count,
        .unlockable = err == -ENOMEM && alloc_secret_lock_refused(),
    };
    h->dirty = true;
    if (h->file->temp)
        h->file->cut = h->cut;
}

int staging_write(struct staging *st, struct staging_handle *h, const void *data, size_t size,
                  off_t off)
{
    struct staging_buf *b = handle_buffer(h);
    size_t end;
    int ret;

    if (off < 0)
        return -EINVAL;
    if ((size_t)off > b->limit || size > b->limit - (size_t)off) {
        mark_too_big(h);
        return -EFBIG;
    }
    end = (size_t)off + size;
    if (end > b->len && (ret = buf_set_len(st, b, end)) < 0) {
        if (ret == -EFBIG)
            mark_too_big(h);
        else
            mark_cut_short(st, h, ret);
        return ret;
    }
    memcpy(b->data + off, data, size);
    h->dirty = true;
    if (!h->file->temp)
        h->file->size = b->len;
    return 0;
}

size_t staging_read(struct staging_handle *h, void *data, size_t size, off_t off)
{
    struct staging_buf *b = handle_buffer(h);
    if (off < 0 || (size_t)off >= b->len)
        return 0;
    if (size > b->len - (size_t)off)
        size = b->len - (size_t)off;
    memcpy(data, b->data + off, size);
    return size;
}

int staging_truncate(struct staging *st, struct staging_handle *h, off_t size)
{
    struct staging_buf *b = handle_buffer(h);
    int ret;

    if (size < 0)
        return -EINVAL;
    if ((size_t)size > b->limit) {
        mark_too_big(h);
        return -EFBIG;
    }
    ret = buf_set_len(st, b, (size_t)size);
    if (ret < 0) {
        mark_cut_short(st, h, ret);
        return ret;
    }
    if (size == 0) { /* written again from the start: what was cut short is gone */
        h->cut.error = 0;
        if (h->file->temp)
            h->file->cut.error = 0;
    }
    h->dirty = true;
    if (!h->file->temp)
        h->file->size = b->len;
    return 0;
}

int staging_truncate_file(struct staging *st, struct staging_file *file, off_t size)
{
    if (size < 0)
        return -EINVAL;
    if (!file->temp)
        return size == (off_t)file->size ? 0 : -EPERM;
    if ((size_t)size > file->buf.limit)
        return -EFBIG;
    clock_gettime(CLOCK_MONOTONIC, &file->idle_since);
    return buf_set_len(st, &file->buf, (size_t)size);
}

size_t staging_size(const struct staging_file *file)
{
    return file->temp ? file->buf.len : file->size;
}

void staging_release(struct staging *st, struct staging_handle *h)
{
    struct staging_file *f;

    if (!h)
        return;
    f = h->file;
    buf_free(st, &h->buf);
    alloc_free(h);
    f->opens--;
    if (!f->opens)
        clock_gettime(CLOCK_MONOTONIC, &f->idle_since);
    if (!f->temp && !f->opens && (f->imported || f->shadow))
        f->gone = true;
    maybe_free(st, f);
}

void staging_pin(struct staging_file *file)
{
    file->pins++;
}

void staging_unpin(struct staging *st, struct staging_file *file)
{
    file->pins--;
    maybe_free(st, file);
}

void staging_remove(struct staging *st, struct staging_file *file)
{
    file->gone = true;
    maybe_free(st, file);
}

int staging_move(struct staging *st, struct staging_file *file, const char *to)
{
    char *copy = alloc_strndup(to, strlen(to));
    struct staging_file *there = staging_find(st, to);
    const char *name = strrchr(to, '/');

    if (!copy)
        return -ENOMEM;
    if (there && there != file)
        staging_remove(st, there);
    alloc_free(file->path);
    file->path = copy;
    /* a temporary renamed to a temporary stays one; callers never move
     * onto a final name (that is an import) */
    file->temp = staging_is_temp_name(name ? name + 1 : to) || file->temp;
    clock_gettime(CLOCK_MONOTONIC, &file->idle_since);
    return 0;
}

static bool has_expired(const struct staging *st, const struct staging_file *f,
                        const struct timespec *now)
{
    if (f->opens || f->pins || f->gone)
        return false;
    time_t idle = now->tv_sec - f->idle_since.tv_sec;
    if (now->tv_nsec < f->idle_since.tv_nsec)
        idle--;
    return idle >= (time_t)st->ttl_seconds;
}

void staging_expire_each(struct staging *st, const struct timespec *now,
                         void (*gone)(void *ctx, const char *path), void *ctx)
{
    struct staging_file *f = st->files;

    while (f) {
        struct staging_file *next = f->next;
        if (has_expired(st, f, now)) {
            if (gone)
                gone(ctx, f->path);
            staging_remove(st, f);
        }
        f = next;
    }
}

void staging_expire(struct staging *st, const struct timespec *now)
{
    staging_expire_each(st, now, NULL, NULL);
}

bool staging_next_expiry(const struct staging *st, struct timespec *at)
{
    bool any = false;

    for (const struct staging_file *f = st->files; f; f = f->next) {
        if (f->opens || f->pins || f->gone)
            continue;
        if (!any || f->idle_since.tv_sec < at->tv_sec ||
            (f->idle_since.tv_sec == at->tv_sec && f->idle_since.tv_nsec < at->tv_nsec))
            *at = f->idle_since;
        any = true;
    }
    if (any)
        at->tv_sec += (time_t)st->ttl_seconds;
    return any;
}

void staging_clear(struct staging *st)
{
    while (st->files) {
        struct staging_file *next = st->files->next;
        file_free(st, st->files);
        st->files = next;
    }
}
