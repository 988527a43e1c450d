#include "op.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "notify.h"

void op_begin_handle(struct op *op)
{
    struct timespec now;

    memset(op, 0, sizeof(*op));
    op->fs = vultfs_current();
    pthread_mutex_lock(&op->fs->lock);
    /* before anything looks at the tree: an expired file is never seen */
    clock_gettime(CLOCK_MONOTONIC, &now);
    notify_expire(op->fs, &now);
}

int op_begin(struct op *op, const char *path)
{
    op_begin_handle(op);
    if (!path)
        return -ENOENT;
    return tree_resolve(&op->node, &op->fs->tree, path);
}

int op_begin_existing(struct op *op, const char *path)
{
    int ret = op_begin(op, path);
    return ret < 0 ? ret : tree_exists(&op->node);
}

int op_end(struct op *op, int ret)
{
    pthread_mutex_unlock(&op->fs->lock);
    return ret;
}
