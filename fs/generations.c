#include "generations.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "store.h"

void generations_note(struct generations *g, const struct store_import_result *r)
{
    struct generations_vault *v = NULL;

    if (!g || (r->outcome != EPOCHS_NEW_VAULT && r->outcome != EPOCHS_NEW_EPOCH))
        return;
    for (size_t i = 0; i < g->count && !v; i++)
        if (strcmp(g->vaults[i].dir_name, r->dir_name) == 0)
            v = &g->vaults[i];
    if (!v) {
        if (g->count == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 8;
            struct generations_vault *grown = alloc_resize(g->vaults, cap * sizeof(*grown));
            if (!grown)
                return; /* a warning lost to memory: the imports stand */
            g->vaults = grown;
            g->cap = cap;
        }
        v = &g->vaults[g->count++];
        memset(v, 0, sizeof(*v));
        snprintf(v->dir_name, sizeof(v->dir_name), "%s", r->dir_name);
    }
    if (v->count < sizeof(v->epochs) / sizeof(v->epochs[0]))
        v->epochs[v->count] = r->epoch;
    v->count++;
}

void generations_warn(const struct generations *g, const char *store)
{
    for (size_t i = 0; i < g->count; i++) {
        const struct generations_vault *v = &g->vaults[i];
        size_t shown = v->count < 4 ? v->count : 4;
        if (v->count < 2)
            continue;
        /* the one made current last, and the one before it */
        log_warn("this import brought %zu generations of vault \"%s\": import order decides "
                 "which is current (now epoch %" PRIu64 "); if the older one became current, "
                 "'vultfs promote --epoch %" PRIu64 " %s \"%s\"' makes epoch %" PRIu64
                 " current again, losing nothing",
                 v->count, v->dir_name, v->epochs[shown - 1], v->epochs[shown - 2], store,
                 v->dir_name, v->epochs[shown - 2]);
    }
}

void generations_free(struct generations *g)
{
    alloc_free(g->vaults);
    memset(g, 0, sizeof(*g));
}
