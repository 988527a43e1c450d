/*
 * fuzz: what the libFuzzer targets share (fuzz_store.c): their assertion,
 * the fixed secrets their seeds are made with, and scratch stores in a
 * tmpfs directory.
 *
 * The fixed key and password are test constants, not secrets: seeds
 * sealed or encrypted with them get past the tag, so mutations of them
 * reach the parsers behind it.
 */
#ifndef VULTFS_FUZZ_H
#define VULTFS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "seal.h"

struct store;

/* A failed check is a finding: abort, so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "fuzz: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                         \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* Backups encrypted with this password decode (fuzz_vult, fuzz_import);
 * it is also the scratch stores' passphrase. */
#define FUZZ_PASSWORD "fuzz-password"

/* The id a share record is sealed under in fuzz_record's seeds (a record
 * name: 32 hex digits). */
#define FUZZ_RECORD_ID "0123456789abcdef0123456789abcdef"

/* The key fuzz_record opens records with, and fuzz_seeds seals them with. */
extern const uint8_t fuzz_record_key[SEAL_KEY_BYTES];

/* backup_crypto_init and alloc_install_jansson, as vultfs's main does;
 * exits when the CPU lacks AES-GCM. */
void fuzz_init_core(void);

/* The process's scratch directory, made on the first call under
 * $FUZZ_TMP (tests/fuzz/run.sh makes one on tmpfs), else /dev/shm, else
 * /tmp, and removed at exit with the store in it closed. Exits when it
 * cannot be made. */
struct fuzz_scratch {
    char *dir;
    struct store *store; /* NULL until a target puts one there */
};
struct fuzz_scratch *fuzz_scratch(void);

/* Removes a directory tree (a scratch store); errors are ignored. */
void fuzz_remove_tree(const char *dir);

/* store_init with libsodium's minimum Argon2id cost and FUZZ_PASSWORD,
 * then store_open: a store whose opening costs microseconds. Exits on
 * failure (the harness, not the input, is broken then). */
struct store *fuzz_store_create(const char *dir);
/* store_open of an existing scratch store: 0 or its -errno. */
int fuzz_store_open(struct store **out, const char *dir);

/* A digest of every file under dir: relative names, modes, sizes and
 * bytes, in name order. Equal digests: byte for byte the same store. */
void fuzz_tree_digest(uint8_t out[32], const char *dir);

#endif
