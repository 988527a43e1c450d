/*
 * completeness: can a backup sign with every key it declares? The apps'
 * own rule (a backup must always be complete and importable anywhere),
 * as DESIGN's import table and ../shared/fixtures/MANIFEST.md ("The 2026
 * layouts") put it:
 *   - a key share for the ECDSA and (when set) the EdDSA key; early iOS
 *     KEYIMPORT files (December 2025 to April 2026) hold none for either,
 *     only one per chain key, and sign chain by chain;
 *   - a key share for public_key_mldsa44 when it is set;
 *   - in a KEYIMPORT vault, a key share for the key of each chain the
 *     apps sign for (chains.h);
 *   - no key share still locked by the app's passcode.
 * The first share listed for a key is the one that counts, as in the apps.
 */
#ifndef VULTFS_COMPLETENESS_H
#define VULTFS_COMPLETENESS_H

#include <stdbool.h>
#include <stddef.h>

#include "vult.h"

enum completeness_gap {
    COMPLETENESS_OK,
    COMPLETENESS_MISSING, /* a key it signs with has no key share */
    COMPLETENESS_LOCKED,  /* a key share is still locked by a passcode */
};

struct completeness {
    enum completeness_gap gap;
    const char *key;       /* MISSING/LOCKED: "ECDSA", "EdDSA", "ML-DSA", "chain" ... */
    struct vult_str chain; /* when key is "chain": its name */
    size_t count;          /* how many keys lack a share (or are locked) */
};

struct completeness completeness_of(const struct vult_vault *vault);

/* One phrase for a message, e.g. "it lacks a key share for its ML-DSA key"
 * or "its key share for chain Solana (and 2 more) is still locked by the
 * app's passcode". */
void completeness_describe(char *out, size_t cap, const struct completeness *c);

#endif
