/*
 * fuzz_import: libFuzzer target for the whole import path, bytes in and
 * outcome out: store_import, as `cp FILE mount/` and `vultfs import` run it.
 *
 * One scratch store (tmpfs, minimum Argon2id cost, passphrase
 * FUZZ_PASSWORD, so encrypted seeds decode) takes every input in turn, so
 * later inputs meet the vaults earlier ones left. Where an input is
 * written depends on its size (see target_for): the root, its vault's
 * directory, or a history slot. After each import:
 *   - the outcome is one of DESIGN's, with its errno and a reason that
 *     holds no key share and not the passphrase;
 *   - a refused import, or an unchanged one, left every file of the store
 *     byte for byte as it was (a digest of the tree before and after,
 *     the one before kept from the input before);
 *   - an accepted change shows in the tree where the result says;
 *   - every REOPEN_EVERY changes, the store closes, opens again with the
 *     same listing, and fsck finds nothing.
 * The store is made anew when it holds MAX_VAULTS vaults, to keep speed.
 *
 * Seeds: tests/fuzz/run.sh gives it mkvault output (new vaults, reshares,
 * other devices, encrypted ones) and ../shared/fixtures.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../unit/synth.h" /* SYNTH_FAKE_MARKER */
#include "alloc.h"
#include "fuzz.h"
#include "store.h"

#define REOPEN_EVERY 8
#define MAX_VAULTS 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static struct fuzz_scratch *scratch; /* scratch->store: the store */
static uint8_t digest[32]; /* of the store's files as they are now */
static unsigned long changes, reopens;
static unsigned long outcomes[EPOCHS_FAILED + 1];

/* At exit: the outcomes seen, so a run shows what it reached. */
static void print_outcomes(void)
{
    fprintf(stderr, "fuzz_import: %lu changes, %lu reopen checks; outcomes:", changes, reopens);
    for (int o = 0; o <= EPOCHS_FAILED; o++)
        fprintf(stderr, " %s=%lu", epochs_outcome_name((enum epochs_outcome)o), outcomes[o]);
    fprintf(stderr, "\n");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_core();
    scratch = fuzz_scratch();
    scratch->store = fuzz_store_create(scratch->dir);
    fuzz_tree_digest(digest, scratch->dir);
    atexit(print_outcomes);
    return 0;
}

/* Half the mutations of an unencrypted backup change the Vault inside it
 * and wrap it again, so they reach the rules rather than the base64 check;
 * the others (and those of anything else) change the bytes as they are. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    struct vult_file file;
    size_t len = 0;
    uint8_t *vault = NULL;

    if (seed % 2 == 0 && vult_decode(&file, data, size, NULL, 0, NULL) == 0) {
        size_t cap = file.vault_len + 256;
        vault = malloc(cap);
        FUZZ_ASSERT(vault != NULL);
        memcpy(vault, file.vault_bytes, file.vault_len);
        len = LLVMFuzzerMutate(vault, file.vault_len, cap);
        vult_file_clear(&file);
    }
    if (vault && vult_encoded_len(len, BACKUP_CRYPTO_NONE) <= max_size &&
        vult_encode((char *)data, max_size, vault, len, BACKUP_CRYPTO_NONE, NULL, NULL, NULL) ==
            0)
        size = vult_encoded_len(len, BACKUP_CRYPTO_NONE);
    else
        size = LLVMFuzzerMutate(data, size, max_size);
    free(vault);
    return size;
}

/* Where the file is written, from its size so a reproducer replays it:
 * the root, the first vault's directory, or one of its history slots. */
static struct store_target target_for(size_t size)
{
    /* a copy: the import rebuilds the views the name lives in */
    static char dir_name[256];
    const struct store_vault *first = store_vault_at(scratch->store, 0);
    struct store_target target = {NULL, 0};

    if (!first || size % 4 == 0)
        return target;
    snprintf(dir_name, sizeof(dir_name), "%s", first->dir_name);
    target.dir_name = dir_name;
    if (size % 4 >= 2)
        target.history_slot = (uint32_t)(size / 4 % 3 + 1);
    return target;
}

static bool holds(struct vult_str field, const char *text)
{
    return field.ptr && memmem(field.ptr, field.len, text, strlen(text)) != NULL;
}

/* Does a public field of the backup (what a reason may name) hold text? */
static bool in_public_field(const uint8_t *data, size_t size, const char *text)
{
    const struct vult_password pw = {FUZZ_PASSWORD, sizeof(FUZZ_PASSWORD) - 1};
    struct vult_file file;
    bool found = false;

    if (vult_decode(&file, data, size, &pw, 1, NULL) < 0)
        return false;
    const struct vult_vault *v = &file.vault;
    found = holds(v->name, text) || holds(v->local_party_id, text) ||
            holds(v->reshare_prefix, text) || holds(v->public_key_ecdsa, text) ||
            holds(v->public_key_eddsa, text);
    for (size_t i = 0; i < v->signer_count; i++)
        found = found || holds(v->signers[i], text);
    for (size_t i = 0; i < v->chain_count; i++)
        found = found || holds(v->chains[i].chain, text);
    vult_file_clear(&file);
    return found;
}

/* A reason is logged: it never holds a key share (each fake one holds
 * SYNTH_FAKE_MARKER) or the passphrase, unless a mutation put that text
 * in a field the reason names (a device, a signer, the vault's name). */
static void no_secret_in(const char *reason, const uint8_t *data, size_t size)
{
    const char *secrets[] = {SYNTH_FAKE_MARKER, FUZZ_PASSWORD};

    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        FUZZ_ASSERT(!strstr(reason, secrets[i]) || in_public_field(data, size, secrets[i]));
}

static void check_outcome(int ret, const struct store_import_result *result,
                          const uint8_t *data, size_t size)
{
    FUZZ_ASSERT(result->outcome <= EPOCHS_FAILED);
    /* the store is on tmpfs with room: it can always be written */
    FUZZ_ASSERT(result->outcome != EPOCHS_FAILED);
    FUZZ_ASSERT(ret == epochs_errno(result->outcome));
    FUZZ_ASSERT((ret == 0) == epochs_accepted(result->outcome));
    FUZZ_ASSERT(memchr(result->reason, '\0', sizeof(result->reason)) != NULL);
    FUZZ_ASSERT(result->reason[0] != '\0');
    FUZZ_ASSERT(memchr(result->dir_name, '\0', sizeof(result->dir_name)) != NULL);
    no_secret_in(result->reason, data, size);
}

/* An accepted change is where the result says it is. */
static void check_change(const struct store_import_result *result)
{
    const struct store_vault *vault = store_vault_by_dir(scratch->store, result->dir_name);
    FUZZ_ASSERT(vault != NULL);
    const struct store_epoch *epoch = store_vault_epoch(vault, result->epoch);
    FUZZ_ASSERT(epoch != NULL);
    FUZZ_ASSERT(epoch->current == (result->outcome != EPOCHS_HISTORY_INSERT));
}

/* Closes and opens the store: the same listing, and fsck finds nothing. */
static void check_reopens(void)
{
    uint8_t after[32];
    char *before = NULL, *listed = NULL;
    struct store_fsck_report report;

    FUZZ_ASSERT(store_list_json(&before, scratch->store) == 0);
    store_close(scratch->store);
    scratch->store = NULL;
    FUZZ_ASSERT(fuzz_store_open(&scratch->store, scratch->dir) == 0);
    FUZZ_ASSERT(store_list_json(&listed, scratch->store) == 0);
    FUZZ_ASSERT(strcmp(before, listed) == 0);
    free(before);
    free(listed);
    FUZZ_ASSERT(store_fsck(scratch->store, &report, NULL, NULL) == 0);
    FUZZ_ASSERT(report.records_bad == 0 && report.records_missing == 0 &&
                report.records_orphaned == 0 && report.temporary_files == 0);
    fuzz_tree_digest(after, scratch->dir); /* reopening changes no file */
    FUZZ_ASSERT(memcmp(after, digest, sizeof(digest)) == 0);
}

static void start_again(void)
{
    store_close(scratch->store);
    fuzz_remove_tree(scratch->dir);
    scratch->store = fuzz_store_create(scratch->dir);
    fuzz_tree_digest(digest, scratch->dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_import_result result;
    uint8_t after[32];
    struct store_target target = target_for(size);

    int ret = store_import(scratch->store, data, size, &target, &result);
    check_outcome(ret, &result, data, size);
    outcomes[result.outcome]++;
    fuzz_tree_digest(after, scratch->dir);

    bool changed = ret == 0 && result.outcome != EPOCHS_UNCHANGED;
    FUZZ_ASSERT((memcmp(digest, after, sizeof(digest)) != 0) == changed);
    if (!changed)
        return 0;
    memcpy(digest, after, sizeof(digest));
    check_change(&result);
    if (++changes % REOPEN_EVERY == 0) {
        check_reopens();
        reopens++;
    }
    if (store_vault_count(scratch->store) >= MAX_VAULTS)
        start_again();
    return 0;
}
