/*
 * files: open files. Reading serves the store's exports (or a snapshot of
 * vault.json); anything opened for writing stages its bytes in memory
 * (staging.h) and is imported at flush (close), so that a refusal reaches
 * the tool as close()'s errno. Per-open state hangs off fi->fh.
 */
#ifndef VULTFS_FILES_H
#define VULTFS_FILES_H

#include "fuse_ops.h"

#include "staging.h"

/* The staged file an open handle writes, or NULL (not open for writing). */
const struct staging_file *files_staged(const struct fuse_file_info *fi);

int files_op_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int files_op_open(const char *path, struct fuse_file_info *fi);
int files_op_read(const char *path, char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi);
int files_op_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi);
int files_op_flush(const char *path, struct fuse_file_info *fi);
int files_op_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int files_op_release(const char *path, struct fuse_file_info *fi);
int files_op_truncate(const char *path, off_t size, struct fuse_file_info *fi);

#endif
