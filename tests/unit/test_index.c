/*
 * test_index: the index on disk, one sealed record per vault in vaults/.
 * A change writes its vault's record alone and one frame at the end of
 * vaults/manifest, whatever the store's size; what a store shows after a
 * run of changes (names, order, vault.json) is what it shows when opened
 * again; a store that still has the whole index in index.rec (format 1
 * before vaults/) opens as it was to read, and moves to vaults/ with a
 * manifest (format 2) when opened to write, also after a migration cut
 * short.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "store.h"
#include "store_private.h"
#include "synth.h"

#define PASS "index test passphrase"
#define PASS_LEN (sizeof(PASS) - 1)

static struct seal_kdf cheap_kdf;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct store *open_store(const char *dir)
{
    struct store *s = NULL;
    CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, PASS_LEN), 0);
    return s;
}

/* Vault k's backup: its own key; names repeat every 7 vaults, so some
 * directory names clash and take a key suffix; tag varies the share (a
 * reshare). */
static char *vault_file(unsigned k, const char *tag, size_t *len)
{
    char ecdsa[67], name[32];
    snprintf(ecdsa, sizeof(ecdsa), "02%064x", k);
    snprintf(name, sizeof(name), "Vault %u", k % 7);
    struct synth_spec spec = {
        .name = name,
        .ecdsa = ecdsa,
        .device = "index-a",
        .signers = {"index-a", "index-b", NULL},
        .reshare_prefix = "",
        .lib_type = 1,
        .share_tag = tag,
    };
    if (tag && strcmp(tag, "t0") != 0)
        spec.signers[1] = "index-c"; /* another generation: a new epoch */
    char *file = synth_file(&spec, len);
    CHECK(file != NULL);
    return file;
}

static int import_file(struct store *s, const char *file, size_t len, const char *dir_name)
{
    struct store_import_result result;
    struct store_target target = {dir_name, 0};
    return store_import(s, (const uint8_t *)file, len, &target, &result);
}

static int import_vault(struct store *s, unsigned k, const char *tag, const char *dir_name)
{
    size_t len = 0;
    char *file = vault_file(k, tag, &len);
    int ret = file ? import_file(s, file, len, dir_name) : -ENOMEM;
    alloc_free(file);
    return ret;
}

/* What a user sees of a store: its listing and every vault.json. */
static char *shown(const struct store *s)
{
    char *list = NULL;
    CHECK_EQ_INT(store_list_json(&list, s), 0);
    size_t cap = strlen(list) + 1;
    char *all = malloc(cap);
    memcpy(all, list, cap);
    free(list);
    for (size_t i = 0; i < store_vault_count(s); i++) {
        char *json = NULL;
        size_t len = 0;
        const struct store_vault *v = store_vault_at(s, i);
        CHECK_EQ_INT(store_vault_json(&json, &len, s, v), 0);
        CHECK_EQ_INT(len, v->json_size);
        if (len != v->json_size)
            fprintf(stderr, "%s: vault.json is %zu bytes, its size says %zu\n", v->dir_name, len,
                    v->json_size);
        CHECK(store_vault_by_dir(s, v->dir_name) == v);
        all = realloc(all, cap + len + strlen(v->dir_name) + 1);
        strcat(strcat(all, v->dir_name), json);
        cap += len + strlen(v->dir_name);
        alloc_free(json);
    }
    return all;
}

struct listing {
    char names[2048][72];
    int64_t mtimes[2048];
    size_t n;
};

/* The vault records (*.rec), not the manifest beside them. */
static int add_name(void *ctx, const char *name)
{
    struct listing *l = ctx;
    size_t len = strlen(name);
    if (l->n < 2048 && len > 4 && strcmp(name + len - 4, ".rec") == 0)
        snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
    return 0;
}

/* The manifest's size: a change appends one frame to it. */
static off_t manifest_size(const char *dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/vaults/manifest", dir);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static struct listing list_records(const char *dir)
{
    struct listing l = {0};
    char path[4096];
    snprintf(path, sizeof(path), "%s/vaults", dir);
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        CHECK_EQ_INT(io_list_dir(fd, add_name, &l), 0);
        for (size_t i = 0; i < l.n; i++) {
            struct stat st;
            CHECK_EQ_INT(fstatat(fd, l.names[i], &st, 0), 0);
            l.mtimes[i] = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
        close(fd);
    }
    return l;
}

/* How many records are new or rewritten in after, against before. */
static size_t records_written(const struct listing *before, const struct listing *after)
{
    size_t written = 0;
    for (size_t i = 0; i < after->n; i++) {
        bool same = false;
        for (size_t j = 0; j < before->n; j++)
            if (strcmp(after->names[i], before->names[j]) == 0)
                same = after->mtimes[i] == before->mtimes[j];
        written += !same;
    }
    return written;
}

static bool exists_in(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* A change writes one vault record: a new vault, a new epoch, a restore
 * into a directory named first; and the store shows after it what it
 * shows when opened again. */
static void test_one_record_per_change(const char *dir)
{
    struct store *s = open_store(dir);
    for (unsigned k = 1; k <= 30; k++)
        CHECK_EQ_INT(import_vault(s, k, "t0", NULL), 0);
    CHECK(exists_in(dir, "vaults"));
    CHECK(!exists_in(dir, "index.rec"));
    CHECK_EQ_INT(list_records(dir).n, 30);

    struct listing before = list_records(dir);
    off_t journal = manifest_size(dir);
    usleep(20000); /* a rewrite shows in the mtime */
    CHECK_EQ_INT(import_vault(s, 31, "t0", NULL), 0);
    struct listing after = list_records(dir);
    CHECK_EQ_INT(after.n, 31);
    CHECK_EQ_INT(records_written(&before, &after), 1);
    /* one frame, the size of one vault's, not of the store's */
    off_t frame = manifest_size(dir) - journal;
    CHECK(journal > 0 && frame > 0 && frame < 1024);

    before = after;
    journal = manifest_size(dir);
    usleep(20000);
    CHECK_EQ_INT(import_vault(s, 5, "t1", NULL), 0); /* a reshare: a new epoch */
    after = list_records(dir);
    CHECK_EQ_INT(after.n, 31);
    CHECK_EQ_INT(records_written(&before, &after), 1);
    CHECK(manifest_size(dir) - journal > 0 && manifest_size(dir) - journal < 1024);

    /* a restore: a directory with a clashing vault's own suffixed name */
    char hint[32];
    snprintf(hint, sizeof(hint), "Vault %u-%04x", 40u % 7, 40u);
    CHECK_EQ_INT(import_vault(s, 40, "t0", hint), 0);
    CHECK(store_vault_by_dir(s, hint) != NULL);

    char *was = shown(s);
    store_close(s);
    s = open_store(dir);
    char *again = shown(s);
    CHECK_EQ_STR(again, was);
    free(was);
    free(again);
    store_close(s);
}

/* Turns a store back into format 1 before vaults/: the whole index in
 * index.rec, as an earlier build wrote it, and vultfs.json of format 1. */
static void make_whole_index(struct store *s, const char *dir)
{
    json_t *config = json_deep_copy(s->config);
    char *config_text = NULL;
    CHECK_EQ_INT(json_object_set_new(config, "format", json_integer(1)), 0);
    CHECK_EQ_INT(json_object_del(config, "id"), 0);
    CHECK_EQ_INT(config_add_checksum(config), 0);
    CHECK_EQ_INT(jsonx_dumps(&config_text, config, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    CHECK_EQ_INT(io_write_atomic(s->dirfd, CONFIG_NAME, config_text, strlen(config_text), 0600),
                 0);
    free(config_text);
    json_decref(config);

    char *text = NULL;
    char path[4096];
    json_t *index = NULL;
    CHECK_EQ_INT(index_whole(s, &index), 0);
    CHECK_EQ_INT(jsonx_dumps(&text, index, JSON_COMPACT | JSON_SORT_KEYS), 0);
    json_decref(index);
    CHECK_EQ_INT(sealed_write(s->dirfd, INDEX_NAME, (const uint8_t *)text, strlen(text),
                              SEAL_KIND_INDEX, INDEX_ID, s->master),
                 0);
    free(text);
    snprintf(path, sizeof(path), "%s/vaults", dir);
    rm_rf(path);
}

/* A migration cut short: vaults.new/ with one record and a leftover. */
static void make_unfinished_migration(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/vaults.new", dir);
    CHECK_EQ_INT(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/vaults.new/%s.rec", dir,
             "0123456789abcdef0123456789abcdef");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("half a record", f);
        fclose(f);
    }
}

static void test_migration(const char *dir)
{
    struct store *s = open_store(dir);
    char *was = shown(s);
    make_whole_index(s, dir);
    store_close(s);
    make_unfinished_migration(dir);

    /* opened to read, index.rec is the index, and nothing changes */
    CHECK_EQ_INT(store_open_readonly(&s, dir, PASS, PASS_LEN), 0);
    char *legacy = s ? shown(s) : NULL;
    CHECK_EQ_STR(legacy, was);
    struct store_fsck_report rep;
    CHECK_EQ_INT(store_fsck(s, &rep, NULL, NULL), 0);
    CHECK(exists_in(dir, "index.rec") && !exists_in(dir, "vaults"));
    store_close(s);

    /* opened to write, it moves to vaults/ with a manifest, format 2 */
    s = open_store(dir);
    CHECK(!exists_in(dir, "index.rec") && exists_in(dir, "vaults"));
    CHECK(!exists_in(dir, "vaults.new") && manifest_size(dir) > 0);
    CHECK(s && json_integer_value(json_object_get(s->config, "format")) == 2);
    char *migrated = s ? shown(s) : NULL;
    CHECK_EQ_STR(migrated, was);
    free(migrated);
    CHECK_EQ_INT(import_vault(s, 50, "t0", NULL), 0);
    char *changed = shown(s);
    CHECK(strncmp(changed, was, strlen(was) - 2) != 0); /* vault 50 is there too */
    store_close(s);
    s = open_store(dir);
    char *reopened = shown(s);
    CHECK_EQ_STR(reopened, changed);
    CHECK_EQ_INT(store_vault_count(s), 33);
    CHECK_EQ_INT(store_fsck(s, &rep, NULL, NULL), 0);
    free(was);
    free(legacy);
    free(changed);
    free(reopened);
    store_close(s);
}

/* A record moved to another vault's name is refused: each record is
 * sealed under its own name, and its key must hash to that name. */
static void test_swapped_records(const char *dir)
{
    struct listing l = list_records(dir);
    char a[4096], b[4096], tmp[4096];
    CHECK(l.n >= 2);
    if (l.n < 2)
        return;
    snprintf(a, sizeof(a), "%s/vaults/%s", dir, l.names[0]);
    snprintf(b, sizeof(b), "%s/vaults/%s", dir, l.names[1]);
    snprintf(tmp, sizeof(tmp), "%s/vaults/swap", dir);
    CHECK_EQ_INT(rename(a, tmp), 0);
    CHECK_EQ_INT(rename(b, a), 0);
    CHECK_EQ_INT(rename(tmp, b), 0);
    struct store *s = NULL;
    /* neither opens; a store that may write refuses them (its vaults are
     * rebuilt from their share records by fsck --repair); one that reads
     * shows the others and fsck names both */
    int ret = store_open(&s, NULL, dir, PASS, PASS_LEN);
    CHECK_EQ_INT(ret, -EUCLEAN);
    store_close(s);
    s = NULL;
    CHECK_EQ_INT(store_open_readonly(&s, dir, PASS, PASS_LEN), 0);
    struct store_fsck_report rep;
    CHECK_EQ_INT(store_fsck(s, &rep, NULL, NULL), -EIO);
    CHECK_EQ_INT(rep.records_bad, 2);
    CHECK_EQ_INT(rep.vaults_without_record, 2);
    store_close(s);
}

/* A failed allocation anywhere in an import, then a good import: the store
 * in memory is what it is on disk (as opened again), whatever failed. */
static void test_failed_allocations(const char *dir)
{
    struct store *s = open_store(dir);
    unsigned k = 100;
    for (long n = 0; n < 2000 && s; n++) {
        size_t len = 0;
        char *file = vault_file(k++, n % 2 ? "t0" : "t1", &len);
        alloc_fail_once(n);
        int ret = file ? import_file(s, file, len, NULL) : -ENOMEM;
        bool failed = alloc_failures() > 0;
        alloc_fail_once(-1);
        alloc_free(file);
        CHECK_EQ_INT(import_vault(s, k++, "t0", NULL), 0);
        char *was = shown(s);
        store_close(s);
        s = open_store(dir);
        char *again = s ? shown(s) : NULL;
        CHECK(again && strcmp(was, again) == 0);
        if (!again || strcmp(was, again) != 0)
            fprintf(stderr, "after a failed allocation %ld\n", n);
        free(was);
        free(again);
        if (!failed) {
            CHECK_EQ_INT(ret, 0);
            break;
        }
    }
    store_close(s);
}

/* The whole index at once (passwd --rekey's step): every record written
 * anew into vaults.new/, exchanged with vaults/ in one rename; the store
 * opens the same, and nothing is left beside vaults/. */
static void test_write_all(const char *dir)
{
    struct store *s = open_store(dir);
    char *was = shown(s);
    struct listing before = list_records(dir);
    usleep(20000);
    json_t *fewer = json_pack("{s:i, s:[]}", "format", 1, "vaults");
    CHECK_EQ_INT(index_write_all(s, fewer), -EINVAL);
    json_decref(fewer);
    json_t *index = NULL;
    CHECK_EQ_INT(index_whole(s, &index), 0);
    CHECK_EQ_INT(index_write_all(s, index), 0);
    json_decref(index);
    struct listing after = list_records(dir);
    CHECK_EQ_INT(after.n, before.n);
    CHECK_EQ_INT(records_written(&before, &after), before.n);
    CHECK(!exists_in(dir, "vaults.new"));
    CHECK_EQ_INT(import_vault(s, 70, "t0", NULL), 0); /* vaults/ is the one written */
    char *changed = shown(s);
    store_close(s);
    s = open_store(dir);
    char *again = shown(s);
    CHECK_EQ_STR(again, changed);
    CHECK(strlen(changed) > strlen(was));
    free(was);
    free(changed);
    free(again);
    store_close(s);
}

/* A vault key that is not hex names no directory (its last 4 bytes may cut
 * a UTF-8 letter or hold a slash): such an index is not one this store
 * wrote, and it is refused, not shown with a listing that cannot be made.
 * (libFuzzer's fuzz_index found a key ending in U+0299 "a4e".) */
static void test_key_not_hex(const char *dir)
{
    static const char *const keys[] = {"03aa\xca\x99" "a4e", "03aa/b4e1", ""};
    struct store *s = open_store(dir);
    json_t *own = NULL;

    CHECK(s && index_whole(s, &own) == 0);
    CHECK(own && json_array_size(json_object_get(own, "vaults")) > 0);
    for (size_t i = 0; own && i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *index = json_deep_copy(own);
        json_t *first = json_array_get(json_object_get(index, "vaults"), 0);
        CHECK_EQ_INT(json_object_set_new(first, "ecdsa", json_string(keys[i])), 0);
        index_replace_all(s, index);
        CHECK_EQ_INT(views_rebuild(s), -EIO);
        json_decref(index);
    }
    if (own) {
        index_replace_all(s, own);
        CHECK_EQ_INT(views_rebuild(s), 0);
    }
    json_decref(own);
    store_close(s);
}

/* The index in memory costs about what its text does: held as a tree of
 * JSON objects it took about 5 KB a vault, most of the daemon's memory at
 * 10,000 vaults. Counted by glibc's heap in use after an open; skipped
 * where malloc is not glibc's (the sanitizer build). */
static void test_memory_per_vault(const char *dir)
{
    struct mallinfo2 before = mallinfo2();
    char *volatile probe = malloc(1 << 16); /* volatile: not elided */
    bool counted = mallinfo2().uordblks >= before.uordblks + (1 << 16);

    free(probe);
    if (!counted) {
        fprintf(stderr, "test_memory_per_vault: skipped (malloc is not glibc's)\n");
        return;
    }
    before = mallinfo2();
    struct store *s = open_store(dir);
    size_t used = mallinfo2().uordblks - before.uordblks;
    size_t n = s ? store_vault_count(s) : 0, text = 0;
    for (size_t i = 0; s && i < s->slot_count; i++)
        text += s->slots[i].len;
    CHECK(n >= 100);
    fprintf(stderr, "test_memory_per_vault: %zu vaults, %zu bytes a vault in memory, %zu of text\n",
            n, n ? used / n : 0, n ? text / n : 0);
    CHECK(n && used / n <= 2560);
    store_close(s);
}

int main(void)
{
    char tmpl[] = "/tmp/vultfs-test-index-XXXXXX";
    char *dir = mkdtemp(tmpl);

    alloc_install_jansson();
    if (backup_crypto_init() < 0 || sodium_init() < 0 || !dir)
        return 77;
    seal_kdf_default(&cheap_kdf);
    cheap_kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    cheap_kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    CHECK_EQ_INT(store_init(dir, PASS, PASS_LEN, &cheap_kdf), 0);
    test_one_record_per_change(dir);
    test_migration(dir);
    test_failed_allocations(dir);
    test_write_all(dir);
    test_key_not_hex(dir);
    test_memory_per_vault(dir);
    test_swapped_records(dir);
    rm_rf(dir);
    return check_done("index");
}
