#include "landed.h"

#include <string.h>

#include <xxhash.h>

/* Inode numbers of store files and staged files are keyed hashes and a
 * counter from 2; a name's own hash with the top bit set meets neither in
 * practice, and stays the same for the few seconds it is shown. */
static uint64_t landed_ino(const char *path, size_t len)
{
    return XXH3_64bits(path, len) | (UINT64_C(1) << 63);
}

void landed_mark(struct landed *l, const char *path)
{
    size_t len = strlen(path);

    for (unsigned i = 0; i < LANDED_NAMES; i++)
        if (strcmp(l->marked[i], path) == 0)
            return;
    if (len >= LANDED_PATH_MAX)
        return;
    memcpy(l->marked[l->next_mark], path, len + 1);
    l->next_mark = (l->next_mark + 1) % LANDED_NAMES;
}

/* Uses up path's mark: was there one? */
static bool take_mark(struct landed *l, const char *path)
{
    for (unsigned i = 0; i < LANDED_NAMES; i++) {
        if (l->marked[i][0] && strcmp(l->marked[i], path) == 0) {
            l->marked[i][0] = '\0';
            return true;
        }
    }
    return false;
}

void landed_add(struct landed *l, const char *path, size_t size)
{
    struct landed_name *n = &l->names[l->next];
    size_t len = strlen(path);

    if (len >= LANDED_PATH_MAX || !take_mark(l, path))
        return;
    memcpy(n->path, path, len + 1);
    clock_gettime(CLOCK_MONOTONIC, &n->at);
    clock_gettime(CLOCK_REALTIME, &n->shown);
    n->size = size;
    n->ino = landed_ino(path, len);
    l->next = (l->next + 1) % LANDED_NAMES;
}

const struct landed_name *landed_find(const struct landed *l, const char *path)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    /* the newest first: a name imported twice answers as its latest */
    for (unsigned i = 1; i <= LANDED_NAMES; i++) {
        const struct landed_name *n = &l->names[(l->next + LANDED_NAMES - i) % LANDED_NAMES];
        time_t age = now.tv_sec - n->at.tv_sec - (now.tv_nsec < n->at.tv_nsec);

        if (n->path[0] && age >= 0 && age < LANDED_SECONDS && strcmp(n->path, path) == 0)
            return n;
    }
    return NULL;
}
