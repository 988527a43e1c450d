/*
 * test_seal: sealed records round-trip, are bound to their kind and id,
 * and every damaged byte fails cleanly: corruption as -EIO, framing as
 * -EINVAL, and a forged checksum still meets the tag (-EBADMSG). Argon2id
 * runs only at its minimum cost so the test stays fast.
 */
#include "alloc.h"
#include "check.h"
#include "seal.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <xxhash.h>

static const uint8_t plain[] = "a small vault share, protobuf bytes";
#define PLAIN_LEN (sizeof plain - 1)

/* Recomputes the xxh3 checksum so damage reaches the AEAD. */
static void fix_checksum(uint8_t *rec, size_t len)
{
    uint64_t sum = XXH3_64bits(rec + SEAL_HEADER_BYTES, len - SEAL_HEADER_BYTES);

    for (int i = 0; i < 8; i++)
        rec[8 + i] = (uint8_t)(sum >> (8 * i));
}

/* Opens rec and, when that succeeds, frees the plaintext. The opener into
 * plain heap (for the index's records) must answer exactly the same. */
static int try_open(const uint8_t *rec, size_t len, enum seal_kind kind,
                    const char *id, const uint8_t *key)
{
    uint8_t *out = NULL, *pub = alloc_bytes(len + 1);
    size_t out_len = 0, pub_len = 0;
    int err = seal_open_record(&out, &out_len, rec, len, kind, id, key);

    CHECK(pub != NULL);
    if (pub)
        CHECK_EQ_INT(seal_open_into(pub, len, &pub_len, rec, len, kind, id, key), err);
    if (pub && err == 0) {
        CHECK(pub_len == out_len && memcmp(pub, out, out_len) == 0);
        /* a buffer one byte short is refused */
        CHECK_EQ_INT(seal_open_into(pub, out_len - (out_len > 0), &pub_len, rec, len, kind, id,
                                    key), out_len > 0 ? -EINVAL : 0);
    }
    alloc_secret_free(out);
    alloc_free(pub);
    return err;
}

static void test_round_trip(const uint8_t *key)
{
    uint8_t *rec = NULL, *out = NULL;
    size_t rec_len = 0, out_len = 0;

    CHECK_EQ_INT(seal_record(&rec, &rec_len, plain, PLAIN_LEN, SEAL_KIND_SHARE,
                             "share-1.vult", key), 0);
    CHECK_EQ_INT(rec_len, seal_sealed_len(PLAIN_LEN));
    CHECK_EQ_INT(rec_len, PLAIN_LEN + SEAL_OVERHEAD);
    CHECK(memcmp(rec, "VFSR\x01\x03\x00\x00", 8) == 0);
    CHECK_EQ_INT(seal_open_record(&out, &out_len, rec, rec_len, SEAL_KIND_SHARE,
                                  "share-1.vult", key), 0);
    CHECK_EQ_INT(out_len, PLAIN_LEN);
    CHECK(out && memcmp(out, plain, PLAIN_LEN) == 0);
    alloc_secret_free(out);
    alloc_free(rec);

    /* Empty plaintext is a valid record too. */
    CHECK_EQ_INT(seal_record(&rec, &rec_len, NULL, 0, SEAL_KIND_INDEX, "index",
                             key), 0);
    CHECK_EQ_INT(rec_len, SEAL_OVERHEAD);
    CHECK_EQ_INT(seal_open_record(&out, &out_len, rec, rec_len, SEAL_KIND_INDEX,
                                  "index", key), 0);
    CHECK_EQ_INT(out_len, 0);
    alloc_secret_free(out);
    alloc_free(rec);

    CHECK_EQ_INT(seal_record(&rec, &rec_len, plain, PLAIN_LEN, 0, "x", key),
                 -EINVAL);
}

static void test_binding(const uint8_t *key)
{
    uint8_t other_key[SEAL_KEY_BYTES];
    uint8_t *rec = NULL;
    size_t rec_len = 0;

    seal_random_key(other_key);
    CHECK_EQ_INT(seal_record(&rec, &rec_len, plain, PLAIN_LEN, SEAL_KIND_SHARE,
                             "a.vult", key), 0);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_SHARE, "a.vult", key), 0);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_SHARE, "b.vult", key), -EBADMSG);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_SHARE, "a.vul", key), -EBADMSG);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_INDEX, "a.vult", key), -EINVAL);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_SHARE, "a.vult", other_key),
                 -EBADMSG);

    /* Relabelling the kind with a valid checksum: the AD still catches it. */
    rec[5] = SEAL_KIND_INDEX;
    fix_checksum(rec, rec_len);
    CHECK_EQ_INT(try_open(rec, rec_len, SEAL_KIND_INDEX, "a.vult", key), -EBADMSG);
    alloc_free(rec);
    sodium_memzero(other_key, sizeof other_key);
}

static void test_tamper(const uint8_t *key)
{
    uint8_t *rec = NULL, *bad;
    size_t rec_len = 0;

    CHECK_EQ_INT(seal_record(&rec, &rec_len, plain, 5, SEAL_KIND_SHARE, "t",
                             key), 0);
    bad = alloc_bytes(rec_len + 1);
    CHECK(rec && bad);
    if (!rec || !bad)
        goto out;

    for (size_t i = 0; i < rec_len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            int want = i < 8 ? -EINVAL : -EIO;

            memcpy(bad, rec, rec_len);
            bad[i] ^= (uint8_t)(1u << bit);
            CHECK_EQ_INT(try_open(bad, rec_len, SEAL_KIND_SHARE, "t", key), want);

            /* With the checksum forged, the framing or the tag must catch it. */
            if (i >= 8 && i < SEAL_HEADER_BYTES)
                continue;
            fix_checksum(bad, rec_len);
            CHECK_EQ_INT(try_open(bad, rec_len, SEAL_KIND_SHARE, "t", key),
                         i < 8 ? -EINVAL : -EBADMSG);
        }
    }

    for (size_t len = 0; len < rec_len; len++) {
        int want = len < SEAL_OVERHEAD ? -EINVAL : -EIO;

        CHECK_EQ_INT(try_open(rec, len, SEAL_KIND_SHARE, "t", key), want);
    }
    memcpy(bad, rec, rec_len);
    bad[rec_len] = 0;
    CHECK_EQ_INT(try_open(bad, rec_len + 1, SEAL_KIND_SHARE, "t", key), -EIO);
    /* A truncated record with a forged checksum still fails the tag. */
    fix_checksum(bad, rec_len - 1);
    CHECK_EQ_INT(try_open(bad, rec_len - 1, SEAL_KIND_SHARE, "t", key), -EBADMSG);

out:
    alloc_free(bad);
    alloc_free(rec);
}

static void test_kdf(void)
{
    struct seal_kdf kdf = {
        .opslimit = crypto_pwhash_OPSLIMIT_MIN,
        .memlimit = crypto_pwhash_MEMLIMIT_MIN,
    };
    struct seal_kdf def1, def2, bad;
    uint8_t k1[SEAL_KEY_BYTES], k2[SEAL_KEY_BYTES], k3[SEAL_KEY_BYTES];

    memset(kdf.salt, 0x5a, sizeof kdf.salt);
    CHECK_EQ_INT(seal_kdf_check(&kdf), 0);
    CHECK_EQ_INT(seal_derive_key(k1, "correct horse", 13, &kdf), 0);
    CHECK_EQ_INT(seal_derive_key(k2, "correct horse", 13, &kdf), 0);
    CHECK(sodium_memcmp(k1, k2, SEAL_KEY_BYTES) == 0);
    CHECK_EQ_INT(seal_derive_key(k3, "correct horsf", 13, &kdf), 0);
    CHECK(sodium_memcmp(k1, k3, SEAL_KEY_BYTES) != 0);
    kdf.salt[0] ^= 1;
    CHECK_EQ_INT(seal_derive_key(k3, "correct horse", 13, &kdf), 0);
    CHECK(sodium_memcmp(k1, k3, SEAL_KEY_BYTES) != 0);

    seal_kdf_default(&def1);
    seal_kdf_default(&def2);
    CHECK_EQ_INT(seal_kdf_check(&def1), 0);
    CHECK(def1.opslimit >= crypto_pwhash_OPSLIMIT_MODERATE);
    CHECK(memcmp(def1.salt, def2.salt, SEAL_KDF_SALT_BYTES) != 0);

    bad = kdf;
    bad.opslimit = crypto_pwhash_OPSLIMIT_MIN - 1;
    CHECK_EQ_INT(seal_kdf_check(&bad), -EINVAL);
    CHECK_EQ_INT(seal_derive_key(k3, "x", 1, &bad), -EINVAL);
    bad.opslimit = (uint64_t)crypto_pwhash_OPSLIMIT_MAX + 1;
    CHECK_EQ_INT(seal_kdf_check(&bad), -EINVAL);
    bad = kdf;
    bad.memlimit = crypto_pwhash_MEMLIMIT_MIN - 1;
    CHECK_EQ_INT(seal_kdf_check(&bad), -EINVAL);
    CHECK_EQ_INT(seal_derive_key(k3, "x", 1, &bad), -EINVAL);
    bad.memlimit = (uint64_t)crypto_pwhash_MEMLIMIT_MAX + 1;
    CHECK_EQ_INT(seal_kdf_check(&bad), -EINVAL);

    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    sodium_memzero(k3, sizeof k3);
}

static void test_subkeys(const uint8_t *master)
{
    uint8_t a[SEAL_KEY_BYTES], b[SEAL_KEY_BYTES], c[SEAL_KEY_BYTES],
        d[SEAL_KEY_BYTES];

    seal_subkey(a, 1, "vfsindex", master);
    seal_subkey(b, 2, "vfsindex", master);
    seal_subkey(c, 1, "vfsshare", master);
    seal_subkey(d, 1, "vfsindex", master);
    CHECK(sodium_memcmp(a, b, SEAL_KEY_BYTES) != 0);
    CHECK(sodium_memcmp(a, c, SEAL_KEY_BYTES) != 0);
    CHECK(sodium_memcmp(a, d, SEAL_KEY_BYTES) == 0);
    CHECK(sodium_memcmp(a, master, SEAL_KEY_BYTES) != 0);
    sodium_memzero(a, sizeof a);
    sodium_memzero(b, sizeof b);
    sodium_memzero(c, sizeof c);
    sodium_memzero(d, sizeof d);
}

struct sealing {
    const uint8_t *key;
    uint8_t *rec, *out;
    size_t rec_len, out_len;
};

static int seal_it(struct sealing *t)
{
    return seal_record(&t->rec, &t->rec_len, plain, PLAIN_LEN, SEAL_KIND_INDEX, "idx", t->key);
}

static int open_it(struct sealing *t)
{
    return seal_open_record(&t->out, &t->out_len, t->rec, t->rec_len, SEAL_KIND_INDEX, "idx",
                            t->key);
}

/* Fails the n-th allocation of call for n = 0, 1, ... until none fails,
 * from the n-th on (alloc_fail_after) or only the n-th (alloc_fail_once):
 * each earlier attempt must return -ENOMEM and leave nothing behind
 * (valgrind checks the latter). Returns the last call's result. */
static int until_no_failure(void (*fail)(long n), int (*call)(struct sealing *),
                            struct sealing *t)
{
    long n, failures = 1;
    int err = -ENOMEM;

    for (n = 0; n < 64 && failures; n++) {
        fail(n);
        err = call(t);
        failures = alloc_failures();
        alloc_fail_after(-1);
        if (failures)
            CHECK_EQ_INT(err, -ENOMEM);
    }
    CHECK(n > 1);
    return err;
}

static void test_alloc_failures(const uint8_t *key, void (*fail)(long n))
{
    struct sealing t = {key, NULL, NULL, 0, 0};

    CHECK_EQ_INT(until_no_failure(fail, seal_it, &t), 0);
    if (!t.rec)
        return;
    CHECK_EQ_INT(until_no_failure(fail, open_it, &t), 0);
    CHECK(t.out && t.out_len == PLAIN_LEN && memcmp(t.out, plain, PLAIN_LEN) == 0);
    alloc_secret_free(t.out);
    alloc_free(t.rec);
}

int main(void)
{
    uint8_t *key;

    if (sodium_init() < 0)
        return 99;
    key = alloc_secret(SEAL_KEY_BYTES);
    if (!key)
        return 99;
    seal_random_key(key);

    test_round_trip(key);
    test_binding(key);
    test_tamper(key);
    test_kdf();
    test_subkeys(key);
    test_alloc_failures(key, alloc_fail_after);
    test_alloc_failures(key, alloc_fail_once);

    alloc_secret_free(key);
    return check_done("seal");
}
