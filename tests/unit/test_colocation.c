/*
 * test_colocation: grouping shares found in one place by vault and
 * generation, the signing thresholds (2 of 2, 2 of 3, ceil(2n/3) of n), and
 * which groups let the place sign alone.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "colocation.h"

static struct colocation_share share(const char *vault, int generation, int device,
                                     size_t signers)
{
    struct colocation_share s;
    memset(&s, 0, sizeof(s));
    s.vault_key = vault;
    memset(s.digest.generation, generation, sizeof(s.digest.generation));
    memset(s.digest.device, device, sizeof(s.digest.device));
    memset(s.digest.shares, device * 16 + generation, sizeof(s.digest.shares));
    s.signer_count = signers;
    return s;
}

static void test_thresholds(void)
{
    CHECK_EQ_INT(colocation_threshold(1), 1);
    CHECK_EQ_INT(colocation_threshold(2), 2);
    CHECK_EQ_INT(colocation_threshold(3), 2);
    CHECK_EQ_INT(colocation_threshold(4), 3);
    CHECK_EQ_INT(colocation_threshold(5), 4);
    CHECK_EQ_INT(colocation_threshold(6), 4);
    CHECK_EQ_INT(colocation_threshold(9), 6);
}

static void test_labels(void)
{
    struct colocation_share s[5] = {
        share("A", 1, 1, 2), share("B", 1, 1, 2), share("A", 2, 1, 3),
        share("A", 1, 2, 2), share("A", 2, 2, 3),
    };
    struct colocation_label l[5];
    colocation_label(l, s, 5);
    CHECK_EQ_INT(l[0].vault, 0);
    CHECK_EQ_INT(l[1].vault, 1);
    CHECK_EQ_INT(l[2].vault, 0);
    CHECK_EQ_INT(l[2].generation, 1);
    CHECK_EQ_INT(l[3].generation, 0);
    CHECK_EQ_INT(l[4].generation, 1);
    CHECK_EQ_INT(colocation_generations(l, 5, 0), 2);
    CHECK_EQ_INT(colocation_generations(l, 5, 1), 1);
}

static void test_findings(void)
{
    struct colocation_share s[8] = {
        share("A", 1, 1, 2), share("A", 1, 2, 2), /* 2 of 2 together: can sign */
        share("B", 1, 1, 3), share("B", 2, 2, 3), /* two generations: no group */
        share("C", 1, 1, 4), share("C", 1, 2, 4), /* 2 of 4 (needs 3): cannot */
        share("D", 1, 1, 2), share("D", 1, 1, 2), /* one device twice: no group */
    };
    struct colocation_finding *found = NULL;
    size_t count = 0;
    CHECK_EQ_INT(colocation_find(&found, &count, s, 8), 0);
    CHECK_EQ_INT(count, 2);
    if (count == 2) {
        CHECK_EQ_INT(found[0].first, 0);
        CHECK_EQ_INT(found[0].devices, 2);
        CHECK_EQ_INT(found[0].threshold, 2);
        CHECK(found[0].can_sign);
        CHECK_EQ_INT(found[1].first, 4);
        CHECK_EQ_INT(found[1].threshold, 3);
        CHECK(!found[1].can_sign);
    }
    alloc_free(found);

    s[6] = share("C", 1, 3, 4); /* a third device of C: now 3 of 4 */
    CHECK_EQ_INT(colocation_find(&found, &count, s, 7), 0);
    CHECK_EQ_INT(count, 2);
    if (count == 2) {
        CHECK_EQ_INT(found[1].devices, 3);
        CHECK(found[1].can_sign);
    }
    alloc_free(found);

    CHECK_EQ_INT(colocation_find(&found, &count, s, 0), 0);
    CHECK_EQ_INT(count, 0);
    alloc_free(found);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_thresholds();
    test_labels();
    test_findings();
    return check_done("colocation");
}
