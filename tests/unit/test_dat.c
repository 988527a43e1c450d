/*
 * test_dat: the 2024 .dat backups, in all four forms, built here from the
 * layout in the fixtures' MANIFEST (no real sample is public): plain hex
 * with and without the {version, vault} wrapper, iOS's AES-GCM blob and
 * Android's base64 lines of AES-CBC (nettle encrypts them here). Each must
 * decode to the same Vault bytes; every damaged one must fail cleanly.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <sodium.h>

#include "alloc.h"
#include "backup_crypto.h"
#include "check.h"
#include "completeness.h"
#include "dat.h"
#include "vult.h"

#define PASSWORD "dat password 2024"
#define ECDSA "02aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"
#define EDDSA "1122334455667788990011223344556677889900112233445566778899001122"
#define SHARE_ECDSA "{\"FAKEKEYSHARE\": \"NOT A REAL SECRET ecdsa\", \"xi\": \"1\"}"

/* A growable byte buffer for building files. */
struct buf {
    uint8_t *data;
    size_t len;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
    b->data = realloc(b->data, b->len + len + 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* The JSON of a 2024 vault; `extra` is spliced in as more members. */
static struct buf vault_json(int wrapped, const char *created_at, const char *extra)
{
    struct buf b = {0};
    char *escaped_share = "{\\\"FAKEKEYSHARE\\\": \\\"NOT A REAL SECRET ecdsa\\\", \\\"xi\\\": \\\"1\\\"}";
    if (wrapped)
        buf_str(&b, "{\"version\": \"v1\", \"vault\": ");
    buf_str(&b, "{\"name\": \"Old Vault \\u2019 2024\", \"signers\": [\"iPhone-1A2\", \"Pixel-3B4\"], "
                "\"createdAt\": ");
    buf_str(&b, created_at);
    buf_str(&b, ", \"pubKeyECDSA\": \"" ECDSA "\", \"pubKeyEdDSA\": \"" EDDSA "\", "
                "\"hexChainCode\": \"c0dec0de\", \"keyshares\": [{\"pubkey\": \"" ECDSA
                "\", \"keyshare\": \"");
    buf_str(&b, escaped_share);
    buf_str(&b, "\"}, {\"pubkey\": \"" EDDSA "\", \"keyshare\": \"{\\\"FAKEKEYSHARE\\\": 2}\"}], "
                "\"localPartyID\": \"iPhone-1A2\"");
    buf_str(&b, extra);
    buf_str(&b, wrapped ? "}}" : "}");
    return b;
}

static struct buf hex_of(const struct buf *in)
{
    struct buf b = {malloc(in->len * 2 + 1), in->len * 2};
    sodium_bin2hex((char *)b.data, in->len * 2 + 1, in->data, in->len);
    return b;
}

static struct buf ios_with_nonce(const struct buf *hex, const char *password,
                                 const uint8_t nonce[12])
{
    uint8_t key[32];
    struct buf b = {malloc(hex->len + 28 + 1), hex->len + 28};
    backup_crypto_key_legacy(key, (const uint8_t *)password, strlen(password));
    if (backup_crypto_encrypt(b.data, hex->data, hex->len, BACKUP_CRYPTO_LEGACY, NULL, nonce,
                              key) != 0)
        b.len = 0;
    return b;
}

static struct buf ios_of(const struct buf *hex, const char *password)
{
    static const uint8_t nonce[12] = "ios-nonce-1";
    return ios_with_nonce(hex, password, nonce);
}

/* AES-256-CBC, zero IV, PKCS#7 padding byte `pad` (0: the right one). */
static struct buf cbc_of(const struct buf *hex, const char *password, int pad)
{
    uint8_t key[32], iv[16] = {0};
    struct aes256_ctx aes;
    size_t want = 16 - hex->len % 16;
    struct buf padded = {0}, ct;

    buf_add(&padded, hex->data, hex->len);
    for (size_t i = 0; i < want; i++) {
        uint8_t p = (uint8_t)(pad ? pad : (int)want);
        buf_add(&padded, &p, 1);
    }
    backup_crypto_key_legacy(key, (const uint8_t *)password, strlen(password));
    aes256_set_encrypt_key(&aes, key);
    ct = (struct buf){malloc(padded.len + 1), padded.len};
    cbc_encrypt(&aes, (nettle_cipher_func *)aes256_encrypt, 16, iv, padded.len, ct.data,
                padded.data);
    free(padded.data);
    return ct;
}

/* Android's Base64.DEFAULT: padded, a line break after every 76 letters. */
static struct buf android_text(const struct buf *ct)
{
    size_t cap = sodium_base64_ENCODED_LEN(ct->len, sodium_base64_VARIANT_ORIGINAL);
    char *flat = malloc(cap);
    struct buf b = {0};
    sodium_bin2base64(flat, cap, ct->data, ct->len, sodium_base64_VARIANT_ORIGINAL);
    for (size_t i = 0, n = strlen(flat); i < n; i += 76) {
        buf_add(&b, flat + i, n - i < 76 ? n - i : 76);
        buf_str(&b, "\n");
    }
    free(flat);
    return b;
}

static struct buf android_of(const struct buf *hex, const char *password)
{
    struct buf ct = cbc_of(hex, password, 0);
    struct buf b = android_text(&ct);
    free(ct.data);
    return b;
}

static int decode_with(struct vult_file *file, const struct buf *b, const char *const *passwords,
                       size_t count)
{
    struct vult_password pw[4];
    for (size_t i = 0; i < count; i++)
        pw[i] = (struct vult_password){passwords[i], strlen(passwords[i])};
    return vult_decode(file, b->data, b->len, pw, count, NULL);
}

static int str_is(struct vult_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static void check_facts(const struct vult_file *file, int64_t created_at)
{
    const struct vult_vault *vp = &file->vault;
#define v (*vp)
    CHECK_EQ_INT(file->version, VULT_CONTAINER_VERSION);
    if (!file->vault_bytes) {
        CHECK(0);
        return;
    }
    CHECK(str_is(v.name, "Old Vault \xe2\x80\x99 2024"));
    CHECK(str_is(v.public_key_ecdsa, ECDSA) && str_is(v.public_key_eddsa, EDDSA));
    CHECK(v.signer_count == 2 && str_is(v.signers[1], "Pixel-3B4"));
    CHECK(str_is(v.local_party_id, "iPhone-1A2"));
    CHECK(str_is(v.hex_chain_code, "c0dec0de"));
    CHECK_EQ_INT(v.lib_type, VULT_LIB_GG20);
    CHECK_EQ_INT(v.created_at_seconds, created_at);
    CHECK(v.key_share_count == 2 && str_is(v.key_shares[0].keyshare, SHARE_ECDSA));
    CHECK(completeness_of(&v).gap == COMPLETENESS_OK);
#undef v
}

/* An iOS .dat is binary: its last byte (of the GCM tag) is any byte, a
 * newline or a space among them (1 file in 64), and none may be cut as a
 * text file's trailing newline is. */
static void test_ios_blob_ending_in_white_space(void)
{
    static const char *const right[] = {PASSWORD};
    struct buf json = vault_json(1, "735000000", ""), hex = hex_of(&json);
    const char *ends = " \t\r\n";

    for (const char *end = ends; *end; end++) {
        struct buf blob = {0};
        uint8_t nonce[12] = {0};
        for (uint32_t n = 0; n < 100000; n++) {
            memcpy(nonce, &n, sizeof(n));
            free(blob.data);
            blob = ios_with_nonce(&hex, PASSWORD, nonce);
            if (blob.len && blob.data[blob.len - 1] == (uint8_t)*end)
                break;
        }
        CHECK(blob.len && blob.data[blob.len - 1] == (uint8_t)*end);
        struct vult_file file;
        CHECK_EQ_INT(dat_detect(blob.data, blob.len), DAT_IOS);
        CHECK_EQ_INT(decode_with(&file, &blob, right, 1), 0);
        vult_file_clear(&file);
        free(blob.data);
    }
    free(json.data);
    free(hex.data);
}

static void test_four_forms(void)
{
    static const char *const right[] = {PASSWORD};
    struct buf wrapped = vault_json(1, "735000000", ""), bare = vault_json(0, "735000000", "");
    struct buf forms[4];
    forms[0] = hex_of(&wrapped);
    forms[1] = hex_of(&bare);
    forms[2] = ios_of(&forms[0], PASSWORD);
    forms[3] = android_of(&forms[1], PASSWORD);
    const enum dat_form want_form[] = {DAT_PLAIN, DAT_PLAIN, DAT_IOS, DAT_ANDROID};
    const enum backup_crypto_scheme want_scheme[] = {BACKUP_CRYPTO_NONE, BACKUP_CRYPTO_NONE,
                                                     BACKUP_CRYPTO_LEGACY, BACKUP_CRYPTO_LEGACY};
    uint8_t *first = NULL;
    size_t first_len = 0;

    for (int i = 0; i < 4; i++) {
        struct vult_file file;
        CHECK_EQ_INT(dat_detect(forms[i].data, forms[i].len), want_form[i]);
        CHECK_EQ_INT(decode_with(&file, &forms[i], right, i < 2 ? 0 : 1), 0);
        CHECK_EQ_INT(file.scheme, want_scheme[i]);
        check_facts(&file, 735000000 + DAT_APPLE_EPOCH);
        /* Every form of one vault gives the same Vault bytes. */
        if (i == 0) {
            first = malloc(file.vault_len);
            memcpy(first, file.vault_bytes, file.vault_len);
            first_len = file.vault_len;
        } else {
            CHECK(file.vault_len == first_len &&
                  memcmp(file.vault_bytes, first, first_len) == 0);
        }
        /* ...which a .vult carries like any other (what an export is). */
        if (file.vault_bytes) {
            size_t len = vult_encoded_len(file.vault_len, BACKUP_CRYPTO_NONE);
            char *text = malloc(len);
            struct vult_file again;
            CHECK_EQ_INT(vult_encode(text, len, file.vault_bytes, file.vault_len,
                                     BACKUP_CRYPTO_NONE, NULL, NULL, NULL), 0);
            CHECK_EQ_INT(vult_decode(&again, (uint8_t *)text, len, NULL, 0, NULL), 0);
            CHECK(again.vault_len == file.vault_len &&
                  memcmp(again.vault_bytes, file.vault_bytes, file.vault_len) == 0);
            CHECK_EQ_INT(dat_detect((uint8_t *)text, len), DAT_NOT_DAT);
            vult_file_clear(&again);
            free(text);
        }
        vult_file_clear(&file);
    }
    /* Android's lines may end in CR LF too, and the file in a newline. */
    struct buf crlf = {0};
    for (size_t i = 0; i < forms[3].len; i++)
        buf_add(&crlf, forms[3].data[i] == '\n' ? "\r\n" : (char *)&forms[3].data[i],
                forms[3].data[i] == '\n' ? 2 : 1);
    struct vult_file file;
    CHECK_EQ_INT(decode_with(&file, &crlf, right, 1), 0);
    vult_file_clear(&file);
    free(crlf.data);
    free(first);
    for (int i = 0; i < 4; i++)
        free(forms[i].data);
    free(wrapped.data);
    free(bare.data);
}

/* Damaged, truncated, wrongly padded, or the wrong password: a clean
 * -EINVAL or -EACCES, never success. */
static void test_bad_input(void)
{
    static const char *const right[] = {PASSWORD};
    static const char *const wrong[] = {"not the password"};
    struct buf json = vault_json(1, "0", "");
    struct buf hex = hex_of(&json);
    struct buf ios = ios_of(&hex, PASSWORD), android = android_of(&hex, PASSWORD);
    struct vult_file file;
    struct buf b;

    /* plain: odd length, a non-hex letter, cut JSON, missing member */
    b = (struct buf){hex.data, hex.len - 1};
    CHECK_EQ_INT(decode_with(&file, &b, NULL, 0), -EINVAL);
    b = (struct buf){hex.data, hex.len - 2};
    CHECK_EQ_INT(decode_with(&file, &b, NULL, 0), -EINVAL);
    b = (struct buf){hex.data, hex.len};
    hex.data[100] = 'g';
    CHECK_EQ_INT(decode_with(&file, &b, NULL, 0), -EINVAL);
    hex.data[100] = '2';
    const char *const broken[] = {
        "{\"version\": \"v1\"}",
        "{\"version\": \"v2\", \"vault\": {\"name\": \"x\"}}",
        "{\"name\": \"x\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", \"keyshares\": []}",
        "{\"name\": 5, \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", \"keyshares\": [], "
        "\"localPartyID\": \"a\"}",
        "{\"name\": \"x\", \"signers\": \"a\", \"pubKeyECDSA\": \"02aa\", \"keyshares\": [], "
        "\"localPartyID\": \"a\"}",
        "{\"name\": \"x\", \"name\": \"y\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", "
        "\"keyshares\": [], \"localPartyID\": \"a\"}",
        "{\"name\": \"x\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", \"keyshares\": [], "
        "\"localPartyID\": \"a\", \"createdAt\": \"yesterday\"}",
        "{\"name\": \"x\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", \"keyshares\": [], "
        "\"localPartyID\": \"a\", \"createdAt\": -5}",
        "{\"name\": \"x\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"02aa\", \"keyshares\": [], "
        "\"localPartyID\": \"a\", \"libType\": \"FROST\"}",
        "{\"name\": \"x\", \"signers\": [\"a\"], \"pubKeyECDSA\": \"zz\", \"keyshares\": [], "
        "\"localPartyID\": \"a\"}",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        struct buf j = {(uint8_t *)(uintptr_t)broken[i], strlen(broken[i])};
        struct buf h = hex_of(&j);
        int ret = decode_with(&file, &h, NULL, 0);
        if (ret != -EINVAL)
            fprintf(stderr, "broken JSON %zu: %d\n", i, ret);
        CHECK_EQ_INT(ret, -EINVAL);
        free(h.data);
    }

    /* iOS: no password, the wrong one, a cut tag, a right key over text
     * that is not hex */
    CHECK_EQ_INT(decode_with(&file, &ios, NULL, 0), -EACCES);
    CHECK_EQ_INT(decode_with(&file, &ios, wrong, 1), -EACCES);
    b = (struct buf){ios.data, ios.len - 1};
    CHECK_EQ_INT(decode_with(&file, &b, right, 1), -EACCES);
    struct buf not_hex = {(uint8_t *)"7b not hex at all, but long enough", 34};
    struct buf ios_not_hex = ios_of(&not_hex, PASSWORD);
    CHECK_EQ_INT(decode_with(&file, &ios_not_hex, right, 1), -EINVAL);
    free(ios_not_hex.data);

    /* Android: no password, the wrong one, a cut line, a block short */
    CHECK_EQ_INT(decode_with(&file, &android, NULL, 0), -EACCES);
    CHECK_EQ_INT(decode_with(&file, &android, wrong, 1), -EACCES);
    b = (struct buf){android.data, android.len - 2};
    CHECK_EQ_INT(decode_with(&file, &b, right, 1), -EINVAL);
    struct buf ct = cbc_of(&hex, PASSWORD, 0);
    struct buf short_ct = {ct.data, ct.len - 3};
    struct buf short_text = android_text(&short_ct);
    CHECK_EQ_INT(decode_with(&file, &short_text, right, 1), -EINVAL);
    free(short_text.data);
    free(ct.data);
    /* padding bytes that do not match, or past a block, with the right key */
    for (int pad = 17; pad <= 18; pad++) {
        struct buf bad_ct = cbc_of(&hex, PASSWORD, pad == 17 ? 17 : 0x5a);
        struct buf bad = android_text(&bad_ct);
        CHECK_EQ_INT(decode_with(&file, &bad, right, 1), -EACCES);
        free(bad.data);
        free(bad_ct.data);
    }
    CHECK(file.vault_bytes == NULL && file.vault_len == 0);
    free(json.data);
    free(hex.data);
    free(ios.data);
    free(android.data);
}

/* The desktop app's pitfall: a wrong password whose CBC output happens to
 * end in valid PKCS#7 padding (once in 256) must count as wrong, and the
 * next password must still be tried. */
static void test_lucky_wrong_password(void)
{
    struct buf json = vault_json(1, "0", "");
    struct buf hex = hex_of(&json);
    struct buf ct = cbc_of(&hex, PASSWORD, 0);
    struct buf android = android_text(&ct);
    char lucky[32] = "";

    for (int i = 0; i < 100000 && !lucky[0]; i++) {
        char guess[32];
        uint8_t key[32], iv[16] = {0}, last[16];
        struct aes256_ctx aes;
        snprintf(guess, sizeof(guess), "wrong-%d", i);
        backup_crypto_key_legacy(key, (const uint8_t *)guess, strlen(guess));
        aes256_set_decrypt_key(&aes, key);
        /* the last block decrypts with the one before it as its IV */
        memcpy(iv, ct.data + ct.len - 32, 16);
        cbc_decrypt(&aes, (nettle_cipher_func *)aes256_decrypt, 16, iv, 16, last,
                    ct.data + ct.len - 16);
        if (last[15] == 1)
            snprintf(lucky, sizeof(lucky), "%s", guess);
    }
    CHECK(lucky[0] != 0);
    const char *const lucky_only[] = {lucky};
    const char *const lucky_then_right[] = {lucky, PASSWORD};
    struct vult_file file;
    CHECK_EQ_INT(decode_with(&file, &android, lucky_only, 1), -EACCES);
    CHECK_EQ_INT(decode_with(&file, &android, lucky_then_right, 2), 0);
    vult_file_clear(&file);
    /* An empty password is a password like any other: wrong here. */
    const char *const empty[] = {""};
    CHECK_EQ_INT(decode_with(&file, &android, empty, 1), -EACCES);
    free(android.data);
    free(ct.data);
    free(hex.data);
    free(json.data);
}

static void test_dates(void)
{
    int64_t s;
    int32_t ns;

    /* Android writes 0.0: no date. */
    CHECK(dat_created_at(&s, &ns, 0.0) == 0 && s == 0 && ns == 0);
    /* iOS: seconds since 2001-01-01, to the microsecond. */
    CHECK(dat_created_at(&s, &ns, 735000000.25) == 0 && s == 1713307200 && ns == 250000000);
    CHECK(dat_created_at(&s, &ns, 1.5) == 0 && s == DAT_APPLE_EPOCH + 1 && ns == 500000000);
    CHECK(dat_created_at(&s, &ns, 999999999.0) == 0 && s == 999999999 + DAT_APPLE_EPOCH);
    /* Unix seconds pass unchanged. */
    CHECK(dat_created_at(&s, &ns, 1713307200.0) == 0 && s == 1713307200 && ns == 0);
    CHECK(dat_created_at(&s, &ns, 1e9) == 0 && s == 1000000000);
    /* A fraction that rounds up to the next second carries. */
    CHECK(dat_created_at(&s, &ns, 1713307200.9999999) == 0 && s == 1713307201 && ns == 0);
    CHECK_EQ_INT(dat_created_at(&s, &ns, -1.0), -EINVAL);
    CHECK_EQ_INT(dat_created_at(&s, &ns, NAN), -EINVAL);
    CHECK_EQ_INT(dat_created_at(&s, &ns, INFINITY), -EINVAL);
    CHECK_EQ_INT(dat_created_at(&s, &ns, 1e12), -EINVAL);

    /* Through a whole file: Unix seconds, Android's 0.0, a fraction. */
    static const struct {
        const char *json;
        int64_t want;
    } cases[] = {{"1713307200", 1713307200}, {"0.0", 0}, {"735000000.5", 1713307200}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf json = vault_json(i % 2, cases[i].json, ", \"id\": \"x\", \"coins\": []");
        struct buf hex = hex_of(&json);
        struct vult_file file;
        CHECK_EQ_INT(decode_with(&file, &hex, NULL, 0), 0);
        if (file.vault_bytes)
            check_facts(&file, cases[i].want);
        vult_file_clear(&file);
        free(hex.data);
        free(json.data);
    }
}

/* libType and resharePrefix, when a .dat has them; the key share shape
 * rule holds here as for any file. */
static void test_lib_type(void)
{
    static const struct {
        const char *extra;
        int want;
        uint64_t lib;
    } cases[] = {
        {", \"libType\": \"GG20\", \"resharePrefix\": \"2c5e9ced\"", 0, VULT_LIB_GG20},
        {", \"libType\": 0", 0, VULT_LIB_GG20},
        {", \"libType\": null", 0, VULT_LIB_GG20},
        {", \"libType\": \"DKLS\"", -EINVAL, 0}, /* JSON text is no DKLS share */
        {", \"libType\": 7", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf json = vault_json(0, "0", cases[i].extra);
        struct buf hex = hex_of(&json);
        struct vult_file file;
        CHECK_EQ_INT(decode_with(&file, &hex, NULL, 0), cases[i].want);
        if (file.vault_bytes)
            CHECK_EQ_INT(file.vault.lib_type, cases[i].lib);
        vult_file_clear(&file);
        free(hex.data);
        free(json.data);
    }
}

/* What is not a .dat stays with the .vult reader. */
static void test_detect(void)
{
    uint8_t random[4096];
    CHECK_EQ_INT(dat_detect((const uint8_t *)"7b22", 4), DAT_PLAIN);
    CHECK_EQ_INT(dat_detect((const uint8_t *)"CAESBEFBQUE=", 12), DAT_NOT_DAT);
    CHECK_EQ_INT(dat_detect((const uint8_t *)"7b2g", 4), DAT_NOT_DAT);
    CHECK_EQ_INT(dat_detect((const uint8_t *)"QUJD\nQUJD", 9), DAT_ANDROID);
    randombytes_buf(random, sizeof(random));
    CHECK_EQ_INT(dat_detect(random, sizeof(random)), DAT_IOS);
    /* too short for a blob */
    CHECK_EQ_INT(dat_detect(random, 20), DAT_NOT_DAT);
}

/* dat_detect as it was before it counted in blocks, byte by byte with
 * branches: the classification must not have changed. */
static enum dat_form detect_reference(const uint8_t *file, size_t len)
{
    static const char text_bytes[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    size_t not_text = 0;
    bool line_break = false, hex = len >= 2 && file[0] == '7' && (file[1] | 0x20) == 'b';

    for (size_t i = 0; hex && i < len; i++)
        hex = file[i] && strchr("0123456789abcdefABCDEF", file[i]);
    if (hex)
        return DAT_PLAIN;
    for (size_t i = 0; i < len; i++) {
        if (file[i] == '\n' || file[i] == '\r')
            line_break = true;
        else if (!file[i] || !strchr(text_bytes, file[i]))
            not_text++;
    }
    if (not_text * 2 > len && len >= BACKUP_CRYPTO_LEGACY_OVERHEAD)
        return DAT_IOS;
    return line_break && not_text == 0 ? DAT_ANDROID : DAT_NOT_DAT;
}

/* Random bytes, and crafted mixes of the bytes that decide the form
 * (letters, '=', line breaks, hex, NUL, high bytes) with about half of
 * them not text, at lengths around the blob minimum and the block size. */
static void test_detect_unchanged(void)
{
    static const uint8_t deciding[] = {'A', 'z', '0', '+', '/', '=', '\n', '\r', ' ', '\t',
                                       '7', 'b', 'B', 'f', 0,   0x80, 0xff, '-', '_', 0x7f};
    uint8_t file[300];
    size_t checked = 0, forms[4] = {0};

    for (int round = 0; round < 20000; round++) {
        size_t len = randombytes_uniform(sizeof(file) + 1);
        uint32_t style = randombytes_uniform(4);
        randombytes_buf(file, len);
        for (size_t i = 0; style && i < len; i++) {
            if (style == 1) /* the deciding bytes only */
                file[i] = deciding[randombytes_uniform(sizeof(deciding))];
            else if (style == 2) /* base64 text with a few other bytes */
                file[i] = randombytes_uniform(50) ? deciding[randombytes_uniform(6)]
                                                  : deciding[randombytes_uniform(sizeof(deciding))];
            else if (i < 2) /* hex text, sometimes with one other byte */
                file[i] = "7b"[i];
            else
                file[i] = randombytes_uniform(200) ? "0123456789abcdefABCDEF"[randombytes_uniform(22)]
                                                   : deciding[randombytes_uniform(sizeof(deciding))];
        }
        if (len > 10 && randombytes_uniform(3) == 0) /* a line break or two */
            file[randombytes_uniform((uint32_t)len)] = randombytes_uniform(2) ? '\n' : '\r';
        enum dat_form want = detect_reference(file, len);
        CHECK_EQ_INT(dat_detect(file, len), want);
        forms[want]++;
        checked++;
    }
    /* exactly at the threshold: k bytes not text among len */
    for (size_t len = 0; len <= 140; len++) {
        for (size_t k = len / 2 > 2 ? len / 2 - 2 : 0; k <= len && k <= len / 2 + 2; k++) {
            memset(file, 'Q', len);
            for (size_t i = 0; i < k; i++)
                file[(i * 7) % len] = 0x80 | (uint8_t)i;
            if (len > k + 1)
                file[len - 1] = '\n';
            CHECK_EQ_INT(dat_detect(file, len), detect_reference(file, len));
        }
    }
    /* every form came up, so the comparison covered each */
    CHECK(forms[DAT_NOT_DAT] && forms[DAT_PLAIN] && forms[DAT_IOS] && forms[DAT_ANDROID]);
    CHECK(checked == 20000);
}

/* Failing every allocation from the N-th on, for every N: -ENOMEM, or the very
 * same Vault bytes (jansson has parsed wrong JSON after one failed
 * allocation before, upstream issue 655), never anything else. */
static void test_allocation_failures(void)
{
    static const char *const right[] = {PASSWORD};
    struct buf json = vault_json(1, "735000000", "");
    struct buf hex = hex_of(&json);
    struct buf android = android_of(&hex, PASSWORD);
    const struct buf *files[] = {&hex, &android};

    for (size_t f = 0; f < 2; f++) {
        struct vult_file want, got;
        int bad = 0, ret = -ENOMEM;
        CHECK_EQ_INT(decode_with(&want, files[f], right, 1), 0);
        for (long n = 0; n < 10000 && ret == -ENOMEM; n++) {
            alloc_fail_after(n);
            ret = decode_with(&got, files[f], right, 1);
            alloc_fail_after(-1);
            if (ret == 0)
                bad += got.vault_len != want.vault_len ||
                       memcmp(got.vault_bytes, want.vault_bytes, want.vault_len) != 0;
            else
                bad += ret != -ENOMEM;
            vult_file_clear(&got);
        }
        CHECK_EQ_INT(ret, 0);
        CHECK_EQ_INT(bad, 0);
        vult_file_clear(&want);
    }
    free(android.data);
    free(hex.data);
    free(json.data);
}

int main(void)
{
    if (backup_crypto_init() < 0) {
        fprintf(stderr, "test_dat: no AES-256-GCM on this CPU\n");
        return 77;
    }
    alloc_install_jansson();
    test_four_forms();
    test_ios_blob_ending_in_white_space();
    test_bad_input();
    test_lucky_wrong_password();
    test_dates();
    test_lib_type();
    test_detect();
    test_detect_unchanged();
    test_allocation_failures();
    return check_done("dat");
}
