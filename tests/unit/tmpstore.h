/*
 * tmpstore: a new store in a fresh temporary directory, with the cheapest
 * Argon2id cost, for unit tests that need one; and its removal.
 */
#ifndef VULTFS_TEST_TMPSTORE_H
#define VULTFS_TEST_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"

/* Makes tmpl (a mkdtemp template) and the store tmpl/store, named in dir
 * (dir_cap bytes). 0, or -1 when either cannot be made. */
static inline int tmpstore_make(char *tmpl, char *dir, size_t dir_cap, const char *passphrase)
{
    struct seal_kdf kdf;
    if (!mkdtemp(tmpl))
        return -1;
    seal_kdf_default(&kdf);
    kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    snprintf(dir, dir_cap, "%s/store", tmpl);
    return store_init(dir, passphrase, strlen(passphrase), &kdf) == 0 ? 0 : -1;
}

static inline void tmpstore_remove(const char *tmpl)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpl);
}

#endif
