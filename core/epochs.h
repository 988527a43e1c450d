/*
 * epochs: the import rules, as one pure function. Given what the store
 * holds of a vault and what an incoming share says, it decides the outcome;
 * nothing here touches disk. Read it beside DESIGN.md's table.
 *
 * A vault is identified by its ECDSA public key, which a reshare keeps. A
 * generation is what a reshare (or a GG20 to DKLS migration) changes:
 * lib_type, reshare_prefix (GG20) and the set of signers, order ignored.
 * Epochs number the generations a store has seen.
 *
 * A store keeps one device's line of a vault. Two invariants hold for every
 * vault, whatever order its epochs arrive in:
 *   - for any two consecutive epochs, the later one's device is the earlier
 *     one's, or the earlier one's device is not among the later one's
 *     signers (it left the vault; this location now keeps its successor);
 *   - no two epochs share a key share (a reshare renews them all, so the
 *     same key shares under other signers mean an altered file).
 * Within one generation a device's backup can grow (an ML-DSA key added
 * with no reshare): the fuller file replaces the held one in place, and
 * the held one is then out of date.
 */
#ifndef VULTFS_EPOCHS_H
#define VULTFS_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vult.h"

#define EPOCHS_DIGEST_BYTES 32
/* History slots a file may name: history/epoch-N.vult, 1 <= N <= this. */
#define EPOCHS_MAX_SLOT 1000000u

enum epochs_outcome {
    EPOCHS_NEW_VAULT,      /* accepted: new directory, epoch 1 */
    EPOCHS_UNCHANGED,      /* accepted: the same share again, nothing written */
    EPOCHS_NEW_EPOCH,      /* accepted: new generation; old current to history */
    EPOCHS_HISTORY_INSERT, /* accepted: restored into history/epoch-N */
    EPOCHS_GREW,           /* accepted: the same device's backup of a held epoch
                              with every key share of it and shares for keys it
                              did not declare (an ML-DSA key added): replaces
                              that epoch's file in place */
    EPOCHS_STALE,          /* refused: its generation is kept in history */
    EPOCHS_OUTGROWN,       /* refused: the store holds a backup of this epoch
                              with every key share of this one and more */
    EPOCHS_COLOCATION,     /* refused: another device's share of a held generation,
                              or of a new one while the held device still signs */
    EPOCHS_CONFLICT,       /* refused: same device and generation, other key shares,
                              or a new generation reusing a held key share */
    EPOCHS_SLOT_TAKEN,     /* refused: history/epoch-N holds another generation,
                              or this generation is held as another epoch */
    EPOCHS_INCOMPLETE,     /* refused: no key share for a key it signs with, or
                              one still locked by the app's passcode */
    EPOCHS_WRONG_PLACE,    /* refused: written into another vault's directory */
    EPOCHS_UNREADABLE,     /* refused: not a backup, truncated, corrupt */
    EPOCHS_WRONG_PASSWORD, /* refused: no password fits */
    EPOCHS_TOO_LARGE,      /* refused: over the import cap */
    EPOCHS_FAILED,         /* the store could not be written: nothing changed */
};

/* One key share as the rules see it: the key it is listed under and its
 * secret value, each as a digest. */
struct epochs_key_share {
    uint8_t key[EPOCHS_DIGEST_BYTES];
    uint8_t share[EPOCHS_DIGEST_BYTES];
};

/* What the store holds of one epoch (or what a file says), for deciding.
 * The arrays live in one block that the entry owns once epochs_describe
 * or epochs_entry_alloc made it (epochs_entry_clear frees it); a copy of
 * an entry by value borrows them. */
struct epochs_entry {
    uint64_t number;
    bool current;
    uint64_t lib_type; /* part of the generation: a GG20 to DKLS migration
                          keeps the signers but is a new generation */
    uint8_t generation[EPOCHS_DIGEST_BYTES]; /* prefix and sorted signers */
    uint8_t device[EPOCHS_DIGEST_BYTES]; /* digest of local_party_id */
    uint8_t shares[EPOCHS_DIGEST_BYTES]; /* digest of all key shares, in order */
    /* each signer's digest, made as device's is, so "device is a signer" is a
     * digest comparison */
    uint8_t (*signers)[EPOCHS_DIGEST_BYTES];
    size_t signer_count;
    /* each key share, in the file's order */
    struct epochs_key_share *key_shares;
    size_t key_share_count;
    bool has_keys; /* key_shares[].key and declared are known (epochs
                      stored before they were kept have share digests only) */
    /* every public key the file declares (ECDSA, EdDSA, ML-DSA, FROST,
     * chain keys), as digests: a share for a key not among them is new */
    uint8_t (*declared)[EPOCHS_DIGEST_BYTES];
    size_t declared_count;
    /* epochs_entry_index: the share digests and the pairs, sorted, and the
     * declared keys sorted in place, for lookups in log time */
    uint8_t (*shares_sorted)[EPOCHS_DIGEST_BYTES];
    struct epochs_key_share *pairs_sorted;
    void *block; /* owns the arrays */
};

/* What the incoming share says, and where it was written. */
struct epochs_candidate {
    struct epochs_entry share; /* number and current unused */
    bool complete;
    bool in_its_place; /* not written into another vault's directory */
    uint64_t history_slot; /* 0: current; N: history/epoch-N.vult */
};

struct epochs_decision {
    enum epochs_outcome outcome;
    uint64_t epoch;   /* the epoch it becomes (accepted) or matched (refused) */
    uint64_t renumber_current; /* non-zero: the current epoch's new number */
};

/* Room for the arrays of e (zeroed, counts set): 0 or -ENOMEM. */
int epochs_entry_alloc(struct epochs_entry *e, size_t signers, size_t key_shares,
                       size_t declared);
/* Frees what the entry owns and zeroes it; NULL-safe. */
void epochs_entry_clear(struct epochs_entry *e);
/* epochs_entry_clear on each of count entries, then alloc_free(list). */
void epochs_entries_free(struct epochs_entry *list, size_t count);
/* e's number, generation, device, shares and lib_type without its arrays:
 * a copy that owns and borrows nothing, for keeping past e's life. */
struct epochs_entry epochs_entry_summary(const struct epochs_entry *e);
/* The sorted lookups (see above) once the arrays are filled. */
void epochs_entry_index(struct epochs_entry *e);

/* Fills the facts and digests of a parsed share, indexed: lib_type;
 * generation = prefix + sorted signers; device; all key shares (public key
 * and share, in order); each signer; each key share; the declared keys.
 * 0 or -ENOMEM (out cleared). */
int epochs_describe(struct epochs_entry *out, const struct vult_vault *vault);

/* The digest epochs_describe gives a device or signer name, and a public
 * key. */
void epochs_device_digest(uint8_t out[EPOCHS_DIGEST_BYTES], const char *name, size_t len);
void epochs_key_digest(uint8_t out[EPOCHS_DIGEST_BYTES], const char *key, size_t len);

/* Does big hold every key share of small (key and value), and shares only
 * for keys small does not declare beside them, and at least one? Then big
 * is small's backup grown by a key (an ML-DSA key added with no reshare),
 * and small is out of date. */
bool epochs_grows(const struct epochs_entry *small, const struct epochs_entry *big);

/* The rules. entries: every epoch held of this vault (none for a vault not
 * held yet), in any order, each indexed (epochs_entry_index). */
struct epochs_decision epochs_decide(const struct epochs_entry *entries, size_t count,
                                     const struct epochs_candidate *candidate);

/* Do entries (held epochs, no forgotten markers) keep the device-line
 * invariant, taken in number order? When not, *later is the number of
 * the first epoch that may not follow the one below it. */
bool epochs_line_holds(const struct epochs_entry *entries, size_t count, uint64_t *later);

bool epochs_accepted(enum epochs_outcome outcome);
/* 0 for accepted outcomes, else the distinct negative errno of the table. */
int epochs_errno(enum epochs_outcome outcome);
/* A short name: "new vault", "stale", "co-location", ... */
const char *epochs_outcome_name(enum epochs_outcome outcome);

#endif
