/*
 * epochs: the import rules, as one pure function. Given what the store
 * holds of a vault and what an incoming share says, it decides the outcome;
 * nothing here touches disk. Read it beside DESIGN.md's table.
 *
 * A vault is identified by its ECDSA public key, which a reshare keeps. A
 * generation is what a reshare changes: reshare_prefix (GG20) together with
 * the set of signers, order ignored. Epochs number the generations a store
 * has seen.
 */
#ifndef VULTFS_EPOCHS_H
#define VULTFS_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vult.h"

#define EPOCHS_DIGEST_BYTES 32

enum epochs_outcome {
    EPOCHS_NEW_VAULT,      /* accepted: new directory, epoch 1 */
    EPOCHS_UNCHANGED,      /* accepted: the same share again, nothing written */
    EPOCHS_NEW_EPOCH,      /* accepted: new generation; old current to history */
    EPOCHS_HISTORY_INSERT, /* accepted: restored into history/epoch-N */
    EPOCHS_STALE,          /* refused: its generation is kept in history */
    EPOCHS_COLOCATION,     /* refused: another device's share of a held generation */
    EPOCHS_CONFLICT,       /* refused: same device and generation, other key shares */
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
    uint32_t number;
    bool current;
    uint8_t generation[EPOCHS_DIGEST_BYTES];
    uint8_t device[EPOCHS_DIGEST_BYTES]; /* digest of local_party_id */
    uint8_t shares[EPOCHS_DIGEST_BYTES]; /* digest of the key shares */
};

/* What the incoming share says, and where it was written. */
struct epochs_candidate {
    struct epochs_entry share; /* number and current unused */
    bool complete;
    bool in_its_place; /* not written into another vault's directory */
    uint32_t history_slot; /* 0: current; N: history/epoch-N.vult */
};

struct epochs_decision {
    enum epochs_outcome outcome;
    uint32_t epoch;   /* the epoch it becomes (accepted) or matched (refused) */
    uint32_t renumber_current; /* non-zero: the current epoch's new number */
};

/* Fills the digests of a parsed share: generation = prefix + sorted
 * signers; device; key shares (public key and share, in order). */
void epochs_describe(struct epochs_entry *out, const struct vult_vault *vault);

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
