/*
 * fuse_ops: the libfuse API level every fs/ file that speaks FUSE uses.
 * The FUSE operations table itself is in ops.c.
 */
#ifndef VULTFS_FUSE_OPS_H
#define VULTFS_FUSE_OPS_H

#define FUSE_USE_VERSION 314

#include <fuse.h>

extern const struct fuse_operations ops_table;

#endif
