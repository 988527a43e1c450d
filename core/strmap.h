/*
 * strmap: a map from NUL-terminated strings to pointers, by hash (open
 * addressing, xxh3). Keys are borrowed: the caller keeps them alive while
 * they are in the map (strmap_put with an equal key replaces the key
 * pointer too). No removal: a map whose keys go away is cleared and
 * filled again.
 */
#ifndef VULTFS_STRMAP_H
#define VULTFS_STRMAP_H

#include <stddef.h>

#include "wur.h"

struct strmap_slot {
    const char *key;
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
};

/* Inserts or replaces key -> value. 0 or -ENOMEM (the map is unchanged). */
int strmap_put(struct strmap *map, const char *key, void *value) VULTFS_WUR;
/* The value of key, or NULL. */
void *strmap_get(const struct strmap *map, const char *key);
/* Forgets every key (keeps the memory). */
void strmap_clear(struct strmap *map);
void strmap_free(struct strmap *map);

#endif
