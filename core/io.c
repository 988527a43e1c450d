/*
 * io: see io.h.
 *
 * The temporary file is ".<name>.tmp.<pid>". Writers of one name must be
 * serialised by the caller (the store's lock does it): two writers in one
 * process would share the temporary name.
 *
 * A failure before the rename removes the temporary file and leaves the old
 * file alone. A failing directory fsync comes after the rename: the new
 * file is already in place and only its durability is in doubt, so the
 * error is returned and nothing is undone (there is nothing left to undo).
 */
#include "io.h"

#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* At most this much per write(2), so a large file takes several calls and
 * the fault hook can fail one in the middle. */
#define IO_WRITE_CHUNK ((size_t)1 << 20)

/* Set by tests before any writes start; not meant to change mid-flight. */
static io_fault_hook fault_hook;
static void *fault_ctx;

void io_set_fault_hook(io_fault_hook hook, void *ctx)
{
    fault_hook = hook;
    fault_ctx = ctx;
}

static int fault(enum io_step step)
{
    int err;

    if (!fault_hook)
        return 0;
    err = fault_hook(step, fault_ctx);
    return err < 0 ? err : 0;
}

/* The hook runs here rather than in io_write_atomic so io_remove's
 * directory fsync can be failed the same way. */
int io_sync_dir(int dirfd)
{
    int fd = dirfd;
    int err = fault(IO_STEP_DIRSYNC);

    if (err)
        return err;
    if (dirfd == AT_FDCWD) {
        fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
    }
    if (fsync(fd) != 0)
        err = -errno;
    if (fd != dirfd)
        close(fd);
    return err;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        int err = fault(IO_STEP_WRITE);
        ssize_t n;

        if (err)
            return err;
        n = write(fd, p, len < IO_WRITE_CHUNK ? len : IO_WRITE_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO; /* no progress: fail rather than spin */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ".<name>.tmp.<pid>": the temporary of name, in the same directory. */
static int temp_name(char tmp[NAME_MAX + 1], const char *name)
{
    int n;

    /* The temporary must sit in the same directory as the target, which a
     * name with a slash would break. */
    if (name[0] == '\0' || strchr(name, '/'))
        return -EINVAL;
    n = snprintf(tmp, NAME_MAX + 1, ".%s.tmp.%ld", name, (long)getpid());
    if (n < 0 || n > NAME_MAX)
        return -ENAMETOOLONG;
    return 0;
}

/* Creates dirfd/name (replacing a file there when !exclusive) with data,
 * fsynced when sync, and closes it. On failure the file is removed. */
static int write_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                      bool exclusive, bool sync)
{
    int fd, err = fault(IO_STEP_OPEN);

    if (err)
        return err;
    fd = openat(dirfd, name,
                O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC),
                mode);
    if (fd < 0)
        return -errno;

    err = write_all(fd, data, len);
    if (!err && sync) {
        err = fault(IO_STEP_FSYNC);
        if (!err && fsync(fd) != 0)
            err = -errno;
    }
    /* close can report a write error late (NFS); such a file is not known
     * to be on disk. The descriptor is gone either way. */
    if (close(fd) != 0 && !err)
        err = -errno;
    if (err)
        unlinkat(dirfd, name, 0);
    return err;
}

/* The temporary of name written (and fsynced when sync): see write_file. */
static int write_temp(char tmp[NAME_MAX + 1], int dirfd, const char *name, const void *data,
                      size_t len, mode_t mode, bool sync)
{
    int err = temp_name(tmp, name);

    if (err)
        return err;
    /* A crash between open and rename leaves the temporary behind; with
     * O_EXCL it would block this name for good once the pid comes round. */
    unlinkat(dirfd, tmp, 0);
    return write_file(dirfd, tmp, data, len, mode, true, sync);
}

static int rename_temp(int dirfd, const char *tmp, const char *name)
{
    int err = fault(IO_STEP_RENAME);

    if (!err && renameat(dirfd, tmp, dirfd, name) != 0)
        err = -errno;
    if (err)
        unlinkat(dirfd, tmp, 0);
    return err;
}

int io_write_atomic(int dirfd, const char *name, const void *data, size_t len,
                    mode_t mode)
{
    char tmp[NAME_MAX + 1];
    int err = write_temp(tmp, dirfd, name, data, len, mode, true);

    if (!err)
        err = rename_temp(dirfd, tmp, name);
    return err ? err : io_sync_dir(dirfd);
}

int io_write_unsynced(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    if (name[0] == '\0' || strchr(name, '/'))
        return -EINVAL;
    return write_file(dirfd, name, data, len, mode, false, false);
}

int io_write_temp(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[NAME_MAX + 1];
    return write_temp(tmp, dirfd, name, data, len, mode, false);
}

int io_write_at(int dirfd, const char *name, uint64_t offset, const void *data, size_t len)
{
    int fd, err = fault(IO_STEP_OPEN);

    if (err)
        return err;
    if (offset > (uint64_t)INT64_MAX - len)
        return -EFBIG;
    fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (lseek(fd, (off_t)offset, SEEK_SET) < 0)
        err = -errno;
    if (!err)
        err = write_all(fd, data, len);
    if (!err && ftruncate(fd, (off_t)(offset + len)) != 0)
        err = -errno;
    if (close(fd) != 0 && !err)
        err = -errno;
    return err;
}

int io_truncate(int dirfd, const char *name, uint64_t len)
{
    int fd, err = 0;

    if (len > (uint64_t)INT64_MAX)
        return -EFBIG;
    fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)len) != 0)
        err = -errno;
    if (close(fd) != 0 && !err)
        err = -errno;
    return err;
}

int io_replace_unsynced(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[NAME_MAX + 1];
    int err = write_temp(tmp, dirfd, name, data, len, mode, false);

    return err ? err : rename_temp(dirfd, tmp, name);
}

int io_flush_fs(int fd)
{
    int err = fault(IO_STEP_FSYNC);

    if (!err && syncfs(fd) != 0)
        err = -errno;
    return err;
}

/* ---- flushing a change's files (io.h) --------------------------------- */

static enum io_flush_policy flush_policy = IO_FLUSH_AUTO;

void io_set_flush_policy(enum io_flush_policy policy)
{
    flush_policy = policy;
}

/* The kB of the line "<field>:" in a /proc/meminfo text, or 0. */
static size_t meminfo_kb(const char *meminfo, const char *field)
{
    size_t len = strlen(field);

    for (const char *line = meminfo; line && *line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            unsigned long long kb = strtoull(line + len + 1, NULL, 10);
            return kb > SIZE_MAX / 1024 ? SIZE_MAX / 1024 : (size_t)kb;
        }
    }
    return 0;
}

size_t io_unwritten_bytes_of(const char *meminfo)
{
    return (meminfo_kb(meminfo, "Dirty") + meminfo_kb(meminfo, "Writeback")) * 1024;
}

/* What the system has not written yet; 0 when /proc cannot tell (then
 * syncfs, as on an idle disk). */
static size_t unwritten_bytes(void)
{
    char text[8192];
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return io_unwritten_bytes_of(text);
}

void io_flush_begin(struct io_flush *f)
{
    memset(f, 0, sizeof(*f));
    f->per_file = flush_policy == IO_FLUSH_FILES ||
                  (flush_policy == IO_FLUSH_AUTO && unwritten_bytes() > IO_UNWRITTEN_LIMIT);
}

/* dirfd/name's content and inode on disk, through a descriptor of its own. */
static int sync_file(int dirfd, const char *name)
{
    int err = fault(IO_STEP_FSYNC);
    int fd;

    if (err)
        return err;
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        err = -errno;
    close(fd);
    return err;
}

static void note_dir(struct io_flush *f, int dirfd)
{
    for (size_t i = 0; i < f->dir_count; i++)
        if (f->dirs[i] == dirfd)
            return;
    if (f->dir_count < IO_FLUSH_DIRS)
        f->dirs[f->dir_count++] = dirfd;
    else
        f->err = io_sync_dir(dirfd); /* no room to wait: at once */
}

void io_flush_add(struct io_flush *f, int dirfd, const char *name, bool new_name)
{
    if (!f->per_file || f->err)
        return;
    f->err = sync_file(dirfd, name);
    if (!f->err && new_name)
        note_dir(f, dirfd);
}

void io_flush_add_temp(struct io_flush *f, int dirfd, const char *name)
{
    char tmp[NAME_MAX + 1];

    if (!f->per_file || f->err)
        return;
    f->err = temp_name(tmp, name);
    io_flush_add(f, dirfd, tmp, false);
}

int io_flush_end(struct io_flush *f, int fd)
{
    if (!f->per_file)
        return io_flush_fs(fd);
    for (size_t i = 0; i < f->dir_count && !f->err; i++)
        f->err = io_sync_dir(f->dirs[i]);
    return f->err;
}

int io_rename_temp(int dirfd, const char *name)
{
    char tmp[NAME_MAX + 1];
    int err = temp_name(tmp, name);

    return err ? err : rename_temp(dirfd, tmp, name);
}

void io_discard_temp(int dirfd, const char *name)
{
    char tmp[NAME_MAX + 1];

    if (temp_name(tmp, name) == 0)
        unlinkat(dirfd, tmp, 0); /* none there is fine */
}

/* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
 * as not a regular file right after). A store file is never opened
 * through a link (store_file), a file the user names may be. */
static int read_whole(uint8_t **out, size_t *out_len, int dirfd, const char *name,
                      size_t max_len, bool secret, bool store_file)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len, got = 0;
    int err = 0;
    int fd = openat(dirfd, name,
                    O_RDONLY | O_NONBLOCK | O_CLOEXEC | (store_file ? O_NOFOLLOW : 0));

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        err = -errno;
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        err = S_ISDIR(st.st_mode) ? -EISDIR : store_file ? -EIO : -EINVAL;
        goto out_close;
    }
    if ((uintmax_t)st.st_size > max_len) {
        err = -EFBIG;
        goto out_close;
    }
    len = (size_t)st.st_size;
    buf = secret ? alloc_secret(len ? len : 1) : alloc_bytes(len ? len : 1);
    if (!buf) {
        err = -ENOMEM;
        goto out_close;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto out_free_buf;
        }
        if (n == 0)
            break; /* shrank since fstat: what is there is the file */
        got += (size_t)n;
    }
    *out = buf;
    *out_len = got;
    buf = NULL;

out_free_buf:
    if (secret)
        alloc_secret_free(buf);
    else
        alloc_free(buf);
out_close:
    close(fd);
    return err;
}

int io_read_file(uint8_t **out, size_t *out_len, int dirfd, const char *name,
                 size_t max_len)
{
    return read_whole(out, out_len, dirfd, name, max_len, false, true);
}

int io_read_secret(uint8_t **out, size_t *out_len, int dirfd, const char *name,
                   size_t max_len)
{
    return read_whole(out, out_len, dirfd, name, max_len, true, false);
}

int io_remove(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) != 0)
        return -errno;
    return io_sync_dir(dirfd);
}

int io_list_dir(int dirfd, int (*each)(void *ctx, const char *name), void *ctx)
{
    int fd = dup(dirfd);
    DIR *listing = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *entry;
    int ret = 0;

    if (!listing) {
        ret = -errno;
        if (fd >= 0)
            close(fd);
        return ret;
    }
    rewinddir(listing); /* the dup shares dirfd's offset with earlier listings */
    while (ret == 0 && (entry = readdir(listing)))
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            ret = each(ctx, entry->d_name);
    closedir(listing);
    return ret;
}

bool io_is_stale_temp(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp.") != NULL;
}
