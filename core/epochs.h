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
 */
#ifndef VULTFS_EPOCHS_H
#define VULTFS_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vult.h"

#define EPOCHS_DIGEST_BYTES 32
#define EPOCHS_MAX_SIGNERS VULT_MAX_SIGNERS
#define EPOCHS_MAX_KEY_SHARES VULT_MAX_KEY_SHARES
/* History slots a file may name: history/epoch-N.vult, 1 <= N <= this. */
#define EPOCHS_MAX_SLOT 1000000u

enum epochs_outcome {
    EPOCHS_NEW_VAULT,      /* accepted: new directory, epoch 1 */
    EPOCHS_UNCHANGED,      /* accepted: the same share again, nothing written */
    EPOCHS_NEW_EPOCH,      /* accepted: new generation; old current to history */
    EPOCHS_HISTORY_INSERT, /* accepted: restored into history/epoch-N */
    EPOCHS_STALE,          /* refused: its generation is kept in history */
    EPOCHS_COLOCATION,     /* refused: another device's share of a held generation,
                              or of a new one while the held device still signs */
    EPOCHS_CONFLICT,       /* refused: same device and generation, other key shares,
                              or a new generation reusing a held key share */
    EPOCHS_SLOT_TAKEN,     /* refused: history/epoch-N holds another generation,
                              or this generation is held as another epoch */
    EPOCHS_INCOMPLETE,     /* refused: no key share for a public key */
    EPOCHS_WRONG_PLACE,    /* refused: written into another vault's directory */
    EPOCHS_UNREADABLE,     /* refused: not a backup, truncated, corrupt */
    EPOCHS_WRONG_PASSWORD, /* refused: no password fits */
    EPOCHS_TOO_LARGE,      /* refused: over the import cap */
    EPOCHS_FAILED,         /* the store could not be written: nothing changed */
};

/* What the store holds of one epoch, for deciding. */
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
    uint8_t signers[EPOCHS_MAX_SIGNERS][EPOCHS_DIGEST_BYTES];
    size_t signer_count;
    /* each key share's digest (the secret value alone) */
    uint8_t key_shares[EPOCHS_MAX_KEY_SHARES][EPOCHS_DIGEST_BYTES];
    size_t key_share_count;
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

/* Fills the facts and digests of a parsed share: lib_type; generation =
 * prefix + sorted signers; device; all key shares (public key and share, in order);
 * each signer; each key share. */
void epochs_describe(struct epochs_entry *out, const struct vult_vault *vault);

/* The digest epochs_describe gives a device or signer name. */
void epochs_device_digest(uint8_t out[EPOCHS_DIGEST_BYTES], const char *name, size_t len);

/* The rules. entries: every epoch held of this vault (none for a vault not
 * held yet), in any order. */
struct epochs_decision epochs_decide(const struct epochs_entry *entries, size_t count,
                                     const struct epochs_candidate *candidate);

bool epochs_accepted(enum epochs_outcome outcome);
/* 0 for accepted outcomes, else the distinct negative errno of the table. */
int epochs_errno(enum epochs_outcome outcome);
/* A short name: "new vault", "stale", "co-location", ... */
const char *epochs_outcome_name(enum epochs_outcome outcome);

#endif
