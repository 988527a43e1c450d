/*
 * fuzz_config: libFuzzer target for vultfs.json, the one store file that
 * is read before any key is known.
 *
 * Each input is the text of vultfs.json, given to store_config_parse (what
 * store_open runs on it before Argon2id; no KDF runs here, whatever the
 * parameters say). A config that parses must hold what store_open then
 * relies on: Argon2id limits libsodium accepts, and a sealed master key
 * that opens cleanly or fails with the errno seal.h names (here under a
 * fixed key, never the passphrase's: that would cost the KDF).
 *
 * Seeds: tests/fuzz/run.sh has fuzz_seeds write the config of a real store.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "base64.h"
#include "fuzz.h"
#include "store_private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_core();
    return 0;
}

/* The sealed master key of a parsed config opens or fails as seal.h says. */
static void check_master_key(const json_t *config)
{
    /* as unwrap_master reads it: missing is empty, and fails to open */
    const char *b64 = jsonx_str(config, "master_key");
    uint8_t *sealed, *plain = NULL;
    size_t len = strlen(b64), sealed_len = 0, plain_len = 0;

    sealed = alloc_bytes(len + 1);
    FUZZ_ASSERT(sealed != NULL);
    /* the parser checked that it decodes */
    FUZZ_ASSERT(base64_decode(sealed, len + 1, &sealed_len, b64, len) == 0);
    int ret = seal_open_record(&plain, &plain_len, sealed, sealed_len, SEAL_KIND_MASTER_KEY,
                               MASTER_KEY_ID, fuzz_record_key);
    FUZZ_ASSERT(ret == 0 || ret == -EINVAL || ret == -EIO || ret == -EBADMSG);
    FUZZ_ASSERT((ret == 0) == (plain != NULL));
    alloc_secret_free(plain);
    alloc_free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *config = (json_t *)1; /* must be reset, whatever the outcome */
    int ret = store_config_parse(&config, data, size);

    /* damaged: -EIO here, -EBADMSG once config.c checks every field */
    FUZZ_ASSERT(ret == 0 || ret == -EIO || ret == -EBADMSG || ret == -EPROTONOSUPPORT ||
                ret == -ENOMEM);
    if (ret < 0) {
        FUZZ_ASSERT(config == NULL);
        return 0;
    }
    FUZZ_ASSERT(config != NULL);
    /* What store_open does next: the KDF with these limits, bounded. */
    const json_t *kdf = json_object_get(config, "kdf");
    struct seal_kdf limits = {
        .opslimit = jsonx_num(kdf, "opslimit"),
        .memlimit = jsonx_num(kdf, "memlimit"),
    };
    FUZZ_ASSERT(seal_kdf_check(&limits) == 0);
    json_int_t format = json_integer_value(json_object_get(config, "format"));
    FUZZ_ASSERT(format >= 1 && format <= STORE_FORMAT_VERSION);
    /* format 2 names its store: 32 hex digits, as its manifest holds them */
    uint8_t id[MANIFEST_ID_BYTES];
    FUZZ_ASSERT(format < 2 || hex_decode(id, sizeof(id), jsonx_str(config, "id")) == 0);
    check_master_key(config);
    json_decref(config);
    return 0;
}
