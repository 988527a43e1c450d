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

/* Live secret blocks, for alloc_relock_secrets. */
struct secret_block {
    void *ptr;
    size_t size;
    struct secret_block *next;
};
static struct secret_block *secret_blocks;
static pthread_mutex_t secret_blocks_lock = PTHREAD_MUTEX_INITIALIZER;

void *alloc_secret(size_t size)
{
    struct secret_block *block;
    void *ptr;

    if (inject_failure())
        return NULL;
    /* sodium_malloc relies on the page size sodium_init records; the call
     * is idempotent and thread-safe, so callers need not order it. */
    if (sodium_init() < 0)
        return NULL;
    block = malloc(sizeof(*block));
    if (!block)
        return NULL;
    ptr = sodium_malloc(size ? size : 1);
    if (!ptr) {
        free(block);
        return NULL;
    }
    *block = (struct secret_block){ptr, size ? size : 1, NULL};
    pthread_mutex_lock(&secret_blocks_lock);
    block->next = secret_blocks;
    secret_blocks = block;
    pthread_mutex_unlock(&secret_blocks_lock);
    return ptr;
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
    free(found);
    /* sodium_free wipes the block before unmapping it. */
    sodium_free(ptr);
}

int alloc_relock_secrets(void)
{
    int ret = 0;
    pthread_mutex_lock(&secret_blocks_lock);
    for (struct secret_block *b = secret_blocks; b; b = b->next)
        if (sodium_mlock(b->ptr, b->size) != 0 && ret == 0)
            ret = -errno;
    pthread_mutex_unlock(&secret_blocks_lock);
    return ret;
}

void alloc_install_jansson(void)
{
    json_set_alloc_funcs(alloc_bytes, alloc_free);
}
