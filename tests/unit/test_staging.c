/*
 * test_staging: files being written into the mount (fs/staging.c), without
 * FUSE: who sees which bytes, when a file leaves the tree, temporaries
 * that outlive their opens, the import cap, and the path queries the tree
 * and readdir use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "backup_zip.h"
#include "check.h"
#include "staging.h"

#define CAP (64u << 10)

static void test_temp_names(void)
{
    CHECK(staging_is_temp_name(".share.vult.XXXXXX"));
    CHECK(staging_is_temp_name(".goutputstream-ABC123"));
    CHECK(staging_is_temp_name("share.vult.part"));
    CHECK(staging_is_temp_name("share.vult~"));
    CHECK(!staging_is_temp_name("share.vult"));
    CHECK(!staging_is_temp_name("vault.json"));
    CHECK(!staging_is_temp_name("~"));
    CHECK(!staging_is_temp_name("part"));
}

/* Two writers of one final name never mix their bytes; the file shows the
 * size of the latest write and stays in the tree until it is imported. */
static void test_final_name_writers_are_separate(void)
{
    struct staging st;
    struct staging_handle *a, *b;
    char got[16] = {0};

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&a, &st, "/share.vult", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_open(&b, &st, "/share.vult", true, false, NULL, 0), 0);
    CHECK(a->file == b->file);
    CHECK_EQ_INT(a->file->opens, 2);
    CHECK_EQ_INT(staging_write(&st, a, "aaaa", 4, 0), 0);
    CHECK_EQ_INT(staging_write(&st, b, "bb", 2, 0), 0);
    CHECK_EQ_INT(staging_read(a, got, sizeof(got), 0), 4);
    CHECK_EQ_STR(got, "aaaa");
    CHECK_EQ_INT(staging_size(a->file), 2); /* the latest writer's */
    CHECK(a->dirty && b->dirty);

    staging_release(&st, a);
    staging_release(&st, b);
    /* never imported: still in the tree (touch; tar writes in a second open) */
    struct staging_file *f = staging_find(&st, "/share.vult");
    CHECK(f != NULL);
    if (f) {
        f->imported = true;
        CHECK_EQ_INT(staging_open(&a, &st, "/share.vult", false, false, NULL, 0), 0);
        staging_release(&st, a);
    }
    /* imported and closed: out of the tree */
    CHECK(staging_find(&st, "/share.vult") == NULL);
    CHECK(st.files == NULL);
    staging_clear(&st);
}

/* Without O_TRUNC a buffer starts with the file's content; a shadow (a
 * store file opened for writing) leaves the tree once closed. */
static void test_initial_content_and_shadow(void)
{
    struct staging st;
    struct staging_handle *h;
    char got[16] = {0};

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/v/share.vult", false, true, (const uint8_t *)"old", 3),
                 0);
    CHECK_EQ_INT(staging_size(h->file), 3);
    CHECK_EQ_INT(staging_write(&st, h, "N", 1, 0), 0);
    CHECK_EQ_INT(staging_read(h, got, sizeof(got), 0), 3);
    CHECK_EQ_STR(got, "Nld");
    CHECK(staging_find(&st, "/v/share.vult") == h->file);
    staging_release(&st, h);
    CHECK(staging_find(&st, "/v/share.vult") == NULL);
    staging_clear(&st);
}

/* Temporaries share one buffer that outlives release (tools rename after
 * close); O_TRUNC empties it; a move replaces a temporary at the target. */
static void test_temporaries(void)
{
    struct staging st;
    struct staging_handle *h, *g;
    char got[16] = {0};

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/.x.tmp", true, false, NULL, 0), 0);
    CHECK(h->file->temp);
    CHECK_EQ_INT(staging_write(&st, h, "hello", 5, 0), 0);
    staging_release(&st, h);
    struct staging_file *f = staging_find(&st, "/.x.tmp");
    CHECK(f != NULL);
    if (!f) {
        staging_clear(&st);
        return;
    }
    CHECK_EQ_INT(staging_size(f), 5);
    CHECK_EQ_INT(staging_open(&g, &st, "/.x.tmp", false, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_read(g, got, sizeof(got), 0), 5);
    CHECK_EQ_STR(got, "hello");
    staging_release(&st, g);
    CHECK_EQ_INT(staging_open(&g, &st, "/.x.tmp", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_size(f), 0);
    staging_release(&st, g);

    /* truncate(2) by path works on temporaries, not on final names */
    CHECK_EQ_INT(staging_truncate_file(&st, f, 7), 0);
    CHECK_EQ_INT(staging_size(f), 7);
    CHECK_EQ_INT(staging_truncate_file(&st, f, CAP + 1), -EFBIG);

    /* a move onto another temporary replaces it */
    CHECK_EQ_INT(staging_open(&g, &st, "/other.part", true, false, NULL, 0), 0);
    staging_release(&st, g);
    CHECK_EQ_INT(staging_move(&st, f, "/other.part"), 0);
    CHECK(staging_find(&st, "/.x.tmp") == NULL);
    CHECK(staging_find(&st, "/other.part") == f);
    staging_remove(&st, f);
    CHECK(st.files == NULL);
    staging_clear(&st);
}

static void test_final_name_truncate_by_path(void)
{
    struct staging st;
    struct staging_handle *h;

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/a.vult", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "abc", 3, 0), 0);
    CHECK_EQ_INT(staging_truncate_file(&st, h->file, 3), 0);
    CHECK_EQ_INT(staging_truncate_file(&st, h->file, 2), -EPERM);
    CHECK_EQ_INT(staging_truncate_file(&st, h->file, -1), -EINVAL);
    staging_release(&st, h);
    staging_clear(&st);
}

/* Past the cap a write fails with EFBIG and the handle remembers it, so
 * that the next flush reports it; a hole reads as zeros. */
static void test_cap(void)
{
    struct staging st;
    struct staging_handle *h;
    unsigned char got[4] = {1, 1, 1, 1};

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_cap(&st), CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/big.vult", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, CAP - 1), 0);
    CHECK_EQ_INT(staging_size(h->file), CAP);
    CHECK_EQ_INT(staging_read(h, got, sizeof(got), 0), 4);
    CHECK(got[0] == 0 && got[3] == 0);
    h->dirty = false;
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, CAP), -EFBIG);
    CHECK(h->too_big && h->dirty);
    CHECK_EQ_INT(staging_truncate(&st, h, CAP + 1), -EFBIG);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, -1), -EINVAL);
    CHECK_EQ_INT(staging_truncate(&st, h, 1), 0);
    CHECK_EQ_INT(staging_size(h->file), 1);
    staging_release(&st, h);
    staging_clear(&st);
}

/* The apps' zips in the root, and temporaries named after one, get the
 * zip's cap; a zip deeper down and every other name keep the import cap. */
static void test_zip_cap(void)
{
    struct staging st;
    struct staging_handle *h;
    const char *zip_cap[] = {"/vaults_backup_2026-01-02_030405.zip", "/ALL.ZIP",
                             "/.all.zip.Ab12Cd"};
    const char *import_cap[] = {"/Vault/all.zip", "/all.vult", "/Vault/.all.zip.Ab12Cd"};

    staging_init(&st, CAP);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(staging_cap_for(&st, zip_cap[i]), BACKUP_ZIP_MAX_FILE);
        CHECK_EQ_INT(staging_cap_for(&st, import_cap[i]), CAP);
    }
    CHECK_EQ_INT(staging_open(&h, &st, zip_cap[0], true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, 3 * CAP), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, BACKUP_ZIP_MAX_FILE), -EFBIG);
    staging_release(&st, h);
    CHECK_EQ_INT(staging_open(&h, &st, import_cap[0], true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, CAP), -EFBIG);
    staging_release(&st, h);
    staging_clear(&st);
}

/* The budget of locked memory: two files at the import cap, or one zip
 * at the zip cap (64 MiB at least), and room for small files beside. */
static void test_budget(void)
{
    struct staging st;
    size_t zip = BACKUP_ZIP_MAX_FILE > (64u << 20) ? BACKUP_ZIP_MAX_FILE : 64u << 20;

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_budget(&st), zip + STAGING_SMALL_ROOM);
    staging_init(&st, 32u << 20); /* the default import cap */
    CHECK_EQ_INT(staging_budget(&st), (64u << 20 > zip ? 64u << 20 : zip) + STAGING_SMALL_ROOM);
    staging_init(&st, 256u << 20); /* the largest */
    CHECK_EQ_INT(staging_budget(&st), (512u << 20) + STAGING_SMALL_ROOM);
}

/* A file is large by what it holds: one written up to STAGING_SMALL in
 * pieces of any size (the kernel's are not powers of two) stays small,
 * and is charged no more than STAGING_SMALL. */
static void test_small_stays_small(void)
{
    struct staging st;
    struct staging_handle *h;

    staging_init(&st, 32u << 20);
    CHECK_EQ_INT(staging_open(&h, &st, "/.t.part", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, STAGING_SMALL - 1185), 0);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, STAGING_SMALL - 1), 0);
    CHECK_EQ_INT(st.large_count, 0);
    CHECK_EQ_INT(st.total_bytes, STAGING_SMALL);
    CHECK_EQ_INT(staging_write(&st, h, "x", 1, STAGING_SMALL), 0); /* one byte more: large */
    CHECK_EQ_INT(st.large_count, 1);
    CHECK_EQ_INT(st.total_bytes, 32u << 20);
    staging_release(&st, h);
    staging_clear(&st);
    CHECK_EQ_INT(st.total_bytes, 0);
}

/* Large files are admitted whole, in the order they grow past
 * STAGING_SMALL, while their limits fit the budget; a newcomer that does
 * not fit is refused at once (-ENOSPC, remembered with how many were in),
 * and each file admitted finishes whatever small files take meanwhile. */
static void test_large_files_are_admitted_whole(void)
{
    struct staging st;
    struct staging_handle *zip[4], *small[80];
    size_t budget, fit, n_small = 0;
    char path[64];
    int ret = 0;

    staging_init(&st, CAP);
    budget = staging_budget(&st);
    fit = (budget - STAGING_SMALL_ROOM) / BACKUP_ZIP_MAX_FILE; /* zips let in at once */
    CHECK(fit >= 1 && fit < 4);
    for (size_t i = 0; i <= fit; i++) {
        snprintf(path, sizeof(path), "/copy%zu.zip", i);
        CHECK_EQ_INT(staging_open(&zip[i], &st, path, true, false, NULL, 0), 0);
        /* small: charged what they hold, none admitted yet */
        CHECK_EQ_INT(staging_write(&st, zip[i], "x", 1, STAGING_SMALL - 1), 0);
    }
    CHECK_EQ_INT(st.large_count, 0);
    for (size_t i = 0; i < fit; i++)
        CHECK_EQ_INT(staging_write(&st, zip[i], "x", 1, STAGING_SMALL), 0);
    CHECK_EQ_INT(st.large_count, fit);
    CHECK_EQ_INT(staging_write(&st, zip[fit], "x", 1, STAGING_SMALL), -ENOSPC);
    CHECK_EQ_INT(zip[fit]->cut.error, -ENOSPC);
    CHECK_EQ_INT(zip[fit]->cut.crowd, fit);
    CHECK(zip[fit]->dirty && !zip[fit]->too_big);

    /* small temporaries take what is left (the large ones leave them
     * their room), then get -ENOSPC ... */
    CHECK(st.large_bytes + STAGING_SMALL_ROOM <= budget);
    while (n_small < 80 && ret == 0) {
        snprintf(path, sizeof(path), "/.left%zu.zip", n_small); /* the zip cap */
        CHECK_EQ_INT(staging_open(&small[n_small], &st, path, true, false, NULL, 0), 0);
        ret = staging_write(&st, small[n_small++], "x", 1, STAGING_SMALL / 2 - 1);
    }
    CHECK_EQ_INT(ret, -ENOSPC);
    CHECK(st.total_bytes <= budget && st.total_bytes + STAGING_SMALL / 2 > budget); /* full */
    /* ... and every admitted file still grows to its limit */
    for (size_t i = 0; i < fit; i++)
        CHECK_EQ_INT(staging_write(&st, zip[i], "x", 1, BACKUP_ZIP_MAX_FILE - 1), 0);

    /* once one is done, the newcomer written again from the start is let in */
    staging_release(&st, zip[0]);
    CHECK_EQ_INT(st.large_count, fit - 1);
    CHECK_EQ_INT(staging_truncate(&st, zip[fit], 0), 0);
    CHECK_EQ_INT(zip[fit]->cut.error, 0);
    CHECK_EQ_INT(staging_write(&st, zip[fit], "x", 1, BACKUP_ZIP_MAX_FILE - 1), 0);
    CHECK_EQ_INT(st.large_count, fit);
    for (size_t i = 1; i <= fit; i++)
        staging_release(&st, zip[i]);
    for (size_t i = 0; i < n_small; i++)
        staging_release(&st, small[i]);
    staging_clear(&st);
    CHECK_EQ_INT(st.total_bytes, 0);
    CHECK_EQ_INT(st.large_count, 0);
}

static void count_file(void *ctx, const struct staging_file *file)
{
    (void)file;
    (*(int *)ctx)++;
}

/* What readdir and rmdir ask: files directly in a directory, any below. */
static void test_paths(void)
{
    struct staging st;
    struct staging_handle *h[3];
    int n = 0;

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h[0], &st, "/z.vult", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_open(&h[1], &st, "/a/x.vult", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_open(&h[2], &st, "/a/history/epoch-1.vult", true, false, NULL, 0), 0);
    CHECK(h[0]->file->ino != h[1]->file->ino && h[1]->file->ino != h[2]->file->ino);
    staging_foreach_in(&st, "/", count_file, &n);
    CHECK_EQ_INT(n, 1);
    n = 0;
    staging_foreach_in(&st, "/a", count_file, &n);
    CHECK_EQ_INT(n, 1);
    CHECK(staging_any_below(&st, "/a"));
    CHECK(staging_any_below(&st, "/a/history"));
    CHECK(!staging_any_below(&st, "/ab"));
    CHECK(!staging_any_below(&st, "/a/x.vult"));
    staging_remove(&st, h[1]->file); /* unlinked while open: gone from the tree */
    n = 0;
    staging_foreach_in(&st, "/a", count_file, &n);
    CHECK_EQ_INT(n, 0);
    for (int i = 0; i < 3; i++)
        staging_release(&st, h[i]);
    staging_clear(&st);
    CHECK(st.files == NULL);
    CHECK_EQ_INT(st.total_bytes, 0);
}

static struct timespec seconds_from_now(time_t seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += seconds;
    return t;
}

/* DESIGN: a closed temporary nobody renamed, and an empty file created and
 * closed without a write, vanish after STAGING_TTL_SECONDS; a file a handle
 * holds never does; their memory is given back. */
static void test_expiry(void)
{
    struct staging st;
    struct staging_handle *held, *h;
    struct timespec soon = seconds_from_now(STAGING_TTL_SECONDS - 1);
    struct timespec later = seconds_from_now(STAGING_TTL_SECONDS + 1);

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/.left.tmp", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "stale", 5, 0), 0);
    staging_release(&st, h);
    CHECK_EQ_INT(staging_open(&h, &st, "/touched.vult", true, false, NULL, 0), 0);
    staging_release(&st, h);
    CHECK_EQ_INT(staging_open(&held, &st, "/.held.tmp", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, held, "held", 4, 0), 0);

    staging_expire(&st, &soon);
    CHECK(staging_find(&st, "/.left.tmp") != NULL);
    CHECK(staging_find(&st, "/touched.vult") != NULL);
    staging_expire(&st, &later);
    CHECK(staging_find(&st, "/.left.tmp") == NULL);
    CHECK(staging_find(&st, "/touched.vult") == NULL);
    struct staging_file *f = held->file;
    CHECK(staging_find(&st, "/.held.tmp") == f);
    staging_release(&st, held); /* idle from now on */
    soon = seconds_from_now(STAGING_TTL_SECONDS - 1);
    staging_expire(&st, &soon);
    CHECK(staging_find(&st, "/.held.tmp") == f);
    CHECK_EQ_INT(staging_move(&st, f, "/.moved.tmp"), 0);
    staging_set_ttl(&st, 0);
    staging_expire(&st, &soon);
    CHECK(st.files == NULL);
    CHECK_EQ_INT(st.total_bytes, 0);
    staging_clear(&st);
}

/* A temporary renamed onto a final name is imported without the mount's
 * lock (fs/commit.c): pinned, it neither expires nor is freed meanwhile,
 * even when it leaves the tree; unpinned, it goes as it would have. */
static void test_pinned_file_stays(void)
{
    struct staging st;
    struct staging_handle *h;
    struct timespec later = seconds_from_now(STAGING_TTL_SECONDS + 1);

    staging_init(&st, CAP);
    CHECK_EQ_INT(staging_open(&h, &st, "/.renamed.tmp", true, false, NULL, 0), 0);
    CHECK_EQ_INT(staging_write(&st, h, "bytes", 5, 0), 0);
    struct staging_file *f = h->file;
    staging_release(&st, h);
    staging_pin(f);
    staging_expire(&st, &later);
    CHECK(staging_find(&st, "/.renamed.tmp") == f);
    CHECK_EQ_INT(f->buf.len, 5);
    staging_remove(&st, f); /* imported: out of the tree, still in memory */
    CHECK(staging_find(&st, "/.renamed.tmp") == NULL);
    CHECK(st.files == f && memcmp(f->buf.data, "bytes", 5) == 0);
    staging_unpin(&st, f);
    CHECK(st.files == NULL);
    CHECK_EQ_INT(st.total_bytes, 0);

    /* pinned and left in the tree: it expires once unpinned */
    CHECK_EQ_INT(staging_open(&h, &st, "/.refused.tmp", true, false, NULL, 0), 0);
    f = h->file;
    staging_release(&st, h);
    staging_pin(f);
    staging_unpin(&st, f);
    CHECK(staging_find(&st, "/.refused.tmp") == f);
    staging_expire(&st, &later);
    CHECK(st.files == NULL);
    staging_clear(&st);
}

int main(void)
{
    if (sodium_init() < 0)
        return 77;
    test_temp_names();
    test_final_name_writers_are_separate();
    test_initial_content_and_shadow();
    test_temporaries();
    test_final_name_truncate_by_path();
    test_cap();
    test_zip_cap();
    test_budget();
    test_small_stays_small();
    test_large_files_are_admitted_whole();
    test_paths();
    test_expiry();
    test_pinned_file_stays();
    return check_done("test_staging");
}
