/*
 * vultfs: the one mount-wide context. fuse_new gets it as private data and
 * every operation reaches it with fuse_get_context(), as libfuse's examples
 * do. The store, staging and the tree's placeholders are not thread-safe:
 * fs->lock is held for each operation's whole run, taken and released by
 * op_begin/op_end (op.h) so that no operation can forget it. One exception: an
 * import lets it go while it decodes and while it flushes or waits for
 * its batch's flush (commit.c), so that neither PBKDF2 nor an fsync holds
 * up another operation; commit_done is signalled when a flush or such an
 * import ends.
 */
#ifndef VULTFS_VULTFS_H
#define VULTFS_VULTFS_H

#include <pthread.h>
#include <sys/types.h>

#include "landed.h"
#include "options.h"
#include "staging.h"
#include "store.h"
#include "tree.h"

struct vultfs {
    pthread_mutex_t lock;
    pthread_cond_t commit_done; /* with lock: a flush, or an import that let it go, ended */
    struct store *store;     /* borrowed: cmd_mount closes it after the loop */
    struct staging staging;  /* files being written */
    struct tree tree;        /* placeholders; reads store and staging */
    struct landed landed;    /* names imports took a moment ago (landed.h) */
    uid_t owner_uid;         /* every file shows as the mounting user's */
    gid_t owner_gid;
    const struct options *options; /* borrowed, for the whole mount */
    struct notify *notify;   /* notify.h: tells the kernel of changes; NULL: it caches nothing */
    struct desktop *desktop; /* desktop.h: refusals told to the user's desktop; NULL: off */
    const char *test_pause;        /* VULTFS_TEST_PAUSE (tests only), or NULL */
};

/* Serves store with options (both borrowed, outliving fs). */
void vultfs_init(struct vultfs *fs, struct store *store, const struct options *options);
/* Drops staged files and placeholders (after the loop). */
void vultfs_destroy(struct vultfs *fs);

/* Tests only: when VULTFS_TEST_PAUSE is "STAGE:FIFO" and stage is STAGE
 * ("decode", "flush"), an import waits there, without the lock, until a
 * byte can be read from FIFO: a test can then show what runs meanwhile. */
void vultfs_test_pause(const struct vultfs *fs, const char *stage);

/* The mount serving the calling FUSE operation. */
struct vultfs *vultfs_current(void);
/* The process (its thread group, not the thread) making the calling FUSE
 * operation; 0 when the kernel does not say. */
pid_t vultfs_caller_process(void);

#endif
