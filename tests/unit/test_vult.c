/*
 * The .vult codec against the real app exports in ../shared/fixtures and
 * against synthetic vaults: every fixture decodes to the MANIFEST's facts,
 * what we encode is byte-identical to what the apps wrote, and every
 * malformed input is a clean error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "completeness.h"
#include "synth.h"
#include "vult.h"

struct fixture {
    const char *file;
    const char *password; /* NULL: not encrypted */
    const char *lib;
    const char *name;
    const char *device;
    size_t signers;
    const char *reshare_prefix;
    const char *suggested; /* NULL: not checked */
};

static const struct fixture fixtures[] = {
    {"Test-part1of2.vult", NULL, "GG20", "Test private key vault", "Pixel 5a-a9b", 2, NULL, NULL},
    {"Test-part2of2.vult", NULL, "GG20", "Test private key vault", "iPhone-EC4", 2, NULL, NULL},
    {"Test Fast Vault DKLS-8d9b-share1of2-nopass.vult", NULL, "DKLS", "Test Fast Vault DKLS",
     "Server-06287", 2, "", NULL},
    {"Test Fast Vault DKLS-8d9b-share2of2.vult", NULL, "DKLS", "Test Fast Vault DKLS",
     "Dorian\u2019s Mac mini-ABC", 2, "", NULL},
    {"TestFastVault-44fd-share1of2-Vultiserver.vult", "Password123!", "DKLS", "TestFastVault",
     "Server-94060", 2, "", NULL},
    {"TestFastVault-44fd-share2of2-Password123!.vult", "Password123!", "DKLS", "TestFastVault",
     "iPhone-5C9", 2, "", NULL},
    {"TestSecureVault-cfa0-share1of2-Password123!.vult", "Password123!", "DKLS", "TestSecureVault",
     "iPhone-5C9", 2, "", NULL},
    {"TestSecureVault-cfa0-share2of2-NoPassword.vult", NULL, "DKLS", "TestSecureVault",
     "jp\u2019s MacBook Air-EE5", 2, "", NULL},
    {"qa-fast-share1of2.vult", NULL, "DKLS", "vulticli01", "iPhone-CBC", 2, "", NULL},
    {"qa-fast-share2of2.vult", "vulticli01", "DKLS", "vulticli01", "Server-97859", 2, "", NULL},
    {"qa-secure-share1of3.vult", NULL, "DKLS", "QA Secure Vault 01", "windows-227", 3, "", NULL},
    {"qa-secure-share2of3.vult", NULL, "DKLS", "QA Secure Vault 01", "iPhone-CBC", 3, "", NULL},
    {"qa-secure-share3of3.vult", NULL, "DKLS", "QA Secure Vault 01",
     "Tony\u2019s MacBook Air-C4E", 3, "", NULL},
    {"honeypot.bak", NULL, "GG20", "JP Honeypot Vault", "iPad-D3842FFB838E", 3, "2c5e9ced", NULL},
    {"test_android_vault_backup.bak", "android_test_pwd", "GG20", "TestVault", "PCT-L29-919", 3,
     NULL, NULL},
    {"test_ios_vault_backup.bak", "ios_test_pwd", "GG20", "TestVault",
     "admin\u2019s Mac mini-17A", 3, NULL, NULL},
};

static bool str_is(struct vult_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

static uint8_t *read_fixture(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    uint8_t *bytes = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (io_read_file(&bytes, len, AT_FDCWD, path, VULT_MAX_FILE_BYTES) < 0)
        return NULL;
    return bytes;
}

/* The encrypted blob inside a file, through an independent path (sodium's
 * base64 and a hand walk of the two-field container) for byte checks. */
static uint8_t *blob_of(const uint8_t *file, size_t len, size_t *blob_len)
{
    size_t outer_len, skip = 2; /* 08 01 */
    uint8_t *outer = malloc(len), *blob = NULL;
    if (sodium_base642bin(outer, len, (const char *)file, len, NULL, &outer_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || outer[skip] != 0x12)
        goto out;
    skip++;
    size_t inner_len = 0;
    for (unsigned shift = 0;; shift += 7) {
        inner_len |= (size_t)(outer[skip] & 0x7f) << shift;
        if (!(outer[skip++] & 0x80))
            break;
    }
    blob = malloc(inner_len);
    if (sodium_base642bin(blob, inner_len, (const char *)outer + skip, inner_len, NULL, blob_len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(blob);
        blob = NULL;
    }
out:
    free(outer);
    return blob;
}

static void test_fixture(const char *dir, const struct fixture *fx, struct backup_keycache *cache)
{
    size_t len;
    uint8_t *bytes = read_fixture(dir, fx->file, &len);
    struct vult_file file;
    struct vult_password right = {fx->password, fx->password ? strlen(fx->password) : 0};
    struct vult_password wrong = {"not-the-password", 16};
    int ret;

    CHECK(bytes != NULL);
    if (!bytes)
        return;

    ret = vult_decode(&file, bytes, len, &right, fx->password ? 1 : 0, cache);
    CHECK_EQ_INT(ret, 0);
    if (ret < 0) {
        fprintf(stderr, "  fixture %s\n", fx->file);
        goto out;
    }
    CHECK_EQ_INT(file.version, 1);
    CHECK_EQ_INT(file.scheme, fx->password ? BACKUP_CRYPTO_LEGACY : BACKUP_CRYPTO_NONE);
    const struct vult_vault *vp = &file.vault;
#define vault (*vp)
    CHECK(str_is(vault.name, fx->name));
    CHECK(str_is(vault.local_party_id, fx->device));
    CHECK_EQ_STR(vult_lib_type_name(vault.lib_type), fx->lib);
    CHECK_EQ_INT(vault.signer_count, fx->signers);
    if (fx->reshare_prefix)
        CHECK(str_is(vault.reshare_prefix, fx->reshare_prefix));
    CHECK(vault.public_key_ecdsa.len == 66);
    CHECK(completeness_of(&vault).gap == COMPLETENESS_OK);
#undef vault

    /* The apps' own bytes come back from our encoder: unencrypted files
     * directly, encrypted ones with the nonce the app chose. */
    size_t n = vult_encoded_len(file.vault_len, file.scheme);
    CHECK_EQ_INT(n, len);
    char *again = alloc_secret(n);
    if (file.scheme == BACKUP_CRYPTO_NONE) {
        CHECK_EQ_INT(vult_encode(again, n, file.vault_bytes, file.vault_len, BACKUP_CRYPTO_NONE,
                                 NULL, NULL, NULL), 0);
    } else {
        uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
        size_t blob_len = 0;
        uint8_t *blob = blob_of(bytes, len, &blob_len);
        CHECK(blob != NULL);
        backup_crypto_key_legacy(key, (const uint8_t *)fx->password, strlen(fx->password));
        CHECK_EQ_INT(vult_encode(again, n, file.vault_bytes, file.vault_len,
                                 BACKUP_CRYPTO_LEGACY, NULL, blob, key), 0);
        free(blob);
    }
    CHECK(n == len && memcmp(again, bytes, len) == 0);
    alloc_secret_free(again);

    if (fx->password) {
        struct vult_file other;
        CHECK_EQ_INT(vult_decode(&other, bytes, len, &wrong, 1, cache), -EACCES);
        CHECK(other.vault_bytes == NULL);
        CHECK_EQ_INT(vult_decode(&other, bytes, len, NULL, 0, cache), -EACCES);
        /* a wrong password first, the right one second: tried in order */
        struct vult_password both[2] = {wrong, right};
        CHECK_EQ_INT(vult_decode(&other, bytes, len, both, 2, cache), 0);
        vult_file_clear(&other);
    }
    vult_file_clear(&file);
out:
    alloc_free(bytes);
}

/* Every single byte of an encrypted fixture's ciphertext, changed, fails
 * authentication. Sampled with a stride plus both ends, since each try
 * decodes the whole file. */
static void test_fixture_tamper(const char *dir)
{
    size_t len, blob_len;
    uint8_t *bytes = read_fixture(dir, "qa-fast-share2of2.vult", &len);
    if (!bytes) {
        CHECK(0);
        return;
    }
    uint8_t *blob = blob_of(bytes, len, &blob_len);
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t *plain = malloc(blob_len);
    size_t plain_len;
    int failures = 0, tries = 0;

    backup_crypto_key_legacy(key, (const uint8_t *)"vulticli01", 10);
    CHECK_EQ_INT(backup_crypto_decrypt(plain, &plain_len, blob, blob_len, BACKUP_CRYPTO_LEGACY,
                                       key), 0);
    for (size_t i = 0; i < blob_len; i += (i < 64 || i > blob_len - 64) ? 1 : 97) {
        blob[i] ^= 0x01;
        tries++;
        if (backup_crypto_decrypt(plain, &plain_len, blob, blob_len, BACKUP_CRYPTO_LEGACY, key) !=
            -EACCES)
            failures++;
        blob[i] ^= 0x01;
    }
    CHECK_EQ_INT(failures, 0);
    CHECK(tries > 1000);
    free(plain);
    free(blob);
    alloc_free(bytes);
}

static void test_fixtures(void)
{
    const char *dir = check_fixtures_dir();
    if (!dir) {
        fprintf(stderr, "test_vult: ../shared/fixtures absent, fixture checks skipped\n");
        return;
    }
    struct backup_keycache *cache = backup_keycache_new();
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
        test_fixture(dir, &fixtures[i], cache);
    backup_keycache_free(cache);
    test_fixture_tamper(dir);

    /* The apps' naming rule reproduces the names the SDK gave its files. */
    size_t len;
    uint8_t *bytes = read_fixture(dir, "TestSecureVault-cfa0-share2of2-NoPassword.vult", &len);
    struct vult_file file;
    if (bytes && vult_decode(&file, bytes, len, NULL, 0, NULL) == 0) {
        char *name = vult_suggested_filename(&file.vault);
        CHECK_EQ_STR(name, "TestSecureVault-cfa0-share2of2.vult");
        alloc_free(name);
        vult_file_clear(&file);
    } else {
        CHECK(0);
    }
    alloc_free(bytes);

    /* The android backup lists three key shares, one for another key:
     * shares are picked by public key. */
    bytes = read_fixture(dir, "test_android_vault_backup.bak", &len);
    struct vult_password pw = {"android_test_pwd", 16};
    if (bytes && vult_decode(&file, bytes, len, &pw, 1, NULL) == 0) {
        const struct vult_vault *vault = &file.vault;
        CHECK_EQ_INT(vault->key_share_count, 3);
        CHECK(vult_vault_key_share(vault, vault->public_key_ecdsa) != NULL);
        CHECK(vult_vault_key_share(vault, vault->public_key_eddsa) != NULL);
        vult_file_clear(&file);
    } else {
        CHECK(0);
    }
    alloc_free(bytes);
}

/* ---- synthetic ---------------------------------------------------------- */

static const struct synth_spec base_spec = {
    .name = "Synthetic Test Vault",
    .device = "synthetic-device-1",
    .signers = {"synthetic-device-1", "synthetic-device-2"},
    .lib_type = VULT_LIB_DKLS,
};

static const uint8_t fixed_salt[BACKUP_CRYPTO_SALT_BYTES] = "0123456789abcdef";
static const uint8_t fixed_nonce[BACKUP_CRYPTO_NONCE_BYTES] = "nonce-nonce";

/* Encodes vault bytes in a scheme with the password, as a fresh buffer. */
static char *encode_with(size_t *len, const uint8_t *vault, size_t vault_len,
                         enum backup_crypto_scheme scheme, const char *password)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES] = {0};
    if (scheme == BACKUP_CRYPTO_LEGACY)
        backup_crypto_key_legacy(key, (const uint8_t *)password, strlen(password));
    else if (scheme == BACKUP_CRYPTO_CURRENT)
        backup_crypto_key_current(key, (const uint8_t *)password, strlen(password), fixed_salt);
    *len = vult_encoded_len(vault_len, scheme);
    char *out = alloc_bytes(*len);
    if (vult_encode(out, *len, vault, vault_len, scheme, fixed_salt, fixed_nonce, key) != 0) {
        alloc_free(out);
        return NULL;
    }
    return out;
}

static void test_round_trips(void)
{
    uint8_t *vault;
    size_t vault_len;
    struct vult_password pw = {"synthetic password", 18};
    struct backup_keycache *cache = backup_keycache_new();

    CHECK_EQ_INT(synth_vault(&vault, &vault_len, &base_spec), 0);
    for (int scheme = BACKUP_CRYPTO_NONE; scheme <= BACKUP_CRYPTO_CURRENT; scheme++) {
        size_t len;
        char *text = encode_with(&len, vault, vault_len, scheme, pw.ptr);
        struct vult_file file;
        CHECK(text != NULL);
        if (!text)
            continue;
        CHECK_EQ_INT(vult_decode(&file, (uint8_t *)text, len, &pw, 1, cache), 0);
        CHECK_EQ_INT(file.scheme, scheme);
        CHECK(file.vault_len == vault_len && memcmp(file.vault_bytes, vault, vault_len) == 0);
        vult_file_clear(&file);

        /* the same inputs give the same bytes: exports are deterministic */
        size_t len2;
        char *text2 = encode_with(&len2, vault, vault_len, scheme, pw.ptr);
        CHECK(text2 && len2 == len && memcmp(text, text2, len) == 0);
        alloc_free(text2);

        /* a trailing newline (editors, echo) is tolerated */
        char *nl = alloc_bytes(len + 2);
        memcpy(nl, text, len);
        memcpy(nl + len, "\r\n", 2);
        CHECK_EQ_INT(vult_decode(&file, (uint8_t *)nl, len + 2, &pw, 1, cache), 0);
        vult_file_clear(&file);
        alloc_free(nl);

        /* every byte of the text changed to another base64 letter: a clean
         * error, or (for a changed padding-free letter in the unencrypted
         * case) a Vault that still parses; never a crash. For encrypted
         * files every change must fail. */
        int accepted = 0;
        /* the current scheme's salt makes each change inside it cost a full
         * PBKDF2: stride there to keep the test quick */
        size_t stride = scheme == BACKUP_CRYPTO_CURRENT ? 5 : 1;
        for (size_t i = 0; i < len; i += stride) {
            char saved = text[i];
            text[i] = saved == 'A' ? 'B' : 'A';
            int ret = vult_decode(&file, (uint8_t *)text, len, &pw, 1, cache);
            if (ret == 0) {
                accepted++;
                vult_file_clear(&file);
            } else {
                CHECK(ret == -EINVAL || ret == -EACCES);
                CHECK(file.vault_bytes == NULL);
            }
            text[i] = saved;
        }
        if (scheme != BACKUP_CRYPTO_NONE)
            CHECK_EQ_INT(accepted, 0);

        /* cut at every length: never accepted */
        int cut_accepted = 0;
        for (size_t cut = 0; cut < len; cut++) {
            int ret = vult_decode(&file, (uint8_t *)text, cut, &pw, 1, cache);
            if (ret == 0) {
                cut_accepted++;
                vult_file_clear(&file);
            }
        }
        CHECK_EQ_INT(cut_accepted, 0);
        alloc_free(text);
    }
    alloc_secret_free(vault);
    backup_keycache_free(cache);
}

static void test_encoding_shape(void)
{
    uint8_t *vault;
    size_t vault_len;
    size_t len;
    CHECK_EQ_INT(synth_vault(&vault, &vault_len, &base_spec), 0);

    /* One line, padded, version 1 first: "CAES" is base64 of 08 01 12. */
    char *text = encode_with(&len, vault, vault_len, BACKUP_CRYPTO_NONE, "");
    CHECK(text && memcmp(text, "CAES", 4) == 0);
    CHECK(text && memchr(text, '\n', len) == NULL);
    CHECK(len % 4 == 0);
    alloc_free(text);

    /* the current scheme's blob starts with the magic and the salt */
    text = encode_with(&len, vault, vault_len, BACKUP_CRYPTO_CURRENT, "pw");
    size_t blob_len;
    uint8_t *blob = blob_of((uint8_t *)text, len, &blob_len);
    CHECK(blob && memcmp(blob, "VLT\x02", 4) == 0 && memcmp(blob + 4, fixed_salt, 16) == 0);
    CHECK(blob && memcmp(blob + 20, fixed_nonce, 12) == 0);
    CHECK_EQ_INT(blob_len, vault_len + BACKUP_CRYPTO_CURRENT_OVERHEAD);
    free(blob);
    alloc_free(text);

    CHECK_EQ_INT(vult_encode((char[4]){0}, 4, vault, vault_len, BACKUP_CRYPTO_NONE, NULL, NULL,
                             NULL), -EINVAL);
    alloc_secret_free(vault);
}

static void test_vault_rules(void)
{
    uint8_t *bytes;
    size_t len;
    struct vult_vault vault;

    struct synth_spec incomplete = base_spec;
    incomplete.omit_eddsa_share = 1;
    CHECK_EQ_INT(synth_vault(&bytes, &len, &incomplete), 0);
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, bytes, len), 0);
    CHECK(completeness_of(&vault).gap == COMPLETENESS_MISSING);
    vult_vault_clear(&vault);
    alloc_secret_free(bytes);

    /* a Vault without its ECDSA key, device or signers is not a share */
    struct synth_spec no_device = base_spec;
    no_device.device = "";
    CHECK_EQ_INT(synth_vault(&bytes, &len, &no_device), 0);
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, bytes, len), -EINVAL);
    alloc_secret_free(bytes);

    struct synth_spec gg20 = base_spec;
    gg20.lib_type = VULT_LIB_GG20;
    gg20.device = "synthetic-device-2";
    CHECK_EQ_INT(synth_vault(&bytes, &len, &gg20), 0);
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, bytes, len), 0);
    char *name = vult_suggested_filename(&vault);
    CHECK_EQ_STR(name, "Synthetic Test Vault-fa4e-part2of2.vult");
    alloc_free(name);
    vult_vault_clear(&vault);

    /* unknown fields, of every wire type, are skipped */
    uint8_t *extended = alloc_bytes(len + 32);
    memcpy(extended, bytes, len);
    static const uint8_t unknown[] = {
        0xa8, 0x01, 0x05,                                     /* 21: varint */
        0xb1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8,                   /* 22: fixed64 */
        0xba, 0x01, 0x03, 'a', 'b', 'c',                      /* 23: bytes */
        0xc5, 0x01, 1, 2, 3, 4,                               /* 24: fixed32 */
    };
    memcpy(extended + len, unknown, sizeof(unknown));
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, extended, len + sizeof(unknown)), 0);
    CHECK_EQ_INT(vault.signer_count, 2);
    vult_vault_clear(&vault);
    /* a group (wire type 3) or a length past the end is malformed */
    extended[len] = 0xab;
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, extended, len + sizeof(unknown)), -EINVAL);
    extended[len] = 0xba;
    extended[len + 2] = 0x7f;
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, extended, len + 3), -EINVAL);
    alloc_free(extended);
    alloc_secret_free(bytes);

    /* names and devices are UTF-8 text: the apps' own names parse, broken
     * sequences and NUL do not */
    static const char *const bad_names[] = {"bad\xff", "cut\xe2\x80", "over\xc0\xaf",
                                            "surrogate\xed\xa0\x80", "nul\0inside"};
    struct synth_spec named = base_spec;
    named.name = "Dorian\u2019s Vault \U0001F512";
    CHECK_EQ_INT(synth_vault(&bytes, &len, &named), 0);
    CHECK_EQ_INT(vult_vault_parse(&vault, NULL, bytes, len), 0);
    vult_vault_clear(&vault);
    alloc_secret_free(bytes);
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        struct vult_vault v = {0};
        size_t name_len = i == 4 ? 11 : strlen(bad_names[i]);
        CHECK_EQ_INT(synth_vault(&bytes, &len, &base_spec), 0);
        CHECK_EQ_INT(vult_vault_parse(&v, NULL, bytes, len), 0);
        v.name = (struct vult_str){bad_names[i], name_len};
        uint8_t *re;
        size_t re_len;
        CHECK_EQ_INT(vult_vault_encode(&re, &re_len, &v), 0);
        CHECK_EQ_INT(vult_vault_parse(&vault, NULL, re, re_len), -EINVAL);
        vult_vault_clear(&v);
        alloc_secret_free(re);
        alloc_secret_free(bytes);
    }

    char when[64];
    vult_format_time(when, sizeof(when), 1714564800, 0);
    CHECK_EQ_STR(when, "2024-05-01T12:00:00Z");
    vult_format_time(when, sizeof(when), 1714564800, 250000000);
    CHECK_EQ_STR(when, "2024-05-01T12:00:00.25Z");
}

static void test_garbage(void)
{
    struct vult_file file;
    uint8_t buf[4096];

    CHECK_EQ_INT(vult_decode(&file, (const uint8_t *)"", 0, NULL, 0, NULL), -EINVAL);
    CHECK_EQ_INT(vult_decode(&file, (const uint8_t *)"hello world", 11, NULL, 0, NULL), -EINVAL);
    /* base64 of a valid container holding base64 of garbage */
    CHECK_EQ_INT(vult_decode(&file, (const uint8_t *)"CAESBEFBQUE=", 12, NULL, 0, NULL), -EINVAL);

    /* a 2024 .dat file (hex of JSON) without the fields of a vault */
    static const char dat[] = "7b226e616d65223a2274657374227d";
    CHECK_EQ_INT(vult_decode(&file, (const uint8_t *)dat, sizeof(dat) - 1, NULL, 0, NULL),
                 -EINVAL);

    /* random bytes and random base64 text: always a clean error */
    int accepted = 0;
    for (int round = 0; round < 2000; round++) {
        size_t len = randombytes_uniform(sizeof(buf));
        randombytes_buf(buf, len);
        if (round % 2) {
            char *b64 = malloc(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
            sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL),
                              buf, len, sodium_base64_VARIANT_ORIGINAL);
            accepted += vult_decode(&file, (uint8_t *)b64, strlen(b64), NULL, 0, NULL) == 0;
            free(b64);
        } else {
            accepted += vult_decode(&file, buf, len, NULL, 0, NULL) == 0;
        }
    }
    CHECK_EQ_INT(accepted, 0);

    /* larger than the codec's cap */
    uint8_t *huge = calloc(1, VULT_MAX_FILE_BYTES + 1);
    CHECK_EQ_INT(vult_decode(&file, huge, VULT_MAX_FILE_BYTES + 1, NULL, 0, NULL), -EFBIG);
    free(huge);
}

/* ---- key share shapes --------------------------------------------------- */

/* The .vult text of vault bytes with `byte` written at `pos` of the outer
 * text (layer 0) or of the inner base64 inside the container (layer 1). */
static char *text_with_byte(size_t *len, const uint8_t *vault, size_t vault_len, int layer,
                            size_t pos, uint8_t byte)
{
    char *text = encode_with(len, vault, vault_len, BACKUP_CRYPTO_NONE, "");
    if (!text || layer == 0) {
        if (text)
            text[pos] = (char)byte;
        return text;
    }
    uint8_t *outer = malloc(*len);
    size_t outer_len;
    if (sodium_base642bin(outer, *len, text, *len, NULL, &outer_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(outer);
        alloc_free(text);
        return NULL;
    }
    /* The container starts 08 01 12 <varint length>: the inner text follows. */
    size_t start = 3;
    while (outer[start] & 0x80)
        start++;
    outer[start + 1 + pos] = byte;
    char *again = malloc(*len + 1);
    sodium_bin2base64(again, *len + 1, outer, outer_len, sodium_base64_VARIANT_ORIGINAL);
    memcpy(text, again, *len);
    free(again);
    free(outer);
    return text;
}

static void test_bytes_outside_alphabet(void)
{
    uint8_t *vault;
    size_t vault_len;
    int accepted = 0, not_einval = 0;

    CHECK_EQ_INT(synth_vault(&vault, &vault_len, &base_spec), 0);
    size_t inner_len = (vault_len + 2) / 3 * 4;
    for (int layer = 0; layer < 2; layer++) {
        size_t limit = layer == 0 ? vult_encoded_len(vault_len, BACKUP_CRYPTO_NONE) : inner_len;
        const size_t positions[] = {0, 1, limit / 2, limit - 3};
        for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
            for (unsigned byte = 0x80; byte <= 0xff; byte++) {
                size_t len;
                struct vult_file file;
                char *text = text_with_byte(&len, vault, vault_len, layer, positions[p],
                                            (uint8_t)byte);
                CHECK(text != NULL);
                if (!text)
                    continue;
                int ret = vult_decode(&file, (uint8_t *)text, len, NULL, 0, NULL);
                accepted += ret == 0;
                not_einval += ret != -EINVAL;
                vult_file_clear(&file);
                alloc_free(text);
            }
        }
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(not_einval, 0);
    alloc_secret_free(vault);
}

/* A key share is JSON text (GG20) or canonical base64 (DKLS; early DKLS
 * files lack lib_type, so GG20 takes base64 too). */
static void test_key_share_shapes(void)
{
    static const struct {
        unsigned lib_type;
        const char *keyshare;
        int want;
    } cases[] = {
        {VULT_LIB_GG20, "{\"share\": \"x\"}", 0},
        {VULT_LIB_GG20, "QUJD", 0},
        {VULT_LIB_GG20, "plain words", -EINVAL},
        {VULT_LIB_GG20, "{\"unterminated\"", -EINVAL},
        {VULT_LIB_GG20, "{\"bad utf-8\": \"\xff\"}", -EINVAL},
        {VULT_LIB_DKLS, "QUJD", 0},
        {VULT_LIB_DKLS, "QUI=", 0},
        {VULT_LIB_DKLS, "{\"share\": \"x\"}", -EINVAL},
        {VULT_LIB_DKLS, "QUJ=", -EINVAL},
        {VULT_LIB_DKLS, "QUJ", -EINVAL},
        {VULT_LIB_DKLS, "QU\x80" "D", -EINVAL},
        {VULT_LIB_KEYIMPORT, "QU-D", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vult_vault v, parsed;
        struct vult_str signer = {"dev", 3};
        struct vult_key_share share;
        uint8_t *bytes;
        size_t len;
        memset(&v, 0, sizeof(v));
        v.name = (struct vult_str){"Shapes", 6};
        v.public_key_ecdsa = (struct vult_str){"02aa", 4};
        v.local_party_id = signer;
        v.signers = &signer;
        v.signer_count = 1;
        v.lib_type = cases[i].lib_type;
        share = (struct vult_key_share){v.public_key_ecdsa,
                                        {cases[i].keyshare, strlen(cases[i].keyshare)}};
        v.key_shares = &share;
        v.key_share_count = 1;
        CHECK_EQ_INT(vult_vault_encode(&bytes, &len, &v), 0);
        int ret = vult_vault_parse(&parsed, NULL, bytes, len);
        vult_vault_clear(&parsed);
        if (ret != cases[i].want)
            fprintf(stderr, "key share case %zu\n", i);
        CHECK_EQ_INT(ret, cases[i].want);
        alloc_secret_free(bytes);
    }
}

int main(void)
{
    if (backup_crypto_init() < 0) {
        fprintf(stderr, "test_vult: no AES-256-GCM on this CPU\n");
        return 77;
    }
    test_fixtures();
    test_round_trips();
    test_encoding_shape();
    test_vault_rules();
    test_garbage();
    test_bytes_outside_alphabet();
    test_key_share_shapes();
    return check_done("vult");
}
