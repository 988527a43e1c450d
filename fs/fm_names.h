/*
 * fm_names: the names file managers create for their own bookkeeping:
 * the trash (GNOME's gio and KDE put .Trash-UID, or an admin's .Trash, at
 * a mount's root), shared thumbnails (.sh_thumbnails, .thumbnails), KDE
 * Dolphin's view settings (.directory) and the list of hidden names
 * (.hidden). A vault store keeps vault shares only and deletes nothing, so
 * these are refused when made (EPERM, which file managers take as "no
 * trash here" or "settings not saved") and never show up. No FUSE here.
 */
#ifndef VULTFS_FM_NAMES_H
#define VULTFS_FM_NAMES_H

#include <stdbool.h>

/* Is name (one path component) a file manager's own file or directory? */
bool fm_names_is_metadata(const char *name);

/* Is it a trash directory (.Trash, .Trash-<uid>)? */
bool fm_names_is_trash(const char *name);

#endif
