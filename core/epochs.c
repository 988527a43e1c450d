/*
 * epochs: the import rules (see epochs.h and DESIGN.md's table).
 */
#include "epochs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- describing a share ------------------------------------------------ */

static void hash_str(crypto_generichash_state *st, struct vult_str s)
{
    /* length-prefixed, so ("ab","c") and ("a","bc") differ */
    uint64_t len = s.len;
    crypto_generichash_update(st, (const uint8_t *)&len, sizeof(len));
    crypto_generichash_update(st, (const uint8_t *)s.ptr, s.len);
}

static int compare_str(const void *a, const void *b)
{
    const struct vult_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

void epochs_describe(struct epochs_entry *out, const struct vult_vault *vault)
{
    crypto_generichash_state st;
    struct vult_str sorted[VULT_MAX_SIGNERS];

    memset(out, 0, sizeof(*out));

    /* generation: what a reshare changes; the signer order is the device's
     * own and differs between shares of one generation */
    memcpy(sorted, vault->signers, vault->signer_count * sizeof(sorted[0]));
    qsort(sorted, vault->signer_count, sizeof(sorted[0]), compare_str);
    crypto_generichash_init(&st, (const uint8_t *)"vultfs-generation", 17, EPOCHS_DIGEST_BYTES);
    hash_str(&st, vault->reshare_prefix);
    for (size_t i = 0; i < vault->signer_count; i++)
        hash_str(&st, sorted[i]);
    crypto_generichash_final(&st, out->generation, EPOCHS_DIGEST_BYTES);

    crypto_generichash_init(&st, (const uint8_t *)"vultfs-device", 13, EPOCHS_DIGEST_BYTES);
    hash_str(&st, vault->local_party_id);
    crypto_generichash_final(&st, out->device, EPOCHS_DIGEST_BYTES);

    crypto_generichash_init(&st, (const uint8_t *)"vultfs-keyshares", 16, EPOCHS_DIGEST_BYTES);
    for (size_t i = 0; i < vault->key_share_count; i++) {
        hash_str(&st, vault->key_shares[i].public_key);
        hash_str(&st, vault->key_shares[i].keyshare);
    }
    crypto_generichash_final(&st, out->shares, EPOCHS_DIGEST_BYTES);
    sodium_memzero(&st, sizeof(st));
}

/* ---- the rules ---------------------------------------------------------- */

static bool same(const uint8_t a[EPOCHS_DIGEST_BYTES], const uint8_t b[EPOCHS_DIGEST_BYTES])
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES) == 0;
}

static struct epochs_decision decision(enum epochs_outcome outcome, uint32_t epoch)
{
    return (struct epochs_decision){.outcome = outcome, .epoch = epoch};
}

/* A share of a generation the store holds, at the right place: the same
 * share is a no-op, anything else is refused. */
static struct epochs_decision same_generation(const struct epochs_entry *held,
                                              const struct epochs_entry *incoming)
{
    if (!same(held->device, incoming->device))
        return decision(EPOCHS_COLOCATION, held->number);
    if (!same(held->shares, incoming->shares))
        return decision(EPOCHS_CONFLICT, held->number);
    return decision(EPOCHS_UNCHANGED, held->number);
}

struct epochs_decision epochs_decide(const struct epochs_entry *entries, size_t count,
                                     const struct epochs_candidate *candidate)
{
    const struct epochs_entry *incoming = &candidate->share;
    const struct epochs_entry *match = NULL, *slot = NULL, *current = NULL;
    uint32_t highest = 0;

    if (!candidate->in_its_place)
        return decision(EPOCHS_WRONG_PLACE, 0);
    if (!candidate->complete)
        return decision(EPOCHS_INCOMPLETE, 0);

    for (size_t i = 0; i < count; i++) {
        const struct epochs_entry *e = &entries[i];
        if (same(e->generation, incoming->generation))
            match = e;
        if (e->current)
            current = e;
        else if (e->number == candidate->history_slot)
            slot = e;
        if (e->number > highest)
            highest = e->number;
    }

    if (candidate->history_slot == 0) {
        /* share.vult, or a new file: it must be the newest generation */
        if (match && !match->current)
            return decision(EPOCHS_STALE, match->number);
        if (match)
            return same_generation(match, incoming);
        return decision(count ? EPOCHS_NEW_EPOCH : EPOCHS_NEW_VAULT, highest + 1);
    }

    /* history/epoch-N.vult: a restore puts old epochs back where they were,
     * in any order, and never makes them current */
    if (match && !match->current && match->number == candidate->history_slot)
        return same_generation(match, incoming);
    if (match && !same(match->device, incoming->device))
        return decision(EPOCHS_COLOCATION, match->number);
    if (match)
        return decision(EPOCHS_SLOT_TAKEN, match->number);
    if (slot)
        return decision(EPOCHS_SLOT_TAKEN, slot->number);

    struct epochs_decision d = decision(EPOCHS_HISTORY_INSERT, candidate->history_slot);
    /* the current epoch stays the newest: numbers above it move it up */
    if (current && current->number <= candidate->history_slot)
        d.renumber_current = candidate->history_slot + 1;
    return d;
}

bool epochs_accepted(enum epochs_outcome outcome)
{
    return epochs_errno(outcome) == 0;
}

int epochs_errno(enum epochs_outcome outcome)
{
    switch (outcome) {
    case EPOCHS_NEW_VAULT:
    case EPOCHS_UNCHANGED:
    case EPOCHS_NEW_EPOCH:
    case EPOCHS_HISTORY_INSERT:
        return 0;
    case EPOCHS_STALE:
    case EPOCHS_CONFLICT:
    case EPOCHS_SLOT_TAKEN:
        return -EEXIST;
    case EPOCHS_COLOCATION:
        return -EPERM;
    case EPOCHS_INCOMPLETE:
    case EPOCHS_WRONG_PLACE:
    case EPOCHS_UNREADABLE:
        return -EINVAL;
    case EPOCHS_WRONG_PASSWORD:
        return -EACCES;
    case EPOCHS_TOO_LARGE:
        return -EFBIG;
    case EPOCHS_FAILED:
        return -EIO;
    }
    return -EINVAL;
}

const char *epochs_outcome_name(enum epochs_outcome outcome)
{
    switch (outcome) {
    case EPOCHS_NEW_VAULT:
        return "new vault";
    case EPOCHS_UNCHANGED:
        return "unchanged";
    case EPOCHS_NEW_EPOCH:
        return "new epoch";
    case EPOCHS_HISTORY_INSERT:
        return "restored to history";
    case EPOCHS_STALE:
        return "stale";
    case EPOCHS_COLOCATION:
        return "co-location";
    case EPOCHS_CONFLICT:
        return "conflict";
    case EPOCHS_SLOT_TAKEN:
        return "epoch taken";
    case EPOCHS_INCOMPLETE:
        return "incomplete";
    case EPOCHS_WRONG_PLACE:
        return "wrong place";
    case EPOCHS_UNREADABLE:
        return "unreadable";
    case EPOCHS_WRONG_PASSWORD:
        return "wrong password";
    case EPOCHS_TOO_LARGE:
        return "too large";
    case EPOCHS_FAILED:
        return "failed";
    }
    return "unknown";
}
