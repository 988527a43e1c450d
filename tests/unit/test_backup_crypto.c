/*
 * test_backup_crypto: known answers (published PBKDF2 vectors, the apps'
 * PBKDF2 fixtures, pinned GCM blobs), tamper cases (every flipped bit and
 * every truncation fails and leaves the output zeroed) and interop with an
 * independent implementation (Node's crypto, through gcm_interop.js).
 */
#include "backup_crypto.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#define BLOB_MAX 1024

/* Tamper loops re-derive the key from each flipped salt, so they use a
 * cheaper PBKDF2; the real 600000 is covered by known answers below. */
#define TAMPER_ITERATIONS 1000u

/* "correct horse ✓": a multi-byte UTF-8 password checks that the password
 * is taken as bytes. */
static const char test_password[] = "correct horse \xe2\x9c\x93";
static const char test_plain[] = "vultfs backup round trip";

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t len = 0;

    if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL) != 0)
        return 0;
    return len;
}

static int all_zero(const uint8_t *buf, size_t len)
{
    return sodium_is_zero(buf, len);
}

static void fixed_bytes(uint8_t *out, size_t len, uint8_t first)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(first + i);
}

/* What a reader does with a blob and a password: detect the scheme, derive
 * the key (from the blob's own salt when CURRENT), decrypt. */
static int open_blob(uint8_t *plain, size_t *plain_len, const uint8_t *blob,
                     size_t blob_len, const char *password, uint32_t iterations)
{
    enum backup_crypto_scheme scheme = backup_crypto_detect(blob, blob_len);
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    size_t pw_len = strlen(password);
    int rc;

    if (scheme == BACKUP_CRYPTO_CURRENT) {
        rc = backup_crypto_salt(salt, blob, blob_len);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0)
            return rc;
        if (iterations == BACKUP_CRYPTO_PBKDF2_ITERATIONS)
            backup_crypto_key_current(key, (const uint8_t *)password, pw_len, salt);
        else
            backup_crypto_pbkdf2_sha256(key, sizeof key, (const uint8_t *)password, pw_len,
                                        salt, sizeof salt, iterations);
    } else {
        backup_crypto_key_legacy(key, (const uint8_t *)password, pw_len);
    }
    rc = backup_crypto_decrypt(plain, plain_len, blob, blob_len, scheme, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* A failed open must say so with -EACCES or -EINVAL and leave nothing in
 * plain, which open_blob's contract sizes at blob_len bytes. */
static int open_fails_clean(const uint8_t *blob, size_t blob_len, uint32_t iterations)
{
    uint8_t plain[BLOB_MAX];
    size_t plain_len = 12345;
    int rc;

    memset(plain, 0xa5, sizeof plain);
    rc = open_blob(plain, &plain_len, blob, blob_len, test_password, iterations);
    return (rc == -EACCES || rc == -EINVAL) && plain_len == 0 && all_zero(plain, blob_len);
}

/* The same with the scheme and key given, as a caller that derived the key
 * itself would decrypt. */
static int decrypt_fails_clean(const uint8_t *blob, size_t blob_len,
                               enum backup_crypto_scheme scheme,
                               const uint8_t key[BACKUP_CRYPTO_KEY_BYTES])
{
    uint8_t plain[BLOB_MAX];
    size_t plain_len = 12345;
    int rc;

    memset(plain, 0xa5, sizeof plain);
    rc = backup_crypto_decrypt(plain, &plain_len, blob, blob_len, scheme, key);
    return (rc == -EACCES || rc == -EINVAL) && plain_len == 0 && all_zero(plain, blob_len);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void test_pbkdf2_vectors(void)
{
    /* RFC 7914 section 11, and the PBKDF2-HMAC-SHA256 counterparts of the
     * RFC 6070 vectors that other libraries publish. */
    static const struct {
        const char *password;
        size_t password_len;
        const char *salt;
        size_t salt_len;
        uint32_t iterations;
        const char *hex;
    } v[] = {
        {"passwd", 6, "salt", 4, 1,
         "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
         "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
        {"Password", 8, "NaCl", 4, 80000,
         "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
         "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
        {"password", 8, "salt", 4, 1,
         "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
        {"password", 8, "salt", 4, 2,
         "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
        {"password", 8, "salt", 4, 4096,
         "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
        {"passwordPASSWORDpassword", 24, "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
         "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"},
        {"pass\0word", 9, "sa\0lt", 5, 4096, "89b69d0516f829893c696226650a8687"},
    };
    uint8_t want[64], got[64];
    size_t len, cut;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        len = unhex(want, sizeof want, v[i].hex);
        CHECK(len > 0);
        memset(got, 0, sizeof got);
        backup_crypto_pbkdf2_sha256(got, len, (const uint8_t *)v[i].password, v[i].password_len,
                                    (const uint8_t *)v[i].salt, v[i].salt_len, v[i].iterations);
        CHECK(memcmp(got, want, len) == 0);
    }

    /* Shorter outputs are prefixes, and nothing past out_len is written. */
    len = unhex(want, sizeof want, v[0].hex);
    for (cut = 0; cut < len; cut += 7) {
        memset(got, 0xee, sizeof got);
        backup_crypto_pbkdf2_sha256(got, cut, (const uint8_t *)"passwd", 6,
                                    (const uint8_t *)"salt", 4, 1);
        CHECK(memcmp(got, want, cut) == 0);
        CHECK(got[cut] == 0xee);
    }

    /* A password longer than the SHA-256 block is hashed first (RFC 2104);
     * expected value from Node's crypto.pbkdf2Sync. */
    {
        uint8_t long_pw[100];

        memset(long_pw, 'p', sizeof long_pw);
        len = unhex(want, sizeof want,
                    "7fb39a0c2291de62231e50ab5f6805b83bab97446d73dccf"
                    "38114fb21c05542759977ca37b50559f");
        backup_crypto_pbkdf2_sha256(got, len, long_pw, sizeof long_pw,
                                    (const uint8_t *)"salt", 4, 2);
        CHECK(memcmp(got, want, len) == 0);
    }
}

/* The libsodium loop backup_crypto used before nettle: kept here as an
 * independent reference, so that nettle's PBKDF2 is not trusted blindly. */
static void reference_pbkdf2(uint8_t *out, size_t out_len, const uint8_t *password,
                             size_t password_len, const uint8_t *salt, size_t salt_len,
                             uint32_t iterations)
{
    crypto_auth_hmacsha256_state keyed, st;
    uint8_t u[32], t[32], counter[4];

    crypto_auth_hmacsha256_init(&keyed, password, password_len);
    for (uint32_t block = 1; out_len > 0; block++) {
        counter[0] = (uint8_t)(block >> 24);
        counter[1] = (uint8_t)(block >> 16);
        counter[2] = (uint8_t)(block >> 8);
        counter[3] = (uint8_t)block;
        st = keyed;
        crypto_auth_hmacsha256_update(&st, salt, salt_len);
        crypto_auth_hmacsha256_update(&st, counter, sizeof counter);
        crypto_auth_hmacsha256_final(&st, u);
        memcpy(t, u, sizeof t);
        for (uint32_t n = 1; n < iterations; n++) {
            st = keyed;
            crypto_auth_hmacsha256_update(&st, u, sizeof u);
            crypto_auth_hmacsha256_final(&st, u);
            for (size_t i = 0; i < sizeof t; i++)
                t[i] ^= u[i];
        }
        size_t take = out_len < sizeof t ? out_len : sizeof t;
        memcpy(out, t, take);
        out += take;
        out_len -= take;
    }
}

/* Random passwords (past the 64-byte HMAC block too), salts, lengths and
 * counts: nettle's PBKDF2 must agree with the reference on every one. */
static void test_pbkdf2_cross_check(void)
{
    uint8_t password[200], salt[100], want[100], got[101];
    int mismatches = 0;

    for (int round = 0; round < 300; round++) {
        size_t pw_len = randombytes_uniform(sizeof password + 1);
        size_t salt_len = randombytes_uniform(sizeof salt + 1);
        size_t out_len = 1 + randombytes_uniform(sizeof want);
        uint32_t iterations = 1 + randombytes_uniform(round < 290 ? 40 : 3000);

        randombytes_buf(password, pw_len);
        randombytes_buf(salt, salt_len);
        reference_pbkdf2(want, out_len, password, pw_len, salt, salt_len, iterations);
        memset(got, 0xee, sizeof got);
        backup_crypto_pbkdf2_sha256(got, out_len, password, pw_len, salt, salt_len, iterations);
        mismatches += memcmp(got, want, out_len) != 0 || got[out_len] != 0xee;
    }
    CHECK_EQ_INT(mismatches, 0);

    /* 0 iterations is treated as 1, as before. */
    backup_crypto_pbkdf2_sha256(got, 32, (const uint8_t *)"pw", 2, (const uint8_t *)"s", 1, 0);
    reference_pbkdf2(want, 32, (const uint8_t *)"pw", 2, (const uint8_t *)"s", 1, 1);
    CHECK(memcmp(got, want, 32) == 0);
}

static void test_blank_passwords(void)
{
    static const char *const blank[] = {"", " ", "   ", "\t\n", " \r\n\v\f",
                                        "\xc2\xa0", "\xe3\x80\x80 ", "\xe2\x80\x8a"};
    static const char *const not_blank[] = {"a", " a ", "\xc2\xa0x", "\xe2\x80\x8b",
                                            "\xc2", ".", "\xe2\x80"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++)
        CHECK(backup_crypto_password_is_blank(blank[i], strlen(blank[i])));
    for (size_t i = 0; i < sizeof not_blank / sizeof not_blank[0]; i++)
        CHECK(!backup_crypto_password_is_blank(not_blank[i], strlen(not_blank[i])));
    /* A NUL is a byte of the password, not white space. */
    CHECK(!backup_crypto_password_is_blank(" \0 ", 3));
}

/* Candidates: the magic for the first `magic_first` attempts, then a
 * nonce that names its attempt. */
static void magic_then_plain(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES], uint8_t attempt, void *ctx)
{
    unsigned magic_first = *(const unsigned *)ctx;
    memset(nonce, 0x5a, BACKUP_CRYPTO_NONCE_BYTES);
    if (attempt < magic_first)
        memcpy(nonce, "VLT\x02", 4);
    nonce[11] = attempt;
}

static void test_nonce_never_looks_current(void)
{
    uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES], again[BACKUP_CRYPTO_NONCE_BYTES];
    unsigned magic_first = 2;

    /* Legacy: candidates that start with VLT 0x02 are passed over, always
     * to the same next one. */
    CHECK_EQ_INT(backup_crypto_pick_nonce(nonce, BACKUP_CRYPTO_LEGACY, magic_then_plain,
                                          &magic_first), 0);
    CHECK(memcmp(nonce, "VLT\x02", 4) != 0 && nonce[11] == 2);
    CHECK_EQ_INT(backup_crypto_pick_nonce(again, BACKUP_CRYPTO_LEGACY, magic_then_plain,
                                          &magic_first), 0);
    CHECK(memcmp(nonce, again, sizeof nonce) == 0);
    /* The current scheme puts the magic before the nonce: any nonce works. */
    CHECK_EQ_INT(backup_crypto_pick_nonce(nonce, BACKUP_CRYPTO_CURRENT, magic_then_plain,
                                          &magic_first), 0);
    CHECK(nonce[11] == 0);
    magic_first = 256;
    CHECK_EQ_INT(backup_crypto_pick_nonce(nonce, BACKUP_CRYPTO_LEGACY, magic_then_plain,
                                          &magic_first), -EAGAIN);

    /* The export nonce: attempt 0 is the keyed hash exports always used
     * (their bytes do not change), deterministic, and per plaintext. */
    uint8_t hash_key[32], export_key[BACKUP_CRYPTO_KEY_BYTES], want[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t scheme_byte = BACKUP_CRYPTO_LEGACY;
    crypto_generichash_state st;
    fixed_bytes(hash_key, sizeof hash_key, 1);
    fixed_bytes(export_key, sizeof export_key, 7);
    crypto_generichash_init(&st, hash_key, sizeof hash_key, sizeof want);
    crypto_generichash_update(&st, &scheme_byte, 1);
    crypto_generichash_update(&st, export_key, sizeof export_key);
    crypto_generichash_update(&st, (const uint8_t *)"share", 5);
    crypto_generichash_final(&st, want, sizeof want);
    CHECK_EQ_INT(backup_crypto_export_nonce(nonce, BACKUP_CRYPTO_LEGACY, hash_key, sizeof hash_key,
                                            export_key, (const uint8_t *)"share", 5), 0);
    CHECK(memcmp(nonce, want, sizeof want) == 0);
    CHECK_EQ_INT(backup_crypto_export_nonce(again, BACKUP_CRYPTO_LEGACY, hash_key, sizeof hash_key,
                                            export_key, (const uint8_t *)"shard", 5), 0);
    CHECK(memcmp(nonce, again, sizeof nonce) != 0);
}

static void test_detect_and_layout(void)
{
    uint8_t blob[BACKUP_CRYPTO_CURRENT_OVERHEAD + 1] = {'V', 'L', 'T', 0x02};
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];

    CHECK_EQ_STR(backup_crypto_scheme_name(BACKUP_CRYPTO_NONE), "none");
    CHECK_EQ_STR(backup_crypto_scheme_name(BACKUP_CRYPTO_LEGACY), "legacy");
    CHECK_EQ_STR(backup_crypto_scheme_name(BACKUP_CRYPTO_CURRENT), "current");

    CHECK_EQ_INT(backup_crypto_blob_len(BACKUP_CRYPTO_NONE, 10), 10);
    CHECK_EQ_INT(backup_crypto_blob_len(BACKUP_CRYPTO_LEGACY, 10), 38);
    CHECK_EQ_INT(backup_crypto_blob_len(BACKUP_CRYPTO_CURRENT, 10), 58);

    fixed_bytes(blob + 4, sizeof blob - 4, 0x40);
    CHECK_EQ_INT(backup_crypto_detect(blob, 0), BACKUP_CRYPTO_LEGACY);
    CHECK_EQ_INT(backup_crypto_detect(blob, 4), BACKUP_CRYPTO_LEGACY);
    CHECK_EQ_INT(backup_crypto_detect(blob, BACKUP_CRYPTO_CURRENT_OVERHEAD - 1),
                 BACKUP_CRYPTO_LEGACY);
    CHECK_EQ_INT(backup_crypto_detect(blob, BACKUP_CRYPTO_CURRENT_OVERHEAD),
                 BACKUP_CRYPTO_CURRENT);
    CHECK_EQ_INT(backup_crypto_salt(salt, blob, BACKUP_CRYPTO_CURRENT_OVERHEAD - 1), -EINVAL);
    CHECK_EQ_INT(backup_crypto_salt(salt, blob, sizeof blob), 0);
    CHECK(memcmp(salt, blob + 4, sizeof salt) == 0);
    for (size_t i = 0; i < 4; i++) {
        blob[i] ^= 0x20;
        CHECK_EQ_INT(backup_crypto_detect(blob, sizeof blob), BACKUP_CRYPTO_LEGACY);
        CHECK_EQ_INT(backup_crypto_salt(salt, blob, sizeof blob), -EINVAL);
        blob[i] ^= 0x20;
    }
}

/* Encrypts test_plain under fixed salt and nonce, checks the layout, the
 * pinned ciphertext and the decryption. key is derived by the caller. */
static void round_trip(enum backup_crypto_scheme scheme, const uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                       const char *ct_tag_hex)
{
    size_t plain_len = strlen(test_plain);
    size_t blob_len = backup_crypto_blob_len(scheme, plain_len);
    size_t header = blob_len - plain_len - BACKUP_CRYPTO_LEGACY_OVERHEAD;
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES], nonce[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t blob[BLOB_MAX], plain[BLOB_MAX], want[BLOB_MAX];
    size_t got_len = 0;

    fixed_bytes(salt, sizeof salt, 0x00);
    fixed_bytes(nonce, sizeof nonce, 0xa0);
    CHECK_EQ_INT(backup_crypto_encrypt(blob, (const uint8_t *)test_plain, plain_len, scheme,
                                       salt, nonce, key), 0);
    CHECK_EQ_INT(backup_crypto_detect(blob, blob_len), scheme);
    if (scheme == BACKUP_CRYPTO_CURRENT) {
        CHECK(memcmp(blob, "VLT\x02", 4) == 0);
        CHECK(memcmp(blob + 4, salt, sizeof salt) == 0);
    }
    CHECK(memcmp(blob + header, nonce, sizeof nonce) == 0);
    CHECK_EQ_INT(unhex(want, sizeof want, ct_tag_hex), plain_len + BACKUP_CRYPTO_TAG_BYTES);
    CHECK(memcmp(blob + header + sizeof nonce, want, plain_len + BACKUP_CRYPTO_TAG_BYTES) == 0);

    CHECK_EQ_INT(backup_crypto_decrypt(plain, &got_len, blob, blob_len, scheme, key), 0);
    CHECK_EQ_INT(got_len, plain_len);
    CHECK(memcmp(plain, test_plain, plain_len) == 0);

    /* The wrong scheme for the bytes is refused, never misread. */
    memset(plain, 0xa5, sizeof plain);
    CHECK_EQ_INT(backup_crypto_decrypt(plain, &got_len, blob, blob_len,
                                       scheme == BACKUP_CRYPTO_LEGACY ? BACKUP_CRYPTO_CURRENT
                                                                      : BACKUP_CRYPTO_LEGACY,
                                       key) < 0, 1);
    CHECK(got_len == 0 && all_zero(plain, blob_len));
    CHECK_EQ_INT(backup_crypto_decrypt(plain, &got_len, blob, blob_len, BACKUP_CRYPTO_NONE, key),
                 -EINVAL);
    CHECK_EQ_INT(backup_crypto_encrypt(blob, (const uint8_t *)test_plain, plain_len,
                                       BACKUP_CRYPTO_NONE, salt, nonce, key), -EINVAL);
}

/* Every bit flip anywhere in the blob, every truncation, and one appended
 * byte: each must fail cleanly through the whole reader path. */
static void tamper(enum backup_crypto_scheme scheme, size_t plain_len)
{
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES], nonce[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES], blob[BLOB_MAX], plain[BLOB_MAX], want[BLOB_MAX];
    size_t blob_len = backup_crypto_blob_len(scheme, plain_len);
    size_t pw_len = strlen(test_password);
    size_t got_len = 0, n;
    int flips_ok = 1, cuts_ok = 1, cuts_einval = 1;

    fixed_bytes(salt, sizeof salt, 0x10);
    fixed_bytes(nonce, sizeof nonce, 0x30);
    fixed_bytes(want, plain_len, 0x61);
    if (scheme == BACKUP_CRYPTO_CURRENT)
        backup_crypto_pbkdf2_sha256(key, sizeof key, (const uint8_t *)test_password, pw_len,
                                    salt, sizeof salt, TAMPER_ITERATIONS);
    else
        backup_crypto_key_legacy(key, (const uint8_t *)test_password, pw_len);
    CHECK_EQ_INT(backup_crypto_encrypt(blob, want, plain_len, scheme, salt, nonce, key), 0);
    CHECK_EQ_INT(open_blob(plain, &got_len, blob, blob_len, test_password, TAMPER_ITERATIONS), 0);
    CHECK(got_len == plain_len && memcmp(plain, want, plain_len) == 0);

    for (n = 0; n < blob_len * 8; n++) {
        size_t byte = n / 8;
        /* The tag does not cover the magic and salt: a flipped salt fails
         * only because the reader derives another key from it, so with the
         * key given it is the magic that decrypt must check itself. */
        int salt_byte = scheme == BACKUP_CRYPTO_CURRENT && byte >= BACKUP_CRYPTO_MAGIC_BYTES &&
                        byte < BACKUP_CRYPTO_MAGIC_BYTES + BACKUP_CRYPTO_SALT_BYTES;

        blob[byte] ^= (uint8_t)(1u << (n % 8));
        if (!open_fails_clean(blob, blob_len, TAMPER_ITERATIONS) ||
            (!salt_byte && !decrypt_fails_clean(blob, blob_len, scheme, key))) {
            fprintf(stderr, "%s: flip of bit %zu of byte %zu was accepted\n",
                    backup_crypto_scheme_name(scheme), n % 8, byte);
            flips_ok = 0;
        }
        blob[byte] ^= (uint8_t)(1u << (n % 8));
    }
    CHECK(flips_ok);

    for (n = 0; n < blob_len; n++) {
        if (!open_fails_clean(blob, n, TAMPER_ITERATIONS))
            cuts_ok = 0;
        if (!decrypt_fails_clean(blob, n, scheme, key))
            cuts_ok = 0;
        /* With the scheme given, too short is -EINVAL, not a tag failure. */
        memset(plain, 0xa5, sizeof plain);
        if (n < blob_len - plain_len &&
            (backup_crypto_decrypt(plain, &got_len, blob, n, scheme, key) != -EINVAL ||
             !all_zero(plain, n)))
            cuts_einval = 0;
    }
    CHECK(cuts_ok);
    CHECK(cuts_einval);

    blob[blob_len] = 0;
    CHECK(open_fails_clean(blob, blob_len + 1, TAMPER_ITERATIONS));

    /* The right layout under another key. */
    key[0] ^= 1;
    memset(plain, 0xa5, sizeof plain);
    CHECK_EQ_INT(backup_crypto_decrypt(plain, &got_len, blob, blob_len, scheme, key), -EACCES);
    CHECK(all_zero(plain, blob_len));
    sodium_memzero(key, sizeof key);
}

static void test_synthetic(void)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES], want[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    size_t pw_len = strlen(test_password);
    struct timespec start;

    /* Expected keys and blobs from Node's crypto for the same inputs. */
    backup_crypto_key_legacy(key, (const uint8_t *)"abc", 3);
    unhex(want, sizeof want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(memcmp(key, want, sizeof key) == 0);

    backup_crypto_key_legacy(key, (const uint8_t *)test_password, pw_len);
    unhex(want, sizeof want, "4218a2da112647e641abf31a53062ddd5ca56f91b8585db61dc94a260ed85046");
    CHECK(memcmp(key, want, sizeof key) == 0);
    round_trip(BACKUP_CRYPTO_LEGACY, key,
               "b7be40ca7882a61c7ac52de992bf199f76ef0fd5a4ac347f2916d0a27865147edbd51e48e66b2834");

    fixed_bytes(salt, sizeof salt, 0x00);
    clock_gettime(CLOCK_MONOTONIC, &start);
    backup_crypto_key_current(key, (const uint8_t *)test_password, pw_len, salt);
    fprintf(stderr, "backup_crypto: PBKDF2-HMAC-SHA256, %u iterations: %.3f s\n",
            BACKUP_CRYPTO_PBKDF2_ITERATIONS, seconds_since(&start));
    unhex(want, sizeof want, "27ce71079c6bcbfb29f9f622f966b4f60edc7b193c373d26ce555070cc0ee4bd");
    CHECK(memcmp(key, want, sizeof key) == 0);
    round_trip(BACKUP_CRYPTO_CURRENT, key,
               "8645952bcab1bd5d02ad90e300d58fb8ac866a6880c75c567758a3dbe7a518dfd37dfcc6e121eb5f");
    sodium_memzero(key, sizeof key);

    tamper(BACKUP_CRYPTO_LEGACY, 0);
    tamper(BACKUP_CRYPTO_LEGACY, 21);
    tamper(BACKUP_CRYPTO_CURRENT, 0);
    tamper(BACKUP_CRYPTO_CURRENT, 21);
}

static void test_fixture(const char *dir, const char *name)
{
    char path[4096];
    json_t *root;
    json_error_t err;
    const char *password, *plaintext, *b64;
    uint8_t blob[BLOB_MAX], plain[BLOB_MAX], salt[BACKUP_CRYPTO_SALT_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    size_t blob_len = 0, plain_len = 0;

    snprintf(path, sizeof path, "%s/pbkdf2-vectors/%s", dir, name);
    root = json_load_file(path, 0, &err);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "%s: %s\n", path, err.text);
        return;
    }
    password = json_string_value(json_object_get(root, "password"));
    plaintext = json_string_value(json_object_get(root, "plaintext"));
    b64 = json_string_value(json_object_get(root, "ciphertextBase64"));
    CHECK(password && *password && plaintext && b64);
    if (!password || !*password || !plaintext || !b64)
        goto out_decref;
    CHECK_EQ_INT(sodium_base642bin(blob, sizeof blob, b64, strlen(b64), NULL, &blob_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);

    CHECK_EQ_INT(backup_crypto_detect(blob, blob_len), BACKUP_CRYPTO_CURRENT);
    CHECK_EQ_INT(backup_crypto_salt(salt, blob, blob_len), 0);
    backup_crypto_key_current(key, (const uint8_t *)password, strlen(password), salt);
    CHECK_EQ_INT(backup_crypto_decrypt(plain, &plain_len, blob, blob_len, BACKUP_CRYPTO_CURRENT,
                                       key), 0);
    CHECK_EQ_INT(plain_len, strlen(plaintext));
    CHECK(memcmp(plain, plaintext, strlen(plaintext)) == 0);

    /* The same password with its last byte changed. */
    {
        char wrong[256];

        snprintf(wrong, sizeof wrong, "%s", password);
        wrong[strlen(wrong) - 1] ^= 1;
        backup_crypto_key_current(key, (const uint8_t *)wrong, strlen(wrong), salt);
        memset(plain, 0xa5, sizeof plain);
        CHECK_EQ_INT(backup_crypto_decrypt(plain, &plain_len, blob, blob_len,
                                           BACKUP_CRYPTO_CURRENT, key), -EACCES);
        CHECK(plain_len == 0 && all_zero(plain, blob_len));
    }
    sodium_memzero(key, sizeof key);

out_decref:
    json_decref(root);
}

/* Runs node with argv (argv[0] is "node"); returns its exit status, 127
 * when node cannot be run, -1 when it died of a signal. */
static int run_node(char *const argv[], int quiet)
{
    pid_t pid;
    int status, fd;

    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (quiet && (fd = open("/dev/null", O_WRONLY)) >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execvp("node", argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = write(fd, buf, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -EIO;
}

/* Reads a whole small file; returns its length or -errno. */
static ssize_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, cap);
    close(fd);
    return n < 0 || (size_t)n == cap ? -EIO : n;
}

static void interop_scheme(const char *script, const char *dir,
                           enum backup_crypto_scheme scheme)
{
    const char *name = backup_crypto_scheme_name(scheme);
    char pw_path[4096], plain_path[4096], blob_path[4096], out_path[4096];
    uint8_t blob[BLOB_MAX], plain[BLOB_MAX], out[BLOB_MAX];
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES], nonce[BACKUP_CRYPTO_NONCE_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    size_t plain_len = 300, pw_len = strlen(test_password), got_len = 0;
    size_t blob_len = backup_crypto_blob_len(scheme, plain_len);
    ssize_t n;

    snprintf(pw_path, sizeof pw_path, "%s/password", dir);
    snprintf(plain_path, sizeof plain_path, "%s/plain", dir);
    snprintf(blob_path, sizeof blob_path, "%s/blob", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    randombytes_buf(plain, plain_len);
    CHECK_EQ_INT(write_file(pw_path, test_password, pw_len), 0);
    CHECK_EQ_INT(write_file(plain_path, plain, plain_len), 0);

    /* node encrypts, C decrypts. */
    {
        char *argv[] = {"node", (char *)script, "encrypt", (char *)name, pw_path, plain_path,
                        blob_path, NULL};

        CHECK_EQ_INT(run_node(argv, 0), 0);
    }
    n = read_file(blob_path, blob, sizeof blob);
    CHECK_EQ_INT(n, (ssize_t)blob_len);
    if (n == (ssize_t)blob_len) {
        CHECK_EQ_INT(backup_crypto_detect(blob, blob_len), scheme);
        CHECK_EQ_INT(open_blob(out, &got_len, blob, blob_len, test_password,
                               BACKUP_CRYPTO_PBKDF2_ITERATIONS), 0);
        CHECK(got_len == plain_len && memcmp(out, plain, plain_len) == 0);
    }

    /* C encrypts, node decrypts; then node must refuse a flipped tag. */
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    if (scheme == BACKUP_CRYPTO_CURRENT)
        backup_crypto_key_current(key, (const uint8_t *)test_password, pw_len, salt);
    else
        backup_crypto_key_legacy(key, (const uint8_t *)test_password, pw_len);
    CHECK_EQ_INT(backup_crypto_encrypt(blob, plain, plain_len, scheme, salt, nonce, key), 0);
    sodium_memzero(key, sizeof key);
    CHECK_EQ_INT(write_file(blob_path, blob, blob_len), 0);
    {
        char *argv[] = {"node", (char *)script, "decrypt", pw_path, blob_path, out_path, NULL};

        CHECK_EQ_INT(run_node(argv, 0), 0);
        n = read_file(out_path, out, sizeof out);
        CHECK_EQ_INT(n, (ssize_t)plain_len);
        CHECK(n == (ssize_t)plain_len && memcmp(out, plain, plain_len) == 0);

        blob[blob_len - 1] ^= 0x80;
        CHECK_EQ_INT(write_file(blob_path, blob, blob_len), 0);
        CHECK_EQ_INT(run_node(argv, 1), 1);
    }

    unlink(pw_path);
    unlink(plain_path);
    unlink(blob_path);
    unlink(out_path);
}

static void test_interop(void)
{
    char *version_argv[] = {"node", "--version", NULL};
    const char *root = getenv("VULTFS_SOURCE_ROOT");
    const char *tmp = getenv("TMPDIR");
    char script[4096], dir[4096];

    if (!root || !*root) {
        fprintf(stderr, "backup_crypto: VULTFS_SOURCE_ROOT unset, skipping node interop\n");
        return;
    }
    if (run_node(version_argv, 1) != 0) {
        fprintf(stderr, "backup_crypto: node not found, skipping node interop\n");
        return;
    }
    snprintf(script, sizeof script, "%s/tests/unit/gcm_interop.js", root);
    snprintf(dir, sizeof dir, "%s/vultfs-gcm-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        CHECK(0 && "mkdtemp");
        return;
    }

    interop_scheme(script, dir, BACKUP_CRYPTO_LEGACY);
    interop_scheme(script, dir, BACKUP_CRYPTO_CURRENT);
    CHECK_EQ_INT(rmdir(dir), 0);
}

int main(void)
{
    const char *fixtures;
    int rc = backup_crypto_init();

    if (rc == -ENOTSUP) {
        fprintf(stderr, "backup_crypto: no AES-NI on this CPU, skipping\n");
        return 77;
    }
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        return check_done("backup_crypto");

    test_pbkdf2_vectors();
    test_pbkdf2_cross_check();
    test_blank_passwords();
    test_nonce_never_looks_current();
    test_detect_and_layout();
    test_synthetic();

    fixtures = check_fixtures_dir();
    if (fixtures) {
        test_fixture(fixtures, "extension.json");
        test_fixture(fixtures, "ios.json");
        test_fixture(fixtures, "web.json");
    } else {
        fprintf(stderr, "backup_crypto: VULTFS_FIXTURES unset, skipping fixture vectors\n");
    }

    test_interop();
    return check_done("backup_crypto");
}
