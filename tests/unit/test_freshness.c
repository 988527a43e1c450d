/*
 * test_freshness: what `vultfs check` says of a file against what a store
 * holds, for every verdict, without disk: current, stale (and which epoch
 * superseded it), newer, another device (same generation, or a newer one
 * while the held device is still a signer), not held, altered, incomplete.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "freshness.h"
#include "synth.h"

static void *kept[64];
static size_t kept_count;

/* What the rules know of a synthetic share: epochs_describe, as the store
 * fills its own entries, so these follow whatever the rules compare. */
static struct epochs_entry described(const char *device, const char *signers0,
                                     const char *signers1, const char *signers2,
                                     const char *tag, uint32_t number, bool current)
{
    struct synth_spec spec = {.name = "Fresh", .device = device,
                              .signers = {signers0, signers1, signers2}, .lib_type = 1,
                              .share_tag = tag};
    struct epochs_entry e;
    struct vult_vault v;
    uint8_t *bytes = NULL;
    size_t len = 0;

    memset(&e, 0, sizeof(e));
    CHECK_EQ_INT(synth_vault(&bytes, &len, &spec), 0);
    CHECK_EQ_INT(bytes ? vult_vault_parse(&v, NULL, bytes, len) : -1, 0);
    if (bytes && epochs_describe(&e, &v) == 0 && kept_count < 64)
        kept[kept_count++] = e.block; /* entries are copied by value: freed at exit */
    vult_vault_clear(&v);
    alloc_secret_free(bytes);
    e.number = number;
    e.current = current;
    return e;
}

/* Device a's vault reshared twice: epochs 1 (a,b) and 2 (a,b,c) in
 * history, 3 (a,c) current. */
static const struct epochs_entry *three_epochs(void)
{
    static struct epochs_entry held[3];
    held[0] = described("a", "a", "b", "c", "2", 2, false);
    held[1] = described("a", "a", "c", NULL, "3", 3, true);
    held[2] = described("a", "a", "b", NULL, "1", 1, false);
    return held;
}

static void test_against_held_vault(void)
{
    const struct epochs_entry *held = three_epochs();
    struct epochs_entry share;
    struct freshness f;

    share = described("a", "a", "c", NULL, "3", 0, false);
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_CURRENT);
    CHECK_EQ_INT(f.epoch, 3);
    CHECK(freshness_ok(f.verdict));

    share = described("a", "a", "b", NULL, "1", 0, false);
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_STALE);
    CHECK_EQ_INT(f.epoch, 1);
    CHECK_EQ_INT(f.superseded_by, 2); /* the next epoch, not the current one */
    CHECK(!freshness_ok(f.verdict));

    share = described("b", "a", "b", "c", "b2", 0, false); /* another device's, epoch 2 */
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_STALE);
    CHECK_EQ_INT(f.superseded_by, 3);

    share = described("a", "a", "d", NULL, "4", 0, false);
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_NEWER);
    CHECK(freshness_ok(f.verdict));

    share = described("d", "a", "d", NULL, "d4", 0, false); /* newer, another device */
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_OTHER_DEVICE);
    share = described("d", "d", "e", NULL, "d5", 0, false); /* the held device "a" left */
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_NEWER);

    share = described("c", "a", "c", NULL, "c3", 0, false);
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_OTHER_DEVICE);
    CHECK_EQ_INT(f.epoch, 3);
    CHECK(freshness_ok(f.verdict));

    share = described("a", "a", "c", NULL, "altered", 0, false);
    f = freshness_classify(held, 3, &share, true);
    CHECK_EQ_INT(f.verdict, FRESHNESS_ALTERED);
    CHECK(!freshness_ok(f.verdict));

    share = described("a", "a", "c", NULL, "3", 0, false);
    f = freshness_classify(held, 3, &share, false);
    CHECK_EQ_INT(f.verdict, FRESHNESS_INCOMPLETE);
    CHECK(!freshness_ok(f.verdict));
}

static void test_not_held(void)
{
    struct epochs_entry share = described("a", "a", "b", NULL, "1", 0, false);
    struct freshness f = freshness_classify(NULL, 0, &share, true);
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
    while (kept_count)
        alloc_free(kept[--kept_count]);
    return check_done("freshness");
}
