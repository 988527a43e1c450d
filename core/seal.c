/*
 * seal: see seal.h.
 *
 * check_layout is the one place a sealed record's framing is read.
 * The checksum is checked before the tag: a flipped bit on disk then reads
 * as -EIO (corruption) and only a record that is intact but does not
 * authenticate reads as -EBADMSG (wrong key, tampering, another id).
 */
#include "seal.h"

#include "alloc.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#define SEAL_MAGIC "VFSR"
#define SEAL_VERSION 1
/* Magic, version, kind and the reserved u16: the part bound as AD. */
#define SEAL_PREFIX_BYTES 8
#define SEAL_CIPHER_OFFSET (SEAL_HEADER_BYTES + SEAL_NONCE_BYTES)

_Static_assert(SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "AEAD key size");
_Static_assert(SEAL_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "AEAD nonce size");
_Static_assert(SEAL_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "AEAD tag size");
_Static_assert(SEAL_KDF_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(SEAL_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key size");
_Static_assert(SEAL_KDF_OPSLIMIT_MIN >= crypto_pwhash_OPSLIMIT_MIN &&
                   SEAL_KDF_MEMLIMIT_MIN >= crypto_pwhash_MEMLIMIT_MIN,
               "cost bounds within libsodium's");

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* xxh3-64 over nonce..end, the bytes after the header. */
static uint64_t record_sum(const uint8_t *rec, size_t len)
{
    return XXH3_64bits(rec + SEAL_HEADER_BYTES, len - SEAL_HEADER_BYTES);
}

static int check_layout(const uint8_t *rec, size_t len, enum seal_kind kind)
{
    if (len < SEAL_OVERHEAD)
        return -EINVAL;
    if (memcmp(rec, SEAL_MAGIC, 4) != 0 || rec[4] != SEAL_VERSION ||
        rec[5] != (unsigned)kind || rec[6] != 0 || rec[7] != 0)
        return -EINVAL;
    if (load_le64(rec + SEAL_PREFIX_BYTES) != record_sum(rec, len))
        return -EIO;
    return 0;
}

/* AD = header prefix || id, into *ad (alloc_bytes). */
static int make_ad(uint8_t **ad, size_t *ad_len, const uint8_t *prefix,
                   const char *id)
{
    size_t id_len = strlen(id);
    uint8_t *buf = alloc_bytes(SEAL_PREFIX_BYTES + id_len);

    if (!buf)
        return -ENOMEM;
    memcpy(buf, prefix, SEAL_PREFIX_BYTES);
    memcpy(buf + SEAL_PREFIX_BYTES, id, id_len);
    *ad = buf;
    *ad_len = SEAL_PREFIX_BYTES + id_len;
    return 0;
}

void seal_kdf_default(struct seal_kdf *kdf)
{
    kdf->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
    kdf->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
    randombytes_buf(kdf->salt, sizeof kdf->salt);
}

int seal_kdf_check(const struct seal_kdf *kdf)
{
    if (kdf->opslimit < SEAL_KDF_OPSLIMIT_MIN || kdf->opslimit > SEAL_KDF_OPSLIMIT_MAX ||
        kdf->memlimit < SEAL_KDF_MEMLIMIT_MIN || kdf->memlimit > SEAL_KDF_MEMLIMIT_MAX)
        return -EINVAL;
    return 0;
}

int seal_derive_key(uint8_t key[SEAL_KEY_BYTES], const char *passphrase,
                    size_t passphrase_len, const struct seal_kdf *kdf)
{
    int err = seal_kdf_check(kdf);

    if (err)
        return err;
    if (passphrase_len > crypto_pwhash_PASSWD_MAX)
        return -EINVAL;
    if (crypto_pwhash(key, SEAL_KEY_BYTES, passphrase, passphrase_len,
                      kdf->salt, kdf->opslimit, (size_t)kdf->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(key, SEAL_KEY_BYTES);
        /* Every argument is in range, so what is left is the memory. */
        return -ENOMEM;
    }
    return 0;
}

void seal_random_key(uint8_t key[SEAL_KEY_BYTES])
{
    randombytes_buf(key, SEAL_KEY_BYTES);
}

void seal_subkey(uint8_t out[SEAL_KEY_BYTES], uint64_t id,
                 const char context[8], const uint8_t master[SEAL_KEY_BYTES])
{
    /* Fails only for a subkey length out of range, and ours is fixed. */
    crypto_kdf_derive_from_key(out, SEAL_KEY_BYTES, id, context, master);
}

size_t seal_sealed_len(size_t plain_len)
{
    return plain_len + SEAL_OVERHEAD;
}

int seal_record(uint8_t **out, size_t *out_len, const uint8_t *plain,
                size_t plain_len, enum seal_kind kind, const char *id,
                const uint8_t key[SEAL_KEY_BYTES])
{
    uint8_t *rec, *ad;
    size_t rec_len, ad_len;
    int err;

    /* The kind travels in one byte; anything else would not round-trip. */
    if (kind < SEAL_KIND_MASTER_KEY || kind > SEAL_KIND_SHARE)
        return -EINVAL;
    /* More than the AEAD can take is more than any machine can allocate. */
    if (plain_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        plain_len > SIZE_MAX - SEAL_OVERHEAD)
        return -ENOMEM;
    rec_len = seal_sealed_len(plain_len);
    rec = alloc_bytes(rec_len);
    if (!rec)
        return -ENOMEM;

    memcpy(rec, SEAL_MAGIC, 4);
    rec[4] = SEAL_VERSION;
    rec[5] = (uint8_t)kind;
    rec[6] = rec[7] = 0;
    err = make_ad(&ad, &ad_len, rec, id);
    if (err)
        goto out_free_rec;

    randombytes_buf(rec + SEAL_HEADER_BYTES, SEAL_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        rec + SEAL_CIPHER_OFFSET, NULL, plain, plain_len, ad, ad_len, NULL,
        rec + SEAL_HEADER_BYTES, key);
    store_le64(rec + SEAL_PREFIX_BYTES, record_sum(rec, rec_len));
    alloc_free(ad);

    *out = rec;
    *out_len = rec_len;
    return 0;

out_free_rec:
    alloc_free(rec);
    return err;
}

/* Opens sealed into out (out_len bytes, the plaintext's size). */
static int open_into(uint8_t *out, const uint8_t *sealed, size_t sealed_len, const char *id,
                     const uint8_t key[SEAL_KEY_BYTES])
{
    uint8_t *ad;
    size_t ad_len;
    int err = make_ad(&ad, &ad_len, sealed, id);

    if (err)
        return err;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, NULL, NULL, sealed + SEAL_CIPHER_OFFSET, sealed_len - SEAL_CIPHER_OFFSET, ad,
            ad_len, sealed + SEAL_HEADER_BYTES, key) != 0)
        err = -EBADMSG;
    alloc_free(ad);
    return err;
}

int seal_open_record(uint8_t **plain, size_t *plain_len, const uint8_t *sealed,
                     size_t sealed_len, enum seal_kind kind, const char *id,
                     const uint8_t key[SEAL_KEY_BYTES])
{
    int err = check_layout(sealed, sealed_len, kind);
    uint8_t *out;

    if (err)
        return err;
    out = alloc_secret(sealed_len - SEAL_OVERHEAD);
    if (!out)
        return -ENOMEM;
    err = open_into(out, sealed, sealed_len, id, key);
    if (err) {
        alloc_secret_free(out); /* wipes what a failed decryption may have left */
        return err;
    }
    *plain = out;
    *plain_len = sealed_len - SEAL_OVERHEAD;
    return 0;
}

int seal_open_into(uint8_t *out, size_t out_cap, size_t *plain_len, const uint8_t *sealed,
                   size_t sealed_len, enum seal_kind kind, const char *id,
                   const uint8_t key[SEAL_KEY_BYTES])
{
    int err = check_layout(sealed, sealed_len, kind);

    if (err)
        return err;
    if (out_cap < sealed_len - SEAL_OVERHEAD)
        return -EINVAL;
    err = open_into(out, sealed, sealed_len, id, key);
    if (err) {
        sodium_memzero(out, sealed_len - SEAL_OVERHEAD);
        return err;
    }
    *plain_len = sealed_len - SEAL_OVERHEAD;
    return 0;
}
