/*
 * freshness: a backup file against the store (see freshness.h).
 */
#include "freshness.h"

#include <string.h>

static bool same_digest(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES) == 0;
}

/* The epoch that superseded number: the lowest one held above it. */
static uint32_t next_epoch(const struct epochs_entry *entries, size_t count, uint32_t number)
{
    uint32_t next = 0;
    for (size_t i = 0; i < count; i++)
        if (entries[i].number > number && (!next || entries[i].number < next))
            next = entries[i].number;
    return next;
}

static const struct epochs_entry *current_of(const struct epochs_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (entries[i].current)
            return &entries[i];
    return NULL;
}

struct freshness freshness_classify(const struct epochs_entry *entries, size_t count,
                                    const struct epochs_entry *share, bool complete,
                                    bool held_device_left)
{
    struct epochs_candidate candidate = {.share = *share, .complete = complete,
                                         .in_its_place = true, .history_slot = 0};
    struct epochs_decision d = epochs_decide(entries, count, &candidate);
    struct freshness f = {.verdict = FRESHNESS_UNREADABLE, .epoch = d.epoch};
    const struct epochs_entry *current = current_of(entries, count);

    switch (d.outcome) {
    case EPOCHS_NEW_VAULT:
        f.verdict = FRESHNESS_NOT_HELD;
        f.epoch = 0;
        break;
    case EPOCHS_UNCHANGED:
        f.verdict = FRESHNESS_CURRENT;
        break;
    case EPOCHS_NEW_EPOCH:
        /* a new generation is this location's only when it is the held
         * device's, or that device left the vault (DESIGN.md) */
        f.epoch = 0;
        f.verdict = !current || same_digest(current->device, share->device) || held_device_left
                        ? FRESHNESS_NEWER
                        : FRESHNESS_OTHER_DEVICE;
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
