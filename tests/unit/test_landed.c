/*
 * test_landed: the names imports just took (fs/landed.c), without FUSE:
 * only a name whose mode was set by name while it was written is kept, it
 * answers as the file written, a mark is used once, and an old name is
 * dropped when the ring is full.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "landed.h"

static void test_only_a_marked_name_is_kept(void)
{
    static struct landed l;

    landed_add(&l, "/plain.vult", 10);
    CHECK(landed_find(&l, "/plain.vult") == NULL);
    landed_mark(&l, "/kde.vult");
    landed_add(&l, "/kde.vult", 1234);
    const struct landed_name *n = landed_find(&l, "/kde.vult");
    CHECK(n != NULL);
    CHECK_EQ_INT(n ? n->size : 0, 1234);
    CHECK(n && (n->ino >> 63) == 1);
    CHECK(landed_find(&l, "/kde.vult.part") == NULL);
    CHECK(landed_find(&l, "/Vault/kde.vult") == NULL);
    /* the mark was used: the same name imported again without one is not renewed */
    landed_add(&l, "/other.vult", 5);
    CHECK(landed_find(&l, "/other.vult") == NULL);
}

static void test_the_newest_answers_and_old_ones_go(void)
{
    static struct landed l;
    char path[32];

    landed_mark(&l, "/a.vult");
    landed_add(&l, "/a.vult", 1);
    landed_mark(&l, "/a.vult");
    landed_add(&l, "/a.vult", 2);
    const struct landed_name *n = landed_find(&l, "/a.vult");
    CHECK_EQ_INT(n ? n->size : 0, 2);
    for (int i = 0; i < LANDED_NAMES; i++) {
        snprintf(path, sizeof(path), "/f%d.vult", i);
        landed_mark(&l, path);
        landed_add(&l, path, (size_t)i);
    }
    CHECK(landed_find(&l, "/a.vult") == NULL);
    CHECK(landed_find(&l, "/f0.vult") != NULL);
    CHECK(landed_find(&l, "/f15.vult") != NULL);
}

static void test_a_path_too_long_is_not_kept(void)
{
    static struct landed l;
    static char path[LANDED_PATH_MAX + 8];

    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    landed_mark(&l, path);
    landed_add(&l, path, 1);
    CHECK(landed_find(&l, path) == NULL);
}

int main(void)
{
    test_only_a_marked_name_is_kept();
    test_the_newest_answers_and_old_ones_go();
    test_a_path_too_long_is_not_kept();
    return check_done("landed");
}
