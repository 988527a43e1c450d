/*
 * generations: one batch of imports (`vultfs import STORE a.vult b.vult`,
 * the entries of a zip) that brought more than one generation of a vault.
 * A backup file does not say which generation came later, so the order of
 * the batch decided which one is current; say so, once per vault, with
 * the way back (vultfs promote), after the batch's own lines.
 */
#ifndef VULTFS_GENERATIONS_H
#define VULTFS_GENERATIONS_H

#include <stddef.h>
#include <stdint.h>

struct store_import_result;

struct generations_vault {
    char dir_name[256];
    uint64_t epochs[4]; /* the first few epochs the batch made, in order */
    size_t count;       /* how many it made */
};

struct generations {
    struct generations_vault *vaults;
    size_t count, cap;
};

/* One import's result: a new vault or a new epoch is a generation brought. */
void generations_note(struct generations *g, const struct store_import_result *r);
/* One warning line (log_warn) for each vault the batch brought two or more
 * generations of; store names the store in the command it suggests. */
void generations_warn(const struct generations *g, const char *store);
void generations_free(struct generations *g);

#endif
