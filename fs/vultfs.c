#include "vultfs.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuse_ops.h"

/* Tests set VULTFS_TEST_STAGING_TTL (seconds) so as not to wait a minute
 * for staged files to expire; nothing else should. */
static void staging_ttl_for_tests(struct staging *staging)
{
    const char *text = getenv("VULTFS_TEST_STAGING_TTL");
    char *end;
    unsigned long seconds;

    if (!text || *text < '0' || *text > '9')
        return;
    seconds = strtoul(text, &end, 10);
    if (*end == '\0' && seconds <= STAGING_TTL_SECONDS)
        staging_set_ttl(staging, (unsigned)seconds);
}

void vultfs_init(struct vultfs *fs, struct store *store, const struct options *options)
{
    memset(fs, 0, sizeof(*fs));
    pthread_mutex_init(&fs->lock, NULL);
    pthread_cond_init(&fs->commit_done, NULL);
    fs->store = store;
    fs->options = options;
    fs->owner_uid = getuid();
    fs->owner_gid = getgid();
    staging_init(&fs->staging, options->max_import);
    staging_ttl_for_tests(&fs->staging);
    fs->test_pause = getenv("VULTFS_TEST_PAUSE");
    tree_init(&fs->tree, store, &fs->staging);
    store_set_max_import(store, options->max_import);
}

void vultfs_destroy(struct vultfs *fs)
{
    pthread_mutex_lock(&fs->lock);
    staging_clear(&fs->staging);
    tree_placeholder_clear(&fs->tree);
    fs->store = NULL;
    pthread_mutex_unlock(&fs->lock);
    pthread_mutex_destroy(&fs->lock);
    pthread_cond_destroy(&fs->commit_done);
}

void vultfs_test_pause(const struct vultfs *fs, const char *stage)
{
    size_t len = strlen(stage);
    char byte;

    if (!fs->test_pause || strncmp(fs->test_pause, stage, len) != 0 ||
        fs->test_pause[len] != ':')
        return;
    int fd = open(fs->test_pause + len + 1, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (read(fd, &byte, 1) < 0 && errno == EINTR)
        ;
    close(fd);
}

struct vultfs *vultfs_current(void)
{
    return fuse_get_context()->private_data;
}

pid_t vultfs_caller_process(void)
{
    pid_t tid = fuse_get_context()->pid;
    char path[64], line[128];
    pid_t tgid = tid;

    if (tid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return tid; /* gone already: its thread id is what there is */
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Tgid: %d", &tgid) == 1)
            break;
    fclose(f);
    return tgid;
}
