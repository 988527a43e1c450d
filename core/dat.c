/*
 * dat: reading the 2024 .dat backups (see dat.h). AES-256-CBC comes from
 * nettle (libsodium has none), AES-256-GCM from backup_crypto. The JSON is
 * read with jansson; the Vault bytes are written by vult_vault_encode, so
 * a .dat share is held exactly as a .vult one would be.
 */
#include "dat.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <sodium.h>

#include "alloc.h"
#include "base64.h"
#include "backup_crypto.h"

#define AES_BLOCK 16

static bool is_hex_digit(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Hex text of a JSON object: what every decrypted .dat holds. */
static bool is_hex_json(const uint8_t *text, size_t len)
{
    if (len < 2 || text[0] != '7' || (text[1] != 'b' && text[1] != 'B'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_hex_digit(text[i]))
            return false;
    return true;
}

/* Line breaks and '=' among n bytes (n at most 64): a constant trip count
 * the compiler vectorizes, with no branch on the bytes. */
struct text_marks {
    size_t breaks, pads;
};

static inline void count_marks(struct text_marks *marks, const uint8_t *file, size_t n)
{
    uint8_t breaks = 0, pads = 0;

    for (size_t i = 0; i < n; i++) {
        breaks = (uint8_t)(breaks + (file[i] == '\n') + (file[i] == '\r'));
        pads = (uint8_t)(pads + (file[i] == '='));
    }
    marks->breaks += breaks;
    marks->pads += pads;
}

/* A zip's local file header: the apps' "all vaults" backup, or any zip.
 * (A GCM nonce that starts so is one in 2^32.) */
static bool is_zip(const uint8_t *file, size_t len)
{
    return len >= 4 && memcmp(file, "PK\x03\x04", 4) == 0;
}

enum dat_form dat_detect(const uint8_t *file, size_t len)
{
    struct text_marks marks = {0, 0};
    size_t done = 0;

    if (is_hex_json(file, len))
        return DAT_PLAIN;
    if (is_zip(file, len))
        return DAT_NOT_DAT;
    for (; len - done >= 64; done += 64)
        count_marks(&marks, file + done, 64);
    count_marks(&marks, file + done, len - done);
    /* Text is base64 letters, '=' and line breaks: what is left is not. */
    size_t not_text = base64_count_non_letters(file, len) - marks.breaks - marks.pads;

    /* Three quarters of random bytes are outside the base64 alphabet; a
     * damaged .vult has a few such bytes, a blob mostly such bytes. */
    if (not_text * 2 > len && len >= BACKUP_CRYPTO_LEGACY_OVERHEAD)
        return DAT_IOS;
    if (marks.breaks && not_text == 0)
        return DAT_ANDROID;
    return DAT_NOT_DAT;
}

const char *dat_misnamed_binary(const char *name, const uint8_t *file, size_t len)
{
    size_t name_len = strlen(name);
    bool named_dat = name_len >= 4 && strcasecmp(name + name_len - 4, ".dat") == 0;

    if (is_zip(file, len))
        return "a zip, not a backup file: the apps' \"all vaults\" zips are imported whole "
               "(vultfs import STORE FILE.zip, or copied into the mount's root as FILE.zip)";
    if (!named_dat && dat_detect(file, len) == DAT_IOS)
        return "binary data, and the only backup that is binary (a 2024 iOS .dat) is named "
               "*.dat";
    return NULL;
}

int dat_created_at(int64_t *seconds, int32_t *nanos, double value)
{
    *seconds = 0;
    *nanos = 0;
    if (!isfinite(value) || value < 0 || value > 253402300799.0)
        return -EINVAL;
    int64_t whole = (int64_t)value;
    int64_t micros = (int64_t)((value - (double)whole) * 1e6 + 0.5);
    if (micros >= 1000000) {
        whole++;
        micros = 0;
    }
    if (value > 0 && value < DAT_UNIX_SECONDS_FROM)
        whole += DAT_APPLE_EPOCH;
    *seconds = whole;
    *nanos = (int32_t)(micros * 1000);
    return 0;
}

/* ---- JSON to Vault ------------------------------------------------------- */

/* A string member as a view into the JSON; absent or null gives an empty
 * view, which is an error only when the member is required. */
static int member_text(struct vult_str *out, const json_t *obj, const char *key, bool required)
{
    const json_t *v = json_object_get(obj, key);

    *out = (struct vult_str){NULL, 0};
    if (!v || json_is_null(v))
        return required ? -EINVAL : 0;
    if (!json_is_string(v))
        return -EINVAL;
    *out = (struct vult_str){json_string_value(v), json_string_length(v)};
    return 0;
}

/* libType: absent means GG20 (every .dat vault is); a number or a name. */
static int member_lib_type(uint64_t *out, const json_t *obj)
{
    static const char *const names[] = {"GG20", "DKLS", "KEYIMPORT"};
    const json_t *v = json_object_get(obj, "libType");

    *out = VULT_LIB_GG20;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    for (uint64_t i = 0; json_is_string(v) && i < 3; i++) {
        if (strcasecmp(json_string_value(v), names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -EINVAL;
}

static int member_signers(struct vult_vault *out, const json_t *obj)
{
    const json_t *list = json_object_get(obj, "signers");
    const json_t *v;
    size_t i;

    if (!json_is_array(list))
        return -EINVAL;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v))
            return -EINVAL;
        out->signers[out->signer_count++] = (struct vult_str){json_string_value(v),
                                                             json_string_length(v)};
    }
    return 0;
}

static int member_key_shares(struct vult_vault *out, const json_t *obj)
{
    const json_t *list = json_object_get(obj, "keyshares");
    const json_t *v;
    size_t i;

    if (!json_is_array(list))
        return -EINVAL;
    json_array_foreach(list, i, v) {
        struct vult_key_share *ks = &out->key_shares[out->key_share_count++];
        if (!json_is_object(v) || member_text(&ks->public_key, v, "pubkey", true) < 0 ||
            member_text(&ks->keyshare, v, "keyshare", true) < 0)
            return -EINVAL;
    }
    return 0;
}

static int member_created_at(struct vult_vault *out, const json_t *obj)
{
    const json_t *v = json_object_get(obj, "createdAt");

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return -EINVAL;
    return dat_created_at(&out->created_at_seconds, &out->created_at_nanos,
                          json_number_value(v));
}

/* Room for the signers and key shares the JSON lists (vult_vault_clear
 * frees it). */
static int alloc_lists(struct vult_vault *out, const json_t *obj)
{
    size_t signers = json_array_size(json_object_get(obj, "signers"));
    size_t shares = json_array_size(json_object_get(obj, "keyshares"));
    uint8_t *block = alloc_zeroed(1, signers * sizeof(*out->signers) +
                                         shares * sizeof(*out->key_shares) + 1);

    if (!block)
        return -ENOMEM;
    out->arrays = block;
    out->key_shares = (struct vult_key_share *)block;
    out->signers = (struct vult_str *)(block + shares * sizeof(*out->key_shares));
    return 0;
}

/* The VAULT object as views; valid while the JSON is. */
static int vault_of_json(struct vult_vault *out, const json_t *obj)
{
    memset(out, 0, sizeof(*out));
    if (json_is_object(obj) && alloc_lists(out, obj) < 0)
        return -ENOMEM;
    if (!json_is_object(obj) || member_text(&out->name, obj, "name", true) < 0 ||
        member_text(&out->public_key_ecdsa, obj, "pubKeyECDSA", true) < 0 ||
        member_text(&out->public_key_eddsa, obj, "pubKeyEdDSA", false) < 0 ||
        member_text(&out->hex_chain_code, obj, "hexChainCode", false) < 0 ||
        member_text(&out->local_party_id, obj, "localPartyID", true) < 0 ||
        member_text(&out->reshare_prefix, obj, "resharePrefix", false) < 0 ||
        member_lib_type(&out->lib_type, obj) < 0 || member_signers(out, obj) < 0 ||
        member_key_shares(out, obj) < 0 || member_created_at(out, obj) < 0)
        return -EINVAL;
    return 0;
}

/* jansson copied the key shares into its own heap: wipe them there before
 * it frees them. */
static void wipe_json_key_shares(const json_t *vault)
{
    const json_t *v;
    size_t i;

    json_array_foreach(json_object_get(vault, "keyshares"), i, v) {
        const json_t *ks = json_object_get(v, "keyshare");
        if (json_is_string(ks))
            sodium_memzero((char *)json_string_value(ks), json_string_length(ks));
    }
}

/* The {version: "v1", vault: VAULT} wrapper (iOS until June 2024, Android)
 * or VAULT alone (iOS since). */
static const json_t *unwrap(const json_t *root)
{
    const json_t *vault = json_object_get(root, "vault");
    const json_t *version = json_object_get(root, "version");

    if (!json_is_object(vault))
        return root;
    return json_is_string(version) && strcmp(json_string_value(version), "v1") == 0 ? vault
                                                                                   : NULL;
}

/* jansson 2.14 reports a failed allocation as a syntax error ("invalid
 * token") or with no text at all, so its error cannot tell bad JSON from
 * no memory. Parse again (a passing shortage goes by), and if that fails
 * too, ask the allocator: only JSON that fails with memory to spare is bad. */
static int parse_json(json_t **root, const uint8_t *json, size_t len)
{
    json_error_t error;

    for (int attempt = 0; attempt < 2 && !*root; attempt++)
        *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &error);
    if (*root)
        return 0;
    void *probe = alloc_bytes(len + 4096);
    alloc_free(probe);
    return probe ? -EINVAL : -ENOMEM;
}

static int json_to_vault(uint8_t **out, size_t *out_len, const uint8_t *json, size_t len)
{
    json_t *root = NULL;
    struct vult_vault vault = {0};
    int ret = parse_json(&root, json, len);

    if (ret < 0)
        return ret;
    const json_t *obj = unwrap(root);
    ret = obj ? vault_of_json(&vault, obj) : -EINVAL;
    if (ret == 0)
        ret = vult_vault_encode(out, out_len, &vault);
    vult_vault_clear(&vault);
    if (obj)
        wipe_json_key_shares(obj);
    json_decref(root);
    return ret;
}

/* Hex text (is_hex_json) to the JSON it encodes, then to Vault bytes. */
static int hex_json_to_vault(uint8_t **out, size_t *out_len, const uint8_t *hex, size_t len)
{
    size_t json_len = 0;
    uint8_t *json;
    int ret;

    if (!is_hex_json(hex, len) || len % 2 != 0)
        return -EINVAL;
    json = alloc_secret(len / 2);
    if (!json)
        return -ENOMEM;
    if (sodium_hex2bin(json, len / 2, (const char *)hex, len, NULL, &json_len, NULL) != 0 ||
        json_len != len / 2)
        ret = -EINVAL;
    else
        ret = json_to_vault(out, out_len, json, json_len);
    alloc_secret_free(json);
    return ret;
}

/* ---- the encrypted forms --------------------------------------------------- */

/* Length of the text under valid PKCS#7 padding, or -1. */
static long pkcs7_unpadded_len(const uint8_t *plain, size_t len)
{
    uint8_t pad = len ? plain[len - 1] : 0;
    if (pad == 0 || pad > AES_BLOCK || pad > len)
        return -1;
    for (size_t i = len - pad; i < len; i++)
        if (plain[i] != pad)
            return -1;
    return (long)(len - pad);
}

/* One password on Android's ciphertext: 0 and the hex text's length when
 * it fits, -EACCES when it does not. */
static int cbc_try(size_t *text_len, uint8_t *plain, const uint8_t *ct, size_t ct_len,
                   const struct vult_password *pw)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t iv[AES_BLOCK] = {0};
    struct aes256_ctx aes;
    long len;

    backup_crypto_key_legacy(key, (const uint8_t *)pw->ptr, pw->len);
    aes256_set_decrypt_key(&aes, key);
    cbc_decrypt(&aes, (nettle_cipher_func *)aes256_decrypt, AES_BLOCK, iv, ct_len, plain, ct);
    sodium_memzero(&aes, sizeof(aes));
    sodium_memzero(key, sizeof(key));
    /* A wrong key gives valid-looking padding once in 256 tries; it never
     * gives hex text of JSON as well. */
    len = pkcs7_unpadded_len(plain, ct_len);
    if (len < 0 || !is_hex_json(plain, (size_t)len)) {
        sodium_memzero(plain, ct_len);
        return -EACCES;
    }
    *text_len = (size_t)len;
    return 0;
}

/* Android's Base64.DEFAULT text, line breaks dropped, to ciphertext. */
static int android_ciphertext(uint8_t **ct, size_t *ct_len, const uint8_t *file, size_t len)
{
    char *text = alloc_bytes(len ? len : 1);
    size_t text_len = 0;
    int ret;

    if (!text)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        if (file[i] != '\n' && file[i] != '\r')
            text[text_len++] = (char)file[i];
    *ct = alloc_bytes(text_len / 4 * 3 + 1);
    ret = *ct ? base64_decode(*ct, text_len / 4 * 3 + 1, ct_len, text, text_len)
              : -ENOMEM;
    if (ret == 0 && (*ct_len == 0 || *ct_len % AES_BLOCK != 0))
        ret = -EINVAL;
    if (ret < 0) {
        alloc_free(*ct);
        *ct = NULL;
    }
    alloc_free(text);
    return ret;
}

static int android_decode(uint8_t **out, size_t *out_len, const uint8_t *file, size_t len,
                          const struct vult_password *passwords, size_t count)
{
    uint8_t *ct = NULL, *plain;
    size_t ct_len = 0, text_len = 0;
    int ret = android_ciphertext(&ct, &ct_len, file, len);

    if (ret < 0)
        return ret;
    plain = alloc_secret(ct_len);
    if (!plain) {
        alloc_free(ct);
        return -ENOMEM;
    }
    ret = -EACCES;
    for (size_t i = 0; i < count && ret == -EACCES; i++)
        ret = cbc_try(&text_len, plain, ct, ct_len, &passwords[i]);
    if (ret == 0)
        ret = hex_json_to_vault(out, out_len, plain, text_len);
    alloc_secret_free(plain);
    alloc_free(ct);
    return ret;
}

static int ios_decode(uint8_t **out, size_t *out_len, const uint8_t *file, size_t len,
                      const struct vult_password *passwords, size_t count)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t *plain = alloc_secret(len);
    size_t plain_len = 0;
    int ret = len < BACKUP_CRYPTO_LEGACY_OVERHEAD ? -EINVAL : -EACCES;

    if (!plain)
        return -ENOMEM;
    for (size_t i = 0; i < count && ret == -EACCES; i++) {
        backup_crypto_key_legacy(key, (const uint8_t *)passwords[i].ptr, passwords[i].len);
        ret = backup_crypto_decrypt(plain, &plain_len, file, len, BACKUP_CRYPTO_LEGACY, key);
        sodium_memzero(key, sizeof(key));
    }
    /* The tag verified: the password fits, so anything wrong now is the
     * file's fault. */
    if (ret == 0)
        ret = hex_json_to_vault(out, out_len, plain, plain_len);
    alloc_secret_free(plain);
    return ret;
}

int dat_decode(uint8_t **vault, size_t *vault_len, const uint8_t *file, size_t len,
               enum dat_form form, const struct vult_password *passwords, size_t password_count)
{
    *vault = NULL;
    *vault_len = 0;
    switch (form) {
    case DAT_PLAIN:
        return hex_json_to_vault(vault, vault_len, file, len);
    case DAT_IOS:
        return ios_decode(vault, vault_len, file, len, passwords, password_count);
    case DAT_ANDROID:
        return android_decode(vault, vault_len, file, len, passwords, password_count);
    case DAT_NOT_DAT:
        break;
    }
    return -EINVAL;
}
