/*
 * test_kcache: when a read may use the kernel's page cache (fs/kcache.c),
 * without FUSE: the pages are kept only for the content they hold, never
 * shared by two contents at once, not used while a change is being told
 * or a writer is at work, and stat shows the size buffered readers read.
 */
#include <string.h>

#include "check.h"
#include "kcache.h"

#define SHARE "/V/share.vult"

static struct kcache_file *open_as(struct kcache *c, enum kcache_mode want, uint64_t key,
                                   size_t size)
{
    enum kcache_mode mode;
    struct kcache_file *f = NULL;

    CHECK_EQ_INT(kcache_open(&mode, &f, c, SHARE, key, size), 0);
    CHECK_EQ_INT(mode, want);
    CHECK((f != NULL) == (want != KCACHE_DIRECT));
    return f;
}

/* First open fills the pages; later opens of the same content keep them;
 * another content drops them. */
static void test_keep_for_the_same_content(void)
{
    struct kcache c;
    kcache_init(&c);
    CHECK(!kcache_release(open_as(&c, KCACHE_FRESH, 1, 100)));
    CHECK(!kcache_release(open_as(&c, KCACHE_KEEP, 1, 100)));
    CHECK(!kcache_release(open_as(&c, KCACHE_FRESH, 2, 120)));
    CHECK(!kcache_release(open_as(&c, KCACHE_KEEP, 2, 120)));
    kcache_free(&c);
}

/* A handle of the old content is open when the content changes: opens of
 * the new one read directly, stat shows the old size until it closes, and
 * its close asks for the kernel to be told. */
static void test_two_contents_never_share_the_pages(void)
{
    struct kcache c;
    size_t size = 0;
    kcache_init(&c);
    struct kcache_file *old = open_as(&c, KCACHE_FRESH, 1, 100);
    CHECK(kcache_held_size(&c, SHARE, &size));
    CHECK_EQ_INT(size, 100);
    open_as(&c, KCACHE_DIRECT, 2, 120);
    CHECK(kcache_held_size(&c, SHARE, &size));
    CHECK_EQ_INT(size, 100);
    CHECK(kcache_release(old)); /* changed while open: tell the kernel */
    CHECK(!kcache_held_size(&c, SHARE, &size));
    CHECK_EQ_INT(kcache_changed(&c, SHARE), 0);
    open_as(&c, KCACHE_DIRECT, 2, 120); /* not told yet */
    kcache_done(&c, SHARE);
    CHECK(!kcache_release(open_as(&c, KCACHE_FRESH, 2, 120)));
    kcache_free(&c);
}

/* An import changed the file (kcache_changed) while a reader was open:
 * its close asks for the kernel to be told even of the same key. */
static void test_change_while_open(void)
{
    struct kcache c;
    kcache_init(&c);
    struct kcache_file *f = open_as(&c, KCACHE_FRESH, 1, 100);
    CHECK_EQ_INT(kcache_changed(&c, SHARE), 0);
    open_as(&c, KCACHE_DIRECT, 1, 100); /* pending */
    kcache_done(&c, SHARE);
    CHECK(kcache_release(f));
    kcache_free(&c);
}

/* While someone writes over the file, readers read directly. */
static void test_writers_make_readers_direct(void)
{
    struct kcache c;
    kcache_init(&c);
    struct kcache_file *w = kcache_write_begin(&c, SHARE);
    CHECK(w != NULL);
    open_as(&c, KCACHE_DIRECT, 1, 100);
    kcache_write_end(w);
    CHECK(!kcache_release(open_as(&c, KCACHE_FRESH, 1, 100)));
    kcache_free(&c);
}

int main(void)
{
    test_keep_for_the_same_content();
    test_two_contents_never_share_the_pages();
    test_change_while_open();
    test_writers_make_readers_direct();
    return check_done("test_kcache");
}
