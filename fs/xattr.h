/*
 * xattr: the user.vult.* extended attributes, a vault's public facts shown
 * on its directory, share.vult and history files (see DESIGN, "Extended
 * attributes"). To add one: a name in the table and a case in its value,
 * both in xattr.c. These are the FUSE operations for them.
 */
#ifndef VULTFS_XATTR_H
#define VULTFS_XATTR_H

#include <stddef.h>

int xattr_op_get(const char *path, const char *name, char *buf, size_t size);
int xattr_op_list(const char *path, char *buf, size_t size);
int xattr_op_set(const char *path, const char *name, const char *value, size_t size, int flags);
int xattr_op_remove(const char *path, const char *name);

#endif
