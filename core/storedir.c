/*
 * storedir: the store's directory as something to trust. It must belong to
 * the user running vultfs and be writable by nobody else, or another user
 * could plant a link where vultfs writes (root would follow it). Its files
 * are opened relative to its descriptor and never through a link (io.c),
 * and the lock is a flock on the directory's own descriptor: a file named
 * "lock" could be deleted or replaced under a running mount, the directory
 * cannot. The "lock" file only names the holder's pid for messages.
 */
#include "store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "io.h"

const char *store_dir_problem(const struct stat *st)
{
    if (!S_ISDIR(st->st_mode))
        return "is not a directory";
    if (st->st_uid != geteuid())
        return "is owned by another user";
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return "is writable by group or others";
    return NULL;
}

int storedir_check(int dirfd)
{
    struct stat st;

    if (fstat(dirfd, &st) < 0)
        return -errno;
    return store_dir_problem(&st) ? -EPERM : 0;
}

int storedir_lock(int dirfd)
{
    if (flock(dirfd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

/* The lock file is written in place (it is a message, not state): never
 * through a link, never a FIFO or device. */
int storedir_write_pid(int dirfd)
{
    char text[32];
    struct stat st;
    int n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    int ret = 0;
    int fd = openat(dirfd, LOCK_NAME, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                    0600);

    if (fd < 0)
        return errno == ENXIO ? -EIO : -errno; /* ENXIO: a FIFO without a reader */
    if (fstat(fd, &st) < 0)
        ret = -errno;
    else if (!S_ISREG(st.st_mode))
        ret = -EIO;
    else if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
        ret = -errno;
    close(fd);
    return ret;
}

int storedir_read_pid(int dirfd)
{
    uint8_t *text = NULL;
    size_t len = 0;
    char digits[16];
    int pid = 0;

    if (io_read_file(&text, &len, dirfd, LOCK_NAME, 64) < 0)
        return 0;
    if (len > 0 && len < sizeof(digits)) {
        memcpy(digits, text, len);
        digits[len] = '\0';
        pid = atoi(digits);
    }
    alloc_free(text);
    return pid > 0 ? pid : 0;
}

static const char *kind_of(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    return "not a regular file";
}

/* Names the first store file that is not what it should be. */
static int diagnose_files(char *out, size_t out_len, int dirfd)
{
    static const char *const files[] = {CONFIG_NAME, INDEX_NAME, LOCK_NAME, SHARES_DIR,
                                        VAULTS_DIR};
    struct stat st;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        bool want_dir = strcmp(files[i], SHARES_DIR) == 0 || strcmp(files[i], VAULTS_DIR) == 0;
        if (fstatat(dirfd, files[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))
            continue;
        snprintf(out, out_len, "%s is %s, not a regular %s", files[i], kind_of(st.st_mode),
                 want_dir ? "directory" : "file");
        return 1;
    }
    return 0;
}

/* The directory's owner or mode, as a phrase; 0 when it is safe. */
static int diagnose_dir(char *out, size_t out_len, int fd, const char *what)
{
    struct stat st;
    const char *problem;

    if (fstat(fd, &st) < 0 || !(problem = store_dir_problem(&st)))
        return 0;
    if (st.st_uid != geteuid())
        snprintf(out, out_len, "%s %s (owner uid %u, not uid %u)", what, problem,
                 (unsigned)st.st_uid, (unsigned)geteuid());
    else
        snprintf(out, out_len, "%s %s (mode %04o): chmod 700 it", what, problem,
                 (unsigned)(st.st_mode & 07777));
    return 1;
}

/* The owner or mode of the store's subdirectory name, as diagnose_dir. */
static int diagnose_subdir(char *out, size_t out_len, int dirfd, const char *name,
                           const char *what)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int found = fd >= 0 ? diagnose_dir(out, out_len, fd, what) : 0;

    if (fd >= 0)
        close(fd);
    return found;
}

struct entry_problem {
    int dirfd;
    char *out;
    size_t out_len;
    bool found;
};

static int diagnose_entry(void *ctx, const char *name)
{
    struct entry_problem *p = ctx;
    struct stat st;

    if (p->found || io_is_stale_temp(name) ||
        fstatat(p->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISREG(st.st_mode))
        return 0;
    snprintf(p->out, p->out_len, "%s/%s is %s, not a regular file", VAULTS_DIR, name,
             kind_of(st.st_mode));
    p->found = true;
    return 0;
}

/* The first file in vaults/ that is not a regular file. */
static int diagnose_vault_records(char *out, size_t out_len, int dirfd)
{
    struct entry_problem p = {-1, out, out_len, false};

    p.dirfd = openat(dirfd, VAULTS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (p.dirfd < 0)
        return 0;
    int listed = io_list_dir(p.dirfd, diagnose_entry, &p);
    (void)listed; /* a diagnosis only: nothing found is said as nothing */
    close(p.dirfd);
    return p.found;
}

int store_diagnose(char *out, size_t out_len, const char *dir)
{
    int found;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dirfd < 0)
        return 0;
    found = diagnose_dir(out, out_len, dirfd, "the store directory");
    if (!found)
        found = diagnose_files(out, out_len, dirfd);
    if (!found)
        found = diagnose_subdir(out, out_len, dirfd, SHARES_DIR, "its directory shares/");
    if (!found)
        found = diagnose_subdir(out, out_len, dirfd, VAULTS_DIR, "its directory vaults/");
    if (!found)
        found = diagnose_vault_records(out, out_len, dirfd);
    close(dirfd);
    return found;
}
