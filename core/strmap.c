/*
 * strmap: see strmap.h. Linear probing at most half full, so a probe ends
 * at an empty slot within a few steps.
 */
#include "strmap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "alloc.h"

static size_t slot_of(const struct strmap *map, const char *key)
{
    size_t mask = map->cap - 1;
    size_t i = (size_t)XXH3_64bits(key, strlen(key)) & mask;

    while (map->slots[i].key && strcmp(map->slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return i;
}

static int grow(struct strmap *map)
{
    size_t cap = map->cap ? map->cap * 2 : 64;
    struct strmap old = *map;
    struct strmap_slot *slots = alloc_zeroed(cap, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    map->slots = slots;
    map->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key)
            map->slots[slot_of(map, old.slots[i].key)] = old.slots[i];
    alloc_free(old.slots);
    return 0;
}

int strmap_put(struct strmap *map, const char *key, void *value)
{
    if ((map->count + 1) * 2 > map->cap && grow(map) < 0)
        return -ENOMEM;
    size_t i = slot_of(map, key);
    if (!map->slots[i].key)
        map->count++;
    map->slots[i] = (struct strmap_slot){key, value};
    return 0;
}

void *strmap_get(const struct strmap *map, const char *key)
{
    if (!map->cap)
        return NULL;
    return map->slots[slot_of(map, key)].value;
}

void strmap_clear(struct strmap *map)
{
    if (map->slots)
        memset(map->slots, 0, map->cap * sizeof(*map->slots));
    map->count = 0;
}

void strmap_free(struct strmap *map)
{
    alloc_free(map->slots);
    *map = (struct strmap){0};
}
