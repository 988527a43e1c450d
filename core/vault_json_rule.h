/*
 * vault_json_rule: what a write of a vault directory's vault.json does.
 * vault.json is derived from the shares, so it cannot be changed; but
 * copying tools write it back (cp -a, rsync, tar, restic restore), in any
 * order relative to the shares it describes. So a write is a no-op when
 * it brings the bytes vault.json shows now, or while a restore is in
 * progress (the directory was made in this mount, or holds no current
 * share yet); anything else is refused. A pure function: no store, no I/O.
 */
#ifndef VULTFS_VAULT_JSON_RULE_H
#define VULTFS_VAULT_JSON_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vault_json_verdict {
    VAULT_JSON_KEEP_RESTORING, /* the directory was made in this mount: no-op */
    VAULT_JSON_KEEP_NO_SHARE,  /* the directory holds no current share yet: no-op */
    VAULT_JSON_KEEP_SAME,      /* the bytes vault.json shows now: no-op */
    VAULT_JSON_REFUSE,         /* anything else: EPERM */
};

struct vault_json_write {
    bool made_in_mount; /* the directory was made by mkdir in this mount */
    bool has_share;     /* the directory's vault has a current share */
    const char *shown;  /* what vault.json shows now; read only when the two above are not enough */
    size_t shown_len;
    const uint8_t *data; /* what was written */
    size_t len;
};

/* Whether the verdict depends on what vault.json shows now: the caller
 * builds w->shown only then. */
bool vault_json_rule_needs_shown(const struct vault_json_write *w);

enum vault_json_verdict vault_json_rule(const struct vault_json_write *w);

/* The errno a verdict gives the writer: 0 or -EPERM. */
int vault_json_rule_errno(enum vault_json_verdict verdict);

#endif
