/*
 * vult: the container of a backup file, its encryption and the 2024 .dat
 * dispatch (see vult.h); the Vault inside is vult_vault.c's.
 */
#include "vult.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "base64.h"
#include "dat.h"
#include "pb.h"

static int read_str(struct pb_reader *r, struct vult_str *out)
{
    const uint8_t *data;
    size_t len;
    int ret = pb_read_bytes(r, &data, &len);
    if (ret == 0)
        *out = (struct vult_str){(const char *)data, len};
    return ret;
}

/* ---- the container ----------------------------------------------------- */

enum container_field {
    CONTAINER_VERSION = 1,
    CONTAINER_VAULT = 2,
    CONTAINER_IS_ENCRYPTED = 3,
};

struct container {
    uint64_t version;
    bool is_encrypted;
    struct vult_str vault; /* base64 text, inside the decoded file */
};

static int parse_container(struct container *out, const uint8_t *bytes, size_t len)
{
    struct pb_reader c = {bytes, bytes + len};
    uint32_t field;
    enum pb_wire type;
    uint64_t value;
    bool have_vault = false;

    memset(out, 0, sizeof(*out));
    for (;;) {
        if (pb_read_tag(&c, &field, &type) < 0)
            return -EINVAL;
        if (field == 0)
            break;
        if (field == CONTAINER_VERSION || field == CONTAINER_IS_ENCRYPTED) {
            if (type != PB_VARINT || pb_read_varint(&c, &value) < 0)
                return -EINVAL;
            if (field == CONTAINER_VERSION)
                out->version = value;
            else if (value > 1)
                return -EINVAL;
            else
                out->is_encrypted = value == 1;
        } else if (field == CONTAINER_VAULT) {
            if (type != PB_BYTES || read_str(&c, &out->vault) < 0)
                return -EINVAL;
            have_vault = true;
        } else if (pb_skip(&c, type) < 0) {
            return -EINVAL;
        }
    }
    /* Every app writes version 1; another number would be a format this
     * build cannot know how to read. */
    if (out->version != VULT_CONTAINER_VERSION)
        return -EINVAL;
    return have_vault && out->vault.len ? 0 : -EINVAL;
}

/* Strict base64 into a fresh secret buffer. */
static int decode_to_secret(uint8_t **out, size_t *out_len, const char *text, size_t text_len)
{
    size_t cap = text_len / 4 * 3 + 3;
    uint8_t *buf = alloc_secret(cap);
    int ret;

    if (!buf)
        return -ENOMEM;
    ret = base64_decode(buf, cap, out_len, text, text_len);
    if (ret < 0) {
        alloc_secret_free(buf);
        return ret;
    }
    *out = buf;
    return 0;
}

/* Tries each password on blob; on success the Vault bytes are in plain. */
static int decrypt_blob(uint8_t *plain, size_t *plain_len, enum backup_crypto_scheme *scheme,
                        const uint8_t *blob, size_t blob_len, const struct vult_password *passwords,
                        size_t password_count, struct backup_keycache *cache)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    int ret = -EACCES;

    *scheme = backup_crypto_detect(blob, blob_len);
    if (*scheme == BACKUP_CRYPTO_CURRENT && backup_crypto_salt(salt, blob, blob_len) < 0)
        return -EINVAL;
    for (size_t i = 0; i < password_count; i++) {
        if (*scheme == BACKUP_CRYPTO_CURRENT)
            backup_keycache_key(cache, key, (const uint8_t *)passwords[i].ptr, passwords[i].len,
                                salt);
        else
            backup_crypto_key_legacy(key, (const uint8_t *)passwords[i].ptr, passwords[i].len);
        ret = backup_crypto_decrypt(plain, plain_len, blob, blob_len, *scheme, key);
        sodium_memzero(key, sizeof(key));
        if (ret != -EACCES)
            break; /* success, or a blob too short for any key */
    }
    return ret;
}

void vult_file_clear(struct vult_file *file)
{
    if (!file)
        return;
    vult_vault_clear(&file->vault);
    alloc_secret_free(file->vault_bytes);
    memset(file, 0, sizeof(*file));
}

/* The apps' container: base64 of {version, vault, is_encrypted}, where
 * vault is base64 of the Vault bytes or of an encrypted blob of them. On
 * success *plain is secret memory the caller frees. */
static int decode_container(uint8_t **plain, size_t *plain_len, uint64_t *version,
                            enum backup_crypto_scheme *scheme, const uint8_t *file, size_t file_len,
                            const struct vult_password *passwords, size_t password_count,
                            struct backup_keycache *cache)
{
    uint8_t *outer = NULL, *inner = NULL;
    size_t outer_len = 0, inner_len = 0;
    struct container container;
    int ret;

    ret = decode_to_secret(&outer, &outer_len, (const char *)file, file_len);
    if (ret < 0)
        return ret;
    ret = parse_container(&container, outer, outer_len);
    if (ret < 0)
        goto out_free_outer;
    ret = decode_to_secret(&inner, &inner_len, container.vault.ptr, container.vault.len);
    if (ret < 0)
        goto out_free_outer;
    *version = container.version;
    /* the outer layer is done with: a large backup holds less locked memory */
    alloc_secret_free(outer);
    outer = NULL;

    if (!container.is_encrypted) {
        *scheme = BACKUP_CRYPTO_NONE;
        *plain = inner;
        *plain_len = inner_len;
        inner = NULL;
        goto out_free_inner;
    }
    *plain = alloc_secret(inner_len ? inner_len : 1);
    if (!*plain) {
        ret = -ENOMEM;
        goto out_free_inner;
    }
    ret = decrypt_blob(*plain, plain_len, scheme, inner, inner_len, passwords, password_count,
                       cache);
    if (ret < 0) {
        alloc_secret_free(*plain);
        *plain = NULL;
    }
out_free_inner:
    alloc_secret_free(inner);
out_free_outer:
    alloc_secret_free(outer);
    return ret;
}

int vult_decode(struct vult_file *out, const uint8_t *file, size_t file_len,
                const struct vult_password *passwords, size_t password_count,
                struct backup_keycache *cache)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const char *problem = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    if (file_len > VULT_MAX_FILE_BYTES)
        return -EFBIG;
    /* An iOS .dat is binary, and its last byte may be a newline: it is
     * taken as it is. Text forms lose the newline editors and `echo` add
     * (the apps never write one). */
    enum dat_form dat = dat_detect(file, file_len);
    if (dat != DAT_IOS) {
        size_t text_len = file_len;
        while (text_len && strchr(" \t\r\n", file[text_len - 1]) && file[text_len - 1])
            text_len--;
        if (text_len != file_len) /* the same bytes classify the same */
            dat = dat_detect(file, text_len);
        file_len = text_len;
    }
    if (dat != DAT_NOT_DAT) {
        /* A 2024 backup: its JSON becomes Vault bytes, checked below as
         * any file's are, and it is kept as a current .vult would be. */
        out->version = VULT_CONTAINER_VERSION;
        out->scheme = dat == DAT_PLAIN ? BACKUP_CRYPTO_NONE : BACKUP_CRYPTO_LEGACY;
        ret = dat_decode(&plain, &plain_len, file, file_len, dat, passwords, password_count);
    } else {
        ret = decode_container(&plain, &plain_len, &out->version, &out->scheme, file, file_len,
                               passwords, password_count, cache);
    }
    if (ret < 0)
        goto out;

    ret = vult_vault_parse(&out->vault, &problem, plain, plain_len);
    if (ret < 0)
        goto out;
    out->vault_bytes = plain;
    out->vault_len = plain_len;
    plain = NULL;
out:
    alloc_secret_free(plain);
    if (ret < 0) {
        memset(out, 0, sizeof(*out));
        out->problem = problem;
    }
    return ret;
}

/* ---- encoding ---------------------------------------------------------- */

static size_t container_len(size_t inner_b64_len, enum backup_crypto_scheme scheme)
{
    size_t len = 2; /* version = 1 */
    len += 1 + pb_varint_len(inner_b64_len) + inner_b64_len;
    if (scheme != BACKUP_CRYPTO_NONE)
        len += 2; /* is_encrypted = true; proto3 leaves false out */
    return len;
}

size_t vult_encoded_len(size_t vault_len, enum backup_crypto_scheme scheme)
{
    size_t blob_len = scheme == BACKUP_CRYPTO_NONE ? vault_len
                                                    : backup_crypto_blob_len(scheme, vault_len);
    return base64_encoded_len(container_len(base64_encoded_len(blob_len), scheme));
}

int vult_encode(char *out, size_t out_cap, const uint8_t *vault, size_t vault_len,
                enum backup_crypto_scheme scheme, const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                const uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES],
                const uint8_t key[BACKUP_CRYPTO_KEY_BYTES])
{
    size_t blob_len = scheme == BACKUP_CRYPTO_NONE ? vault_len
                                                    : backup_crypto_blob_len(scheme, vault_len);
    size_t inner_len = base64_encoded_len(blob_len);
    size_t outer_len = container_len(inner_len, scheme);
    uint8_t *blob = NULL, *outer = NULL;
    int ret = -ENOMEM;

    if (out_cap < base64_encoded_len(outer_len))
        return -EINVAL;
    /* Secret buffers throughout: for NONE every stage is the share itself. */
    outer = alloc_secret(outer_len);
    if (!outer)
        goto out;
    if (scheme != BACKUP_CRYPTO_NONE) {
        blob = alloc_secret(blob_len);
        if (!blob)
            goto out;
        ret = backup_crypto_encrypt(blob, vault, vault_len, scheme, salt, nonce, key);
        if (ret < 0)
            goto out;
    }

    struct pb_writer w = {outer, 0};
    pb_write_tag(&w, CONTAINER_VERSION, PB_VARINT);
    pb_write_varint(&w, VULT_CONTAINER_VERSION);
    pb_write_tag(&w, CONTAINER_VAULT, PB_BYTES);
    pb_write_varint(&w, inner_len);
    /* Both layers are encoded in place: into the container, then into out. */
    base64_encode((char *)outer + w.len, blob ? blob : vault, blob_len);
    w.len += inner_len;
    if (scheme != BACKUP_CRYPTO_NONE) {
        pb_write_tag(&w, CONTAINER_IS_ENCRYPTED, PB_VARINT);
        pb_write_varint(&w, 1);
    }
    base64_encode(out, outer, outer_len);
    ret = 0;
out:
    alloc_secret_free(blob);
    alloc_secret_free(outer);
    return ret;
}
