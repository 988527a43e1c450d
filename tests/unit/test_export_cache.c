/*
 * test_export_cache: exports are cached in locked memory, and that memory
 * stays bounded whatever the store's size (a non-root RLIMIT_MEMLOCK is
 * often 8 MiB); an export dropped from the cache comes back the same bytes;
 * a reference taken before an import reads what it referred to.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "locked.h"
#include "store.h"
#include "synth.h"

#define PASS "export cache test passphrase"
#define PASS_LEN (sizeof(PASS) - 1)
#define VAULTS 700

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void import_vault(struct store *s, unsigned k, const char *tag)
{
    char ecdsa[67], name[32];
    snprintf(ecdsa, sizeof(ecdsa), "02%064x", k);
    snprintf(name, sizeof(name), "Cached %u", k);
    struct synth_spec spec = {
        .name = name,
        .ecdsa = ecdsa,
        .device = "cache-a",
        .signers = {"cache-a", tag ? "cache-c" : "cache-b", NULL},
        .reshare_prefix = "",
        .lib_type = 1,
        .share_tag = tag,
    };
    size_t len = 0;
    char *file = synth_file(&spec, &len);
    struct store_import_result result;
    CHECK(file != NULL);
    if (file)
        CHECK_EQ_INT(store_import(s, (const uint8_t *)file, len, NULL, &result), 0);
    alloc_free(file);
}

static uint8_t *export_copy(struct store *s, const struct store_export_ref *ref, size_t *len)
{
    static uint8_t buf[1 << 16];
    ssize_t n = store_export_read(s, ref, buf, sizeof(buf), 0);
    CHECK(n > 0);
    *len = n > 0 ? (size_t)n : 0;
    uint8_t *copy = malloc(*len + 1);
    memcpy(copy, buf, *len);
    return copy;
}

int main(void)
{
    char tmpl[] = "/tmp/vultfs-test-export-cache-XXXXXX";
    char *dir = mkdtemp(tmpl);
    struct seal_kdf kdf;
    struct store *s = NULL;

    alloc_install_jansson();
    if (backup_crypto_init() < 0 || sodium_init() < 0 || !dir || locked_bytes() < 0)
        return 77;
    seal_kdf_default(&kdf);
    kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;
    CHECK_EQ_INT(store_init(dir, PASS, PASS_LEN, &kdf), 0);
    CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, PASS_LEN), 0);
    if (!s)
        return check_done("export_cache");
    for (unsigned k = 1; k <= VAULTS; k++)
        import_vault(s, k, NULL);
    CHECK_EQ_INT(store_set_export(s, NULL, 0, BACKUP_CRYPTO_NONE), 0);

    /* the first vault's export, and a reference to it */
    struct store_export_ref first;
    const struct store_vault *v = store_vault_at(s, 0);
    CHECK_EQ_INT(store_export_ref(&first, s, v, v->current->number), 0);
    size_t first_len;
    uint8_t *first_bytes = export_copy(s, &first, &first_len);

    /* a reshare of the first vault: the reference still reads the old epoch */
    import_vault(s, 1, "reshared");
    CHECK_EQ_INT(store_vault_at(s, 0)->epoch_count, 2);

    long before = locked_bytes();
    for (size_t i = 0; i < store_vault_count(s); i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        v = store_vault_at(s, i);
        CHECK_EQ_INT(store_export(&data, &len, s, v, v->current->number), 0);
        CHECK_EQ_INT(len, v->current->export_size);
    }
    long grown = locked_bytes() - before;
    /* 700 exports of a page or two each: unbounded, this is 2.8 MB or more */
    CHECK(grown < (long)(2u << 20));
    if (grown >= (long)(2u << 20))
        fprintf(stderr, "locked memory grew by %ld bytes\n", grown);

    size_t again_len;
    uint8_t *again = export_copy(s, &first, &again_len);
    CHECK(again_len == first_len && memcmp(again, first_bytes, first_len) == 0);
    free(again);
    free(first_bytes);

    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("export_cache");
}
