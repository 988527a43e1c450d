/*
 * test_epochs: the import rules (epochs_decide) against DESIGN.md's table,
 * exhaustively and without disk: every row, the history/epoch-N rules, a
 * restore in every order, what epochs_describe counts as a generation, and
 * the errno of every outcome.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "epochs.h"

/* ---- helpers ------------------------------------------------------------ */

/* Entries here are values, copied freely, whose arrays live in blocks
 * kept until the end of main: each helper that changes an entry's
 * signers or key shares gives it new arrays, so copies stay as they were. */
static void *arena[4096];
static size_t arena_count;

static void arena_free(void)
{
    while (arena_count)
        alloc_free(arena[--arena_count]);
}

/* The key every share of these entries is listed under (and declared). */
#define KEY_BYTE 0xee

/* e with new arrays of room for the given counts, its old contents copied
 * where they fit. */
static struct epochs_entry fresh_arrays(struct epochs_entry e, size_t signers, size_t shares)
{
    struct epochs_entry f = e;
    if (epochs_entry_alloc(&f, signers, shares, 1) < 0 || arena_count == 4096) {
        CHECK(0);
        return e;
    }
    arena[arena_count++] = f.block;
    for (size_t i = 0; i < signers && i < e.signer_count; i++)
        memcpy(f.signers[i], e.signers[i], EPOCHS_DIGEST_BYTES);
    for (size_t i = 0; i < shares && i < e.key_share_count; i++)
        f.key_shares[i] = e.key_shares[i];
    memset(f.declared[0], KEY_BYTE, EPOCHS_DIGEST_BYTES);
    f.has_keys = true;
    return f;
}

/* Digests made of one repeated byte: generation g, device d, shares s.
 * The signers are the device alone and the one key share is s, unless a
 * test says otherwise with signed_by() and key_shares(). */
static struct epochs_entry entry(uint64_t number, bool current, int g, int d, int s)
{
    struct epochs_entry e;
    memset(&e, 0, sizeof(e));
    e = fresh_arrays(e, 1, 1);
    e.number = number;
    e.current = current;
    memset(e.generation, g, sizeof(e.generation));
    memset(e.device, d, sizeof(e.device));
    memset(e.shares, s, sizeof(e.shares));
    memset(e.signers[0], d, EPOCHS_DIGEST_BYTES);
    memset(e.key_shares[0].share, s, EPOCHS_DIGEST_BYTES);
    memset(e.key_shares[0].key, KEY_BYTE, EPOCHS_DIGEST_BYTES);
    epochs_entry_index(&e);
    return e;
}

static size_t list_length(const int *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

/* Sets the signers to the devices listed (a 0-terminated list). */
static struct epochs_entry signed_by(struct epochs_entry e, const int *devices)
{
    size_t n = list_length(devices);
    e = fresh_arrays(e, n, e.key_share_count);
    for (size_t i = 0; i < n; i++)
        memset(e.signers[i], devices[i], EPOCHS_DIGEST_BYTES);
    epochs_entry_index(&e);
    return e;
}

/* Sets the key shares to the values listed (a 0-terminated list), each
 * under the one declared key. */
static struct epochs_entry key_shares(struct epochs_entry e, const int *values)
{
    size_t n = list_length(values);
    e = fresh_arrays(e, e.signer_count, n);
    for (size_t i = 0; i < n; i++) {
        memset(e.key_shares[i].share, values[i], EPOCHS_DIGEST_BYTES);
        memset(e.key_shares[i].key, KEY_BYTE, EPOCHS_DIGEST_BYTES);
    }
    epochs_entry_index(&e);
    return e;
}

/* Key shares as (key, value) pairs, and the keys the file declares (two
 * 0-terminated lists): what an ML-DSA upgrade changes. */
static struct epochs_entry with_keys(struct epochs_entry e, const int *pairs, const int *declared)
{
    size_t n = list_length(pairs) / 2, d = list_length(declared);
    struct epochs_entry f = e;
    if (epochs_entry_alloc(&f, e.signer_count, n, d) < 0 || arena_count == 4096) {
        CHECK(0);
        return e;
    }
    arena[arena_count++] = f.block;
    for (size_t i = 0; i < e.signer_count; i++)
        memcpy(f.signers[i], e.signers[i], EPOCHS_DIGEST_BYTES);
    for (size_t i = 0; i < n; i++) {
        memset(f.key_shares[i].key, pairs[2 * i], EPOCHS_DIGEST_BYTES);
        memset(f.key_shares[i].share, pairs[2 * i + 1], EPOCHS_DIGEST_BYTES);
    }
    for (size_t i = 0; i < d; i++)
        memset(f.declared[i], declared[i], EPOCHS_DIGEST_BYTES);
    f.has_keys = true;
    epochs_entry_index(&f);
    return f;
}

#define LIST(...) ((const int[]){__VA_ARGS__, 0})

static struct epochs_candidate candidate(int g, int d, int s, uint64_t slot)
{
    struct epochs_candidate c;
    memset(&c, 0, sizeof(c));
    c.share = entry(0, false, g, d, s);
    c.complete = true;
    c.in_its_place = true;
    c.history_slot = slot;
    return c;
}

#define DECIDE(entries, count, cand) epochs_decide((entries), (count), &(cand))

#define CHECK_DECISION(d, want_outcome, want_epoch, want_renumber)             \
    do {                                                                       \
        struct epochs_decision d_ = (d);                                       \
        CHECK_EQ_STR(epochs_outcome_name(d_.outcome), epochs_outcome_name(want_outcome)); \
        CHECK_EQ_INT(d_.epoch, want_epoch);                                    \
        CHECK_EQ_INT(d_.renumber_current, want_renumber);                      \
    } while (0)

/* ---- the table ----------------------------------------------------------- */

static void test_new_vault(void)
{
    struct epochs_candidate c = candidate(1, 1, 1, 0);
    CHECK_DECISION(DECIDE(NULL, 0, c), EPOCHS_NEW_VAULT, 1, 0);
}

static void test_current_rows(void)
{
    /* history 1 (gen 1), current 2 (gen 2), device 7, shares 9 */
    struct epochs_entry held[2] = {entry(1, false, 1, 7, 8), entry(2, true, 2, 7, 9)};
    struct epochs_entry reversed[2] = {held[1], held[0]};
    struct epochs_candidate c;

    /* same share again */
    c = candidate(2, 7, 9, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_UNCHANGED, 2, 0);
    CHECK_DECISION(DECIDE(reversed, 2, c), EPOCHS_UNCHANGED, 2, 0);

    /* a new generation: epoch = highest + 1, whatever the device and order */
    c = candidate(3, 7, 10, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_NEW_EPOCH, 3, 0);
    CHECK_DECISION(DECIDE(reversed, 2, c), EPOCHS_NEW_EPOCH, 3, 0);
    c = candidate(3, 5, 10, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_NEW_EPOCH, 3, 0);
    {
        /* only history held (a restore in progress): still highest + 1 */
        struct epochs_entry hist[2] = {entry(4, false, 4, 7, 4), entry(2, false, 2, 7, 2)};
        c = candidate(5, 7, 5, 0);
        CHECK_DECISION(DECIDE(hist, 2, c), EPOCHS_NEW_EPOCH, 5, 0);
    }

    /* a generation kept in history: stale whatever the device or shares */
    c = candidate(1, 7, 8, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_STALE, 1, 0);
    c = candidate(1, 6, 8, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_STALE, 1, 0);
    c = candidate(1, 6, 3, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_STALE, 1, 0);
    CHECK_DECISION(DECIDE(reversed, 2, c), EPOCHS_STALE, 1, 0);

    /* same generation, other device: co-location */
    c = candidate(2, 6, 9, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_COLOCATION, 2, 0);
    c = candidate(2, 6, 11, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_COLOCATION, 2, 0);

    /* same generation and device, other key shares: conflict */
    c = candidate(2, 7, 11, 0);
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_CONFLICT, 2, 0);
    CHECK_DECISION(DECIDE(reversed, 2, c), EPOCHS_CONFLICT, 2, 0);
}

static void test_incomplete_and_place(void)
{
    struct epochs_entry held[1] = {entry(1, true, 1, 1, 1)};
    struct epochs_candidate c;

    c = candidate(1, 1, 1, 0);
    c.complete = false;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_INCOMPLETE, 0, 0);
    CHECK_DECISION(DECIDE(NULL, 0, c), EPOCHS_INCOMPLETE, 0, 0);
    c.history_slot = 3;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_INCOMPLETE, 0, 0);

    c = candidate(2, 1, 1, 0);
    c.in_its_place = false;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_WRONG_PLACE, 0, 0);
    CHECK_DECISION(DECIDE(NULL, 0, c), EPOCHS_WRONG_PLACE, 0, 0);
    c.history_slot = 2;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_WRONG_PLACE, 0, 0);

    /* both wrong: refused either way with EINVAL */
    c.complete = false;
    CHECK_EQ_INT(epochs_errno(DECIDE(held, 1, c).outcome), -EINVAL);
}

static void test_history_slots(void)
{
    struct epochs_candidate c;

    /* a free slot below the current epoch: inserted, current kept */
    {
        struct epochs_entry held[1] = {entry(3, true, 3, 1, 3)};
        c = candidate(1, 1, 1, 1);
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 1, 0);
        c = candidate(2, 1, 2, 2);
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 2, 0);
    }
    /* slot N >= the current number: the current moves to N + 1 */
    {
        struct epochs_entry held[1] = {entry(1, true, 3, 1, 3)};
        c = candidate(1, 1, 1, 1);
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 1, 2);
        c = candidate(2, 1, 2, 2);
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 2, 3);
        c = candidate(2, 1, 2, 7);
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 7, 8);
    }
    /* a vault not held yet: inserted, nothing to renumber */
    c = candidate(1, 1, 1, 2);
    CHECK_DECISION(DECIDE(NULL, 0, c), EPOCHS_HISTORY_INSERT, 2, 0);

    /* history 1 (gen 1), history 2 (gen 2), current 3 (gen 3); device 1 */
    struct epochs_entry held[3] = {entry(1, false, 1, 1, 1), entry(2, false, 2, 1, 2),
                                   entry(3, true, 3, 1, 3)};

    /* the same share at its slot: no change */
    c = candidate(1, 1, 1, 1);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_UNCHANGED, 1, 0);
    c = candidate(2, 1, 2, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_UNCHANGED, 2, 0);
    /* at its slot from another device or with other shares */
    c = candidate(2, 4, 2, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_COLOCATION, 2, 0);
    c = candidate(2, 1, 5, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_CONFLICT, 2, 0);

    /* another generation at slot N: taken */
    c = candidate(9, 1, 9, 1);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 1, 0);
    c = candidate(9, 1, 9, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 2, 0);
    c = candidate(9, 4, 9, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 2, 0);

    /* the same generation held at another number: taken, or co-location
     * when it is another device's share */
    c = candidate(1, 1, 1, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 1, 0);
    c = candidate(1, 1, 1, 5);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 1, 0);
    c = candidate(1, 4, 1, 2);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_COLOCATION, 1, 0);
    /* ... including the current generation written into history/ */
    c = candidate(3, 1, 3, 4);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 3, 0);
    c = candidate(3, 1, 3, 3);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_SLOT_TAKEN, 3, 0);
    c = candidate(3, 4, 3, 1);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_COLOCATION, 3, 0);
    /* a free slot above everything: inserted, the current moves up */
    c = candidate(8, 1, 8, 4);
    CHECK_DECISION(DECIDE(held, 3, c), EPOCHS_HISTORY_INSERT, 4, 5);
}


/* ---- one device's line (co-location across generations) ----------------- */

static void test_new_generation_device(void)
{
    /* device A (1) holds epoch 1 of a 2-of-2 vault with B (2) */
    struct epochs_entry held[1] = {signed_by(entry(1, true, 1, 1, 11), LIST(1, 2))};
    struct epochs_candidate c;

    /* B's share of a "new generation" that still lists A: co-location (the
     * bypass: both devices' key shares would sit in this store) */
    c = candidate(2, 2, 22, 0);
    c.share = signed_by(c.share, LIST(1, 2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_COLOCATION, 1, 0);
    /* A's own share of the new generation: a new epoch */
    c = candidate(2, 1, 22, 0);
    c.share = signed_by(c.share, LIST(1, 2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_NEW_EPOCH, 2, 0);
    /* A left the vault: its successor's share is this location's now */
    c = candidate(2, 2, 22, 0);
    c.share = signed_by(c.share, LIST(2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_NEW_EPOCH, 2, 0);

    /* only history held (a restore in progress): the newest epoch counts */
    {
        struct epochs_entry hist[2] = {signed_by(entry(2, false, 2, 1, 12), LIST(1, 2)),
                                       signed_by(entry(1, false, 1, 1, 11), LIST(1, 2))};
        c = candidate(3, 2, 23, 0);
        c.share = signed_by(c.share, LIST(1, 2));
        CHECK_DECISION(DECIDE(hist, 2, c), EPOCHS_COLOCATION, 2, 0);
        c.share = signed_by(c.share, LIST(2, 3));
        CHECK_DECISION(DECIDE(hist, 2, c), EPOCHS_NEW_EPOCH, 3, 0);
    }
}

static void test_history_device_line(void)
{
    struct epochs_candidate c;

    /* A (1) kept epochs 1 and 3; inserting B's (2) share as epoch 2 while A
     * is a signer of 2 (below) or B of 3 (above) breaks the line */
    {
        struct epochs_entry held[2] = {signed_by(entry(1, false, 1, 1, 11), LIST(1, 2)),
                                       signed_by(entry(3, true, 3, 1, 13), LIST(1, 2))};
        c = candidate(2, 2, 12, 2);
        c.share = signed_by(c.share, LIST(1, 2));
        CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_COLOCATION, 1, 0);
        c.share = signed_by(c.share, LIST(2, 3));
        CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_COLOCATION, 3, 0);
        /* A's own epoch 2 is fine */
        c = candidate(2, 1, 12, 2);
        c.share = signed_by(c.share, LIST(1, 2));
        CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_HISTORY_INSERT, 2, 0);
    }
    /* B (2) holds epoch 3 after A (1) left; A's old epoch 1 restores fine,
     * C's (3) does not while B signed epoch 1 ... and C is in epoch 3 */
    {
        struct epochs_entry held[1] = {signed_by(entry(3, true, 3, 2, 13), LIST(2, 3))};
        c = candidate(1, 1, 11, 1);
        c.share = signed_by(c.share, LIST(1, 2));
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, 1, 0);
        c = candidate(1, 3, 11, 1);
        c.share = signed_by(c.share, LIST(1, 3));
        CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_COLOCATION, 3, 0);
    }
    /* a slot above the current: the current moves above the insert, and the
     * line is checked against its new place */
    {
        struct epochs_entry held[2] = {signed_by(entry(1, false, 1, 1, 11), LIST(1, 2)),
                                       signed_by(entry(2, true, 2, 1, 12), LIST(1, 2))};
        c = candidate(5, 1, 15, 4);
        c.share = signed_by(c.share, LIST(1, 2));
        CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_HISTORY_INSERT, 4, 5);
        /* B (2) at 4, after A's epoch 1 (A is not a signer of 4), but
         * before A's current, which will be 5 and lists B */
        c = candidate(5, 2, 15, 4);
        c.share = signed_by(c.share, LIST(2, 3));
        CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_COLOCATION, 2, 0);
    }
}

/* ---- key shares are never reused across generations ----------------------- */

static void test_reused_key_shares(void)
{
    struct epochs_entry held[2] = {key_shares(entry(1, false, 1, 1, 10), LIST(31, 32)),
                                   key_shares(entry(2, true, 2, 1, 20), LIST(41, 42))};
    struct epochs_candidate c;

    /* the current share's key shares under an edited signer list */
    c = candidate(3, 1, 30, 0);
    c.share = key_shares(c.share, LIST(41, 42));
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_CONFLICT, 2, 0);
    /* one reused key share is enough, from history too */
    c.share = key_shares(c.share, LIST(43, 31));
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_CONFLICT, 2, 0);
    /* all new: a real reshare */
    c.share = key_shares(c.share, LIST(51, 52));
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_NEW_EPOCH, 3, 0);
    /* into history too */
    c = candidate(9, 1, 90, 5);
    c.share = key_shares(c.share, LIST(32, 99));
    CHECK_DECISION(DECIDE(held, 2, c), EPOCHS_CONFLICT, 5, 0);
}

/* ---- lib_type is part of the generation ----------------------------------- */

static void test_lib_type_generation(void)
{
    struct epochs_entry held[1] = {entry(1, true, 1, 1, 11)};
    struct epochs_candidate c;

    /* the same signers and prefix after a GG20 to DKLS migration: new
     * generation, new epoch (it was "conflict" when lib_type did not count) */
    c = candidate(1, 1, 12, 0);
    c.share.lib_type = 1;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_NEW_EPOCH, 2, 0);
    /* and the old GG20 share is then stale */
    {
        struct epochs_entry after[2] = {entry(1, false, 1, 1, 11), c.share};
        after[1].number = 2;
        after[1].current = true;
        struct epochs_candidate old = candidate(1, 1, 11, 0);
        CHECK_DECISION(DECIDE(after, 2, old), EPOCHS_STALE, 1, 0);
    }
}

/* ---- history slots are bounded ---------------------------------------------- */

static void test_slot_bounds(void)
{
    struct epochs_entry held[1] = {entry(1, true, 1, 1, 11)};
    struct epochs_candidate c = candidate(2, 1, 12, EPOCHS_MAX_SLOT);

    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_HISTORY_INSERT, EPOCHS_MAX_SLOT,
                   EPOCHS_MAX_SLOT + 1ull);
    c.history_slot = EPOCHS_MAX_SLOT + 1ull;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_WRONG_PLACE, 0, 0);
    c.history_slot = 4294967295ull;
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_WRONG_PLACE, 0, 0);
    c.history_slot = UINT64_MAX;
    CHECK_DECISION(DECIDE(NULL, 0, c), EPOCHS_WRONG_PLACE, 0, 0);
}

/* ---- restore in any order ------------------------------------------------- */

struct sim {
    struct epochs_entry list[8];
    size_t count;
};

/* Applies a decision the way the store does. */
static void sim_apply(struct sim *sim, const struct epochs_candidate *c, struct epochs_decision d)
{
    switch (d.outcome) {
    case EPOCHS_NEW_VAULT:
    case EPOCHS_NEW_EPOCH:
        for (size_t i = 0; i < sim->count; i++)
            sim->list[i].current = false;
        sim->list[sim->count] = c->share;
        sim->list[sim->count].number = d.epoch;
        sim->list[sim->count++].current = true;
        break;
    case EPOCHS_HISTORY_INSERT:
        for (size_t i = 0; i < sim->count; i++)
            if (d.renumber_current && sim->list[i].current)
                sim->list[i].number = d.renumber_current;
        sim->list[sim->count] = c->share;
        sim->list[sim->count].number = d.epoch;
        sim->list[sim->count++].current = false;
        break;
    default:
        break;
    }
}

static const struct epochs_entry *sim_find(const struct sim *sim, int g)
{
    uint8_t want[EPOCHS_DIGEST_BYTES];
    memset(want, g, sizeof(want));
    for (size_t i = 0; i < sim->count; i++)
        if (memcmp(sim->list[i].generation, want, sizeof(want)) == 0)
            return &sim->list[i];
    return NULL;
}

static void restore_in_every_order(const struct epochs_candidate files[3])
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

    for (int o = 0; o < 6; o++) {
        struct sim sim = {.count = 0};
        int accepted = 0;
        for (int k = 0; k < 3; k++) {
            const struct epochs_candidate *c = &files[orders[o][k]];
            struct epochs_decision d = epochs_decide(sim.list, sim.count, c);
            if (epochs_accepted(d.outcome) && d.outcome != EPOCHS_UNCHANGED)
                accepted++;
            else
                fprintf(stderr, "  order %d step %d: %s\n", o, k, epochs_outcome_name(d.outcome));
            sim_apply(&sim, c, d);
        }
        CHECK_EQ_INT(accepted, 3);
        CHECK_EQ_INT(sim.count, 3);
        const struct epochs_entry *h1 = sim_find(&sim, 1), *h2 = sim_find(&sim, 2),
                                  *cur = sim_find(&sim, 3);
        CHECK(h1 && h1->number == 1 && !h1->current);
        CHECK(h2 && h2->number == 2 && !h2->current);
        CHECK(cur && cur->number == 3 && cur->current);
        /* restoring the same copy again (rsync run twice) changes nothing */
        for (int k = 0; k < 3; k++) {
            struct epochs_decision d = epochs_decide(sim.list, sim.count, &files[k]);
            CHECK_DECISION(d, EPOCHS_UNCHANGED, k + 1u, 0);
        }
    }
}

static void test_restore_orders(void)
{
    /* history/epoch-1 (gen 1), history/epoch-2 (gen 2), share.vult (gen 3) */
    const struct epochs_candidate same_device[3] = {candidate(1, 1, 1, 1), candidate(2, 1, 2, 2),
                                                    candidate(3, 1, 3, 0)};
    restore_in_every_order(same_device);

    /* a line that changed device: A (1) kept epoch 1, left the vault at the
     * reshare to epoch 2, and this location kept B's (2) share since */
    struct epochs_candidate line[3] = {candidate(1, 1, 1, 1), candidate(2, 2, 2, 2),
                                       candidate(3, 2, 3, 0)};
    line[0].share = signed_by(line[0].share, LIST(1, 2));
    line[1].share = signed_by(line[1].share, LIST(2, 3));
    line[2].share = signed_by(line[2].share, LIST(2, 3, 4));
    restore_in_every_order(line);
}

/* ---- describing shares ----------------------------------------------------- */

#define STR(s) ((struct vult_str){(s), sizeof(s) - 1})

/* A vault to describe, with arrays of its own: copies (sample_copy) can be
 * changed without touching the original. */
struct sample {
    struct vult_vault v;
    struct vult_str signers[4];
    struct vult_key_share shares[4];
};

static void sample_copy(struct sample *dst, const struct sample *src)
{
    *dst = *src;
    dst->v.signers = dst->signers;
    dst->v.key_shares = dst->shares;
}

static void base_sample(struct sample *s)
{
    memset(s, 0, sizeof(*s));
    s->v.name = STR("Describe");
    s->v.public_key_ecdsa = STR("02aa");
    s->v.public_key_eddsa = STR("bb");
    s->signers[0] = STR("phone-1");
    s->signers[1] = STR("laptop-2");
    s->signers[2] = STR("server-3");
    s->v.signer_count = 3;
    s->shares[0] = (struct vult_key_share){STR("02aa"), STR("FAKE-KEYSHARE ecdsa")};
    s->shares[1] = (struct vult_key_share){STR("bb"), STR("FAKE-KEYSHARE eddsa")};
    s->v.key_share_count = 2;
    s->v.local_party_id = STR("phone-1");
    s->v.reshare_prefix = STR("");
    s->v.lib_type = VULT_LIB_DKLS;
    s->v.signers = s->signers;
    s->v.key_shares = s->shares;
}

static bool same_digest(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES) == 0;
}

/* epochs_describe of s into a fresh entry (the previous one freed). */
static void describe(struct epochs_entry *out, const struct sample *s)
{
    epochs_entry_clear(out);
    CHECK_EQ_INT(epochs_describe(out, &s->v), 0);
}

static void test_describe(void)
{
    struct sample a, b;
    struct epochs_entry da = {0}, db = {0};
    char flipped[] = "FAKE-KEYSHARE ecdsA";

    base_sample(&a);
    describe(&da, &a);
    CHECK_EQ_INT(da.number, 0);
    CHECK(!da.current);

    /* signer order does not change the generation */
    sample_copy(&b, &a);
    b.signers[0] = a.signers[2];
    b.signers[2] = a.signers[0];
    describe(&db, &b);
    CHECK(same_digest(da.generation, db.generation));
    CHECK(same_digest(da.device, db.device));
    CHECK(same_digest(da.shares, db.shares));

    /* another device of the same generation: same generation, other device */
    sample_copy(&b, &a);
    b.v.local_party_id = STR("laptop-2");
    b.shares[0].keyshare = STR("FAKE-KEYSHARE ecdsa laptop");
    describe(&db, &b);
    CHECK(same_digest(da.generation, db.generation));
    CHECK(!same_digest(da.device, db.device));
    CHECK(!same_digest(da.shares, db.shares));

    /* reshare_prefix is part of the generation (GG20 reshares) */
    sample_copy(&b, &a);
    b.v.reshare_prefix = STR("2c5e9ced");
    describe(&db, &b);
    CHECK(!same_digest(da.generation, db.generation));
    CHECK(same_digest(da.device, db.device));
    CHECK(same_digest(da.shares, db.shares));

    /* so is the set of signers (DKLS reshares) */
    sample_copy(&b, &a);
    b.signers[2] = STR("server-4");
    describe(&db, &b);
    CHECK(!same_digest(da.generation, db.generation));
    sample_copy(&b, &a);
    b.v.signer_count = 2;
    describe(&db, &b);
    CHECK(!same_digest(da.generation, db.generation));
    /* signer boundaries count: ("ab","c") is not ("a","bc") */
    {
        struct sample x, y;
        struct epochs_entry dx = {0}, dy = {0};
        sample_copy(&x, &a);
        sample_copy(&y, &a);
        x.signers[0] = STR("ab");
        x.signers[1] = STR("c");
        x.v.signer_count = 2;
        y.signers[0] = STR("a");
        y.signers[1] = STR("bc");
        y.v.signer_count = 2;
        describe(&dx, &x);
        describe(&dy, &y);
        CHECK(!same_digest(dx.generation, dy.generation));
        epochs_entry_clear(&dx);
        epochs_entry_clear(&dy);
    }

    /* one changed key-share byte: only the shares digest moves */
    sample_copy(&b, &a);
    b.shares[0].keyshare = (struct vult_str){flipped, sizeof(flipped) - 1};
    describe(&db, &b);
    CHECK(same_digest(da.generation, db.generation));
    CHECK(same_digest(da.device, db.device));
    CHECK(!same_digest(da.shares, db.shares));
    /* the shares' public keys count, and so does their order */
    sample_copy(&b, &a);
    b.shares[0] = a.shares[1];
    b.shares[1] = a.shares[0];
    describe(&db, &b);
    CHECK(!same_digest(da.shares, db.shares));
    sample_copy(&b, &a);
    b.v.key_share_count = 1;
    describe(&db, &b);
    CHECK(!same_digest(da.shares, db.shares));

    /* the name, the created time and lib_type are not part of any digest */
    sample_copy(&b, &a);
    b.v.name = STR("Renamed");
    b.v.created_at_seconds = 12345;
    b.v.lib_type = VULT_LIB_GG20;
    describe(&db, &b);
    CHECK_EQ_INT(db.lib_type, VULT_LIB_GG20);
    CHECK_EQ_INT(da.lib_type, VULT_LIB_DKLS);
    CHECK(same_digest(da.generation, db.generation));
    CHECK(same_digest(da.device, db.device));
    CHECK(same_digest(da.shares, db.shares));

    /* deterministic, and the three digests are domain-separated */
    describe(&db, &a);
    CHECK(same_digest(da.generation, db.generation) && same_digest(da.device, db.device) &&
          same_digest(da.shares, db.shares));
    CHECK(memcmp(da.key_shares, db.key_shares, 2 * sizeof(*da.key_shares)) == 0);
    CHECK(!same_digest(da.generation, da.device));
    CHECK(!same_digest(da.generation, da.shares));
    epochs_entry_clear(&da);
    epochs_entry_clear(&db);
}

static void test_describe_sets(void)
{
    struct sample a, b;
    struct epochs_entry da = {0}, db = {0};
    uint8_t phone[EPOCHS_DIGEST_BYTES], key[EPOCHS_DIGEST_BYTES];

    base_sample(&a);
    describe(&da, &a);
    CHECK_EQ_INT(da.signer_count, 3);
    CHECK_EQ_INT(da.key_share_count, 2);
    CHECK(da.has_keys);
    /* a signer's digest is the digest that device would have */
    epochs_device_digest(phone, "phone-1", 7);
    CHECK(same_digest(da.signers[0], phone));
    CHECK(same_digest(da.device, phone));
    CHECK(!same_digest(da.signers[1], phone));
    /* each share's key digest is of the key it is listed under */
    epochs_key_digest(key, "02aa", 4);
    CHECK(same_digest(da.key_shares[0].key, key));
    /* the declared keys: ECDSA and EdDSA here */
    CHECK_EQ_INT(da.declared_count, 2);
    /* a key share's digest is of its value: the same value under another
     * public key has the same digest; another value does not */
    sample_copy(&b, &a);
    b.shares[0].public_key = STR("03cc");
    describe(&db, &b);
    CHECK(same_digest(da.key_shares[0].share, db.key_shares[0].share));
    CHECK(!same_digest(da.key_shares[0].share, da.key_shares[1].share));
    CHECK(!same_digest(da.key_shares[0].key, db.key_shares[0].key));
    epochs_entry_clear(&da);
    epochs_entry_clear(&db);
}

/* ---- a backup that grows within its generation ------------------------- */

/* The apps add an ML-DSA key with no reshare: the same device's backup of
 * the same generation, every key share kept, one more for a key the older
 * file did not declare. The fuller file replaces the held one in place;
 * the held one is then out of date; anything else stays a conflict. */
static void test_grown_backup(void)
{
    /* keys: 1 ECDSA, 2 EdDSA, 3 ML-DSA; values 11, 12, 13 */
    struct epochs_entry held[1] = {
        with_keys(entry(1, true, 1, 7, 50), LIST(1, 11, 2, 12), LIST(1, 2))};
    struct epochs_candidate c = candidate(1, 7, 51, 0);

    c.share = with_keys(c.share, LIST(1, 11, 2, 12, 3, 13), LIST(1, 2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_GREW, 1, 0);
    CHECK_EQ_INT(epochs_errno(EPOCHS_GREW), 0);
    CHECK(epochs_grows(&held[0], &c.share) && !epochs_grows(&c.share, &held[0]));

    /* and the other way round: the store holds the fuller one */
    {
        struct epochs_entry fuller[1] = {c.share};
        struct epochs_candidate older = candidate(1, 7, 50, 0);
        fuller[0].number = 1;
        fuller[0].current = true;
        older.share = held[0];
        CHECK_DECISION(DECIDE(fuller, 1, older), EPOCHS_OUTGROWN, 1, 0);
        CHECK_EQ_INT(epochs_errno(EPOCHS_OUTGROWN), -EEXIST);
    }
    /* the same shares listed in another order: the same backup */
    c.share = with_keys(c.share, LIST(2, 12, 1, 11), LIST(2, 1));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_UNCHANGED, 1, 0);
    /* listed twice (the desktop app repeats a group's share) */
    c.share = with_keys(c.share, LIST(1, 11, 2, 12, 2, 12, 3, 13), LIST(1, 2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_GREW, 1, 0);
    /* another share for a key the held file declares: altered */
    c.share = with_keys(c.share, LIST(1, 11, 2, 12, 1, 14), LIST(1, 2));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_CONFLICT, 1, 0);
    /* a share of the held file missing, one added: altered */
    c.share = with_keys(c.share, LIST(1, 11, 3, 13), LIST(1, 2, 3));
    CHECK_DECISION(DECIDE(held, 1, c), EPOCHS_CONFLICT, 1, 0);
    /* another device's fuller file: co-location, never a replacement */
    {
        struct epochs_candidate other = candidate(1, 8, 51, 0);
        other.share = with_keys(other.share, LIST(1, 11, 2, 12, 3, 13), LIST(1, 2, 3));
        CHECK_DECISION(DECIDE(held, 1, other), EPOCHS_COLOCATION, 1, 0);
    }
    /* a key share the grown file adds that another epoch holds: no two
     * epochs share a key share, so it is refused */
    {
        struct epochs_entry two[2] = {
            with_keys(entry(1, false, 1, 7, 40), LIST(1, 21, 2, 22), LIST(1, 2)),
            with_keys(entry(2, true, 2, 7, 50), LIST(1, 11, 2, 12), LIST(1, 2))};
        struct epochs_candidate g = candidate(2, 7, 51, 0);
        g.share = with_keys(g.share, LIST(1, 11, 2, 12, 3, 21), LIST(1, 2, 3));
        CHECK_DECISION(DECIDE(two, 2, g), EPOCHS_CONFLICT, 2, 0);
        g.share = with_keys(g.share, LIST(1, 11, 2, 12, 3, 13), LIST(1, 2, 3));
        CHECK_DECISION(DECIDE(two, 2, g), EPOCHS_GREW, 2, 0);
        /* a history epoch grows in place through its history/ name */
        struct epochs_candidate h = candidate(1, 7, 41, 1);
        h.share = with_keys(h.share, LIST(1, 21, 2, 22, 3, 23), LIST(1, 2, 3));
        CHECK_DECISION(DECIDE(two, 2, h), EPOCHS_GREW, 1, 0);
        /* through share.vult it is of a superseded generation: stale */
        h.history_slot = 0;
        CHECK_DECISION(DECIDE(two, 2, h), EPOCHS_STALE, 1, 0);
    }
    /* an epoch stored without its key digests cannot be compared: a
     * conflict, never a guess */
    {
        struct epochs_entry old[1] = {held[0]};
        old[0].has_keys = false;
        c.share = with_keys(c.share, LIST(1, 11, 2, 12, 3, 13), LIST(1, 2, 3));
        CHECK_DECISION(DECIDE(old, 1, c), EPOCHS_CONFLICT, 1, 0);
    }
}

/* ---- errnos ------------------------------------------------------------------ */

static void test_errnos(void)
{
    static const struct {
        enum epochs_outcome outcome;
        int err;
    } table[] = {
        {EPOCHS_NEW_VAULT, 0},         {EPOCHS_UNCHANGED, 0},        {EPOCHS_NEW_EPOCH, 0},
        {EPOCHS_HISTORY_INSERT, 0},    {EPOCHS_STALE, -EEXIST},      {EPOCHS_COLOCATION, -EPERM},
        {EPOCHS_CONFLICT, -EEXIST},    {EPOCHS_SLOT_TAKEN, -EEXIST}, {EPOCHS_INCOMPLETE, -EINVAL},
        {EPOCHS_WRONG_PLACE, -EINVAL}, {EPOCHS_UNREADABLE, -EINVAL},
        {EPOCHS_WRONG_PASSWORD, -EACCES}, {EPOCHS_TOO_LARGE, -EFBIG},
        {EPOCHS_GREW, 0},              {EPOCHS_OUTGROWN, -EEXIST},
    };
    size_t n = sizeof(table) / sizeof(table[0]);

    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(epochs_errno(table[i].outcome), table[i].err);
        CHECK(epochs_accepted(table[i].outcome) == (table[i].err == 0));
    }
    /* the store could not be written: an I/O error, never a rule's errno */
    CHECK(epochs_errno(EPOCHS_FAILED) < 0);
    CHECK(!epochs_accepted(EPOCHS_FAILED));
    CHECK(epochs_errno(EPOCHS_FAILED) != -EEXIST && epochs_errno(EPOCHS_FAILED) != -EPERM &&
          epochs_errno(EPOCHS_FAILED) != -EINVAL && epochs_errno(EPOCHS_FAILED) != -EACCES);

    /* every outcome has its own name */
    for (int i = EPOCHS_NEW_VAULT; i <= EPOCHS_FAILED; i++) {
        const char *name = epochs_outcome_name((enum epochs_outcome)i);
        CHECK(name && *name && strcmp(name, "unknown") != 0);
        for (int j = EPOCHS_NEW_VAULT; j < i; j++)
            CHECK(strcmp(name, epochs_outcome_name((enum epochs_outcome)j)) != 0);
    }
    CHECK_EQ_STR(epochs_outcome_name(EPOCHS_STALE), "stale");
    CHECK_EQ_STR(epochs_outcome_name(EPOCHS_COLOCATION), "co-location");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_new_vault();
    test_current_rows();
    test_incomplete_and_place();
    test_history_slots();
    test_new_generation_device();
    test_history_device_line();
    test_reused_key_shares();
    test_lib_type_generation();
    test_slot_bounds();
    test_restore_orders();
    test_describe();
    test_describe_sets();
    test_grown_backup();
    test_errnos();
    arena_free();
    return check_done("epochs");
}
