/*
 * epochs: the import rules (see epochs.h and DESIGN.md's table).
 */
#include "epochs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"

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
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void digest_of(uint8_t out[EPOCHS_DIGEST_BYTES], const char *domain, struct vult_str s)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, (const uint8_t *)domain, strlen(domain), EPOCHS_DIGEST_BYTES);
    hash_str(&st, s);
    crypto_generichash_final(&st, out, EPOCHS_DIGEST_BYTES);
    sodium_memzero(&st, sizeof(st));
}

void epochs_device_digest(uint8_t out[EPOCHS_DIGEST_BYTES], const char *name, size_t len)
{
    digest_of(out, "vultfs-device", (struct vult_str){name, len});
}

void epochs_key_digest(uint8_t out[EPOCHS_DIGEST_BYTES], const char *key, size_t len)
{
    digest_of(out, "vultfs-key", (struct vult_str){key, len});
}

int epochs_entry_alloc(struct epochs_entry *e, size_t signers, size_t key_shares,
                       size_t declared)
{
    size_t digest = EPOCHS_DIGEST_BYTES, pair = sizeof(struct epochs_key_share);
    size_t bytes = (signers + declared + key_shares) * digest + 2 * key_shares * pair;
    uint8_t *block = alloc_zeroed(1, bytes ? bytes : 1);

    if (!block)
        return -ENOMEM;
    e->block = block;
    e->key_shares = (struct epochs_key_share *)block;
    block += key_shares * pair;
    e->pairs_sorted = (struct epochs_key_share *)block;
    block += key_shares * pair;
    e->signers = (uint8_t(*)[EPOCHS_DIGEST_BYTES])block;
    block += signers * digest;
    e->declared = (uint8_t(*)[EPOCHS_DIGEST_BYTES])block;
    block += declared * digest;
    e->shares_sorted = (uint8_t(*)[EPOCHS_DIGEST_BYTES])block;
    e->signer_count = signers;
    e->key_share_count = key_shares;
    e->declared_count = declared;
    return 0;
}

void epochs_entry_clear(struct epochs_entry *e)
{
    if (!e)
        return;
    alloc_free(e->block);
    sodium_memzero(e, sizeof(*e));
}

void epochs_entries_free(struct epochs_entry *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        epochs_entry_clear(&list[i]);
    alloc_free(list);
}

struct epochs_entry epochs_entry_summary(const struct epochs_entry *e)
{
    struct epochs_entry out;

    memset(&out, 0, sizeof(out));
    out.number = e->number;
    out.current = e->current;
    out.lib_type = e->lib_type;
    memcpy(out.generation, e->generation, EPOCHS_DIGEST_BYTES);
    memcpy(out.device, e->device, EPOCHS_DIGEST_BYTES);
    memcpy(out.shares, e->shares, EPOCHS_DIGEST_BYTES);
    return out;
}

static int compare_digest(const void *a, const void *b)
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES);
}

static int compare_pair(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct epochs_key_share));
}

void epochs_entry_index(struct epochs_entry *e)
{
    for (size_t i = 0; i < e->key_share_count; i++) {
        memcpy(e->shares_sorted[i], e->key_shares[i].share, EPOCHS_DIGEST_BYTES);
        e->pairs_sorted[i] = e->key_shares[i];
    }
    qsort(e->shares_sorted, e->key_share_count, EPOCHS_DIGEST_BYTES, compare_digest);
    qsort(e->pairs_sorted, e->key_share_count, sizeof(*e->pairs_sorted), compare_pair);
    qsort(e->declared, e->declared_count, EPOCHS_DIGEST_BYTES, compare_digest);
}

/* The public keys a vault declares: the apps sign with these, and a key
 * share for any other key is not a new key's. */
static size_t declared_keys(struct vult_str *out, const struct vult_vault *v)
{
    struct vult_str keys[] = {v->public_key_ecdsa, v->public_key_eddsa, v->public_key_mldsa44,
                              v->public_key_frozt, v->public_key_fromt};
    size_t n = 0;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].len && out)
            out[n++] = keys[i];
        else if (keys[i].len)
            n++;
    for (size_t i = 0; i < v->chain_count; i++)
        if (v->chains[i].public_key.len && out)
            out[n++] = v->chains[i].public_key;
        else if (v->chains[i].public_key.len)
            n++;
    return n;
}

int epochs_describe(struct epochs_entry *out, const struct vult_vault *vault)
{
    crypto_generichash_state st;
    struct vult_str *sorted = NULL, *keys = NULL;
    size_t declared = declared_keys(NULL, vault);
    int ret = -ENOMEM;

    memset(out, 0, sizeof(*out));
    sorted = alloc_bytes((vault->signer_count + declared + 1) * sizeof(*sorted));
    if (!sorted || epochs_entry_alloc(out, vault->signer_count, vault->key_share_count,
                                      declared) < 0)
        goto out_free;
    keys = sorted + vault->signer_count;
    out->lib_type = vault->lib_type;
    out->has_keys = true;

    /* generation: what a reshare changes; the signer order is the device's
     * own and differs between shares of one generation */
    memcpy(sorted, vault->signers, vault->signer_count * sizeof(sorted[0]));
    qsort(sorted, vault->signer_count, sizeof(sorted[0]), compare_str);
    crypto_generichash_init(&st, (const uint8_t *)"vultfs-generation", 17, EPOCHS_DIGEST_BYTES);
    hash_str(&st, vault->reshare_prefix);
    for (size_t i = 0; i < vault->signer_count; i++)
        hash_str(&st, sorted[i]);
    crypto_generichash_final(&st, out->generation, EPOCHS_DIGEST_BYTES);

    epochs_device_digest(out->device, vault->local_party_id.ptr, vault->local_party_id.len);
    for (size_t i = 0; i < vault->signer_count; i++)
        epochs_device_digest(out->signers[i], vault->signers[i].ptr, vault->signers[i].len);

    crypto_generichash_init(&st, (const uint8_t *)"vultfs-keyshares", 16, EPOCHS_DIGEST_BYTES);
    for (size_t i = 0; i < vault->key_share_count; i++) {
        const struct vult_key_share *ks = &vault->key_shares[i];
        hash_str(&st, ks->public_key);
        hash_str(&st, ks->keyshare);
        digest_of(out->key_shares[i].share, "vultfs-keyshare", ks->keyshare);
        epochs_key_digest(out->key_shares[i].key, ks->public_key.ptr, ks->public_key.len);
    }
    crypto_generichash_final(&st, out->shares, EPOCHS_DIGEST_BYTES);
    sodium_memzero(&st, sizeof(st));

    declared_keys(keys, vault);
    for (size_t i = 0; i < declared; i++)
        epochs_key_digest(out->declared[i], keys[i].ptr, keys[i].len);
    epochs_entry_index(out);
    ret = 0;
out_free:
    alloc_free(sorted);
    if (ret < 0)
        epochs_entry_clear(out);
    return ret;
}

/* ---- the rules ---------------------------------------------------------- */

static bool same(const uint8_t a[EPOCHS_DIGEST_BYTES], const uint8_t b[EPOCHS_DIGEST_BYTES])
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES) == 0;
}

static bool same_generation(const struct epochs_entry *a, const struct epochs_entry *b)
{
    return a->lib_type == b->lib_type && same(a->generation, b->generation);
}

static bool is_signer(const uint8_t device[EPOCHS_DIGEST_BYTES], const struct epochs_entry *e)
{
    for (size_t i = 0; i < e->signer_count; i++)
        if (same(device, e->signers[i]))
            return true;
    return false;
}

/* The one-line invariant: may `later` follow `earlier` in a device's line?
 * Yes when it is the same device's share, or when the earlier device is
 * not among the later generation's signers (it left the vault). */
static bool may_follow(const struct epochs_entry *earlier, const struct epochs_entry *later)
{
    return same(earlier->device, later->device) || !is_signer(earlier->device, later);
}

static bool holds_share(const struct epochs_entry *e, const uint8_t share[EPOCHS_DIGEST_BYTES])
{
    return bsearch(share, e->shares_sorted, e->key_share_count, EPOCHS_DIGEST_BYTES,
                   compare_digest) != NULL;
}

/* Does any key share of the candidate appear in any held epoch but
 * `skip` (the epoch a grown file replaces)? */
static bool reuses_key_share(const struct epochs_entry *entries, size_t count,
                             const struct epochs_entry *incoming,
                             const struct epochs_entry *skip)
{
    for (size_t i = 0; i < count; i++) {
        if (&entries[i] == skip)
            continue;
        for (size_t k = 0; k < incoming->key_share_count; k++)
            if (holds_share(&entries[i], incoming->key_shares[k].share))
                return true;
    }
    return false;
}

/* Does `big` hold every key share of `small` (key and value), and is
 * every share it has beyond them for a key `small` does not declare? An
 * ML-DSA key added with no reshare is exactly that; another share for a
 * key small declares would be an altered file. Sorted merge: linear. */
static bool grows(const struct epochs_entry *small, const struct epochs_entry *big)
{
    size_t i = 0;

    if (!small->has_keys || !big->has_keys)
        return false;
    for (size_t j = 0; j < big->key_share_count; j++) {
        const struct epochs_key_share *b = &big->pairs_sorted[j];
        if (j > 0 && compare_pair(&big->pairs_sorted[j - 1], b) == 0)
            continue; /* listed twice (the desktop app repeats group members' shares) */
        if (i < small->key_share_count && compare_pair(&small->pairs_sorted[i], b) < 0)
            return false; /* small has a share big lacks */
        if (i < small->key_share_count && compare_pair(&small->pairs_sorted[i], b) == 0) {
            while (i < small->key_share_count && compare_pair(&small->pairs_sorted[i], b) == 0)
                i++;
            continue;
        }
        if (bsearch(b->key, small->declared, small->declared_count, EPOCHS_DIGEST_BYTES,
                    compare_digest))
            return false; /* a different share for a key small declares */
    }
    return i == small->key_share_count;
}

bool epochs_grows(const struct epochs_entry *small, const struct epochs_entry *big)
{
    return grows(small, big) && !grows(big, small);
}

static struct epochs_decision decision(enum epochs_outcome outcome, uint64_t epoch)
{
    return (struct epochs_decision){.outcome = outcome, .epoch = epoch};
}

/* A share of a generation the store holds, at the right place: the same
 * share is a no-op; the same device's backup grown by a key (and only by
 * that) replaces it, and the held one's lesser copy is out of date;
 * anything else is refused. */
static struct epochs_decision held_generation(const struct epochs_entry *entries, size_t count,
                                              const struct epochs_entry *held,
                                              const struct epochs_entry *incoming)
{
    bool held_in_new, new_in_held;

    if (!same(held->device, incoming->device))
        return decision(EPOCHS_COLOCATION, held->number);
    if (same(held->shares, incoming->shares))
        return decision(EPOCHS_UNCHANGED, held->number);
    held_in_new = grows(held, incoming);
    new_in_held = grows(incoming, held);
    if (held_in_new && new_in_held)
        return decision(EPOCHS_UNCHANGED, held->number); /* the same shares, listed otherwise */
    if (held_in_new && !reuses_key_share(entries, count, incoming, held))
        return decision(EPOCHS_GREW, held->number);
    if (new_in_held)
        return decision(EPOCHS_OUTGROWN, held->number);
    return decision(EPOCHS_CONFLICT, held->number);
}

/* The epochs just below and just above number n (NULL when none), leaving
 * out `skip`. */
static void neighbours(const struct epochs_entry **below, const struct epochs_entry **above,
                       const struct epochs_entry *entries, size_t count, uint64_t n,
                       const struct epochs_entry *skip)
{
    *below = *above = NULL;
    for (size_t i = 0; i < count; i++) {
        const struct epochs_entry *e = &entries[i];
        if (e == skip)
            continue;
        if (e->number < n && (!*below || e->number > (*below)->number))
            *below = e;
        if (e->number > n && (!*above || e->number < (*above)->number))
            *above = e;
    }
}

/* A new generation for share.vult: it becomes the newest epoch. */
static struct epochs_decision new_generation(const struct epochs_entry *entries, size_t count,
                                             const struct epochs_entry *incoming)
{
    const struct epochs_entry *latest, *none;

    if (count == 0)
        return decision(EPOCHS_NEW_VAULT, 1);
    neighbours(&latest, &none, entries, count, UINT64_MAX, NULL);
    if (reuses_key_share(entries, count, incoming, NULL))
        return decision(EPOCHS_CONFLICT, latest->number);
    if (!may_follow(latest, incoming))
        return decision(EPOCHS_COLOCATION, latest->number);
    return decision(EPOCHS_NEW_EPOCH, latest->number + 1);
}

/* history/epoch-N.vult of a generation not held: a restore puts old
 * epochs back where they were, in any order, never making them current. */
static struct epochs_decision history_insert(const struct epochs_entry *entries, size_t count,
                                             const struct epochs_candidate *candidate)
{
    const struct epochs_entry *incoming = &candidate->share, *current = NULL, *below, *above;
    uint64_t slot = candidate->history_slot;
    struct epochs_decision d = decision(EPOCHS_HISTORY_INSERT, slot);

    for (size_t i = 0; i < count; i++) {
        if (entries[i].current)
            current = &entries[i];
        else if (entries[i].number == slot)
            return decision(EPOCHS_SLOT_TAKEN, slot);
    }
    if (reuses_key_share(entries, count, incoming, NULL))
        return decision(EPOCHS_CONFLICT, slot);
    /* the current epoch stays the newest: numbers above it move it up */
    if (current && current->number <= slot) {
        d.renumber_current = slot + 1;
        neighbours(&below, &above, entries, count, slot, current);
        above = current;
    } else {
        neighbours(&below, &above, entries, count, slot, NULL);
    }
    if (below && !may_follow(below, incoming))
        return decision(EPOCHS_COLOCATION, below->number);
    if (above && !may_follow(incoming, above))
        return decision(EPOCHS_COLOCATION, above->number);
    return d;
}

struct epochs_decision epochs_decide(const struct epochs_entry *entries, size_t count,
                                     const struct epochs_candidate *candidate)
{
    const struct epochs_entry *incoming = &candidate->share, *match = NULL;
    uint64_t slot = candidate->history_slot;

    if (!candidate->in_its_place)
        return decision(EPOCHS_WRONG_PLACE, 0);
    if (!candidate->complete)
        return decision(EPOCHS_INCOMPLETE, 0);
    if (slot > EPOCHS_MAX_SLOT)
        return decision(EPOCHS_WRONG_PLACE, 0);

    for (size_t i = 0; i < count; i++)
        if (same_generation(&entries[i], incoming))
            match = &entries[i];

    if (slot == 0) {
        /* share.vult, or a new file: it must be the newest generation */
        if (match && !match->current)
            return decision(EPOCHS_STALE, match->number);
        if (match)
            return held_generation(entries, count, match, incoming);
        return new_generation(entries, count, incoming);
    }

    if (match && !match->current && match->number == slot)
        return held_generation(entries, count, match, incoming);
    if (match && !same(match->device, incoming->device))
        return decision(EPOCHS_COLOCATION, match->number);
    if (match)
        return decision(EPOCHS_SLOT_TAKEN, match->number);
    return history_insert(entries, count, candidate);
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
    case EPOCHS_GREW:
        return 0;
    case EPOCHS_STALE:
    case EPOCHS_OUTGROWN:
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
    case EPOCHS_GREW:
        return "grown";
    case EPOCHS_STALE:
        return "stale";
    case EPOCHS_OUTGROWN:
        return "out of date";
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

bool epochs_line_holds(const struct epochs_entry *entries, size_t count, uint64_t *later)
{
    /* consecutive by number: each one's nearest neighbour below */
    for (size_t i = 0; i < count; i++) {
        const struct epochs_entry *below = NULL;
        for (size_t j = 0; j < count; j++)
            if (entries[j].number < entries[i].number &&
                (!below || entries[j].number > below->number))
                below = &entries[j];
        if (below && !may_follow(below, &entries[i])) {
            *later = entries[i].number;
            return false;
        }
    }
    return true;
}
