/*
 * store_progress: how far a long operation is, told to whoever asked
 * (store_set_progress). core/ never prints: the CLI draws it.
 */
#include "store_private.h"

void store_set_progress(struct store *store,
                        void (*report)(void *ctx, size_t done, size_t total), void *ctx)
{
    store->progress = report;
    store->progress_ctx = ctx;
}

void store_progress(const struct store *store, size_t done, size_t total)
{
    if (store->progress)
        store->progress(store->progress_ctx, done, total);
}
