/*
 * fuzz_seeds: writes the seed corpora of the store's fuzz targets, from a
 * real store made at run time (nothing is committed):
 *
 *   fuzz_seeds OUT BACKUP...
 *
 * makes a scratch store (fuzz.h), imports each BACKUP in order at the root
 * (refusals are fine: they are seeds too), and writes
 *   OUT/config/vultfs.json     the store's config
 *   OUT/index/index-N.json     its index after each change (plaintext)
 *   OUT/record/index-N.rec     those indexes sealed under fuzz_record_key
 *   OUT/record/share-N.rec     each backup's Vault bytes, sealed the same way
 *   OUT/record/master.rec      a master key, sealed the same way
 * Exits 0, or 1 with a message when the store cannot be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "fuzz.h"
#include "io.h"
#include "store_private.h"

static int outfd[3] = {-1, -1, -1};
enum { OUT_CONFIG, OUT_INDEX, OUT_RECORD };

static void put(int which, const char *name, const void *data, size_t len)
{
    if (io_write_atomic(outfd[which], name, data, len, 0644) < 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", name);
        exit(1);
    }
}

static void put_sealed(const char *name, const uint8_t *plain, size_t len, enum seal_kind kind,
                       const char *id)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;

    if (seal_record(&sealed, &sealed_len, plain, len, kind, id, fuzz_record_key) < 0)
        exit(1);
    put(OUT_RECORD, name, sealed, sealed_len);
    alloc_free(sealed);
}

/* The index as index.rec holds it, plain and sealed under the fuzz key. */
static void put_index(const struct store *store, unsigned n)
{
    char name[64];
    json_t *index = NULL;
    char *text = index_whole(store, &index) == 0
                     ? json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS)
                     : NULL;

    json_decref(index);
    if (!text)
        exit(1);
    snprintf(name, sizeof(name), "index-%u.json", n);
    put(OUT_INDEX, name, text, strlen(text));
    snprintf(name, sizeof(name), "index-%u.rec", n);
    put_sealed(name, (const uint8_t *)text, strlen(text), SEAL_KIND_INDEX, INDEX_ID);
    free(text);
}

/* Imports one backup; its Vault bytes, when it decodes, become a record. */
static void import_one(struct store *store, const char *path, unsigned n, unsigned *changes)
{
    const struct vult_password pw = {FUZZ_PASSWORD, sizeof(FUZZ_PASSWORD) - 1};
    struct store_import_result result;
    struct vult_file file;
    uint8_t *bytes = NULL;
    size_t len = 0;
    char name[64];

    if (io_read_secret(&bytes, &len, AT_FDCWD, path, VULT_MAX_FILE_BYTES) < 0) {
        fprintf(stderr, "fuzz_seeds: cannot read %s\n", path);
        exit(1);
    }
    if (store_import(store, bytes, len, NULL, &result) == 0 &&
        result.outcome != EPOCHS_UNCHANGED)
        put_index(store, ++*changes);
    if (vult_decode(&file, bytes, len, &pw, 1, NULL) == 0) {
        snprintf(name, sizeof(name), "share-%u.rec", n);
        put_sealed(name, file.vault_bytes, file.vault_len, SEAL_KIND_SHARE, FUZZ_RECORD_ID);
        vult_file_clear(&file);
    }
    alloc_secret_free(bytes);
}

static int out_dir(const char *root, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -1;
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
    uint8_t *config = NULL, master[SEAL_KEY_BYTES];
    size_t config_len = 0;
    unsigned changes = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_seeds OUT BACKUP...\n");
        return 2;
    }
    fuzz_init_core();
    if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
        return 1;
    outfd[OUT_CONFIG] = out_dir(argv[1], "config");
    outfd[OUT_INDEX] = out_dir(argv[1], "index");
    outfd[OUT_RECORD] = out_dir(argv[1], "record");
    if (outfd[OUT_CONFIG] < 0 || outfd[OUT_INDEX] < 0 || outfd[OUT_RECORD] < 0) {
        perror("fuzz_seeds: output directories");
        return 1;
    }

    struct fuzz_scratch *scratch = fuzz_scratch();
    struct store *store = scratch->store = fuzz_store_create(scratch->dir);
    if (io_read_file(&config, &config_len, store->dirfd, CONFIG_NAME, MAX_CONFIG_BYTES) < 0)
        return 1;
    put(OUT_CONFIG, CONFIG_NAME, config, config_len);
    alloc_free(config);
    put_index(store, 0);
    for (int i = 2; i < argc; i++)
        import_one(store, argv[i], (unsigned)(i - 1), &changes);
    seal_random_key(master);
    put_sealed("master.rec", master, sizeof(master), SEAL_KIND_MASTER_KEY, MASTER_KEY_ID);
    return 0; /* the scratch store is closed and removed at exit */
}
