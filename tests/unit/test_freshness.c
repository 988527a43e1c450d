/*
 * test_freshness: what `vultfs check` says of a file against what a store
 * holds, for every verdict, without disk: current, stale (and which epoch
 * superseded it), newer, another device (same generation, or a newer one
 * while the held device is still a signer), not held, altered, incomplete.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "freshness.h"

/* Digests of one repeated byte: generation g, device d, shares s. */
static struct epochs_entry entry(uint32_t number, bool current, int g, int d, int s)
{
    struct epochs_entry e;
    memset(&e, 0, sizeof(e));
    e.number = number;
    e.current = current;
    memset(e.generation, g, sizeof(e.generation));
    memset(e.device, d, sizeof(e.device));
    memset(e.shares, s, sizeof(e.shares));
    return e;
}

/* A vault reshared twice: epochs 1 and 2 in history, 3 current, device 7. */
static const struct epochs_entry *three_epochs(void)
{
    static struct epochs_entry held[3];
    held[0] = entry(2, false, 0x20, 7, 0x21);
    held[1] = entry(3, true, 0x30, 7, 0x31);
    held[2] = entry(1, false, 0x10, 7, 0x11);
    return held;
}

static void test_against_held_vault(void)
{
    const struct epochs_entry *held = three_epochs();
    struct epochs_entry share;
    struct freshness f;

    share = entry(0, false, 0x30, 7, 0x31);
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_CURRENT);
    CHECK_EQ_INT(f.epoch, 3);
    CHECK(freshness_ok(f.verdict));

    share = entry(0, false, 0x10, 7, 0x11);
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_STALE);
    CHECK_EQ_INT(f.epoch, 1);
    CHECK_EQ_INT(f.superseded_by, 2); /* the next epoch, not the current one */
    CHECK(!freshness_ok(f.verdict));

    share = entry(0, false, 0x20, 9, 0x29); /* another device's share of epoch 2 */
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_STALE);
    CHECK_EQ_INT(f.superseded_by, 3);

    share = entry(0, false, 0x40, 7, 0x41);
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_NEWER);
    CHECK(freshness_ok(f.verdict));

    share = entry(0, false, 0x40, 9, 0x41); /* newer, another device, held one still signs */
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_OTHER_DEVICE);
    f = freshness_classify(held, 3, &share, true, true); /* the held device left */
    CHECK_EQ_INT(f.verdict, FRESHNESS_NEWER);

    share = entry(0, false, 0x30, 9, 0x39);
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_OTHER_DEVICE);
    CHECK_EQ_INT(f.epoch, 3);
    CHECK(freshness_ok(f.verdict));

    share = entry(0, false, 0x30, 7, 0x99);
    f = freshness_classify(held, 3, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_ALTERED);
    CHECK(!freshness_ok(f.verdict));

    share = entry(0, false, 0x30, 7, 0x31);
    f = freshness_classify(held, 3, &share, false, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_INCOMPLETE);
    CHECK(!freshness_ok(f.verdict));
}

static void test_not_held(void)
{
    struct epochs_entry share = entry(0, false, 1, 2, 3);
    struct freshness f = freshness_classify(NULL, 0, &share, true, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_NOT_HELD);
    CHECK_EQ_INT(f.epoch, 0);
    CHECK(freshness_ok(f.verdict));
}

static void test_names(void)
{
    CHECK_EQ_STR(freshness_name(FRESHNESS_CURRENT), "current");
    CHECK_EQ_STR(freshness_name(FRESHNESS_STALE), "stale");
    CHECK_EQ_STR(freshness_name(FRESHNESS_OTHER_DEVICE), "other-device");
    CHECK_EQ_STR(freshness_name(FRESHNESS_UNREADABLE), "unreadable");
    CHECK(!freshness_ok(FRESHNESS_UNREADABLE));
    CHECK(freshness_ok(FRESHNESS_NOT_BACKUP));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_against_held_vault();
    test_not_held();
    test_names();
    return check_done("freshness");
}
