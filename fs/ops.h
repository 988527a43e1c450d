/*
 * ops: the FUSE operations table. Each operation adapts its arguments to
 * the store (core/store.h), the tree (tree.h) and staging (staging.h),
 * under one lock: the store is not thread-safe.
 */
#ifndef VULTFS_OPS_H
#define VULTFS_OPS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif

#include <stddef.h>

#include <fuse.h>

#include "store.h"

extern const struct fuse_operations ops_table;

/* The store the operations serve (borrowed; closed by the caller after the
 * FUSE loop ends) and the import cap. */
void ops_setup(struct store *store, size_t max_import);

/* Drops staged files and placeholders (after the loop). */
void ops_shutdown(void);

#endif
