/*
 * mounted: what the kernel's mount table (/proc/self/mountinfo) says about
 * a directory, so that a second vultfs is not stacked on a first.
 */
#ifndef VULTFS_MOUNTED_H
#define VULTFS_MOUNTED_H

#include <stddef.h>

/* 1 when path (absolute, canonical) is a mount point of type fstype (as
 * /proc/mounts shows it, "fuse.vultfs"), with its source copied into
 * source; 0 when not; -errno when the table cannot be read. */
int mounted_as(const char *path, const char *fstype, char *source, size_t source_size);

#endif
