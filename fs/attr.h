/*
 * attr: the stat(2) answer for what a path names: modes, sizes, times and
 * inode numbers of vault directories, shares, history and staged files.
 */
#ifndef VULTFS_ATTR_H
#define VULTFS_ATTR_H

#include <sys/stat.h>

#include "staging.h"
#include "tree.h"
#include "vultfs.h"

/* Fills *st for n; -ENOENT or -ENOTDIR when nothing is there. */
int attr_of(const struct vultfs *fs, struct stat *st, const struct tree_node *n);

/* A staged file that has left the tree but is still open (fstat). */
void attr_of_staged(const struct vultfs *fs, struct stat *st, const struct staging_file *f);

/* A name an import just took (landed.h): the file that was written. */
void attr_of_landed(const struct vultfs *fs, struct stat *st, const struct landed_name *n);

#endif
