#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fuse_lowlevel.h>

#include "alloc.h"
#include "import_zip.h"
#include "log.h"

/* How long notify_settle waits at most: the kernel call can wait for a
 * page lock that a read in flight holds, and that read for a free worker. */
#define SETTLE_SECONDS 1

struct job {
    struct job *next;
    bool counted;    /* kcache_changed was called for path: kcache_done after */
    bool root_entry; /* path is a name in the root: drop the kernel's entry too */
    char path[];
};

struct notify {
    struct vultfs *fs;
    struct fuse *fuse;
    struct kcache cache;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* the queue and the counts; never held into the kernel */
    pthread_cond_t wake; /* CLOCK_MONOTONIC, for expiry_at */
    pthread_cond_t progress;
    pthread_cond_t readers_gone; /* with the mount's lock: kcache opens fell to 0 */
    struct job *head, **tail;
    uint64_t queued, done;
    bool stopping;
    bool expiry_check;         /* look at staging's expiries again (notify_staged_idle) */
    bool expiry_armed;         /* a staged file expires at expiry_at */
    struct timespec expiry_at; /* CLOCK_MONOTONIC */
};

int notify_new(struct vultfs *fs)
{
    struct notify *n = alloc_zeroed(1, sizeof(*n));

    if (!n)
        return -ENOMEM;
    n->fs = fs;
    kcache_init(&n->cache);
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&n->wake, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&n->progress, NULL);
    pthread_cond_init(&n->readers_gone, NULL);
    n->tail = &n->head;
    fs->notify = n;
    return 0;
}

/* Tells the kernel about one job; it may not know the path (-ENOENT). */
static void tell(struct notify *n, const struct job *job)
{
    const char *name = job->path + 1;

    (void)fuse_invalidate_path(n->fuse, job->path);
    if (job->root_entry)
        (void)fuse_lowlevel_notify_inval_entry(fuse_get_session(n->fuse), FUSE_ROOT_ID, name,
                                               strlen(name));
}

static void expired(void *ctx, const char *path);

/* Without n->lock: expires the staged files that are due (queueing what
 * the kernel is to forget) and arms the timer for the next one. */
static void expire_due(struct notify *n)
{
    struct timespec now, next;
    bool armed;

    pthread_mutex_lock(&n->fs->lock);
    clock_gettime(CLOCK_MONOTONIC, &now);
    staging_expire_each(&n->fs->staging, &now, expired, n->fs);
    armed = staging_next_expiry(&n->fs->staging, &next);
    pthread_mutex_unlock(&n->fs->lock);
    pthread_mutex_lock(&n->lock);
    n->expiry_armed = armed;
    n->expiry_at = next;
    pthread_mutex_unlock(&n->lock);
}

/* With n->lock: waits for a job, expiring staged files when they are due:
 * nothing else would (the mount expires them before each operation, but a
 * stat the kernel answers from its cache reaches no operation). */
static void wait_for_job(struct notify *n)
{
    while (!n->head && !n->stopping) {
        if (n->expiry_check) {
            n->expiry_check = false;
            pthread_mutex_unlock(&n->lock);
            expire_due(n);
            pthread_mutex_lock(&n->lock);
        } else if (!n->expiry_armed) {
            pthread_cond_wait(&n->wake, &n->lock);
        } else if (pthread_cond_timedwait(&n->wake, &n->lock, &n->expiry_at) == ETIMEDOUT) {
            n->expiry_check = true;
        }
    }
}

static void *run(void *arg)
{
    struct notify *n = arg;

    pthread_mutex_lock(&n->lock);
    for (;;) {
        wait_for_job(n);
        if (n->stopping)
            break;
        struct job *job = n->head;
        n->head = job->next;
        if (!n->head)
            n->tail = &n->head;
        pthread_mutex_unlock(&n->lock);
        tell(n, job);
        if (job->counted) {
            pthread_mutex_lock(&n->fs->lock);
            kcache_done(&n->cache, job->path);
            pthread_mutex_unlock(&n->fs->lock);
        }
        alloc_free(job);
        pthread_mutex_lock(&n->lock);
        n->done++;
        pthread_cond_broadcast(&n->progress);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

int notify_start(struct vultfs *fs, struct fuse *fuse)
{
    struct notify *n = fs->notify;
    int ret;

    if (!n)
        return -EINVAL;
    n->fuse = fuse;
    ret = pthread_create(&n->thread, NULL, run, n);
    if (ret != 0) {
        notify_free(fs);
        return -ret;
    }
    n->started = true;
    return 0;
}

static void free_jobs(struct notify *n)
{
    while (n->head) {
        struct job *job = n->head;
        n->head = job->next;
        alloc_free(job);
    }
    n->tail = &n->head;
}

void notify_free(struct vultfs *fs)
{
    struct notify *n = fs->notify;
    struct timespec until;

    if (!n)
        return;
    fs->notify = NULL;
    if (n->started) {
        pthread_mutex_lock(&n->lock);
        n->stopping = true;
        pthread_cond_broadcast(&n->wake);
        pthread_mutex_unlock(&n->lock);
        /* a kernel call stuck on a read nobody serves any more ends at
         * unmount: do not wait for it, and leave its memory alone */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        if (pthread_timedjoin_np(n->thread, NULL, &until) != 0) {
            log_warn("the notifier thread did not stop; going on with the unmount");
            return;
        }
    }
    free_jobs(n);
    kcache_free(&n->cache);
    pthread_cond_destroy(&n->wake);
    pthread_cond_destroy(&n->progress);
    pthread_cond_destroy(&n->readers_gone);
    pthread_mutex_destroy(&n->lock);
    alloc_free(n);
}

struct kcache *notify_kcache(const struct vultfs *fs)
{
    return fs->notify ? &fs->notify->cache : NULL;
}

/* A job for path; NULL when it cannot be allocated, and then it is
 * dropped: the kernel's entries and attributes time out anyway (ops.c). */
static struct job *job_new(struct notify *n, const char *path, bool counted, bool root_entry)
{
    size_t len = strlen(path) + 1;
    struct job *job = alloc_zeroed(1, sizeof(*job) + len);

    if (!job) {
        if (counted)
            kcache_done(&n->cache, path);
        return NULL;
    }
    memcpy(job->path, path, len);
    job->counted = counted;
    job->root_entry = root_entry;
    return job;
}

/* Queues the jobs (NULLs skipped) and wakes the thread once: a wake per
 * job made the two threads trade n->lock back and forth. */
static void enqueue(struct notify *n, struct job *const *jobs, size_t count)
{
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < count; i++) {
        if (!jobs[i])
            continue;
        *n->tail = jobs[i];
        n->tail = &jobs[i]->next;
        n->queued++;
    }
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
}

static void queue(struct notify *n, const char *path, bool counted, bool root_entry)
{
    struct job *job = job_new(n, path, counted, root_entry);

    enqueue(n, &job, 1);
}

/* A store file whose size or content changed: kcache_changed counts it. */
static struct job *changed_job(struct notify *n, const char *path)
{
    return job_new(n, path, kcache_changed(&n->cache, path) == 0, false);
}

void notify_changed(struct vultfs *fs, const char *path)
{
    struct notify *n = fs->notify;

    if (n) {
        struct job *job = changed_job(n, path);
        enqueue(n, &job, 1);
    }
}

void notify_vault(struct vultfs *fs, const char *dir_name)
{
    struct notify *n = fs->notify;
    char path[TREE_NAME_MAX + 32];
    struct job *jobs[5];

    if (!n || !dir_name || !*dir_name)
        return;
    jobs[0] = job_new(n, "/", false, false); /* its time and link count */
    snprintf(path, sizeof(path), "/%s", dir_name);
    jobs[1] = job_new(n, path, false, false);
    snprintf(path, sizeof(path), "/%s/history", dir_name);
    jobs[2] = job_new(n, path, false, false);
    snprintf(path, sizeof(path), "/%s/share.vult", dir_name);
    jobs[3] = changed_job(n, path);
    snprintf(path, sizeof(path), "/%s/vault.json", dir_name);
    jobs[4] = changed_job(n, path);
    enqueue(n, jobs, 5);
}

void notify_all_vaults(struct vultfs *fs)
{
    for (size_t i = 0; fs->notify && i < store_vault_count(fs->store); i++)
        notify_vault(fs, store_vault_at(fs->store, i)->dir_name);
}

void notify_commit(struct vultfs *fs, const char *path, uint64_t generation_before)
{
    if (store_generation(fs->store) != generation_before && strchr(path + 1, '/') == NULL &&
        import_zip_named(path))
        notify_all_vaults(fs);
}

/* Whether a store file is at path: only those are read through the page
 * cache, so only they get a kcache record (a temporary's random name,
 * renamed away, would otherwise leave one behind for good). */
static bool store_file_at(const struct vultfs *fs, const char *path)
{
    struct tree_node n;
    enum tree_kind kind;

    if (tree_resolve(&n, &fs->tree, path) < 0)
        return false;
    kind = n.kind == TREE_STAGED ? n.under : n.kind;
    return kind == TREE_SHARE || kind == TREE_EPOCH || kind == TREE_JSON;
}

void notify_left(struct vultfs *fs, const char *path)
{
    struct notify *n = fs->notify;
    bool counted;

    if (!n)
        return;
    counted = store_file_at(fs, path) && kcache_changed(&n->cache, path) == 0;
    queue(n, path, counted, strchr(path + 1, '/') == NULL);
}

/* Its directory's listing (cached by the kernel) and the name itself. */
static void expired(void *ctx, const char *path)
{
    struct vultfs *fs = ctx;
    char dir[TREE_NAME_MAX * 3 + 4];
    const char *slash = strrchr(path, '/');
    size_t len = slash && slash != path ? (size_t)(slash - path) : 1;

    log_info("%s dropped: staged and unused for %u s", path, fs->staging.ttl_seconds);
    notify_left(fs, path);
    if (fs->notify && len < sizeof(dir)) {
        memcpy(dir, path, len);
        dir[len] = '\0';
        queue(fs->notify, dir, false, false);
    }
}

void notify_expire(struct vultfs *fs, const struct timespec *now)
{
    staging_expire_each(&fs->staging, now, expired, fs);
}

void notify_staged_idle(struct vultfs *fs)
{
    struct notify *n = fs->notify;

    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    n->expiry_check = true;
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->lock);
}

void notify_reader_end(struct vultfs *fs, struct kcache_file *file)
{
    if (!file)
        return;
    if (kcache_release(file))
        notify_changed(fs, file->path);
    if (file->opens == 0 && fs->notify)
        pthread_cond_broadcast(&fs->notify->readers_gone);
}

struct kcache_file *notify_writer_begin(struct vultfs *fs, const char *path, bool *waited)
{
    struct notify *n = fs->notify;
    struct kcache_file *file = n ? kcache_write_begin(&n->cache, path) : NULL;
    struct timespec until;

    *waited = false;
    if (!file || file->opens == 0)
        return file;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SETTLE_SECONDS;
    *waited = true;
    while (file->opens > 0 &&
           pthread_cond_timedwait(&n->readers_gone, &fs->lock, &until) == 0)
        ;
    return file;
}

void notify_writer_end(struct kcache_file *file)
{
    kcache_write_end(file);
}

void notify_settle(struct vultfs *fs)
{
    struct notify *n = fs->notify;
    struct timespec until;
    uint64_t target;

    if (!n)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SETTLE_SECONDS;
    pthread_mutex_lock(&n->lock);
    target = n->queued;
    while (n->done < target && !n->stopping &&
           pthread_cond_timedwait(&n->progress, &n->lock, &until) == 0)
        ;
    pthread_mutex_unlock(&n->lock);
}
