/*
 * alloc: see alloc.h.
 *
 * One countdown serves both heaps, so a test counts every allocation a call
 * makes whichever heap it lands in. Two modes:
 *   - alloc_fail_after: once the countdown reaches zero the failure is
 *     sticky: every later allocation fails too, as under real memory
 *     exhaustion, until the hook is set again. That also makes error paths
 *     that themselves allocate show up in alloc_failures().
 *   - alloc_fail_once: only that one allocation fails; later ones succeed.
 *     That finds the paths that ignore a failure and carry on (a library
 *     that swallows a failed malloc and returns a wrong result).
 *
 * A zero-byte request gets a one-byte block, so NULL always means failure.
 */
#include "alloc.h"

#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Successful allocations left before failures start; negative: hook off. */
static atomic_long fail_countdown = -1;
static atomic_long fail_count;
static atomic_bool fail_only_once;

/* Decides whether this allocation fails. The compare-exchange stops two
 * threads from spending the same tick of the countdown. */
static bool inject_failure(void)
{
    long left = atomic_load(&fail_countdown);

    for (;;) {
        if (left < 0)
            return false;
        if (left == 0) {
            /* in fail-once mode only the thread that turns the hook off fails */
            if (atomic_load(&fail_only_once) &&
                !atomic_compare_exchange_weak(&fail_countdown, &left, -1))
                continue;
            atomic_fetch_add(&fail_count, 1);
            return true;
        }
        if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1))
            return false;
    }
}

static void set_hook(long n, bool once)
{
    atomic_store(&fail_countdown, -1);
    atomic_store(&fail_count, 0);
    atomic_store(&fail_only_once, once);
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

void alloc_fail_after(long n)
{
    set_hook(n, false);
}

void alloc_fail_once(long n)
{
    set_hook(n, true);
}

long alloc_failures(void)
{
    return atomic_load(&fail_count);
}

void *alloc_bytes(size_t size)
{
    if (inject_failure())
        return NULL;
    return malloc(size ? size : 1);
}

void *alloc_zeroed(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    if (inject_failure())
        return NULL;
    if (count == 0 || size == 0)
        count = size = 1;
    return calloc(count, size);
}

/* Like realloc: on failure ptr is left as it was. */
void *alloc_resize(void *ptr, size_t size)
{
    if (inject_failure())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

int alloc_reserve(void **array, size_t *cap, size_t count, size_t elem_size)
{
    if (count <= *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 64;
    while (want < count)
        want *= 2;
    void *grown = alloc_resize(*array, want * elem_size);
    if (!grown)
        return -ENOMEM;
    *array = grown;
    *cap = want;
    return 0;
}

char *alloc_strndup(const char *s, size_t len)
{
    size_t n = strnlen(s, len);
    char *copy = alloc_bytes(n + 1);

    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

void alloc_free(void *ptr)
{
    free(ptr);
}

/* Secret blocks: the live ones (for alloc_secret_free and
 * alloc_relock_secrets) and spare ones, freed and wiped but kept mapped
 * and locked for reuse. A sodium_malloc costs an mmap, three mprotects,
 * an mlock and a madvise, and its sodium_free as many again; an import
 * allocates and frees the same few sizes every time (the file, the two
 * base64 layers). Spares are bounded so locked memory stays bounded.
 *
 * A block is sodium_malloc(cap), with cap chosen so that its end meets the
 * guard page (cap + the 16-byte canary is whole pages); the caller's size
 * bytes end there too, so an overrun faults exactly as sodium_malloc(size)
 * would. */
#define SPARE_BLOCKS 8
#define SPARE_BYTES ((size_t)1 << 20)
#define SODIUM_CANARY_BYTES 16

struct secret_block {
    uint8_t *base; /* what sodium_malloc returned */
    size_t cap;
    uint8_t *ptr; /* what the caller has: base + cap - size */
    size_t size;
    struct secret_block *next;
};
static struct secret_block *secret_blocks, *spare_blocks; /* spares: newest first */
static size_t spare_count, spare_bytes;
static pthread_mutex_t secret_blocks_lock = PTHREAD_MUTEX_INITIALIZER;

/* The capacity sodium_malloc gives size anyway: its pages minus the canary. */
static size_t capacity_for(size_t size)
{
    long n = sysconf(_SC_PAGESIZE); /* glibc reads it from the aux vector */
    size_t page = n > 0 ? (size_t)n : 4096;

    if (size > SIZE_MAX - SODIUM_CANARY_BYTES - page)
        return size;
    return (size + SODIUM_CANARY_BYTES + page - 1) / page * page - SODIUM_CANARY_BYTES;
}

/* The smallest spare that holds size and wastes at most a quarter of the
 * pages it would need; NULL if none. Called with the lock held. */
static struct secret_block *take_spare(size_t size)
{
    size_t want = capacity_for(size), most = want + want / 4;
    struct secret_block **best = NULL;

    for (struct secret_block **link = &spare_blocks; *link; link = &(*link)->next)
        if ((*link)->cap >= size && (*link)->cap <= most && (!best || (*link)->cap < (*best)->cap))
            best = link;
    if (!best)
        return NULL;
    struct secret_block *block = *best;
    *best = block->next;
    spare_count--;
    spare_bytes -= block->cap;
    return block;
}

/* Set when a secret block could not be locked in memory (alloc.h). */
static _Thread_local bool lock_refused;

size_t alloc_lock_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    return rl.rlim_cur;
}

void alloc_raise_lock_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        int ret = setrlimit(RLIMIT_MEMLOCK, &rl);
        (void)ret; /* the limit stays as it was: alloc_secret says so when it bites */
    }
}

bool alloc_secret_lock_refused(void)
{
    bool refused = lock_refused;
    lock_refused = false;
    return refused;
}

static struct secret_block *new_block(size_t size)
{
    struct secret_block *block = malloc(sizeof(*block));
    size_t cap = capacity_for(size);

    if (!block)
        return NULL;
    block->base = sodium_malloc(cap);
    if (!block->base) {
        free(block);
        return NULL;
    }
    /* sodium_malloc tries to lock the block and goes on when it cannot:
     * past RLIMIT_MEMLOCK a share would be swappable. Locking again costs
     * nothing when it held, and tells when it did not. */
    if (sodium_mlock(block->base, cap) != 0) {
        lock_refused = true;
        sodium_free(block->base);
        free(block);
        return NULL;
    }
    block->cap = cap;
    return block;
}

void *alloc_secret(size_t size)
{
    struct secret_block *block;

    if (inject_failure())
        return NULL;
    /* sodium_malloc relies on the page size sodium_init records; the call
     * is idempotent and thread-safe, so callers need not order it. */
    if (sodium_init() < 0)
        return NULL;
    size = size ? size : 1;
    pthread_mutex_lock(&secret_blocks_lock);
    block = take_spare(size);
    pthread_mutex_unlock(&secret_blocks_lock);
    if (!block)
        block = new_block(size);
    if (!block)
        return NULL;
    block->ptr = block->base + block->cap - size;
    block->size = size;
    pthread_mutex_lock(&secret_blocks_lock);
    block->next = secret_blocks;
    secret_blocks = block;
    pthread_mutex_unlock(&secret_blocks_lock);
    return block->ptr;
}

/* Keeps a wiped block as the newest spare; the oldest go past the bounds.
 * Returns the list of blocks to release. Called with the lock held. */
static struct secret_block *keep_spare(struct secret_block *block)
{
    struct secret_block *out = NULL;

    if (block->cap > SPARE_BYTES)
        return block;
    block->next = spare_blocks;
    spare_blocks = block;
    spare_count++;
    spare_bytes += block->cap;
    while (spare_count > SPARE_BLOCKS || spare_bytes > SPARE_BYTES) {
        struct secret_block **oldest = &spare_blocks;
        while ((*oldest)->next)
            oldest = &(*oldest)->next;
        struct secret_block *gone = *oldest;
        *oldest = NULL;
        spare_count--;
        spare_bytes -= gone->cap;
        gone->next = out;
        out = gone;
    }
    return out;
}

static void release_blocks(struct secret_block *list)
{
    while (list) {
        struct secret_block *next = list->next;
        /* sodium_free wipes the block before unmapping it. */
        sodium_free(list->base);
        free(list);
        list = next;
    }
}

void *alloc_secret_copy(const void *data, size_t len)
{
    void *copy = alloc_secret(len ? len : 1);

    if (copy && len)
        memcpy(copy, data, len);
    return copy;
}

void alloc_secret_free(void *ptr)
{
    struct secret_block **link, *found = NULL;

    if (!ptr)
        return;
    pthread_mutex_lock(&secret_blocks_lock);
    for (link = &secret_blocks; *link; link = &(*link)->next) {
        if ((*link)->ptr == ptr) {
            found = *link;
            *link = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&secret_blocks_lock);
    if (!found) {
        sodium_free(ptr);
        return;
    }
    /* Only [ptr, ptr + size) was ever handed out: the rest of a spare is
     * zeros from an earlier wipe or sodium_malloc's filler. */
    sodium_memzero(found->ptr, found->size);
    found->next = NULL;
    pthread_mutex_lock(&secret_blocks_lock);
    struct secret_block *released = keep_spare(found);
    pthread_mutex_unlock(&secret_blocks_lock);
    release_blocks(released);
}

int alloc_relock_secrets(void)
{
    int ret = 0;
    pthread_mutex_lock(&secret_blocks_lock);
    for (struct secret_block *b = secret_blocks; b; b = b->next)
        if (sodium_mlock(b->base, b->cap) != 0 && ret == 0)
            ret = -errno;
    for (struct secret_block *b = spare_blocks; b; b = b->next)
        if (sodium_mlock(b->base, b->cap) != 0 && ret == 0)
            ret = -errno;
    pthread_mutex_unlock(&secret_blocks_lock);
    return ret;
}

void alloc_install_jansson(void)
{
    json_set_alloc_funcs(alloc_bytes, alloc_free);
}
