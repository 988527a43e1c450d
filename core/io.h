/*
 * io: the only place core/ writes to disk. A file is replaced atomically:
 * written to a temporary name in the same directory, fsynced, renamed onto
 * its final name, and the directory fsynced, so a crash leaves either the
 * old file or the new one. A change of several files (an import) uses the
 * same steps one at a time with a single barrier for all of them: write
 * each (io_write_unsynced, io_write_temp), flush them (struct io_flush),
 * then the renames (io_rename_temp) and each directory's fsync. A test
 * hook can fail any step to prove that.
 */
#ifndef VULTFS_IO_H
#define VULTFS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wur.h"

enum io_step {
    IO_STEP_OPEN,    /* creating the temporary file */
    IO_STEP_WRITE,   /* each write(2) */
    IO_STEP_FSYNC,   /* fsync of a file (a temporary, or one flushed), or syncfs */
    IO_STEP_RENAME,  /* rename onto the final name */
    IO_STEP_DIRSYNC, /* fsync of the directory */
};

/* Fault hook: called before each step; a negative errno return makes the
 * step fail with that error as if the system call had. NULL removes it. */
typedef int (*io_fault_hook)(enum io_step step, void *ctx);
void io_set_fault_hook(io_fault_hook hook, void *ctx);

/* Replaces dirfd/name with data, atomically and durably (see above), with
 * the given mode. On failure the temporary file is removed, the old file
 * is untouched, and -errno is returned (-ENOSPC, -EIO, ...). */
int io_write_atomic(int dirfd, const char *name, const void *data, size_t len,
                    mode_t mode) VULTFS_WUR;

/* dirfd/name created (or truncated) and written, not flushed: nothing is
 * known to be on disk until it is flushed (struct io_flush). For a file
 * no one depends on until a later step references it. On failure it is
 * removed; -errno. */
int io_write_unsynced(int dirfd, const char *name, const void *data, size_t len,
                      mode_t mode) VULTFS_WUR;

/* name's temporary (".<name>.tmp.<pid>" in dirfd) written, not flushed;
 * io_rename_temp puts it in place after the flush. On failure it is
 * removed; -errno. */
int io_write_temp(int dirfd, const char *name, const void *data, size_t len,
                  mode_t mode) VULTFS_WUR;

/* The one barrier: everything written on the filesystem that holds fd,
 * contents and directory entries, is on disk (syncfs(2), which reports
 * writeback errors since Linux 5.8). -errno. */
int io_flush_fs(int fd) VULTFS_WUR;

/*
 * Flushing the files of one change (or of a batch of them), one of two
 * ways:
 * - syncfs (io_flush_fs): one barrier whatever the number of files, the
 *   fastest on an idle disk. But it writes everything unwritten on the
 *   filesystem, other programs' data too: an import right after another
 *   program wrote 1.5 GB beside the store took 0.5 s instead of 3 ms.
 * - each file fsynced, and each directory that got a new name: a few more
 *   barriers (about 15% slower on an idle disk), but never a wait for
 *   anyone else's writes.
 * IO_FLUSH_AUTO (the default) takes syncfs unless the system holds more
 * than IO_UNWRITTEN_LIMIT of unwritten data (/proc/meminfo's Dirty and
 * Writeback): then each file. Use: io_flush_begin, io_flush_add (or
 * io_flush_add_temp) for each file written, io_flush_end.
 */
enum io_flush_policy { IO_FLUSH_AUTO, IO_FLUSH_FS, IO_FLUSH_FILES };
#define IO_UNWRITTEN_LIMIT ((size_t)16 << 20)
#define IO_FLUSH_DIRS 4

/* For the whole process (the --flush option); IO_FLUSH_AUTO until set. */
void io_set_flush_policy(enum io_flush_policy policy);
/* Dirty plus Writeback of a /proc/meminfo text, in bytes (0 when absent). */
size_t io_unwritten_bytes_of(const char *meminfo);

struct io_flush {
    bool per_file;
    int err;
    int dirs[IO_FLUSH_DIRS]; /* to fsync at the end: a new name in each */
    size_t dir_count;
};
void io_flush_begin(struct io_flush *f);
/* dirfd/name was written for the change; new_name when the name itself is
 * new (its directory is fsynced too), not when a rename replaces it. */
void io_flush_add(struct io_flush *f, int dirfd, const char *name, bool new_name);
/* name's temporary (io_write_temp), renamed after the flush. */
void io_flush_add_temp(struct io_flush *f, int dirfd, const char *name);
/* The files added are on disk (fd: any descriptor on their filesystem,
 * for syncfs). The first error, -errno. */
int io_flush_end(struct io_flush *f, int fd) VULTFS_WUR;

/* Writes data at offset of the existing file dirfd/name and cuts the file
 * there (what followed is gone), not flushed: for a journal whose
 * appends are made durable with the change they belong to (io_flush_add,
 * or syncfs). -errno; a failed write may leave part of data behind. */
int io_write_at(int dirfd, const char *name, uint64_t offset, const void *data,
                size_t len) VULTFS_WUR;

/* Cuts dirfd/name to len bytes, not flushed (a journal's append undone). */
int io_truncate(int dirfd, const char *name, uint64_t len) VULTFS_WUR;

/* Replaces dirfd/name with data through its temporary and a rename, with
 * no fsync: for small files outside the store that may be lost to a
 * crash but must never be seen half written. -errno. */
int io_replace_unsynced(int dirfd, const char *name, const void *data, size_t len,
                        mode_t mode) VULTFS_WUR;

/* Renames name's temporary onto name (the directory is not fsynced: see
 * io_sync_dir). On failure the temporary is removed; -errno. */
int io_rename_temp(int dirfd, const char *name) VULTFS_WUR;

/* Removes name's temporary, if there is one. */
void io_discard_temp(int dirfd, const char *name);
/* Is name a temporary of these functions (".<name>.tmp.<pid>")? One found
 * while no write is in flight was left by a crash: never part of a store. */
bool io_is_stale_temp(const char *name);

/* Reads the store file dirfd/name whole into *out (alloc_bytes; caller
 * alloc_free()s). Never follows a link (-ELOOP) and never waits on a FIFO:
 * anything but a regular file is -EIO. -ENOENT, -EFBIG when larger than
 * max_len, other -errno. */
int io_read_file(uint8_t **out, size_t *out_len, int dirfd, const char *name,
                 size_t max_len) VULTFS_WUR;

/* A file the user names (it may be a link; not a regular file: -EINVAL),
 * into secret memory (alloc_secret; caller alloc_secret_free()s), for
 * files that may hold an unencrypted share: backups a user imports. */
int io_read_secret(uint8_t **out, size_t *out_len, int dirfd, const char *name,
                   size_t max_len) VULTFS_WUR;

/* Removes dirfd/name and fsyncs the directory. Used by offline commands
 * only (forget); -errno on failure. */
int io_remove(int dirfd, const char *name) VULTFS_WUR;

/* Calls each(ctx, name) for every entry of dirfd but "." and "..", from
 * the start whatever was listed before. each may unlink the entry it is
 * given. A non-zero return of each stops the walk and is returned;
 * otherwise 0, or -errno when dirfd cannot be listed. */
int io_list_dir(int dirfd, int (*each)(void *ctx, const char *name), void *ctx) VULTFS_WUR;

/* fsync of a directory; -errno. */
int io_sync_dir(int dirfd) VULTFS_WUR;

#endif
