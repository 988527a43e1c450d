/*
 * test_backup_zip: the apps' multi-vault zips through libzip: a zip written
 * by backup_zip_write imports entry by entry (hidden, __MACOSX/ and ._*
 * entries skipped, a refusal's errno returned after the others are
 * stored), the caps refuse before anything is imported, and garbage is
 * -EINVAL with the store untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backup_zip.h"
#include "check.h"
#include "io.h"
#include "synth.h"
#include "tmpstore.h"

#define PASS "zip test passphrase"

struct tally {
    size_t skipped, imported, refused;
};

static void count(void *ctx, const struct backup_zip_entry *e)
{
    struct tally *t = ctx;
    if (e->skipped)
        t->skipped++;
    else if (e->ret == 0)
        t->imported++;
    else
        t->refused++;
}

/* The .vult text of a synthetic vault (unencrypted), alloc_bytes. */
static char *vult_text(size_t *len, const char *ecdsa, const char *device, const char *tag)
{
    struct synth_spec spec = {.name = "Zip", .ecdsa = ecdsa, .device = device,
                              .signers = {"d1", "d2"}, .share_tag = tag, .lib_type = 1};
    return synth_file(&spec, len);
}

static int zip_into(uint8_t **out, size_t *len, const char *dir, const char *name,
                    const struct backup_zip_file *files, size_t count)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int ret = backup_zip_write(path, files, count);
    if (ret == 0)
        ret = io_read_file(out, len, AT_FDCWD, path, BACKUP_ZIP_MAX_FILE);
    return ret;
}

static void test_import_round_trip(const char *dir, struct store *store)
{
    size_t la = 0, lb = 0, lc = 0;
    char *a = vult_text(&la, "02" "aa00000000000000000000000000000000000000000000000000000000000001", "d1", "a");
    char *b = vult_text(&lb, "02" "bb00000000000000000000000000000000000000000000000000000000000002", "d1", "b");
    char *c = vult_text(&lc, "02" "aa00000000000000000000000000000000000000000000000000000000000001", "d2", "c");
    CHECK(a && b && c);
    if (!a || !b || !c)
        goto out;
    struct backup_zip_file files[] = {
        {"Zip-0001-share1of2.vult", (uint8_t *)a, la},
        {"deep/Zip-0002-share1of2.bak", (uint8_t *)b, lb},
        {"__MACOSX/._Zip-0001-share1of2.vult", (uint8_t *)"x", 1},
        {"._Zip.vult", (uint8_t *)"x", 1},
        {".hidden.vult", (uint8_t *)"x", 1},
        {"notes.txt", (uint8_t *)"x", 1},
    };
    uint8_t *zip = NULL;
    size_t zip_len = 0;
    CHECK_EQ_INT(zip_into(&zip, &zip_len, dir, "one.zip", files, 6), 0);
    CHECK(backup_zip_sniff(zip, zip_len));
    struct tally t = {0};
    CHECK_EQ_INT(backup_zip_import(store, zip, zip_len, count, &t), 0);
    CHECK_EQ_INT(t.imported, 2);
    CHECK_EQ_INT(t.skipped, 4);
    CHECK_EQ_INT(store_vault_count(store), 2);
    alloc_free(zip);

    /* another device's share of a held vault: co-location's errno, after
     * the other entry was looked at */
    struct backup_zip_file mixed[] = {{"c.vult", (uint8_t *)c, lc}, {"a.vult", (uint8_t *)a, la}};
    CHECK_EQ_INT(zip_into(&zip, &zip_len, dir, "two.zip", mixed, 2), 0);
    t = (struct tally){0};
    CHECK_EQ_INT(backup_zip_import(store, zip, zip_len, count, &t), -EPERM);
    CHECK_EQ_INT(t.refused, 1);
    CHECK_EQ_INT(t.imported, 1); /* a: unchanged */
    alloc_free(zip);
    CHECK_EQ_INT(zip_into(&zip, &zip_len, dir, "two.zip", mixed, 2), -EEXIST);
out:
    alloc_free(a);
    alloc_free(b);
    alloc_free(c);
}

static void test_caps_and_garbage(const char *dir, struct store *store)
{
    static uint8_t big[BACKUP_ZIP_MAX_ENTRY + 1];
    struct backup_zip_file files[] = {{"big.vult", big, sizeof(big)}};
    uint8_t *zip = NULL;
    size_t zip_len = 0;
    struct tally t = {0};
    size_t before = store_vault_count(store);

    CHECK_EQ_INT(zip_into(&zip, &zip_len, dir, "big.zip", files, 1), 0);
    CHECK_EQ_INT(backup_zip_import(store, zip, zip_len, count, &t), -EFBIG);
    CHECK_EQ_INT(t.imported + t.refused + t.skipped, 0);
    alloc_free(zip);
    CHECK_EQ_INT(backup_zip_import(store, (const uint8_t *)"PK\3\4 nothing", 13, count, &t),
                 -EINVAL);
    CHECK_EQ_INT(backup_zip_import(store, (const uint8_t *)"hello", 5, count, &t), -EINVAL);
    CHECK(!backup_zip_sniff((const uint8_t *)"hello", 5));
    CHECK_EQ_INT(store_vault_count(store), before);
}

int main(void)
{
    char tmpl[] = "/tmp/vultfs-zip-XXXXXX";
    char store_dir[512];
    struct store *store = NULL;

    if (sodium_init() < 0 || tmpstore_make(tmpl, store_dir, sizeof(store_dir), PASS) < 0)
        return 1;
    CHECK_EQ_INT(store_open(&store, NULL, store_dir, PASS, strlen(PASS)), 0);
    if (store) {
        test_import_round_trip(tmpl, store);
        test_caps_and_garbage(tmpl, store);
    }
    store_close(store);
    tmpstore_remove(tmpl);
    return check_done("backup_zip");
}
