/*
 * durable-copy SRC DESTDIR: the baseline of scripts/bench.sh's import lines.
 *
 * Copies SRC into DESTDIR under its own base name and returns only once the
 * copy is durable the way an accepted import into vultfs is: the data
 * written and fsynced, then the directory fsynced, so that the new name is
 * on disk too (dd conv=fsync leaves the name to the next journal commit or
 * writeback). One process per file, as cp into the mount is, so that both
 * sides pay a process start. Built by bench.sh with the system's cc; it is
 * no part of vultfs.
 *
 * Exit status: 0 copied and synced, 1 failed (one line on stderr), 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "durable-copy: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    static char buf[1 << 17];
    char dest[4096];
    int in, out, dir, rc = 1;

    if (argc != 3) {
        fputs("usage: durable-copy SRC DESTDIR\n", stderr);
        return 2;
    }
    const char *base = strrchr(argv[1], '/');
    base = base ? base + 1 : argv[1];
    if (snprintf(dest, sizeof(dest), "%s/%s", argv[2], base) >= (int)sizeof(dest)) {
        fputs("durable-copy: destination path too long\n", stderr);
        return 2;
    }

    in = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fail("cannot open", argv[1]);
    dir = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        fail("cannot open", argv[2]);
        goto out_close_in;
    }
    /* O_EXCL: every bench run writes into a new directory; a file already
     * there is a bench bug, not something to overwrite. */
    out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        fail("cannot create", dest);
        goto out_close_dir;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail("cannot read", argv[1]);
            goto out_close_out;
        }
        if (n == 0)
            break;
        for (ssize_t at = 0; at < n;) {
            ssize_t w = write(out, buf + at, (size_t)(n - at));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                fail("cannot write", dest);
                goto out_close_out;
            }
            at += w;
        }
    }
    if (fsync(out) != 0) {
        fail("cannot fsync", dest);
        goto out_close_out;
    }
    if (close(out) != 0) {
        out = -1;
        fail("cannot close", dest);
        goto out_close_dir;
    }
    out = -1;
    if (fsync(dir) != 0) {
        fail("cannot fsync", argv[2]);
        goto out_close_dir;
    }
    rc = 0;
out_close_out:
    if (out >= 0)
        close(out);
out_close_dir:
    close(dir);
out_close_in:
    close(in);
    return rc;
}
