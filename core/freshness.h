/*
 * freshness: is a backup file current? The pure classification behind
 * `vultfs check`. It asks the store's own rules (epochs_decide) what an
 * import of the file would do and names that in a user's words; nothing
 * here touches disk or changes anything.
 */
#ifndef VULTFS_FRESHNESS_H
#define VULTFS_FRESHNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "epochs.h"

enum freshness_verdict {
    FRESHNESS_CURRENT,      /* the store's current epoch, same device */
    FRESHNESS_STALE,        /* its generation is a superseded epoch */
    FRESHNESS_OUT_OF_DATE,  /* the store's backup of its epoch has every key
                               share of it and more (a key added since) */
    FRESHNESS_NEWER,        /* a generation the store has not seen: import it */
    FRESHNESS_OTHER_DEVICE, /* another device's share of a vault the store keeps */
    FRESHNESS_NOT_HELD,     /* a vault the store does not hold */
    FRESHNESS_ALTERED,      /* same device and generation, other key shares */
    FRESHNESS_INCOMPLETE,   /* lacks a key share for a public key: cannot sign */
    FRESHNESS_NOT_BACKUP,   /* not a Vultisig backup */
    FRESHNESS_UNREADABLE,   /* no password fits, or a damaged backup */
};

struct freshness {
    enum freshness_verdict verdict;
    uint64_t epoch;         /* the held epoch it matched (0: none) */
    uint64_t superseded_by; /* STALE: the next epoch the store holds after it */
};

/* Classifies a share (epochs_describe of the file) against every epoch the
 * store holds of its vault (none: not held), by the store's own rules. */
struct freshness freshness_classify(const struct epochs_entry *entries, size_t count,
                                    const struct epochs_entry *share, bool complete);

/* True for the verdicts that leave a check's exit status 0. */
bool freshness_ok(enum freshness_verdict verdict);

/* One word for a table and for JSON: "current", "stale", "out-of-date", "newer",
 * "other-device", "not-held", "altered", "incomplete", "not-a-backup",
 * "unreadable". */
const char *freshness_name(enum freshness_verdict verdict);

#endif
