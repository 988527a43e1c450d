/*
 * freshness: a backup file against the store (see freshness.h).
 */
#include "freshness.h"

#include <string.h>

/* The epoch that superseded number: the lowest one held above it. */
static uint64_t next_epoch(const struct epochs_entry *entries, size_t count, uint64_t number)
{
    uint64_t next = 0;
    for (size_t i = 0; i < count; i++)
        if (entries[i].number > number && (!next || entries[i].number < next))
            next = entries[i].number;
    return next;
}

struct freshness freshness_classify(const struct epochs_entry *entries, size_t count,
                                    const struct epochs_entry *share, bool complete)
{
    struct epochs_candidate candidate = {.share = *share, .complete = complete,
                                         .in_its_place = true, .history_slot = 0};
    struct epochs_decision d = epochs_decide(entries, count, &candidate);
    struct freshness f = {.verdict = FRESHNESS_UNREADABLE, .epoch = d.epoch};

    switch (d.outcome) {
    case EPOCHS_NEW_VAULT:
        f.verdict = FRESHNESS_NOT_HELD;
        f.epoch = 0;
        break;
    case EPOCHS_UNCHANGED:
        f.verdict = FRESHNESS_CURRENT;
        break;
    case EPOCHS_NEW_EPOCH:
        /* the rules took it as this location's: the held device's, or that
         * device left the vault (else it is EPOCHS_COLOCATION) */
        f.epoch = 0;
        f.verdict = FRESHNESS_NEWER;
        break;
    case EPOCHS_GREW:
        f.verdict = FRESHNESS_NEWER; /* the store's epoch, grown by a key */
        break;
    case EPOCHS_OUTGROWN:
        f.verdict = FRESHNESS_OUT_OF_DATE;
        break;
    case EPOCHS_STALE:
        f.verdict = FRESHNESS_STALE;
        f.superseded_by = next_epoch(entries, count, d.epoch);
        break;
    case EPOCHS_COLOCATION:
        f.verdict = FRESHNESS_OTHER_DEVICE;
        break;
    case EPOCHS_CONFLICT:
        f.verdict = FRESHNESS_ALTERED;
        break;
    case EPOCHS_INCOMPLETE:
        f.verdict = FRESHNESS_INCOMPLETE;
        break;
    default:
        break;
    }
    return f;
}

bool freshness_ok(enum freshness_verdict verdict)
{
    switch (verdict) {
    case FRESHNESS_CURRENT:
    case FRESHNESS_NEWER:
    case FRESHNESS_OTHER_DEVICE:
    case FRESHNESS_NOT_HELD:
    case FRESHNESS_NOT_BACKUP:
        return true;
    default:
        return false;
    }
}

const char *freshness_name(enum freshness_verdict verdict)
{
    switch (verdict) {
    case FRESHNESS_CURRENT:
        return "current";
    case FRESHNESS_STALE:
        return "stale";
    case FRESHNESS_OUT_OF_DATE:
        return "out-of-date";
    case FRESHNESS_NEWER:
        return "newer";
    case FRESHNESS_OTHER_DEVICE:
        return "other-device";
    case FRESHNESS_NOT_HELD:
        return "not-held";
    case FRESHNESS_ALTERED:
        return "altered";
    case FRESHNESS_INCOMPLETE:
        return "incomplete";
    case FRESHNESS_NOT_BACKUP:
        return "not-a-backup";
    case FRESHNESS_UNREADABLE:
        return "unreadable";
    }
    return "unknown";
}
