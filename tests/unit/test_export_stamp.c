/*
 * test_export_stamp: exports' times follow the export settings. Served
 * with the settings of last time, an export's mtime is its import time;
 * with another export password or scheme it is when they changed, which
 * later mounts with those settings keep; the record never holds the
 * password; a damaged record counts as a change, never as an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "store.h"
#include "synth.h"

#define PASS "stamp test passphrase"
#define PW_A "export password A"
#define PW_B "export password B"

static struct seal_kdf kdf;
static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Opens the store with export settings (pw NULL: unencrypted) and stamps it. */
static struct store *serve(const char *pw, enum backup_crypto_scheme scheme)
{
    struct store *s = NULL;
    CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, strlen(PASS)), 0);
    if (!s)
        return NULL;
    CHECK_EQ_INT(store_set_export(s, pw, pw ? strlen(pw) : 0, pw ? scheme : BACKUP_CRYPTO_NONE),
                 0);
    CHECK_EQ_INT(store_export_stamp(s), 0);
    return s;
}

/* The mtime store_export_time gives the one vault's current epoch. */
static int64_t shown_mtime(struct store *s, int64_t *imported)
{
    const struct store_vault *v = store_vault_at(s, 0);
    int64_t sec = -1;
    int32_t nsec = -1;
    CHECK(v && v->current);
    if (!v || !v->current)
        return -1;
    store_export_time(&sec, &nsec, s, v->current);
    *imported = v->current->imported_sec;
    CHECK(nsec >= 0 && nsec < 1000000000);
    return sec;
}

static void import_one(void)
{
    struct store *s = NULL;
    struct store_import_result r;
    struct synth_spec spec = {.name = "Stamped", .device = "dev-1",
                              .signers = {"dev-1", "dev-2"}, .lib_type = VULT_LIB_DKLS};
    size_t len = 0;
    char *file = synth_file(&spec, &len);
    CHECK(file != NULL);
    CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, strlen(PASS)), 0);
    if (s && file)
        CHECK_EQ_INT(store_import(s, (const uint8_t *)file, len, NULL, &r), 0);
    store_close(s);
    alloc_free(file);
}

static bool file_contains(const char *name, const char *needle)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    bool found = false;
    if (dfd >= 0 && io_read_file(&data, &len, dfd, name, 1 << 20) == 0)
        found = memmem(data, len, needle, strlen(needle)) != NULL;
    alloc_free(data);
    if (dfd >= 0)
        close(dfd);
    return found;
}

static void test_settings_change(void)
{
    int64_t imported, mtime;
    struct store *s;

    import_one();
    /* the first settings ever served change nothing */
    s = serve(PW_A, BACKUP_CRYPTO_CURRENT);
    mtime = shown_mtime(s, &imported);
    CHECK_EQ_INT(mtime, imported);
    store_close(s);
    CHECK(!file_contains("export-stamp.rec", PW_A));

    sleep(1); /* the change must be a later second than the import */
    s = serve(PW_B, BACKUP_CRYPTO_CURRENT);
    int64_t changed = shown_mtime(s, &imported);
    CHECK(changed > imported);
    CHECK(changed <= (int64_t)time(NULL));
    store_close(s);

    /* the same settings again: the same time, on every mount */
    s = serve(PW_B, BACKUP_CRYPTO_CURRENT);
    CHECK_EQ_INT(shown_mtime(s, &imported), changed);
    store_close(s);

    /* another scheme, or none, is a change too */
    sleep(1);
    s = serve(PW_B, BACKUP_CRYPTO_LEGACY);
    int64_t legacy = shown_mtime(s, &imported);
    CHECK(legacy > changed);
    store_close(s);
    sleep(1);
    s = serve(NULL, BACKUP_CRYPTO_NONE);
    CHECK(shown_mtime(s, &imported) > legacy);
    store_close(s);
}

static void test_damaged_stamp_counts_as_a_change(void)
{
    int64_t imported;
    struct store *s = serve(PW_A, BACKUP_CRYPTO_CURRENT);
    int64_t before = shown_mtime(s, &imported);
    store_close(s);

    char path[128];
    snprintf(path, sizeof(path), "%s/export-stamp.rec", dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 40, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 40, SEEK_SET);
        fputc(c ^ 1, f);
        fclose(f);
    }
    sleep(1);
    s = serve(PW_A, BACKUP_CRYPTO_CURRENT);
    CHECK(shown_mtime(s, &imported) > before);
    store_close(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    seal_kdf_default(&kdf);
    kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    snprintf(dir, sizeof(dir), "/tmp/vultfs-test-stamp-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    CHECK_EQ_INT(store_init(dir, PASS, strlen(PASS), &kdf), 0);
    test_settings_change();
    test_damaged_stamp_counts_as_a_change();
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("test_export_stamp");
}
