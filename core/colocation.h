/*
 * colocation: which shares found in one place belong together. The pure
 * grouping behind `vultfs audit` (shares of two or more devices of one
 * vault and generation in one place) and `vultfs check` without a store
 * (which files are of one vault, which generations they hold). Nothing
 * here touches disk.
 */
#ifndef VULTFS_COLOCATION_H
#define VULTFS_COLOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "epochs.h"
#include "wur.h"

/* One share found: its vault (the ECDSA key, NUL-terminated; borrowed) and
 * epochs_describe's digests (number and current unused). */
struct colocation_share {
    const char *vault_key;
    struct epochs_entry digest;
    size_t signer_count;
};

/* Where each share falls: vault v (0-based, in order of first appearance)
 * and its generation g within that vault (0-based, likewise). */
struct colocation_label {
    size_t vault;
    size_t generation;
};

/* A vault and generation of which the place holds two or more devices. */
struct colocation_finding {
    size_t first;     /* index of the first share of the group */
    size_t devices;   /* distinct devices among the group's shares */
    size_t threshold; /* shares needed to sign (colocation_threshold) */
    bool can_sign;    /* devices >= threshold: this place alone can sign */
};

/* Vultisig's signing threshold for n signers: 2 of 2, 2 of 3,
 * ceil(2n/3) of n (1 for n <= 1). */
size_t colocation_threshold(size_t signers);

/* labels: an array of n, filled in. */
void colocation_label(struct colocation_label *labels, const struct colocation_share *shares,
                      size_t n);

/* The number of generations among the shares of vault v (after labelling). */
size_t colocation_generations(const struct colocation_label *labels, size_t n, size_t vault);

/* Every group (vault, generation) with shares of two or more devices.
 * *out is alloc_zeroed (free with alloc_free); 0 or -ENOMEM. */
int colocation_find(struct colocation_finding **out, size_t *count,
                    const struct colocation_share *shares, size_t n) VULTFS_WUR;

#endif
