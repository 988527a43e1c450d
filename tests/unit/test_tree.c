/*
 * test_tree: what a path in the mount names (fs/tree.c), without FUSE: a
 * real store with one synthetic vault, placeholders made as mkdir would,
 * and files staged as writers would.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "backup_crypto.h"
#include "check.h"
#include "seal.h"
#include "staging.h"
#include "store.h"
#include "synth.h"
#include "tree.h"

#define PASS "tree test passphrase"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* A store in a new directory holding one vault, two epochs (the first
 * superseded by a reshare): its directory name in dir_name. */
static struct store *store_with_vault(char *dir, char dir_name[256])
{
    struct seal_kdf kdf;
    struct store *s = NULL;
    const char *tags[2] = {"first", "second"};

    seal_kdf_default(&kdf);
    kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    if (!mkdtemp(dir) || store_init(dir, PASS, strlen(PASS), &kdf) < 0 ||
        store_open(&s, NULL, dir, PASS, strlen(PASS)) < 0)
        return NULL;
    for (int i = 0; i < 2; i++) {
        struct synth_spec spec = {.name = "Tree Vault", .device = "iPhone-1",
                                  .signers = {"iPhone-1", "Mac-2"}, .share_tag = tags[i],
                                  .reshare_prefix = i ? "r2" : ""};
        struct store_import_result result;
        size_t len = 0;
        char *text = synth_file(&spec, &len);
        int ret = text ? store_import(s, (const uint8_t *)text, len, NULL, &result) : -ENOMEM;
        alloc_free(text);
        CHECK_EQ_INT(ret, 0);
        if (ret == 0)
            snprintf(dir_name, 256, "%s", result.dir_name);
    }
    return s;
}

static void path_of(char *out, size_t size, const char *dir_name, const char *rest)
{
    snprintf(out, size, "/%s%s", dir_name, rest);
}

static void test_epoch_slot(void)
{
    CHECK_EQ_INT(tree_epoch_slot("epoch-1.vult"), 1);
    CHECK_EQ_INT(tree_epoch_slot("epoch-1000000.vult"), EPOCHS_MAX_SLOT);
    /* a history slot is 1..EPOCHS_MAX_SLOT in canonical decimal: nothing
     * else may become a slot, least of all another number */
    static const char *const bad[] = {
        "epoch-1000001.vult", "epoch-2147483647.vult", "epoch-4294967295.vult",
        "epoch-4294967296.vult", "epoch-18446744073709551615.vult",
        "epoch-18446744073709551617.vult", "epoch-99999999999999999999999.vult", "epoch-0.vult",
        "epoch-00.vult", "epoch-01.vult", "epoch-+5.vult", "epoch--5.vult", "epoch- 5.vult",
        "epoch-5 .vult", "epoch-0x10.vult", "epoch-.vult"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(tree_epoch_slot(bad[i]), 0);
        CHECK(tree_is_bad_slot(bad[i]));
        if (tree_epoch_slot(bad[i]) != 0)
            fprintf(stderr, "  %s became a slot\n", bad[i]);
    }
    /* not slot names at all: neither a slot nor a bad one */
    static const char *const other[] = {"epoch-1.vult.part", "share.vult", "epoch-1.vul",
                                        ".epoch-1.vult.XXXXXX", "epoch-1.vult~"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        CHECK_EQ_INT(tree_epoch_slot(other[i]), 0);
        CHECK(!tree_is_bad_slot(other[i]));
    }
    CHECK(!tree_is_bad_slot("epoch-7.vult"));
}

/* The store's own entries. */
static void test_store_paths(const struct tree *t, const char *dir_name)
{
    struct tree_node n;
    char path[512];

    CHECK_EQ_INT(tree_resolve(&n, t, "/"), 0);
    CHECK_EQ_INT(n.kind, TREE_ROOT);
    CHECK(tree_is_dir(n.kind));

    path_of(path, sizeof(path), dir_name, "");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_VAULT);
    CHECK_EQ_INT(n.parent, TREE_IN_ROOT);
    CHECK(n.vault != NULL && n.placeholder == NULL);

    path_of(path, sizeof(path), dir_name, "/share.vult");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_SHARE);
    CHECK(n.epoch != NULL && n.epoch == n.vault->current);
    CHECK_EQ_INT(n.epoch ? n.epoch->number : 0, 2);

    path_of(path, sizeof(path), dir_name, "/vault.json");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_JSON);

    path_of(path, sizeof(path), dir_name, "/history");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_HISTORY);

    /* the superseded epoch is in history/, the current one is not */
    path_of(path, sizeof(path), dir_name, "/history/epoch-1.vult");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_EPOCH);
    CHECK_EQ_INT(n.slot, 1);
    path_of(path, sizeof(path), dir_name, "/history/epoch-2.vult");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_NONE);
    CHECK_EQ_INT(n.parent, TREE_IN_HISTORY);
    CHECK_EQ_INT(n.slot, 2);
    CHECK(!n.bad_slot);
    /* a number past the bound is nothing there, and never another slot
     * (4294967296 was slot 0, 4294967297 slot 1 to a 32-bit parser) */
    static const char *const bad[] = {"/history/epoch-4294967297.vult",
                                      "/history/epoch-1000001.vult", "/history/epoch-01.vult"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        path_of(path, sizeof(path), dir_name, bad[i]);
        CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
        CHECK_EQ_INT(n.kind, TREE_NONE);
        CHECK_EQ_INT(n.parent, TREE_IN_HISTORY);
        CHECK_EQ_INT(n.slot, 0);
        CHECK(n.bad_slot);
        CHECK_EQ_INT(tree_exists(&n), -ENOENT);
    }
}

/* Where nothing is: what a lookup says and where a file could be made. */
static void test_missing_paths(const struct tree *t, const char *dir_name)
{
    struct tree_node n;
    char path[512], long_name[300];

    CHECK_EQ_INT(tree_resolve(&n, t, "/nothing"), 0);
    CHECK_EQ_INT(n.kind, TREE_NONE);
    CHECK_EQ_INT(n.parent, TREE_IN_ROOT);
    CHECK_EQ_INT(tree_exists(&n), -ENOENT);

    CHECK_EQ_INT(tree_resolve(&n, t, "/nothing/x.vult"), 0);
    CHECK_EQ_INT(n.parent, TREE_IN_NOTHING);
    CHECK_EQ_INT(tree_exists(&n), -ENOENT);

    path_of(path, sizeof(path), dir_name, "/share.vult/x");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.parent, TREE_IN_FILE);
    CHECK_EQ_INT(tree_exists(&n), -ENOTDIR);

    path_of(path, sizeof(path), dir_name, "/history/epoch-1.vult/x");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.parent, TREE_IN_FILE);

    path_of(path, sizeof(path), dir_name, "/.share.vult.ABC");
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_NONE);
    CHECK_EQ_INT(n.parent, TREE_IN_DIR);
    CHECK(n.temp);
    CHECK_EQ_STR(n.dir, dir_name);

    memset(long_name, 'a', sizeof(long_name));
    long_name[0] = '/';
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK_EQ_INT(tree_resolve(&n, t, long_name), -ENAMETOOLONG);
}

/* A directory made by mkdir shows only what was put into it. */
static void test_placeholders(struct tree *t)
{
    struct tree_node n;

    CHECK_EQ_INT(tree_placeholder_add(t, "Restored", 100), 0);
    CHECK_EQ_INT(tree_placeholder_add(t, "Second", 100), 0);
    CHECK(t->placeholders && t->placeholders->next);
    CHECK(t->placeholders->ino != t->placeholders->next->ino);
    CHECK_EQ_INT(tree_resolve(&n, t, "/Restored"), 0);
    CHECK_EQ_INT(n.kind, TREE_PLACEHOLDER);
    CHECK(n.placeholder == t->placeholders);

    CHECK_EQ_INT(tree_resolve(&n, t, "/Restored/history"), 0);
    CHECK_EQ_INT(n.kind, TREE_NONE); /* not until mkdir history */
    t->placeholders->history_made = true;
    CHECK_EQ_INT(tree_resolve(&n, t, "/Restored/history"), 0);
    CHECK_EQ_INT(n.kind, TREE_HISTORY);
    CHECK(n.vault == NULL && n.placeholder != NULL);

    tree_placeholder_remove(t, t->placeholders);
    CHECK_EQ_INT(tree_resolve(&n, t, "/Restored"), 0);
    CHECK_EQ_INT(n.kind, TREE_NONE);
    CHECK_EQ_INT(tree_resolve(&n, t, "/Second"), 0);
    CHECK_EQ_INT(n.kind, TREE_PLACEHOLDER);
    /* a placeholder with no vault in the store is never retired */
    t->placeholders->other_writer = true;
    CHECK(!tree_placeholder_retire(t, "Second"));
    tree_placeholder_clear(t);
    CHECK(t->placeholders == NULL);
}

/* `mkdir V; cp backup V/share.vult`: once V holds its share, the placeholder
 * goes when another process made a file there and nothing of a restore
 * (history/, vault.json) was made; a tool restoring the tree keeps it. */
static void test_placeholder_retired(struct tree *t, const char *dir_name)
{
    struct tree_node n;

    CHECK_EQ_INT(tree_placeholder_add(t, dir_name, 100), 0);
    CHECK(!tree_placeholder_retire(t, dir_name)); /* only mkdir's process wrote */
    t->placeholders->other_writer = true;
    t->placeholders->history_made = true;
    CHECK(!tree_placeholder_retire(t, dir_name)); /* a restore under way */
    t->placeholders->history_made = false;
    t->placeholders->json_written = true;
    CHECK(!tree_placeholder_retire(t, dir_name));
    t->placeholders->json_written = false;
    CHECK(!tree_placeholder_retire(t, "no such directory"));
    CHECK(tree_placeholder_retire(t, dir_name));
    CHECK(t->placeholders == NULL);
    CHECK_EQ_INT(tree_resolve(&n, t, "/"), 0);
    char path[512];
    snprintf(path, sizeof(path), "/%s/history", dir_name);
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_HISTORY); /* shown whole */
}

/* Files being written show in the tree, over a store file when they
 * shadow one. */
static void test_staged(const struct tree *t, struct staging *st, const char *dir_name)
{
    struct staging_handle *a, *b;
    struct tree_node n;
    char path[512];

    CHECK_EQ_INT(staging_open(&a, st, "/new.vult.part", true, false, NULL, 0), 0);
    CHECK_EQ_INT(tree_resolve(&n, t, "/new.vult.part"), 0);
    CHECK_EQ_INT(n.kind, TREE_STAGED);
    CHECK_EQ_INT(n.under, TREE_NONE);
    CHECK(n.staged == a->file);
    CHECK_EQ_INT(tree_resolve(&n, t, "/new.vult.part/x"), 0);
    CHECK_EQ_INT(n.parent, TREE_IN_FILE);

    path_of(path, sizeof(path), dir_name, "/share.vult");
    CHECK_EQ_INT(staging_open(&b, st, path, true, true, NULL, 0), 0);
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_STAGED);
    CHECK_EQ_INT(n.under, TREE_SHARE);
    CHECK(n.epoch != NULL);
    staging_release(st, b);
    CHECK_EQ_INT(tree_resolve(&n, t, path), 0);
    CHECK_EQ_INT(n.kind, TREE_SHARE); /* the shadow left with its last close */
    staging_release(st, a);
    staging_clear(st);
}

int main(void)
{
    char dir[] = "/tmp/vultfs-test-tree-XXXXXX";
    char dir_name[256] = "";
    struct staging st;
    struct tree t;

    alloc_install_jansson();
    if (backup_crypto_init() < 0 || sodium_init() < 0)
        return 77;
    test_epoch_slot();
    struct store *s = store_with_vault(dir, dir_name);
    CHECK(s != NULL);
    if (s) {
        staging_init(&st, STORE_DEFAULT_MAX_IMPORT);
        tree_init(&t, s, &st);
        test_store_paths(&t, dir_name);
        test_missing_paths(&t, dir_name);
        test_placeholders(&t);
        test_placeholder_retired(&t, dir_name);
        test_staged(&t, &st, dir_name);
        store_close(s);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("test_tree");
}
