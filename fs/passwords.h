/*
 * passwords: the candidate passwords `vultfs check` and `vultfs audit` try
 * on encrypted backups: store passphrases and --import-passwords lines.
 * They own their secrets (alloc_secret) and wipe them on free.
 */
#ifndef VULTFS_PASSWORDS_H
#define VULTFS_PASSWORDS_H

#include <stddef.h>

#include "secret.h"
#include "vult.h"

#define PASSWORDS_MAX 64

struct passwords {
    struct secret owned[PASSWORDS_MAX];
    struct vult_password views[PASSWORDS_MAX]; /* what vult_decode takes */
    size_t count;
};

/* Copies secret in. 0, -ENOSPC (too many), -ENOMEM. */
int passwords_add(struct passwords *set, const struct secret *secret);

/* Every non-empty line of path (NULL: nothing). Logs one line on failure. */
int passwords_add_lines(struct passwords *set, const char *path);

void passwords_free(struct passwords *set);

#endif
