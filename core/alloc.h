/*
 * alloc: every heap allocation in core/ goes through here, so a test can
 * fail the N-th one and check that nothing leaks, crashes or half-changes.
 * Secret buffers (decrypted shares, keys, passwords) come from libsodium's
 * guarded, mlocked, never-dumped memory and are wiped on free.
 */
#ifndef VULTFS_ALLOC_H
#define VULTFS_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Plain heap. alloc_free(NULL) is a no-op. Returns NULL on failure. */
void *alloc_bytes(size_t size);
void *alloc_zeroed(size_t count, size_t size);
void *alloc_resize(void *ptr, size_t size);
char *alloc_strndup(const char *s, size_t len);
/* Room for count elements of elem_size in *array (capacity *cap, doubled
 * as needed, from 64). 0 or -ENOMEM (*array unchanged). */
int alloc_reserve(void **array, size_t *cap, size_t count, size_t elem_size);
void alloc_free(void *ptr);

/* Secret heap (sodium_malloc: guard pages, mlock, MADV_DONTDUMP).
 * alloc_secret_free wipes and frees; NULL is a no-op. */
void *alloc_secret(size_t size);
/* A secret copy of len bytes of data (len 0: a valid empty block). */
void *alloc_secret_copy(const void *data, size_t len);
void alloc_secret_free(void *ptr);

/* A secret block is never handed out unlocked: when the memory-lock
 * limit (RLIMIT_MEMLOCK, 8 MiB for a user on Debian) cannot take it,
 * alloc_secret fails. This says whether the last failure on this thread
 * was that (true once, then false), so a caller can name the limit. */
bool alloc_secret_lock_refused(void);
/* The memory-lock limit in bytes (SIZE_MAX: none), and a raise of it to
 * the most the process may have (its hard limit), once at start. */
size_t alloc_lock_limit(void);
void alloc_raise_lock_limit(void);

/* Memory locks are not inherited across fork(): a daemon calls this after
 * daemonizing to lock every live secret block again. 0 or -errno (the
 * first mlock failure; the blocks stay excluded from core dumps anyway). */
int alloc_relock_secrets(void);

/* Test hook: the allocation after `n` more successful ones fails (n = 0:
 * the next one). A negative n turns failures off. Counts both heaps. */
void alloc_fail_after(long n);
/* The same, but only that one allocation fails: later ones succeed, so a
 * failure that is ignored shows as a wrong result instead of a later one. */
void alloc_fail_once(long n);
/* Allocations that failed because of the hook since it was last set. */
long alloc_failures(void);

/* Routes jansson's allocations through this module (call once). */
void alloc_install_jansson(void);

#endif
