/*
 * notify: tells the kernel what changed in the mount, so that it can cache
 * entries, attributes and file pages (non-zero timeouts, keep_cache) and
 * still show every import at once.
 *
 * What an import, a vault.json write or a file leaving the tree changes is
 * queued here (under the mount's lock) and a thread of its own tells the
 * kernel (fuse_invalidate_path, fuse_lowlevel_notify_inval_entry): the
 * kernel may take locks that a FUSE request in flight holds, so libfuse
 * forbids these calls on a handler's path. An operation whose caller must
 * see the change when it returns (close() after an import) waits for the
 * queue with notify_settle, after letting go of the mount's lock.
 *
 * Without a notifier (fs->notify NULL: none started) the calls do nothing
 * and the mount caches nothing (ops.c's timeouts are 0, reads are direct).
 */
#ifndef VULTFS_NOTIFY_H
#define VULTFS_NOTIFY_H

#include "fuse_ops.h"
#include "kcache.h"
#include "vultfs.h"

struct notify;

/* A notifier for fs (not started): fs->notify. -ENOMEM. */
int notify_new(struct vultfs *fs);
/* Starts its thread (after fuse_daemonize: threads do not survive the
 * fork). -errno, and then fs->notify is freed and NULL. */
int notify_start(struct vultfs *fs, struct fuse *fuse);
/* Stops the thread (before fuse_unmount) and frees it; fs->notify NULL. */
void notify_free(struct vultfs *fs);

/* The page cache records (kcache.h), or NULL without a notifier. */
struct kcache *notify_kcache(const struct vultfs *fs);

/* The mount's lock is held for these. */
/* An accepted change of the vault at /dir_name: the root, the directory,
 * its history/, share.vult and vault.json. */
void notify_vault(struct vultfs *fs, const char *dir_name);
/* Every vault (an import of many at once: the apps' zips). */
void notify_all_vaults(struct vultfs *fs);
/* A store file at path changed size or content (kcache_changed). */
void notify_changed(struct vultfs *fs, const char *path);
/* What is at path changed or left the tree (a file written there was
 * imported, refused or expired): its attributes, and its name when it is
 * in the root. */
void notify_left(struct vultfs *fs, const char *path);

/* Expires the staged files due at now (CLOCK_MONOTONIC, staging.h), each
 * told to the kernel: its name and its directory's listing. The notifier
 * also does this itself when the next one is due. */
void notify_expire(struct vultfs *fs, const struct timespec *now);
/* A staged file is no longer open (or moved): the notifier looks again at
 * when the next one expires. */
void notify_staged_idle(struct vultfs *fs);

/* After commit_write of a file written at path, with the store's
 * generation before it: the apps' zips change many vaults at once. (An
 * import of one file tells its vault itself, commit.c.) */
void notify_commit(struct vultfs *fs, const char *path, uint64_t generation_before);

/* A buffered reader's handle goes (kcache_release): the kernel is told
 * when the file changed while it was open; writers waiting for the
 * readers to go are woken. */
void notify_reader_end(struct vultfs *fs, struct kcache_file *file);
/* A handle is about to write over the store file at path: readers through
 * the page cache are waited for (a second at most; the mount's lock is
 * let go meanwhile, so *waited says to look at the tree again). The
 * result goes to notify_writer_end; NULL without a notifier. */
struct kcache_file *notify_writer_begin(struct vultfs *fs, const char *path, bool *waited);
void notify_writer_end(struct kcache_file *file);

/* Without the lock: waits (a second at most) until what was queued so far
 * is told to the kernel. */
void notify_settle(struct vultfs *fs);

#endif
