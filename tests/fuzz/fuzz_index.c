/*
 * fuzz_index: libFuzzer target for the index once it is decrypted: the
 * decoder and its verifier (index.c), the views built from it (views.c,
 * names.c, listing.c) and an import applied to it (import.c).
 *
 * One scratch store (tmpfs, minimum Argon2id cost) lives for the run. Each
 * input is the plaintext of index.rec: sealed under the store's master key
 * into index.rec and read back with index_read, as store_open reads it.
 * An index the verifier accepts must hold exactly the input's vaults; its
 * views are built and walked, and a synthetic share is imported into it:
 * no crash, no sanitizer report, only the errnos the API names. The
 * store's own index, empty, is put back after.
 *
 * The input is the whole index of a store of the first layout (index.rec):
 * the first change of such a store moves it into one record per vault in
 * vaults/, so after each input that directory goes again, and the next
 * input is read from index.rec as the first is.
 *
 * Seeds: tests/fuzz/run.sh has fuzz_seeds write the indexes of a real
 * store as it takes a few imports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../unit/synth.h"
#include "alloc.h"
#include "fuzz.h"
#include "io.h"
#include "store_private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store; /* in the scratch directory */
static void remove_subdir(const char *name);
static unsigned long decoded, viewed; /* inputs that got that far */

/* At exit: how far the inputs got, so a run shows what it reached. */
static void print_reach(void)
{
    fprintf(stderr, "fuzz_index: %lu indexes decoded, %lu viewed and imported into\n", decoded,
            viewed);
}
static char *share_file; /* the synthetic share imported into each index */
static size_t share_len;

static const struct synth_spec share_spec = {
    .name = "Fuzz Index Vault",
    .device = "fuzz-device-1",
    .signers = {"fuzz-device-1", "fuzz-device-2"},
    .lib_type = VULT_LIB_DKLS,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_core();
    struct fuzz_scratch *scratch = fuzz_scratch();
    store = scratch->store = fuzz_store_create(scratch->dir);
    FUZZ_ASSERT(store->slot_count == 0); /* put back after each input by emptying it */
    /* a new store has vaults/ and its manifest: the inputs are read from
     * index.rec, as a store of the first layout has it */
    views_free(store);
    remove_subdir(VAULTS_DIR);
    atexit(print_reach);
    share_file = synth_file(&share_spec, &share_len);
    FUZZ_ASSERT(share_file != NULL);
    return 0;
}

/* The views of an index the store accepted: consistent with each other. */
static void walk_views(void)
{
    char *text = NULL;
    size_t len = 0;

    for (size_t i = 0; i < store_vault_count(store); i++) {
        const struct store_vault *v = store_vault_at(store, i);
        FUZZ_ASSERT(v != NULL && v->dir_name != NULL && v->latest != NULL);
        FUZZ_ASSERT(store_vault_by_dir(store, v->dir_name) != NULL);
        for (size_t j = 0; j < v->epoch_count; j++) {
            FUZZ_ASSERT(j == 0 || v->epochs[j - 1].number <= v->epochs[j].number);
            FUZZ_ASSERT(store_vault_epoch(v, v->epochs[j].number) != NULL);
        }
        FUZZ_ASSERT(store_vault_json(&text, &len, store, v) == 0);
        FUZZ_ASSERT(len == v->json_size && strlen(text) == len);
        alloc_free(text);
    }
    FUZZ_ASSERT(store_list_json(&text, store) == 0);
    free(text);
}

/* An import into this index ends in one of the outcomes, said consistently. */
static void import_share(void)
{
    struct store_import_result result;
    int ret = store_import(store, (const uint8_t *)share_file, share_len, NULL, &result);

    FUZZ_ASSERT(result.outcome <= EPOCHS_FAILED);
    FUZZ_ASSERT(ret <= 0 && (ret == 0) == epochs_accepted(result.outcome));
    if (result.outcome != EPOCHS_FAILED)
        FUZZ_ASSERT(ret == epochs_errno(result.outcome));
    FUZZ_ASSERT(memchr(result.reason, '\0', sizeof(result.reason)) != NULL);
}

static int remove_entry(void *ctx, const char *name)
{
    int dirfd = *(const int *)ctx;
    FUZZ_ASSERT(unlinkat(dirfd, name, 0) == 0);
    return 0;
}

/* Removes the directory name of the store (one level deep) if it is there. */
static void remove_subdir(const char *name)
{
    int fd = openat(store->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        FUZZ_ASSERT(errno == ENOENT);
        return;
    }
    FUZZ_ASSERT(io_list_dir(fd, remove_entry, &fd) == 0);
    close(fd);
    FUZZ_ASSERT(unlinkat(store->dirfd, name, AT_REMOVEDIR) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *index = NULL, *input = NULL;
    int ret;

    FUZZ_ASSERT(sealed_write(store->dirfd, INDEX_NAME, data, size, SEAL_KIND_INDEX, INDEX_ID,
                             store->master) == 0);
    ret = index_read(store);
    FUZZ_ASSERT(ret == 0 || ret == -EIO || ret == -ENOMEM);
    if (ret == 0) {
        /* The verifier's promise: the vaults in memory are the input's. */
        FUZZ_ASSERT(index_whole(store, &index) == 0);
        input = json_loadb((const char *)data, size, 0, NULL);
        FUZZ_ASSERT(input && json_equal(json_object_get(input, "vaults"),
                                        json_object_get(index, "vaults")));
        json_decref(input);
        json_decref(index);
        decoded++;
        ret = views_rebuild(store);
        /* -ENOENT: a vault without epochs has no vault.json; -EIO: a key
         * that is not hex (neither is ever written so) */
        FUZZ_ASSERT(ret == 0 || ret == -ENOENT || ret == -EIO || ret == -ENOMEM);
        if (ret == 0) {
            viewed++;
            walk_views();
            import_share();
        }
    }
    views_free(store); /* the index too, and vaults/ closed if an import made it */
    remove_subdir(VAULTS_DIR);
    remove_subdir(VAULTS_NEW_DIR);
    FUZZ_ASSERT(views_rebuild(store) == 0); /* the store's own index: empty */
    return 0;
}
