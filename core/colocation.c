/*
 * colocation: grouping shares by vault and generation (see colocation.h).
 * Quadratic on purpose: a scan finds tens of backups, not millions.
 */
#include "colocation.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"

size_t colocation_threshold(size_t signers)
{
    if (signers <= 1)
        return 1;
    return (2 * signers + 2) / 3; /* ceil(2n/3): 2 of 2, 2 of 3, 3 of 4 */
}

static bool same_digest(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, EPOCHS_DIGEST_BYTES) == 0;
}

static bool same_vault(const struct colocation_share *a, const struct colocation_share *b)
{
    return strcmp(a->vault_key, b->vault_key) == 0;
}

static bool same_group(const struct colocation_share *a, const struct colocation_share *b)
{
    return same_vault(a, b) && same_digest(a->digest.generation, b->digest.generation);
}

void colocation_label(struct colocation_label *labels, const struct colocation_share *shares,
                      size_t n)
{
    size_t vaults = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && !same_vault(&shares[j], &shares[i]))
            j++;
        if (j == i) {
            labels[i] = (struct colocation_label){vaults++, 0};
            continue;
        }
        labels[i].vault = labels[j].vault;
        size_t generations = colocation_generations(labels, i, labels[j].vault);
        for (j = 0; j < i && !same_group(&shares[j], &shares[i]); j++)
            ;
        labels[i].generation = j < i ? labels[j].generation : generations;
    }
}

size_t colocation_generations(const struct colocation_label *labels, size_t n, size_t vault)
{
    size_t generations = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i].vault == vault && labels[i].generation + 1 > generations)
            generations = labels[i].generation + 1;
    return generations;
}

/* Distinct devices among the shares of first's group. */
static size_t devices_of(const struct colocation_share *shares, size_t n, size_t first)
{
    size_t devices = 0;
    for (size_t i = first; i < n; i++) {
        if (!same_group(&shares[i], &shares[first]))
            continue;
        size_t j = first;
        while (j < i && !(same_group(&shares[j], &shares[i]) &&
                          same_digest(shares[j].digest.device, shares[i].digest.device)))
            j++;
        if (j == i)
            devices++;
    }
    return devices;
}

int colocation_find(struct colocation_finding **out, size_t *count,
                    const struct colocation_share *shares, size_t n)
{
    struct colocation_finding *found = alloc_zeroed(n ? n : 1, sizeof(*found));
    size_t found_count = 0;

    *out = NULL;
    *count = 0;
    if (!found)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && !same_group(&shares[j], &shares[i]))
            j++;
        if (j < i)
            continue; /* not the group's first share */
        size_t devices = devices_of(shares, n, i);
        if (devices < 2)
            continue;
        size_t threshold = colocation_threshold(shares[i].signer_count);
        found[found_count++] = (struct colocation_finding){
            .first = i, .devices = devices, .threshold = threshold,
            .can_sign = devices >= threshold};
    }
    *out = found;
    *count = found_count;
    return 0;
}
