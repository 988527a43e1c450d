/*
 * op: how every FUSE operation opens and ends: the mount's lock (vultfs.h)
 * taken and let go in one place, staged files that are due expired first
 * (notify.h) so that none is ever seen after its time, and the path
 * resolved in the tree.
 */
#ifndef VULTFS_OP_H
#define VULTFS_OP_H

#include "tree.h"
#include "vultfs.h"

/* One operation's opening: the mount, locked, and what its path names. */
struct op {
    struct vultfs *fs;
    struct tree_node node;
};

/* Locks the mount and resolves path (-ENOENT for a NULL path). The lock is
 * held whatever it returns: end with op_end. */
int op_begin(struct op *op, const char *path);
/* op_begin, then -ENOENT or -ENOTDIR when nothing is at path. */
int op_begin_existing(struct op *op, const char *path);
/* Locks the mount without a path (operations on an open handle). */
void op_begin_handle(struct op *op);
/* Unlocks; returns ret, so an operation ends with "return op_end(&op, ret);". */
int op_end(struct op *op, int ret);

#endif
