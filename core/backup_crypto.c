/*
 * backup_crypto: AES-256-GCM and SHA-256 from libsodium, PBKDF2-HMAC-SHA256
 * from nettle (its SHA-256 uses the CPU's SHA extensions, about three times
 * libsodium's portable HMAC), arranged in the two blob layouts of the
 * Vultisig apps. No heap: every buffer is the caller's or on the stack,
 * and the stack copies of keys, HMAC states and plaintext are wiped before
 * return.
 */
#include "backup_crypto.h"

#include <errno.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>
#include <sodium.h>

static const uint8_t backup_crypto_magic[BACKUP_CRYPTO_MAGIC_BYTES] = {'V', 'L', 'T', 0x02};

int backup_crypto_init(void)
{
    if (sodium_init() < 0)
        return -EIO;
    /* libsodium only has the AES-NI + PCLMUL implementation of AES-GCM;
     * without it every call would fail, so refuse once here instead. */
    if (!crypto_aead_aes256gcm_is_available())
        return -ENOTSUP;
    return 0;
}

const char *backup_crypto_scheme_name(enum backup_crypto_scheme scheme)
{
    switch (scheme) {
    case BACKUP_CRYPTO_NONE:
        return "none";
    case BACKUP_CRYPTO_LEGACY:
        return "legacy";
    case BACKUP_CRYPTO_CURRENT:
        return "current";
    }
    return "unknown";
}

enum backup_crypto_scheme backup_crypto_detect(const uint8_t *blob, size_t blob_len)
{
    /* A legacy blob starts with a random nonce, so it begins with the magic
     * once in 2^32; the length test keeps short ones of those legacy. */
    if (blob_len >= BACKUP_CRYPTO_CURRENT_OVERHEAD &&
        memcmp(blob, backup_crypto_magic, sizeof backup_crypto_magic) == 0)
        return BACKUP_CRYPTO_CURRENT;
    return BACKUP_CRYPTO_LEGACY;
}

/* Stack bytes wiped after nettle's pbkdf2 returns: its frame (and that of
 * hmac_sha256_digest) held the running block T, which is key material. */
#define PBKDF2_STACK_WIPE_BYTES 4096

void backup_crypto_pbkdf2_sha256(uint8_t *out, size_t out_len,
                                 const uint8_t *password, size_t password_len,
                                 const uint8_t *salt, size_t salt_len,
                                 uint32_t iterations)
{
    struct hmac_sha256_ctx hmac;

    if (out_len == 0)
        return;
    /* Our own keyed HMAC context, not pbkdf2_hmac_sha256's, so that the
     * password-derived pads can be wiped. RFC 8018 asks for iterations
     * >= 1 and nettle asserts it; 0 is treated as 1. */
    hmac_sha256_set_key(&hmac, password_len, password);
    PBKDF2(&hmac, hmac_sha256_update, hmac_sha256_digest, SHA256_DIGEST_SIZE,
           iterations ? iterations : 1, salt_len, salt, out_len, out);
    sodium_memzero(&hmac, sizeof hmac);
    sodium_stackzero(PBKDF2_STACK_WIPE_BYTES);
}

void backup_crypto_key_legacy(uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                              const uint8_t *password, size_t password_len)
{
    crypto_hash_sha256(key, password, password_len);
}

void backup_crypto_key_current(uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                               const uint8_t *password, size_t password_len,
                               const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    backup_crypto_pbkdf2_sha256(key, BACKUP_CRYPTO_KEY_BYTES, password, password_len,
                                salt, BACKUP_CRYPTO_SALT_BYTES,
                                BACKUP_CRYPTO_PBKDF2_ITERATIONS);
}

int backup_crypto_salt(uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                       const uint8_t *blob, size_t blob_len)
{
    if (backup_crypto_detect(blob, blob_len) != BACKUP_CRYPTO_CURRENT)
        return -EINVAL;
    memcpy(salt, blob + BACKUP_CRYPTO_MAGIC_BYTES, BACKUP_CRYPTO_SALT_BYTES);
    return 0;
}

/* Offset of the nonce in a blob of this scheme, or -1 for NONE and values
 * outside the enum. */
static long backup_crypto_header_len(enum backup_crypto_scheme scheme)
{
    switch (scheme) {
    case BACKUP_CRYPTO_LEGACY:
        return 0;
    case BACKUP_CRYPTO_CURRENT:
        return BACKUP_CRYPTO_MAGIC_BYTES + BACKUP_CRYPTO_SALT_BYTES;
    case BACKUP_CRYPTO_NONE:
        break;
    }
    return -1;
}

int backup_crypto_decrypt(uint8_t *plain, size_t *plain_len,
                          const uint8_t *blob, size_t blob_len,
                          enum backup_crypto_scheme scheme,
                          const uint8_t key[BACKUP_CRYPTO_KEY_BYTES])
{
    long header = backup_crypto_header_len(scheme);
    const uint8_t *nonce, *ct, *tag;
    size_t ct_len;
    int rc;

    *plain_len = 0;
    if (header < 0 || blob_len < (size_t)header + BACKUP_CRYPTO_LEGACY_OVERHEAD) {
        rc = -EINVAL;
        goto out_wipe_plain;
    }
    /* The magic is not covered by the tag, so check it here: a CURRENT
     * blob without it is some other format, not a tampered one. */
    if (scheme == BACKUP_CRYPTO_CURRENT &&
        memcmp(blob, backup_crypto_magic, sizeof backup_crypto_magic) != 0) {
        rc = -EINVAL;
        goto out_wipe_plain;
    }

    nonce = blob + header;
    ct = nonce + BACKUP_CRYPTO_NONCE_BYTES;
    ct_len = blob_len - (size_t)header - BACKUP_CRYPTO_LEGACY_OVERHEAD;
    tag = ct + ct_len;
    /* libsodium aborts the process on an over-long message; refuse it. */
    if (ct_len > crypto_aead_aes256gcm_messagebytes_max()) {
        rc = -EINVAL;
        goto out_wipe_plain;
    }

    if (crypto_aead_aes256gcm_decrypt_detached(plain, NULL, ct, ct_len, tag,
                                               NULL, 0, nonce, key) != 0) {
        rc = -EACCES;
        goto out_wipe_plain;
    }
    *plain_len = ct_len;
    return 0;

out_wipe_plain:
    /* Nothing of an unverified plaintext may reach the caller. */
    if (plain)
        sodium_memzero(plain, blob_len);
    return rc;
}

size_t backup_crypto_blob_len(enum backup_crypto_scheme scheme, size_t plain_len)
{
    switch (scheme) {
    case BACKUP_CRYPTO_NONE:
        return plain_len;
    case BACKUP_CRYPTO_LEGACY:
        return plain_len + BACKUP_CRYPTO_LEGACY_OVERHEAD;
    case BACKUP_CRYPTO_CURRENT:
        return plain_len + BACKUP_CRYPTO_CURRENT_OVERHEAD;
    }
    return 0;
}

int backup_crypto_encrypt(uint8_t *blob,
                          const uint8_t *plain, size_t plain_len,
                          enum backup_crypto_scheme scheme,
                          const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                          const uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                          const uint8_t key[BACKUP_CRYPTO_KEY_BYTES])
{
    long header = backup_crypto_header_len(scheme);
    uint8_t *ct;

    if (header < 0 || (scheme == BACKUP_CRYPTO_CURRENT && salt == NULL))
        return -EINVAL;
    if (plain_len > crypto_aead_aes256gcm_messagebytes_max())
        return -EINVAL;

    if (scheme == BACKUP_CRYPTO_CURRENT) {
        memcpy(blob, backup_crypto_magic, BACKUP_CRYPTO_MAGIC_BYTES);
        memcpy(blob + BACKUP_CRYPTO_MAGIC_BYTES, salt, BACKUP_CRYPTO_SALT_BYTES);
    }
    memcpy(blob + header, nonce, BACKUP_CRYPTO_NONCE_BYTES);
    ct = blob + header + BACKUP_CRYPTO_NONCE_BYTES;
    /* Fails only when the CPU lacks AES-NI, which backup_crypto_init
     * reports first. */
    if (crypto_aead_aes256gcm_encrypt_detached(ct, ct + plain_len, NULL, plain, plain_len,
                                               NULL, 0, NULL, nonce, key) != 0)
        return -ENOTSUP;
    return 0;
}

/* UTF-8 forms of the Unicode white space Kotlin's isBlank also skips. */
static size_t unicode_space_len(const unsigned char *p, size_t left)
{
    static const char *const spaces[] = {
        "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
    };
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        size_t n = strlen(spaces[i]);
        if (left >= n && memcmp(p, spaces[i], n) == 0)
            return n;
    }
    /* U+2000 to U+200A */
    if (left >= 3 && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0x80 && p[2] <= 0x8a)
        return 3;
    return 0;
}

bool backup_crypto_password_is_blank(const char *password, size_t password_len)
{
    const unsigned char *p = (const unsigned char *)password;
    size_t i = 0;

    while (i < password_len) {
        size_t n = strchr(" \t\n\v\f\r", p[i]) && p[i] ? 1 : unicode_space_len(p + i, password_len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

int backup_crypto_pick_nonce(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                             enum backup_crypto_scheme scheme,
                             backup_crypto_nonce_fn *candidate, void *ctx)
{
    for (unsigned attempt = 0; attempt <= UINT8_MAX; attempt++) {
        candidate(nonce, (uint8_t)attempt, ctx);
        if (scheme != BACKUP_CRYPTO_LEGACY ||
            memcmp(nonce, backup_crypto_magic, sizeof backup_crypto_magic) != 0)
            return 0;
    }
    sodium_memzero(nonce, BACKUP_CRYPTO_NONCE_BYTES);
    return -EAGAIN;
}

struct export_nonce_input {
    uint8_t scheme;
    const uint8_t *hash_key;
    size_t hash_key_len;
    const uint8_t *export_key;
    const uint8_t *plain;
    size_t plain_len;
};

/* Attempt 0 hashes exactly what exports always hashed, so the exports of
 * existing stores keep their bytes. */
static void export_nonce_candidate(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES], uint8_t attempt,
                                   void *ctx)
{
    const struct export_nonce_input *in = ctx;
    crypto_generichash_state st;

    crypto_generichash_init(&st, in->hash_key, in->hash_key_len, BACKUP_CRYPTO_NONCE_BYTES);
    crypto_generichash_update(&st, &in->scheme, 1);
    crypto_generichash_update(&st, in->export_key, BACKUP_CRYPTO_KEY_BYTES);
    crypto_generichash_update(&st, in->plain, in->plain_len);
    if (attempt)
        crypto_generichash_update(&st, &attempt, 1);
    crypto_generichash_final(&st, nonce, BACKUP_CRYPTO_NONCE_BYTES);
    sodium_memzero(&st, sizeof st);
}

int backup_crypto_export_nonce(uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                               enum backup_crypto_scheme scheme,
                               const uint8_t *hash_key, size_t hash_key_len,
                               const uint8_t export_key[BACKUP_CRYPTO_KEY_BYTES],
                               const uint8_t *plain, size_t plain_len)
{
    struct export_nonce_input in = {(uint8_t)scheme, hash_key, hash_key_len, export_key,
                                    plain, plain_len};
    return backup_crypto_pick_nonce(nonce, scheme, export_nonce_candidate, &in);
}
