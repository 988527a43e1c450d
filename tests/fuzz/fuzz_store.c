/*
 * fuzz_store: see fuzz.h.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "backup_crypto.h"
#include "io.h"
#include "store.h"

const uint8_t fuzz_record_key[SEAL_KEY_BYTES] = {
    'v', 'u', 'l', 't', 'f', 's', '-', 'f', 'u', 'z', 'z', '-', 'k', 'e', 'y', 0,
    1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,
};

void fuzz_init_core(void)
{
    if (backup_crypto_init() < 0) {
        fprintf(stderr, "fuzz: no AES-256-GCM on this CPU\n");
        exit(1);
    }
    alloc_install_jansson();
}

static struct fuzz_scratch scratch;

static void remove_scratch(void)
{
    store_close(scratch.store);
    scratch.store = NULL;
    fuzz_remove_tree(scratch.dir);
}

struct fuzz_scratch *fuzz_scratch(void)
{
    const char *parent = getenv("FUZZ_TMP");

    if (scratch.dir)
        return &scratch;
    if (!parent || !*parent)
        parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    if (asprintf(&scratch.dir, "%s/vultfs-fuzz-XXXXXX", parent) < 0 || !mkdtemp(scratch.dir)) {
        perror("fuzz: scratch directory");
        exit(1);
    }
    atexit(remove_scratch);
    return &scratch;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void fuzz_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct store *fuzz_store_create(const char *dir)
{
    struct seal_kdf kdf;
    struct store *store = NULL;
    int ret;

    seal_kdf_default(&kdf);
    kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    ret = store_init(dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), &kdf);
    if (ret == 0)
        ret = fuzz_store_open(&store, dir);
    if (ret < 0) {
        fprintf(stderr, "fuzz: cannot make a store in %s: %s\n", dir, strerror(-ret));
        exit(1);
    }
    return store;
}

int fuzz_store_open(struct store **out, const char *dir)
{
    int busy = 0;
    return store_open(out, &busy, dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD));
}

/* ---- the tree digest ----------------------------------------------------- */

struct tree_entry {
    char *name; /* relative to the tree's root */
    uint8_t digest[32]; /* of mode, size and bytes */
};

/* nftw takes no context: the one walk in progress. */
static struct {
    struct tree_entry *entries;
    size_t count, cap;
    size_t root_len;
} walk;

static void digest_file(uint8_t out[32], const char *path, const struct stat *st)
{
    crypto_generichash_state state;
    uint8_t buf[8192];
    ssize_t n;
    uint64_t facts[2] = {(uint64_t)st->st_mode, (uint64_t)st->st_size};

    crypto_generichash_init(&state, NULL, 0, 32);
    crypto_generichash_update(&state, (const uint8_t *)facts, sizeof(facts));
    if (S_ISREG(st->st_mode)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        FUZZ_ASSERT(fd >= 0);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            crypto_generichash_update(&state, buf, (size_t)n);
        FUZZ_ASSERT(n == 0);
        close(fd);
    }
    crypto_generichash_final(&state, out, 32);
}

static int add_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    if (walk.count == walk.cap) {
        walk.cap = walk.cap ? walk.cap * 2 : 64;
        walk.entries = realloc(walk.entries, walk.cap * sizeof(*walk.entries));
        FUZZ_ASSERT(walk.entries != NULL);
    }
    struct tree_entry *e = &walk.entries[walk.count++];
    e->name = strdup(path + walk.root_len);
    FUZZ_ASSERT(e->name != NULL);
    digest_file(e->digest, path, st);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct tree_entry *)a)->name, ((const struct tree_entry *)b)->name);
}

void fuzz_tree_digest(uint8_t out[32], const char *dir)
{
    crypto_generichash_state state;

    walk.count = 0;
    walk.root_len = strlen(dir);
    FUZZ_ASSERT(nftw(dir, add_entry, 16, FTW_PHYS) == 0);
    qsort(walk.entries, walk.count, sizeof(*walk.entries), by_name);
    crypto_generichash_init(&state, NULL, 0, 32);
    for (size_t i = 0; i < walk.count; i++) {
        crypto_generichash_update(&state, (const uint8_t *)walk.entries[i].name,
                                  strlen(walk.entries[i].name) + 1);
        crypto_generichash_update(&state, walk.entries[i].digest, 32);
        free(walk.entries[i].name);
    }
    crypto_generichash_final(&state, out, 32);
}
