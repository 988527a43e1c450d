/*
 * commit: what becomes of bytes written into the mount. A file closed (or
 * a temporary renamed) under a final name is imported into the store (a
 * .zip in the root entry by entry, as the apps' "all vaults" backup); a
 * write of vault.json follows core's vault_json_rule. Each outcome is
 * logged once, naming the path.
 */
#ifndef VULTFS_COMMIT_H
#define VULTFS_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"
#include "vultfs.h"

/* Whether a new file may be made at n (nothing there yet): 0 or -errno. */
int commit_can_create(const struct tree_node *n);

/* Imports data as a file written at path (resolved to at): 0 or the errno
 * the writer sees. Called with fs->lock held, which it lets go while a
 * .vult, or a zip and each of its entries, is decoded (data is copied
 * first) and while changes are flushed: at must be the caller's own
 * copy, and whatever else the caller points to must stay alive without
 * the lock (a staged file that an open handle holds, or staging_pin).
 * Anything looked up before (at's pointers into the store's views too) is
 * stale afterwards: other operations ran meanwhile. */
int commit_write(struct vultfs *fs, const char *path, const struct tree_node *at,
                 const uint8_t *data, size_t len, bool too_big);

/* What becomes of a file whose bytes are not all there: a write was
 * refused for want of room in staging or of (locked) memory, as cut says.
 * Nothing is imported; one line says why, naming path. Returns
 * cut->error. */
int commit_refuse_cut_short(const struct vultfs *fs, const char *path,
                            const struct staging_cut *cut);

/* commit_write of the staged temporary f renamed to to (resolved to dst),
 * f kept alive (staging_pin) for it; imported, f leaves the tree (and may
 * be freed: do not use it afterwards). One cut short (a write refused) is
 * refused as commit_refuse_cut_short says, and stays. */
int commit_renamed(struct vultfs *fs, const char *to, const struct tree_node *dst,
                   struct staging_file *f);

#endif
