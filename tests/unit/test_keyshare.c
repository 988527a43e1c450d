/*
 * test_keyshare: the 2026 Vault as the codec reads it. What a key share
 * states of itself (keyshare.c) against the Vault, the JSON checker it
 * stands on (jscan.c), completeness of every signing key (completeness.c),
 * any number of key shares and chain keys, and the real backups of
 * ../shared/fixtures and ../shared/more-fixtures through all of it.
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
#include "completeness.h"
#include "io.h"
#include "jscan.h"
#include "keyshare.h"
#include "synth.h"
#include "vult.h"

#define STR(s) ((struct vult_str){(s), strlen(s)})

/* ---- jscan -------------------------------------------------------------- */

static void test_jscan(void)
{
    static const char *const good[] = {
        "{}", " [ ] ", "{\"a\": [1, -2.5e+3, true, false, null, \"x\"]}", "\"\\u00e9\\ud83d\\ude00\"",
        "0", "{\"nested\": {\"deeper\": [[[]]]}}", "{\"k\": \"Dorian\xe2\x80\x99s\"}",
    };
    static const char *const bad[] = {
        "", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "01", "1.", "-", "tru", "\"\\x\"",
        "\"\\ud800\"", "\"tab\there\"", "\"\xff\"", "\"\\u0000\"", "{} {}", "{'a': 1}",
        "\"cut\xe2\x80\"",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(jscan_valid(good[i], strlen(good[i])));
        if (!jscan_valid(good[i], strlen(good[i])))
            fprintf(stderr, "  good JSON refused: %s\n", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!jscan_valid(bad[i], strlen(bad[i])));
        if (jscan_valid(bad[i], strlen(bad[i])))
            fprintf(stderr, "  bad JSON taken: %s\n", bad[i]);
    }
    /* nesting is bounded: no input exhausts the stack */
    char deep[2 * (JSCAN_MAX_DEPTH + 10) + 1];
    for (size_t i = 0; i < JSCAN_MAX_DEPTH + 10; i++) {
        deep[i] = '[';
        deep[2 * (JSCAN_MAX_DEPTH + 10) - 1 - i] = ']';
    }
    CHECK(!jscan_valid(deep, 2 * (JSCAN_MAX_DEPTH + 10)));
    CHECK(jscan_valid(deep + 20, 2 * (JSCAN_MAX_DEPTH + 10) - 40));

    /* top-level string members, the first of a repeated key, escapes */
    const char *obj = "{\"n\": [\"pub_key\"], \"pub_key\": \"02ab\", \"x\": {\"pub_key\": \"no\"},"
                      " \"local_party_key\": \"a\\\"b\\u00e9\", \"pub_key\": \"later\"}";
    const char *v;
    size_t n;
    CHECK(jscan_valid(obj, strlen(obj)));
    CHECK(jscan_member_string(&v, &n, obj, strlen(obj), "pub_key") && n == 4 &&
          memcmp(v, "02ab", 4) == 0);
    CHECK(jscan_member_string(&v, &n, obj, strlen(obj), "local_party_key"));
    CHECK(jscan_string_equals(v, n, "a\"b\xc3\xa9", 5));
    CHECK(!jscan_string_equals(v, n, "a\"b", 3));
    CHECK(!jscan_member_string(&v, &n, obj, strlen(obj), "n"));
    CHECK(!jscan_member_string(&v, &n, obj, strlen(obj), "absent"));
    CHECK(jscan_string_equals("\\ud83d\\ude00", 12, "\xf0\x9f\x98\x80", 4));
}

/* ---- what a share states of itself ---------------------------------------- */

static const struct keyshare_expect base_expect = {
    SYNTH_ECDSA, sizeof(SYNTH_ECDSA) - 1,
    "c0de00000000000000000000000000000000000000000000000000000000c0de", 64,
    "phone-1", 7, "", 0};

static char *shaped(unsigned lib, const char *key, const char *chain_code, const char *device,
                    const char *prefix)
{
    struct synth_share_spec spec = {lib, "test", STR(key),
                                    chain_code ? STR(chain_code) : (struct vult_str){NULL, 0},
                                    STR(device), STR(prefix), 2, 0, 0};
    return synth_share(&spec);
}

static void test_disagreements(void)
{
    struct keyshare_expect x = base_expect;
    const char *cc = base_expect.chain_code;
    char *s;

    /* GG20 JSON: each stated fact is compared */
    s = shaped(VULT_LIB_GG20, SYNTH_ECDSA, cc, "phone-1", "");
    CHECK_EQ_INT(keyshare_form(s, strlen(s)), KEYSHARE_JSON);
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    x.local_party_id = "laptop-2";
    x.local_party_id_len = 8;
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "device") != NULL);
    x = base_expect;
    x.public_key = SYNTH_EDDSA;
    x.public_key_len = sizeof(SYNTH_EDDSA) - 1;
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "public key") != NULL);
    x = base_expect;
    x.chain_code = "beef00000000000000000000000000000000000000000000000000000000beef";
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "chain code") != NULL);
    free(s);
    /* prefixes: either side may leave it empty; two stated must match */
    s = shaped(VULT_LIB_GG20, SYNTH_ECDSA, cc, "phone-1", "2c5e9ced");
    x = base_expect;
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    x.reshare_prefix = "2c5e9ced";
    x.reshare_prefix_len = 8;
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    x.reshare_prefix = "0badc0de";
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "prefix") != NULL);
    free(s);
    /* a device name with a quote is escaped in JSON and still matches */
    s = shaped(VULT_LIB_GG20, SYNTH_ECDSA, cc, "Tony\"s Mac", "");
    x = base_expect;
    x.local_party_id = "Tony\"s Mac";
    x.local_party_id_len = 10;
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    free(s);

    /* DKLS ECDSA layout: public key and chain code at their offsets */
    s = shaped(VULT_LIB_DKLS, SYNTH_ECDSA, cc, "phone-1", "");
    x = base_expect;
    CHECK_EQ_INT(keyshare_form(s, strlen(s)), KEYSHARE_BASE64);
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    x.public_key = "02deadbeef0000000000000000000000000000000000000000000000000000fa4f";
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "public key") != NULL);
    x = base_expect;
    x.chain_code = "beef00000000000000000000000000000000000000000000000000000000beef";
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "chain code") != NULL);
    x.chain_code = NULL; /* a KEYIMPORT chain key's share: its own chain code */
    x.chain_code_len = 0;
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    free(s);
    /* DKLS EdDSA layout: 132 bytes, the key at byte 35 */
    s = shaped(VULT_LIB_DKLS, SYNTH_EDDSA, NULL, "phone-1", "");
    CHECK_EQ_INT(strlen(s), 176);
    x = base_expect;
    x.public_key = SYNTH_EDDSA;
    x.public_key_len = sizeof(SYNTH_EDDSA) - 1;
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    x.public_key = "feedface0000000000000000000000000000000000000000000000000000fa4f";
    CHECK(strstr(keyshare_disagreement(s, strlen(s), &x), "public key") != NULL);
    free(s);
    /* an ML-DSA share (a layout this build does not read): no claim */
    s = shaped(VULT_LIB_DKLS, synth_mldsa_key(), NULL, "phone-1", "");
    x = base_expect;
    x.public_key = synth_mldsa_key();
    x.public_key_len = strlen(synth_mldsa_key());
    CHECK(keyshare_disagreement(s, strlen(s), &x) == NULL);
    free(s);
    /* malformed forms */
    CHECK_EQ_INT(keyshare_form("", 0), KEYSHARE_EMPTY);
    CHECK_EQ_INT(keyshare_form("{\"a\": 1", 7), KEYSHARE_MALFORMED);
    CHECK_EQ_INT(keyshare_form("QUJ", 3), KEYSHARE_MALFORMED);
    CHECK_EQ_INT(keyshare_form("plain words", 11), KEYSHARE_MALFORMED);
}

static void test_locked(void)
{
    uint8_t raw[48] = "VLT\x02\x01 still encrypted by the app's passcode";
    char text[128];
    sodium_bin2base64(text, sizeof(text), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    CHECK(strncmp(text, "VkxUAg", 6) == 0);
    CHECK(keyshare_is_locked(text, strlen(text)));
    raw[3] = 0x01; /* another version byte: not the passcode lock */
    sodium_bin2base64(text, sizeof(text), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    CHECK(!keyshare_is_locked(text, strlen(text)));
    char *dkls = shaped(VULT_LIB_DKLS, SYNTH_ECDSA, NULL, "phone-1", "");
    CHECK(!keyshare_is_locked(dkls, strlen(dkls)));
    free(dkls);
    CHECK(!keyshare_is_locked("VkxU", 4));
}

/* ---- a Vault of any size, and what completes it ---------------------------- */

/* A vault built by hand: n_chains chain keys of KEYIMPORT (each with its
 * share unless dropped), masters as asked. Parsed back through the codec. */
struct built {
    struct vult_vault v;
    uint8_t *bytes;
    size_t len;
    char *texts[1024];
    size_t text_count;
};

static struct vult_str keep_text(struct built *b, char *text)
{
    b->texts[b->text_count++] = text;
    return STR(text);
}

static struct vult_str chain_key(struct built *b, size_t i, bool eddsa)
{
    char *hex = malloc(67);
    snprintf(hex, 67, "%s%062zx", eddsa ? "ed" : "02", i + 1);
    if (eddsa)
        hex[64] = '\0';
    return keep_text(b, hex);
}

static void build(struct built *b, uint64_t lib, size_t n_chains, bool masters,
                  const char *chain_without_share)
{
    static const char *const names[] = {"Bitcoin", "Ethereum", "Solana", "THORChain",
                                        "Cosmos", "Monero", "SomeNewChain"};
    static struct vult_str signers[2] = {{"phone-1", 7}, {"laptop-2", 8}};
    struct vult_key_share *shares = calloc(n_chains + 3, sizeof(*shares));
    struct vult_chain_key *chains = calloc(n_chains + 1, sizeof(*chains));
    struct vult_vault *v = &b->v;

    memset(b, 0, sizeof(*b));
    v->name = STR("Built");
    v->public_key_ecdsa = STR(SYNTH_ECDSA);
    v->public_key_eddsa = STR(SYNTH_EDDSA);
    v->signers = signers;
    v->signer_count = 2;
    v->hex_chain_code = STR("c0de00000000000000000000000000000000000000000000000000000000c0de");
    v->local_party_id = signers[0];
    v->lib_type = lib;
    v->key_shares = shares;
    v->chains = chains;
    if (masters) {
        struct vult_str keys[2] = {v->public_key_ecdsa, v->public_key_eddsa};
        for (int k = 0; k < 2; k++) {
            struct synth_share_spec spec = {(unsigned)lib, k ? "eddsa" : "ecdsa", keys[k],
                                            k ? (struct vult_str){NULL, 0} : v->hex_chain_code,
                                            v->local_party_id, {NULL, 0}, 2, 0, 0};
            shares[v->key_share_count++] = (struct vult_key_share){keys[k],
                                                                   keep_text(b, synth_share(&spec))};
        }
    }
    for (size_t i = 0; i < n_chains; i++) {
        const char *name = names[i % (sizeof(names) / sizeof(names[0]))];
        bool eddsa = strcmp(name, "Solana") == 0;
        chains[v->chain_count++] = (struct vult_chain_key){chain_key(b, i, eddsa), STR(name), eddsa};
        if (chain_without_share && strcmp(name, chain_without_share) == 0)
            continue;
        char what[32];
        snprintf(what, sizeof(what), "chain %zu", i);
        struct synth_share_spec spec = {(unsigned)lib, what, chains[i].public_key, {NULL, 0},
                                        v->local_party_id, {NULL, 0}, 2, 0, 0};
        shares[v->key_share_count++] =
            (struct vult_key_share){chains[i].public_key, keep_text(b, synth_share(&spec))};
    }
    CHECK_EQ_INT(vult_vault_encode(&b->bytes, &b->len, v), 0);
    free(shares);
    free(chains);
}

static void built_free(struct built *b)
{
    for (size_t i = 0; i < b->text_count; i++)
        free(b->texts[i]);
    alloc_secret_free(b->bytes);
}

static struct completeness parsed_gap(const struct built *b, size_t *shares)
{
    struct vult_vault v;
    const char *problem = NULL;
    struct completeness c = {COMPLETENESS_MISSING, "parse", {NULL, 0}, 0};

    CHECK_EQ_INT(vult_vault_parse(&v, &problem, b->bytes, b->len), 0);
    if (problem)
        fprintf(stderr, "  parse: %s\n", problem);
    if (!problem) {
        c = completeness_of(&v);
        if (shares)
            *shares = v.key_share_count;
        vult_vault_clear(&v);
    }
    return c;
}

static void test_completeness(void)
{
    struct built b;
    size_t shares = 0;
    char why[256];

    /* hundreds of key shares: no cap but the file's size */
    build(&b, VULT_LIB_KEYIMPORT, 300, true, NULL);
    CHECK_EQ_INT(parsed_gap(&b, &shares).gap, COMPLETENESS_OK);
    CHECK_EQ_INT(shares, 302);
    built_free(&b);

    /* early iOS: no master shares, one per chain key: complete */
    build(&b, VULT_LIB_KEYIMPORT, 7, false, NULL);
    CHECK_EQ_INT(parsed_gap(&b, NULL).gap, COMPLETENESS_OK);
    built_free(&b);
    /* ...but not for a DKLS vault, whose masters it signs with */
    build(&b, VULT_LIB_DKLS, 7, false, NULL);
    struct completeness c = parsed_gap(&b, NULL);
    CHECK_EQ_INT(c.gap, COMPLETENESS_MISSING);
    CHECK_EQ_STR(c.key, "ECDSA");
    built_free(&b);

    /* a chain the apps sign for without its share: incomplete, named */
    build(&b, VULT_LIB_KEYIMPORT, 7, true, "Solana");
    c = parsed_gap(&b, NULL);
    CHECK_EQ_INT(c.gap, COMPLETENESS_MISSING);
    completeness_describe(why, sizeof(why), &c);
    CHECK(strstr(why, "chain Solana") != NULL);
    built_free(&b);
    /* the server's Monero entry and a chain this build does not know need none */
    build(&b, VULT_LIB_KEYIMPORT, 7, true, "Monero");
    CHECK_EQ_INT(parsed_gap(&b, NULL).gap, COMPLETENESS_OK);
    built_free(&b);
    build(&b, VULT_LIB_KEYIMPORT, 7, true, "SomeNewChain");
    CHECK_EQ_INT(parsed_gap(&b, NULL).gap, COMPLETENESS_OK);
    built_free(&b);
    /* chain keys of a DKLS vault are facts, not signing keys */
    build(&b, VULT_LIB_DKLS, 7, true, "Solana");
    CHECK_EQ_INT(parsed_gap(&b, NULL).gap, COMPLETENESS_OK);
    built_free(&b);
}

static void test_mldsa_and_lock(void)
{
    struct synth_spec spec = {.name = "ML", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
                              .lib_type = VULT_LIB_DKLS, .mldsa = 1};
    uint8_t *bytes;
    size_t len;
    struct vult_vault v;
    char why[256];

    CHECK_EQ_INT(synth_vault(&bytes, &len, &spec), 0);
    CHECK_EQ_INT(vult_vault_parse(&v, NULL, bytes, len), 0);
    CHECK_EQ_INT(completeness_of(&v).gap, COMPLETENESS_OK);
    CHECK(strcmp(v.public_key_mldsa44.ptr ? "set" : "", "set") == 0);
    CHECK_EQ_INT(v.public_key_mldsa44.len, 2 * 1312);
    /* without its share (a copy that lists only the first two): incomplete,
     * and it says ML-DSA */
    struct vult_vault w = v;
    w.share_order = NULL;
    w.key_share_count = 2;
    struct completeness c = completeness_of(&w);
    CHECK_EQ_INT(c.gap, COMPLETENESS_MISSING);
    completeness_describe(why, sizeof(why), &c);
    CHECK(strstr(why, "ML-DSA") != NULL);
    /* a passcode-locked share: incomplete, and it says to unlock */
    uint8_t raw[48] = "VLT\x02 locked";
    char locked[80];
    sodium_bin2base64(locked, sizeof(locked), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    struct vult_key_share *ks = (struct vult_key_share *)&v.key_shares[0];
    ks->keyshare = STR(locked);
    c = completeness_of(&v);
    CHECK_EQ_INT(c.gap, COMPLETENESS_LOCKED);
    completeness_describe(why, sizeof(why), &c);
    CHECK(strstr(why, "passcode") != NULL && strstr(why, "export it again") != NULL);
    vult_vault_clear(&v);
    alloc_secret_free(bytes);
}

/* ---- real files ------------------------------------------------------------- */

static uint8_t *read_at(const char *dir, const char *name, size_t *len)
{
    char path[8400];
    uint8_t *bytes = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (io_read_file(&bytes, len, AT_FDCWD, path, VULT_MAX_FILE_BYTES) < 0)
        return NULL;
    return bytes;
}

/* Every real backup: its key shares agree with the Vault, it is complete,
 * and its export name says share or part as the app's own name does. */
static void test_real_files(void)
{
    static const struct {
        const char *dir, *file, *password, *suggested;
    } files[] = {
        {"fixtures", "Test-part1of2.vult", NULL, "-part1of2.vult"},
        {"fixtures", "honeypot.bak", NULL, "-part1of3.vult"},
        {"fixtures", "test_android_vault_backup.bak", "android_test_pwd", "-part1of3.vult"},
        {"fixtures", "qa-secure-share1of3.vult", NULL, "-share1of3.vult"},
        {"fixtures", "Test Fast Vault DKLS-8d9b-share1of2-nopass.vult", NULL, "-share1of2.vult"},
        {"more-fixtures", "vultisig-payroll-0000-02659f817fae6c3ac300f4e375e57d2bb3ccec4e3d7cdd10"
                          "32da3f5445991a4d94.vult", "test123", "-share2of3.vult"},
        {"more-fixtures", "vault_unencrypted.vult", NULL, "-share1of2.vult"},
        {"more-fixtures", "plugin-tests-fixture-vault_b64.vult",
         "Saggy@Commotion@Occupier@Registry1", ".vult"},
        {"more-fixtures", "plugin-tests-fixture-server_vault_b64.vult",
         "Saggy@Commotion@Occupier@Registry1", ".vult"},
        {"more-fixtures", "Fast Vault #2-0985-part1of2-Vultiserver.vult", "888717",
         "-0985-part1of2.vult"},
        {"more-fixtures", "Fast Vault #2-0985-part2of2.vult", "888717", "-0985-part2of2.vult"},
        {"more-fixtures", "02ed4e6f3ca22bfdef3f4afe4a94210436b5c4a29140944bfb180ad5737444fef2.bak",
         "test123", "-part2of3.vult"},
    };
    const char *fixtures = check_fixtures_dir();
    char base[4096];

    if (!fixtures) {
        fprintf(stderr, "test_keyshare: ../shared absent, real files skipped\n");
        return;
    }
    snprintf(base, sizeof(base), "%s/..", fixtures);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char dir[4200];
        size_t len = 0;
        snprintf(dir, sizeof(dir), "%s/%s", base, files[i].dir);
        uint8_t *bytes = read_at(dir, files[i].file, &len);
        struct vult_password pw = {files[i].password,
                                   files[i].password ? strlen(files[i].password) : 0};
        struct vult_file file;
        CHECK(bytes != NULL);
        if (!bytes)
            continue;
        int ret = vult_decode(&file, bytes, len, &pw, files[i].password ? 1 : 0, NULL);
        CHECK_EQ_INT(ret, 0);
        if (ret < 0) {
            fprintf(stderr, "  %s: %s\n", files[i].file, file.problem ? file.problem : "?");
        } else {
            CHECK_EQ_INT(completeness_of(&file.vault).gap, COMPLETENESS_OK);
            char *name = vult_suggested_filename(&file.vault);
            size_t n = name ? strlen(name) : 0, want = strlen(files[i].suggested);
            CHECK(name && n >= want && strcmp(name + n - want, files[i].suggested) == 0);
            if (name && (n < want || strcmp(name + n - want, files[i].suggested) != 0))
                fprintf(stderr, "  %s: suggested %s\n", files[i].file, name);
            alloc_free(name);
            vult_file_clear(&file);
        }
        alloc_free(bytes);
    }
}

/* A damaged backup imported first must not lock the good one out: the
 * GG20 file with byte 8370 set to 'B' decodes, but its key share is no
 * longer JSON (issue 20, finding 2), and every flip of a DKLS share's
 * first bytes, where it states its public key, is refused too. */
static void test_damaged_real_shares(void)
{
    const char *fixtures = check_fixtures_dir();
    size_t len = 0;

    if (!fixtures)
        return;
    uint8_t *bytes = read_at(fixtures, "Test-part1of2.vult", &len);
    struct vult_file file;
    CHECK(bytes && len > 8370);
    if (bytes && len > 8370) {
        bytes[8370] = 'B';
        CHECK_EQ_INT(vult_decode(&file, bytes, len, NULL, 0, NULL), -EINVAL);
        CHECK(file.problem != NULL);
    }
    alloc_free(bytes);

    /* each base64 letter in the DKLS ECDSA share's head, changed */
    bytes = read_at(fixtures, "qa-fast-share1of2.vult", &len);
    CHECK(bytes != NULL);
    if (!bytes || vult_decode(&file, bytes, len, NULL, 0, NULL) != 0) {
        alloc_free(bytes);
        return;
    }
    const struct vult_key_share *ks = vult_vault_key_share(&file.vault, file.vault.public_key_ecdsa);
    struct keyshare_expect x = {ks->public_key.ptr, ks->public_key.len,
                                file.vault.hex_chain_code.ptr, file.vault.hex_chain_code.len,
                                file.vault.local_party_id.ptr, file.vault.local_party_id.len,
                                NULL, 0};
    char *copy = malloc(ks->keyshare.len);
    size_t caught = 0, tried = 0;
    memcpy(copy, ks->keyshare.ptr, ks->keyshare.len);
    CHECK(keyshare_disagreement(copy, ks->keyshare.len, &x) == NULL);
    /* letters 58..143 carry the chain code and the public key (bytes 43-107) */
    for (size_t i = 58; i < 144; i++) {
        char was = copy[i];
        copy[i] = was == 'A' ? 'B' : 'A';
        tried++;
        caught += keyshare_disagreement(copy, ks->keyshare.len, &x) != NULL;
        copy[i] = was;
    }
    CHECK_EQ_INT(caught, tried);
    sodium_memzero(copy, ks->keyshare.len);
    free(copy);
    vult_file_clear(&file);
    alloc_free(bytes);
}

int main(void)
{
    if (sodium_init() < 0 || backup_crypto_init() < 0)
        return 77;
    test_jscan();
    test_disagreements();
    test_locked();
    test_completeness();
    test_mldsa_and_lock();
    test_real_files();
    test_damaged_real_shares();
    return check_done("keyshare");
}
