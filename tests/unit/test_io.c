/*
 * test_io: atomic replacement survives a failure at every step. The fault
 * hook fails one step; afterwards the target holds exactly its old bytes
 * (or, for the directory fsync, which follows the rename, the new ones)
 * and no temporary file is left in the directory.
 */
#include "alloc.h"
#include "check.h"
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

static char dir_path[] = "/tmp/vultfs-test-io-XXXXXX";

struct fault_plan {
    enum io_step step; /* the step to fail */
    int nth;           /* on its nth occurrence (1-based) */
    int err;           /* with this -errno */
    int seen;          /* occurrences of step so far */
};

static int fail_step(enum io_step step, void *ctx)
{
    struct fault_plan *plan = ctx;

    if (step != plan->step)
        return 0;
    return ++plan->seen == plan->nth ? plan->err : 0;
}

/* Entries in the test directory besides . and .. */
static int count_entries(void)
{
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    int n = 0;

    if (!dir)
        return -1;
    while ((de = readdir(dir)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

static uint8_t *pattern(size_t len, uint8_t seed)
{
    uint8_t *p = alloc_bytes(len);

    for (size_t i = 0; p && i < len; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 12));
    return p;
}

/* True when dirfd/name holds exactly data. */
static int holds(int dirfd, const char *name, const uint8_t *data, size_t len)
{
    uint8_t *buf = NULL;
    size_t got = 0;
    int same;

    if (io_read_file(&buf, &got, dirfd, name, 16 * MIB) != 0)
        return 0;
    same = got == len && memcmp(buf, data, len) == 0;
    alloc_free(buf);
    return same;
}

static mode_t mode_of(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, 0) != 0)
        return (mode_t)-1;
    return st.st_mode & 07777;
}

static void test_round_trip_and_mode(int dirfd)
{
    static const char hello[] = "hello, vault";
    uint8_t *buf = NULL;
    size_t len = 0;
    mode_t old_umask = umask(0);

    CHECK_EQ_INT(io_write_atomic(dirfd, "a", hello, sizeof hello, 0640), 0);
    CHECK(holds(dirfd, "a", (const uint8_t *)hello, sizeof hello));
    CHECK_EQ_INT(mode_of(dirfd, "a"), 0640);
    umask(022);
    CHECK_EQ_INT(io_write_atomic(dirfd, "a", hello, 5, 0666), 0);
    CHECK_EQ_INT(mode_of(dirfd, "a"), 0644);
    CHECK(holds(dirfd, "a", (const uint8_t *)hello, 5));
    umask(old_umask);

    /* An empty file reads back as a freeable buffer of length 0. */
    CHECK_EQ_INT(io_write_atomic(dirfd, "empty", "", 0, 0600), 0);
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "empty", 0), 0);
    CHECK(buf != NULL);
    CHECK_EQ_INT(len, 0);
    alloc_free(buf);

    CHECK_EQ_INT(io_remove(dirfd, "a"), 0);
    CHECK_EQ_INT(io_remove(dirfd, "empty"), 0);
    CHECK_EQ_INT(io_remove(dirfd, "a"), -ENOENT);
    CHECK_EQ_INT(count_entries(), 0);
}

/* The rename swaps in a new inode: a reader that opened the old file keeps
 * seeing all of the old bytes, never a mix. */
static void test_replace_is_atomic(int dirfd)
{
    char buf[16] = { 0 };
    int fd;

    CHECK_EQ_INT(io_write_atomic(dirfd, "r", "old-bytes", 9, 0600), 0);
    fd = openat(dirfd, "r", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ_INT(io_write_atomic(dirfd, "r", "NEW", 3, 0600), 0);
    CHECK_EQ_INT(pread(fd, buf, sizeof buf - 1, 0), 9);
    CHECK_EQ_STR(buf, "old-bytes");
    close(fd);
    CHECK(holds(dirfd, "r", (const uint8_t *)"NEW", 3));
    CHECK_EQ_INT(count_entries(), 1);
    CHECK_EQ_INT(io_remove(dirfd, "r"), 0);
}

static void test_large(int dirfd)
{
    size_t len = 3 * MIB + 123;
    uint8_t *data = pattern(len, 7);
    struct fault_plan count = { .step = IO_STEP_WRITE, .nth = -1 };

    /* A never-firing plan just counts the write(2) calls. */
    io_set_fault_hook(fail_step, &count);
    CHECK_EQ_INT(io_write_atomic(dirfd, "big", data, len, 0600), 0);
    io_set_fault_hook(NULL, NULL);
    CHECK(count.seen >= 4);
    CHECK(holds(dirfd, "big", data, len));
    CHECK_EQ_INT(io_remove(dirfd, "big"), 0);
    alloc_free(data);
}

static void test_faults(int dirfd)
{
    static const struct { enum io_step step; int nth; } cases[] = {
        { IO_STEP_OPEN, 1 },  { IO_STEP_WRITE, 1 },  { IO_STEP_WRITE, 2 },
        { IO_STEP_FSYNC, 1 }, { IO_STEP_RENAME, 1 }, { IO_STEP_DIRSYNC, 1 },
    };
    static const int errs[] = { -EIO, -ENOSPC };
    size_t old_len = MIB + MIB / 2, new_len = 3 * MIB;
    uint8_t *old_data = pattern(old_len, 1);
    uint8_t *new_data = pattern(new_len, 2);

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
            struct fault_plan plan = { cases[c].step, cases[c].nth, errs[e], 0 };
            int after_rename = cases[c].step == IO_STEP_DIRSYNC;

            CHECK_EQ_INT(io_write_atomic(dirfd, "t", old_data, old_len, 0600), 0);
            io_set_fault_hook(fail_step, &plan);
            CHECK_EQ_INT(io_write_atomic(dirfd, "t", new_data, new_len, 0600),
                         errs[e]);
            io_set_fault_hook(NULL, NULL);
            CHECK_EQ_INT(plan.seen, plan.nth);
            if (after_rename)
                CHECK(holds(dirfd, "t", new_data, new_len));
            else
                CHECK(holds(dirfd, "t", old_data, old_len));
            CHECK_EQ_INT(count_entries(), 1);
        }
    }
    CHECK_EQ_INT(io_remove(dirfd, "t"), 0);

    /* A failed first write of a name leaves no file at all. */
    {
        struct fault_plan plan = { IO_STEP_RENAME, 1, -EIO, 0 };
        uint8_t *buf = NULL;
        size_t len = 0;

        io_set_fault_hook(fail_step, &plan);
        CHECK_EQ_INT(io_write_atomic(dirfd, "fresh", "x", 1, 0600), -EIO);
        io_set_fault_hook(NULL, NULL);
        CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "fresh", 16), -ENOENT);
        CHECK_EQ_INT(count_entries(), 0);
    }

    /* io_remove's directory fsync fails the same way; the unlink stands. */
    {
        struct fault_plan plan = { IO_STEP_DIRSYNC, 1, -EIO, 0 };

        CHECK_EQ_INT(io_write_atomic(dirfd, "gone", "x", 1, 0600), 0);
        io_set_fault_hook(fail_step, &plan);
        CHECK_EQ_INT(io_remove(dirfd, "gone"), -EIO);
        io_set_fault_hook(NULL, NULL);
        CHECK_EQ_INT(count_entries(), 0);
    }
    alloc_free(old_data);
    alloc_free(new_data);
}

/* The steps of a change of several files (io.h): a failed write leaves
 * no file, a failed rename leaves the old file and no temporary, the
 * barrier reports its error and changes nothing. */
static void test_staged_steps(int dirfd)
{
    static const int errs[] = { -EIO, -ENOSPC };

    for (size_t e = 0; e < sizeof errs / sizeof errs[0]; e++) {
        struct fault_plan open_fails = { IO_STEP_OPEN, 1, errs[e], 0 };
        struct fault_plan write_fails = { IO_STEP_WRITE, 1, errs[e], 0 };
        struct fault_plan flush_fails = { IO_STEP_FSYNC, 1, errs[e], 0 };
        struct fault_plan rename_fails = { IO_STEP_RENAME, 1, errs[e], 0 };

        io_set_fault_hook(fail_step, &open_fails);
        CHECK_EQ_INT(io_write_unsynced(dirfd, "n", "new", 3, 0600), errs[e]);
        io_set_fault_hook(fail_step, &write_fails);
        CHECK_EQ_INT(io_write_unsynced(dirfd, "n", "new", 3, 0600), errs[e]);
        CHECK_EQ_INT(count_entries(), 0);

        CHECK_EQ_INT(io_write_atomic(dirfd, "t", "old", 3, 0600), 0);
        write_fails.seen = 0;
        io_set_fault_hook(fail_step, &write_fails);
        CHECK_EQ_INT(io_write_temp(dirfd, "t", "new", 3, 0600), errs[e]);
        io_set_fault_hook(NULL, NULL);
        CHECK_EQ_INT(count_entries(), 1);
        CHECK_EQ_INT(io_write_temp(dirfd, "t", "new", 3, 0600), 0);
        io_set_fault_hook(fail_step, &flush_fails);
        CHECK_EQ_INT(io_flush_fs(dirfd), errs[e]);
        io_set_fault_hook(fail_step, &rename_fails);
        CHECK_EQ_INT(io_rename_temp(dirfd, "t"), errs[e]);
        io_set_fault_hook(NULL, NULL);
        CHECK(holds(dirfd, "t", (const uint8_t *)"old", 3));
        CHECK_EQ_INT(count_entries(), 1);

        /* and without faults: in place after the rename; a discarded
         * temporary is gone */
        CHECK_EQ_INT(io_write_unsynced(dirfd, "n", "new", 3, 0600), 0);
        CHECK_EQ_INT(io_write_temp(dirfd, "t", "new", 3, 0600), 0);
        CHECK_EQ_INT(io_flush_fs(dirfd), 0);
        CHECK_EQ_INT(io_rename_temp(dirfd, "t"), 0);
        CHECK(holds(dirfd, "t", (const uint8_t *)"new", 3));
        CHECK(holds(dirfd, "n", (const uint8_t *)"new", 3));
        CHECK_EQ_INT(io_write_temp(dirfd, "t", "newer", 5, 0600), 0);
        io_discard_temp(dirfd, "t");
        CHECK(holds(dirfd, "t", (const uint8_t *)"new", 3));
        CHECK_EQ_INT(count_entries(), 2);
        CHECK_EQ_INT(io_remove(dirfd, "t"), 0);
        CHECK_EQ_INT(io_remove(dirfd, "n"), 0);
    }
}

static void test_stale_temp_and_names(int dirfd)
{
    char stale[64], longname[300];
    int fd;

    /* A temporary left by a crashed run with our pid must not block us. */
    snprintf(stale, sizeof stale, ".s.tmp.%ld", (long)getpid());
    fd = openat(dirfd, stale, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, "stale", 5), 5);
    close(fd);
    CHECK_EQ_INT(io_write_atomic(dirfd, "s", "fresh", 5, 0600), 0);
    CHECK(holds(dirfd, "s", (const uint8_t *)"fresh", 5));
    CHECK_EQ_INT(count_entries(), 1);
    CHECK_EQ_INT(io_remove(dirfd, "s"), 0);

    CHECK_EQ_INT(io_write_atomic(dirfd, "a/b", "x", 1, 0600), -EINVAL);
    CHECK_EQ_INT(io_write_atomic(dirfd, "", "x", 1, 0600), -EINVAL);
    memset(longname, 'n', 250);
    longname[250] = '\0';
    CHECK_EQ_INT(io_write_atomic(dirfd, longname, "x", 1, 0600), -ENAMETOOLONG);
    CHECK_EQ_INT(count_entries(), 0);
}

static void test_read_limits(int dirfd)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    CHECK_EQ_INT(io_write_atomic(dirfd, "ten", "0123456789", 10, 0600), 0);
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "ten", 9), -EFBIG);
    CHECK(buf == NULL);
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "ten", 10), 0);
    CHECK_EQ_INT(len, 10);
    CHECK(buf && memcmp(buf, "0123456789", 10) == 0);
    alloc_free(buf);
    buf = NULL;
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "missing", 10), -ENOENT);
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, ".", 10), -EISDIR);

    alloc_fail_after(0);
    CHECK_EQ_INT(io_read_file(&buf, &len, dirfd, "ten", 10), -ENOMEM);
    alloc_fail_after(-1);
    CHECK(buf == NULL);
    CHECK_EQ_INT(io_remove(dirfd, "ten"), 0);
}

/* Counts the flush steps (a file's fsync, syncfs, a directory's fsync). */
static int count_flush_steps(enum io_step step, void *ctx)
{
    if (step == IO_STEP_FSYNC || step == IO_STEP_DIRSYNC)
        ++*(int *)ctx;
    return 0;
}

/* A change's files flushed: one syncfs, or each file and each directory
 * with a new name; a failed fsync is the flush's error. */
static void test_flush_policies(int dirfd)
{
    struct io_flush f;
    int steps = 0;

    CHECK_EQ_INT(io_write_unsynced(dirfd, "new", "n", 1, 0600), 0);
    CHECK_EQ_INT(io_write_temp(dirfd, "replaced", "r", 1, 0600), 0);

    io_set_flush_policy(IO_FLUSH_FS);
    io_set_fault_hook(count_flush_steps, &steps);
    io_flush_begin(&f);
    io_flush_add(&f, dirfd, "new", true);
    io_flush_add_temp(&f, dirfd, "replaced");
    CHECK_EQ_INT(io_flush_end(&f, dirfd), 0);
    CHECK_EQ_INT(steps, 1); /* syncfs */

    io_set_flush_policy(IO_FLUSH_FILES);
    steps = 0;
    io_flush_begin(&f);
    io_flush_add(&f, dirfd, "new", true);
    io_flush_add_temp(&f, dirfd, "replaced");
    io_flush_add(&f, dirfd, "new", true); /* the directory once */
    CHECK_EQ_INT(io_flush_end(&f, dirfd), 0);
    CHECK_EQ_INT(steps, 4);
    io_set_fault_hook(NULL, NULL);

    for (int nth = 1; nth <= 2; nth++) {
        struct fault_plan plan = {.step = IO_STEP_FSYNC, .nth = nth, .err = -EIO};
        io_set_fault_hook(fail_step, &plan);
        io_flush_begin(&f);
        io_flush_add(&f, dirfd, "new", true);
        io_flush_add_temp(&f, dirfd, "replaced");
        CHECK_EQ_INT(io_flush_end(&f, dirfd), -EIO);
        io_set_fault_hook(NULL, NULL);
    }
    io_flush_begin(&f);
    io_flush_add_temp(&f, dirfd, "absent");
    CHECK_EQ_INT(io_flush_end(&f, dirfd), -ENOENT);
    io_set_flush_policy(IO_FLUSH_AUTO);

    CHECK_EQ_INT(io_rename_temp(dirfd, "replaced"), 0);
    CHECK_EQ_INT(unlinkat(dirfd, "replaced", 0), 0);
    CHECK_EQ_INT(unlinkat(dirfd, "new", 0), 0);
    CHECK_EQ_INT(count_entries(), 0);
}

/* AUTO's measure of unwritten data: /proc/meminfo's Dirty and Writeback. */
static void test_unwritten_bytes(void)
{
    CHECK_EQ_INT((long long)io_unwritten_bytes_of("MemTotal:  100 kB\nDirty:   20 kB\n"
                                                  "Writeback:    3 kB\nWritebackTmp: 9 kB\n"),
                 23 * 1024);
    CHECK_EQ_INT((long long)io_unwritten_bytes_of("Dirty:\t5 kB\n"), 5 * 1024);
    CHECK_EQ_INT((long long)io_unwritten_bytes_of("NotDirty: 7 kB\nDirtyish: 7 kB\n"), 0);
    CHECK_EQ_INT((long long)io_unwritten_bytes_of(""), 0);
}

/* A journal's appends (io_write_at): each written where it is told, what
 * followed cut off; io_truncate takes one back; neither creates the file. */
static void test_write_at(int dirfd)
{
    uint8_t *a = pattern(100, 1), *b = pattern(40, 2), both[140];

    CHECK_EQ_INT(io_write_at(dirfd, "journal", 0, a, 100), -ENOENT);
    CHECK_EQ_INT(io_write_atomic(dirfd, "journal", a, 100, 0600), 0);
    CHECK_EQ_INT(io_write_at(dirfd, "journal", 100, b, 40), 0);
    memcpy(both, a, 100);
    memcpy(both + 100, b, 40);
    CHECK(holds(dirfd, "journal", both, 140));
    /* written again over a longer tail: the tail goes */
    CHECK_EQ_INT(io_write_at(dirfd, "journal", 50, b, 40), 0);
    memcpy(both + 50, b, 40);
    CHECK(holds(dirfd, "journal", both, 90));
    CHECK_EQ_INT(io_truncate(dirfd, "journal", 50), 0);
    CHECK(holds(dirfd, "journal", a, 50));
    /* a failed write is the caller's to cut */
    struct fault_plan f = {IO_STEP_WRITE, 1, -EIO, 0};
    io_set_fault_hook(fail_step, &f);
    CHECK_EQ_INT(io_write_at(dirfd, "journal", 50, b, 40), -EIO);
    io_set_fault_hook(NULL, NULL);
    CHECK(holds(dirfd, "journal", a, 50));
    CHECK_EQ_INT(unlinkat(dirfd, "journal", 0), 0);
    free(a);
    free(b);
}

/* A file outside the store replaced by a rename, never fsynced: the old
 * one or the new one, no temporary left. */
static void test_replace_unsynced(int dirfd)
{
    uint8_t *a = pattern(30, 3), *b = pattern(20, 4);
    struct fault_plan f = {IO_STEP_FSYNC, 1, -EIO, 0};

    io_set_fault_hook(fail_step, &f); /* any fsync would fail it */
    CHECK_EQ_INT(io_replace_unsynced(dirfd, "state", a, 30, 0600), 0);
    CHECK_EQ_INT(io_replace_unsynced(dirfd, "state", b, 20, 0600), 0);
    io_set_fault_hook(NULL, NULL);
    CHECK(holds(dirfd, "state", b, 20));
    CHECK_EQ_INT(mode_of(dirfd, "state"), 0600);
    f = (struct fault_plan){IO_STEP_RENAME, 1, -EIO, 0};
    io_set_fault_hook(fail_step, &f);
    CHECK_EQ_INT(io_replace_unsynced(dirfd, "state", a, 30, 0600), -EIO);
    io_set_fault_hook(NULL, NULL);
    CHECK(holds(dirfd, "state", b, 20));
    CHECK_EQ_INT(count_entries(), 1);
    CHECK_EQ_INT(unlinkat(dirfd, "state", 0), 0);
    free(a);
    free(b);
}

int main(void)
{
    int dirfd;

    if (!mkdtemp(dir_path)) {
        perror("mkdtemp");
        return 99;
    }
    dirfd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        perror(dir_path);
        return 99;
    }
    test_round_trip_and_mode(dirfd);
    test_replace_is_atomic(dirfd);
    test_large(dirfd);
    test_faults(dirfd);
    test_staged_steps(dirfd);
    test_stale_temp_and_names(dirfd);
    test_read_limits(dirfd);
    test_flush_policies(dirfd);
    test_unwritten_bytes();
    test_write_at(dirfd);
    test_replace_unsynced(dirfd);
    CHECK_EQ_INT(io_sync_dir(dirfd), 0);
    close(dirfd);
    CHECK_EQ_INT(rmdir(dir_path), 0);
    return check_done("io");
}
