/*
 * fuzz_vult: libFuzzer target for the .vult codec, the one place vultfs
 * reads bytes it cannot trust.
 *
 * Every input goes two ways:
 *   1. as a whole backup file: vult_decode with one fixed password (so
 *      seeds encrypted with it reach the Vault parser), then
 *      vult_vault_parse of what it returns;
 *   2. as raw Vault protobuf bytes: vult_vault_parse directly;
 *   3. as the JSON inside a 2024 .dat: hex-encoded, then vult_decode (the
 *      .dat reader; encrypted .dat seeds reach it through way 1);
 *   4. as base64 text and as bytes: strict base64 is one text per byte
 *      string, so what decodes must encode to the very same text, what is
 *      encoded must decode to the same bytes, and the canonical check and
 *      the decoder must agree.
 * Whatever parses is then pushed through the rest of the codec (the
 * presentation helpers, vult_vault_encode, vult_encode) and must come back
 * the same: a crash, a sanitizer report or a failed round trip is a bug.
 *
 * Seeds: tests/fuzz/run.sh makes small synthetic ones with mkvault (some
 * encrypted with FUZZ_PASSWORD) and adds ../shared/fixtures.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "completeness.h"
#include "backup_crypto.h"
#include "base64.h"
#include "fuzz.h" /* FUZZ_ASSERT; seeds encrypted with FUZZ_PASSWORD get past the tag */
#include "vult.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* base64 both ways over the input (see way 4 above). */
static void check_base64(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t cap = size / 4 * 3, len = 1, encoded = base64_encoded_len(size);
    uint8_t *bin = malloc(cap ? cap : 1);
    char *again = malloc(encoded ? encoded : 1);
    FUZZ_ASSERT(bin != NULL && again != NULL);

    int ret = base64_decode(bin, cap, &len, text, size);
    FUZZ_ASSERT(ret == 0 || ret == -EINVAL);
    FUZZ_ASSERT(base64_is_canonical(text, size) == (ret == 0));
    if (ret == 0) {
        FUZZ_ASSERT(base64_encoded_len(len) == size);
        base64_encode(again, bin, len);
        FUZZ_ASSERT(memcmp(again, text, size) == 0);
    } else {
        FUZZ_ASSERT(len == 0);
    }
    free(bin);

    /* and the input as bytes */
    uint8_t *back = malloc(size ? size : 1);
    FUZZ_ASSERT(back != NULL);
    base64_encode(again, data, size);
    FUZZ_ASSERT(base64_count_non_letters((const uint8_t *)again, encoded) ==
                (size_t)(size % 3 ? 3 - size % 3 : 0));
    FUZZ_ASSERT(base64_decode(back, size, &len, again, encoded) == 0);
    FUZZ_ASSERT(len == size && memcmp(back, data, size) == 0);
    free(back);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lives for the whole run: a current-scheme seed then costs its 600,000
 * PBKDF2 iterations once, not on every execution. */
static struct backup_keycache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_core();
    cache = backup_keycache_new();
    if (!cache)
        exit(1);
    return 0;
}

/* Exercises a parsed vault and checks that encode and parse agree. */
static void check_vault(const struct vult_vault *vault)
{
    char when[64];
    uint8_t *bytes = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    struct vult_vault reparsed;

    struct completeness gap = completeness_of(vault);
    char why[256];
    completeness_describe(why, sizeof(why), &gap);
    FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL);
    (void)vult_vault_is_dkls_shaped(vault);
    (void)vult_lib_type_name(vault->lib_type);
    vult_format_time(when, sizeof(when), vault->created_at_seconds, vault->created_at_nanos);
    FUZZ_ASSERT(memchr(when, '\0', sizeof(when)) != NULL);
    char *name = vult_suggested_filename(vault);
    FUZZ_ASSERT(name != NULL);
    alloc_free(name);

    /* What parses must encode, and the encoding must parse to the same
     * fields and encode to the same bytes again. */
    FUZZ_ASSERT(vult_vault_encode(&bytes, &len, vault) == 0);
    FUZZ_ASSERT(vult_vault_parse(&reparsed, NULL, bytes, len) == 0);
    FUZZ_ASSERT(vult_str_eq(reparsed.name, vault->name));
    FUZZ_ASSERT(vult_str_eq(reparsed.public_key_ecdsa, vault->public_key_ecdsa));
    FUZZ_ASSERT(vult_str_eq(reparsed.public_key_eddsa, vault->public_key_eddsa));
    FUZZ_ASSERT(vult_str_eq(reparsed.local_party_id, vault->local_party_id));
    FUZZ_ASSERT(vult_str_eq(reparsed.reshare_prefix, vault->reshare_prefix));
    FUZZ_ASSERT(vult_str_eq(reparsed.hex_chain_code, vault->hex_chain_code));
    FUZZ_ASSERT(reparsed.signer_count == vault->signer_count);
    FUZZ_ASSERT(reparsed.key_share_count == vault->key_share_count);
    FUZZ_ASSERT(reparsed.lib_type == vault->lib_type);
    FUZZ_ASSERT(reparsed.created_at_seconds == vault->created_at_seconds);
    FUZZ_ASSERT(reparsed.created_at_nanos == vault->created_at_nanos);
    FUZZ_ASSERT(vult_str_eq(reparsed.public_key_mldsa44, vault->public_key_mldsa44));
    FUZZ_ASSERT(vult_str_eq(reparsed.public_key_frozt, vault->public_key_frozt));
    FUZZ_ASSERT(vult_str_eq(reparsed.public_key_fromt, vault->public_key_fromt));
    FUZZ_ASSERT(reparsed.chain_count == vault->chain_count);
    for (size_t i = 0; i < vault->key_share_count; i++) {
        FUZZ_ASSERT(vult_str_eq(reparsed.key_shares[i].public_key, vault->key_shares[i].public_key));
        FUZZ_ASSERT(vult_str_eq(reparsed.key_shares[i].keyshare, vault->key_shares[i].keyshare));
    }
    for (size_t i = 0; i < vault->chain_count; i++) {
        FUZZ_ASSERT(vult_str_eq(reparsed.chains[i].chain, vault->chains[i].chain));
        FUZZ_ASSERT(vult_str_eq(reparsed.chains[i].public_key, vault->chains[i].public_key));
        FUZZ_ASSERT(reparsed.chains[i].is_eddsa == vault->chains[i].is_eddsa);
    }
    FUZZ_ASSERT(completeness_of(&reparsed).gap == gap.gap);
    FUZZ_ASSERT(vult_vault_encode(&again, &again_len, &reparsed) == 0);
    FUZZ_ASSERT(again_len == len && memcmp(again, bytes, len) == 0);
    vult_vault_clear(&reparsed);
    alloc_secret_free(again);
    alloc_secret_free(bytes);
}

/* vult_encode then vult_decode must give back the Vault bytes, unencrypted
 * and in the legacy scheme (the current one would cost PBKDF2 each time). */
static void check_file_round_trip(const uint8_t *vault, size_t vault_len)
{
    static const uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES] = {1, 2, 3};
    const struct vult_password pw = {FUZZ_PASSWORD, sizeof(FUZZ_PASSWORD) - 1};
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    const enum backup_crypto_scheme schemes[] = {BACKUP_CRYPTO_NONE, BACKUP_CRYPTO_LEGACY};

    backup_crypto_key_legacy(key, (const uint8_t *)pw.ptr, pw.len);
    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        size_t text_len = vult_encoded_len(vault_len, schemes[s]);
        char *text = alloc_secret(text_len);
        struct vult_file file;
        FUZZ_ASSERT(text != NULL);
        FUZZ_ASSERT(vult_encode(text, text_len, vault, vault_len, schemes[s], NULL, nonce,
                                key) == 0);
        FUZZ_ASSERT(vult_decode(&file, (const uint8_t *)text, text_len, &pw, 1, NULL) == 0);
        FUZZ_ASSERT(file.scheme == schemes[s]);
        FUZZ_ASSERT(file.vault_len == vault_len &&
                    memcmp(file.vault_bytes, vault, vault_len) == 0);
        vult_file_clear(&file);
        alloc_secret_free(text);
    }
}

/* Decodes a whole file: what decodes must be a Vault that parses and
 * survives the .vult round trip; what does not leaves nothing behind. */
static void check_decode(const uint8_t *data, size_t size, const struct vult_password *pw,
                         size_t pw_count)
{
    struct vult_file file;
    struct vult_vault vault;

    if (vult_decode(&file, data, size, pw, pw_count, cache) == 0) {
        /* vult_decode promised a Vault that parses, and parsed it. */
        FUZZ_ASSERT(file.vault_bytes != NULL);
        FUZZ_ASSERT(file.version == VULT_CONTAINER_VERSION);
        FUZZ_ASSERT(vult_vault_parse(&vault, NULL, file.vault_bytes, file.vault_len) == 0);
        FUZZ_ASSERT(vault.key_share_count == file.vault.key_share_count);
        vult_vault_clear(&vault);
        check_vault(&file.vault);
        check_file_round_trip(file.vault_bytes, file.vault_len);
    } else {
        FUZZ_ASSERT(file.vault_bytes == NULL && file.vault_len == 0);
    }
    vult_file_clear(&file);
}

/* Hex-encodes JSON-looking input and decodes it as a plain .dat. */
static void check_dat_json(const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != '{' || size > VULT_MAX_FILE_BYTES / 2)
        return;
    char *hex = malloc(size * 2 + 1);
    FUZZ_ASSERT(hex != NULL);
    sodium_bin2hex(hex, size * 2 + 1, data, size);
    check_decode((const uint8_t *)hex, size * 2, NULL, 0);
    free(hex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct vult_password pw = {FUZZ_PASSWORD, sizeof(FUZZ_PASSWORD) - 1};
    struct vult_vault vault;

    /* 1. A whole backup file. */
    check_decode(data, size, &pw, 1);

    /* 2. Raw Vault protobuf bytes. */
    if (vult_vault_parse(&vault, NULL, data, size) == 0) {
        check_vault(&vault);
        vult_vault_clear(&vault);
        check_file_round_trip(data, size);
    }

    /* 3. The JSON of a .dat, as the apps wrote it: hex text. */
    check_dat_json(data, size);

    /* 4. base64, both ways. */
    check_base64(data, size);
    return 0;
}
