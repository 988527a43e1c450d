/*
 * test_store_read: the store's entry points for check, audit and forget
 * --epoch. store_open_readonly opens a store that another opener holds
 * locked (a mount) and refuses to import through it; store_vault_entries
 * gives the digests the rules compare (epochs_describe of each held share);
 * store_forget_epoch removes one superseded epoch, never the current one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "store.h"
#include "synth.h"
#include "tmpstore.h"

#define PASS "store read passphrase"
#define PASS_LEN (sizeof(PASS) - 1)

static int import_spec(struct store *store, const struct synth_spec *spec)
{
    struct store_import_result result;
    size_t len = 0;
    char *text = synth_file(spec, &len);
    int ret = text ? store_import(store, (const uint8_t *)text, len, NULL, &result) : -ENOMEM;
    alloc_free(text);
    return ret;
}

static const struct synth_spec gen1 = {.name = "Read", .device = "a", .signers = {"a", "b"},
                                       .lib_type = 1, .share_tag = "1"};
static const struct synth_spec gen2 = {.name = "Read", .device = "a",
                                       .signers = {"a", "b", "c"}, .lib_type = 1,
                                       .share_tag = "2"};

static void test_readonly_while_locked(const char *dir)
{
    struct store *locked = NULL, *reader = NULL, *second = NULL;
    CHECK_EQ_INT(store_open(&locked, NULL, dir, PASS, PASS_LEN), 0);
    CHECK_EQ_INT(store_open(&second, NULL, dir, PASS, PASS_LEN), -EBUSY);
    CHECK_EQ_INT(store_open_readonly(&reader, dir, PASS, PASS_LEN), 0);
    CHECK_EQ_INT(store_open_readonly(&second, dir, "wrong", 5), -EACCES);
    if (reader) {
        CHECK_EQ_INT(store_vault_count(reader), 1);
        struct store_import_result result;
        size_t len = 0;
        char *text = synth_file(&gen2, &len);
        CHECK(store_import(reader, (const uint8_t *)text, len, NULL, &result) < 0);
        CHECK_EQ_INT(result.outcome, EPOCHS_FAILED);
        alloc_free(text);
    }
    store_close(reader);
    store_close(locked);
}

static void test_entries_are_the_rules_digests(struct store *store)
{
    const struct store_vault *vault = store_vault_at(store, 0);
    struct epochs_entry *entries = NULL, want1, want2;
    size_t count = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    struct vult_vault v;

    CHECK_EQ_INT(store_vault_entries(&entries, &count, store, vault), 0);
    CHECK_EQ_INT(count, 2);
    CHECK_EQ_INT(synth_vault(&bytes, &len, &gen1), 0);
    CHECK_EQ_INT(vult_vault_parse(&v, NULL, bytes, len), 0);
    CHECK_EQ_INT(epochs_describe(&want1, &v), 0);
    vult_vault_clear(&v);
    alloc_secret_free(bytes);
    CHECK_EQ_INT(synth_vault(&bytes, &len, &gen2), 0);
    CHECK_EQ_INT(vult_vault_parse(&v, NULL, bytes, len), 0);
    CHECK_EQ_INT(epochs_describe(&want2, &v), 0);
    vult_vault_clear(&v);
    alloc_secret_free(bytes);
    for (size_t i = 0; i < count; i++) {
        const struct epochs_entry *want = entries[i].number == 1 ? &want1 : &want2;
        CHECK_EQ_INT(entries[i].current, entries[i].number == 2);
        CHECK(memcmp(entries[i].generation, want->generation, EPOCHS_DIGEST_BYTES) == 0);
        CHECK(memcmp(entries[i].device, want->device, EPOCHS_DIGEST_BYTES) == 0);
        CHECK(memcmp(entries[i].shares, want->shares, EPOCHS_DIGEST_BYTES) == 0);
        CHECK_EQ_INT(entries[i].key_share_count, want->key_share_count);
        CHECK(entries[i].has_keys);
        CHECK(memcmp(entries[i].key_shares, want->key_shares,
                     want->key_share_count * sizeof(*want->key_shares)) == 0);
        CHECK_EQ_INT(entries[i].declared_count, want->declared_count);
    }
    epochs_entries_free(entries, count);
    epochs_entry_clear(&want1);
    epochs_entry_clear(&want2);
}

static void test_forget_epoch(struct store *store)
{
    const char *name = store_vault_at(store, 0)->dir_name;
    char dir_name[256];
    snprintf(dir_name, sizeof(dir_name), "%s", name);
    CHECK_EQ_INT(store_forget_epoch(store, dir_name, 2), -EPERM);
    CHECK_EQ_INT(store_forget_epoch(store, dir_name, 7), -ENOENT);
    CHECK_EQ_INT(store_forget_epoch(store, "no such vault", 1), -ENOENT);
    CHECK_EQ_INT(store_forget_epoch(store, dir_name, 1), 0);
    const struct store_vault *vault = store_vault_by_dir(store, dir_name);
    CHECK(vault && vault->epoch_count == 1 && vault->current && vault->current->number == 2);
    CHECK(vault && !store_vault_epoch(vault, 1));
    struct store_fsck_report rep;
    CHECK_EQ_INT(store_fsck(store, &rep, NULL, NULL), 0);
    CHECK_EQ_INT(rep.records_ok, 1);
    CHECK_EQ_INT(rep.records_orphaned, 0);
}

/* After forget --epoch, that generation is stale for good: at the root and
 * restored into history/ alike, and the rules still see the epoch. */
static void test_forgotten_stays_stale(struct store *store)
{
    char dir_name[256];
    snprintf(dir_name, sizeof(dir_name), "%s", store_vault_at(store, 0)->dir_name);
    struct store_target history = {.dir_name = dir_name, .history_slot = 1};
    struct store_import_result result;
    size_t len = 0;
    char *text = synth_file(&gen1, &len);

    CHECK(text != NULL);
    CHECK_EQ_INT(store_import(store, (const uint8_t *)text, len, NULL, &result), -EEXIST);
    CHECK_EQ_INT(result.outcome, EPOCHS_STALE);
    CHECK_EQ_INT(result.epoch, 1);
    CHECK(strstr(result.reason, "destroyed on purpose") != NULL);
    CHECK_EQ_INT(store_import(store, (const uint8_t *)text, len, &history, &result), -EEXIST);
    CHECK_EQ_INT(result.outcome, EPOCHS_STALE);
    alloc_free(text);
    CHECK_EQ_INT(store_vault_count(store), 1);
    CHECK_EQ_INT(store_vault_at(store, 0)->epoch_count, 1);

    struct epochs_entry *entries = NULL;
    size_t count = 0;
    CHECK_EQ_INT(store_vault_entries(&entries, &count, store, store_vault_at(store, 0)), 0);
    CHECK_EQ_INT(count, 2);
    for (size_t i = 0; i < count; i++)
        CHECK_EQ_INT(entries[i].current, entries[i].number == 2);
    epochs_entries_free(entries, count);
}

int main(void)
{
    char tmpl[] = "/tmp/vultfs-read-XXXXXX";
    char dir[512];
    struct store *store = NULL;

    if (sodium_init() < 0 || tmpstore_make(tmpl, dir, sizeof(dir), PASS) < 0)
        return 1;
    CHECK_EQ_INT(store_open(&store, NULL, dir, PASS, PASS_LEN), 0);
    CHECK_EQ_INT(import_spec(store, &gen1), 0);
    store_close(store);
    test_readonly_while_locked(dir);
    store = NULL;
    CHECK_EQ_INT(store_open(&store, NULL, dir, PASS, PASS_LEN), 0);
    if (store) {
        CHECK_EQ_INT(import_spec(store, &gen2), 0);
        test_entries_are_the_rules_digests(store);
        test_forget_epoch(store);
        test_forgotten_stays_stale(store);
    }
    store_close(store);
    /* and after reopening: the marker is in the index */
    store = NULL;
    CHECK_EQ_INT(store_open(&store, NULL, dir, PASS, PASS_LEN), 0);
    if (store)
        test_forgotten_stays_stale(store);
    store_close(store);
    tmpstore_remove(tmpl);
    return check_done("store_read");
}
