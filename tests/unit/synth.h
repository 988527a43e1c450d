/*
 * synth: synthetic vaults for tests. Everything here is FAKE key material,
 * clearly marked, so a fresh clone tests itself without ../shared: the
 * public keys are made-up hex and every key share says it is fake.
 */
#ifndef VULTFS_TEST_SYNTH_H
#define VULTFS_TEST_SYNTH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "vult.h"

struct synth_spec {
    const char *name;
    const char *ecdsa;          /* hex; default a fixed fake key */
    const char *eddsa;          /* hex; default a fixed fake key */
    const char *device;         /* local_party_id */
    const char *signers[8];     /* NULL-terminated list */
    const char *reshare_prefix; /* "" for DKLS */
    unsigned lib_type;
    const char *share_tag;      /* varies the fake key share material */
    int omit_eddsa_share;       /* an incomplete backup */
    int mldsa;                  /* an ML-DSA-44 key and its share, last (the apps'
                                   "generate ML-DSA key": the same shares
                                   besides, so it grows the backup without it) */
};

/* A fake ML-DSA-44 public key: 1,312 bytes as hex. */
static inline const char *synth_mldsa_key(void)
{
    static char hex[2 * 1312 + 1];
    if (!hex[0])
        for (size_t i = 0; i < 2 * 1312; i++)
            hex[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
    return hex;
}

#define SYNTH_ECDSA "02deadbeef0000000000000000000000000000000000000000000000000000fa4e"
#define SYNTH_EDDSA "feedface0000000000000000000000000000000000000000000000000000fa4e"

/* Every fake key share contains this marker, so a test can check that no
 * key share material reaches an output. */
#define SYNTH_FAKE_MARKER "FAKEKEYSHARE"

/* Fake key share text in the two forms the codec demands of real ones:
 * JSON text for GG20, one canonical base64 string for DKLS and KEYIMPORT
 * (the marker is itself four whole base64 quanta). States nothing about
 * itself: synth_share makes shares that do. Returns the length written,
 * or -1 when cap is too small. */
static inline int synth_fake_share(char *buf, size_t cap, unsigned lib_type, const char *text)
{
    size_t len = strlen(text);
    int n;

    if (lib_type == VULT_LIB_GG20)
        return (n = snprintf(buf, cap, "{\"" SYNTH_FAKE_MARKER "\": \"NOT A REAL SECRET %s\"}",
                             text)) < 0 || (size_t)n >= cap ? -1 : n;
    n = (int)strlen(SYNTH_FAKE_MARKER);
    if (cap < (size_t)n + sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    memcpy(buf, SYNTH_FAKE_MARKER, (size_t)n);
    sodium_bin2base64(buf + n, cap - (size_t)n, (const unsigned char *)text, len,
                      sodium_base64_VARIANT_ORIGINAL);
    return (int)strlen(buf);
}

/* s as a JSON string's contents (quotes and backslashes escaped). */
static inline void synth_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < len && used + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            used += (size_t)snprintf(out + used, cap - used, "\\%c", c);
        else if (c < 0x20)
            used += (size_t)snprintf(out + used, cap - used, "\\u%04x", c);
        else
            out[used++] = (char)c;
    }
    out[used] = '\0';
}

/* Deterministic filler: the same text gives the same bytes. */
static inline void synth_fake_bytes(uint8_t *out, size_t len, const char *text)
{
    crypto_generichash_state st;
    uint8_t block[64];
    for (size_t at = 0, n = 0; at < len; n++) {
        crypto_generichash_init(&st, NULL, 0, sizeof(block));
        crypto_generichash_update(&st, (const uint8_t *)text, strlen(text));
        crypto_generichash_update(&st, (const uint8_t *)&n, sizeof(n));
        crypto_generichash_final(&st, block, sizeof(block));
        size_t take = len - at < sizeof(block) ? len - at : sizeof(block);
        memcpy(out + at, block, take);
        at += take;
    }
}

/* What a shaped fake share states of itself, as the apps' shares do (see
 * core/keyshare.h): GG20 JSON names its pub_key, device, chain code and
 * prefix; a DKLS share for a 33-byte key has the ECDSA layout (header,
 * parties, chain code, key at byte 75), for a 32-byte key the 132-byte
 * EdDSA layout (key at byte 35); any other key gets marked base64. */
struct synth_share_spec {
    unsigned lib_type;
    const char *text;        /* varies the secret part */
    struct vult_str key;     /* the public key it is listed under (hex) */
    struct vult_str chain_code; /* what an ECDSA share states (may be empty) */
    struct vult_str device;  /* GG20: local_party_key */
    struct vult_str prefix;  /* GG20: reshare_prefix */
    size_t parties, index;   /* DKLS: party count, this device's index */
    size_t ecdsa_bytes;      /* DKLS ECDSA share size (0: small) */
};

static inline void synth_hex_to(uint8_t *out, size_t len, struct vult_str hex)
{
    size_t got = 0;
    memset(out, 0, len);
    if (sodium_hex2bin(out, len, hex.ptr, hex.len, NULL, &got, NULL) != 0)
        memset(out, 0, len);
}

/* The marker at byte `at` (a multiple of three), so it shows in base64. */
static inline void synth_put_marker(uint8_t *raw, size_t at)
{
    size_t got = 0;
    int ret = sodium_base642bin(raw + at, 9, SYNTH_FAKE_MARKER, strlen(SYNTH_FAKE_MARKER), NULL,
                                &got, NULL, sodium_base64_VARIANT_ORIGINAL);
    (void)ret;
}

static inline char *synth_base64(const uint8_t *raw, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    if (text)
        sodium_bin2base64(text, cap, raw, len, sodium_base64_VARIANT_ORIGINAL);
    return text;
}

/* A shaped fake share (malloc'd, NUL-terminated), or NULL. */
static inline char *synth_share(const struct synth_share_spec *s)
{
    size_t n = s->parties ? s->parties : 2, t = n <= 2 ? n : (2 * n + 2) / 3;

    if (s->lib_type == VULT_LIB_GG20) {
        char device[512], text[512], prefix[512], *out = NULL;
        synth_json_escape(device, sizeof(device), s->device.ptr ? s->device.ptr : "",
                          s->device.len);
        synth_json_escape(text, sizeof(text), s->text, strlen(s->text));
        synth_json_escape(prefix, sizeof(prefix), s->prefix.ptr ? s->prefix.ptr : "",
                          s->prefix.len);
        int len = asprintf(&out,
                           "{\"pub_key\": \"%.*s\", \"" SYNTH_FAKE_MARKER "\": \"NOT A REAL "
                           "SECRET %s\", \"local_party_key\": \"%s\", \"chain_code_hex\": "
                           "\"%.*s\", \"reshare_prefix\": \"%s\"}",
                           (int)s->key.len, s->key.ptr, text, device,
                           s->key.len == 66 ? (int)s->chain_code.len : 0,
                           s->chain_code.ptr ? s->chain_code.ptr : "", prefix);
        return len < 0 ? NULL : out;
    }
    if (s->key.len == 66) {
        size_t len = s->ecdsa_bytes ? s->ecdsa_bytes : 240;
        uint8_t *raw = calloc(1, len);
        if (!raw)
            return NULL;
        synth_fake_bytes(raw, len, s->text);
        memcpy(raw, "\0\0\0\1\0\0\0\0", 8);
        raw[8] = (uint8_t)n;
        raw[9] = (uint8_t)t;
        raw[10] = (uint8_t)s->index;
        synth_hex_to(raw + 43, 32, s->chain_code);
        synth_hex_to(raw + 75, 33, s->key);
        synth_put_marker(raw, 108);
        char *out = synth_base64(raw, len);
        free(raw);
        return out;
    }
    uint8_t raw[1200];
    size_t len = s->key.len == 64 ? 132 : sizeof(raw);
    synth_fake_bytes(raw, len, s->text);
    if (s->key.len == 64) {
        raw[0] = (uint8_t)t;
        raw[1] = (uint8_t)n;
        raw[2] = (uint8_t)s->index;
        synth_put_marker(raw, 3);
        synth_hex_to(raw + 35, 32, s->key);
    } else {
        synth_put_marker(raw, 0);
    }
    return synth_base64(raw, len);
}

/* Encodes the spec as Vault protobuf bytes (alloc_secret; caller frees with
 * alloc_secret_free). The key shares are shaped (synth_share). Returns 0
 * or -errno. */
static inline int synth_vault(uint8_t **out, size_t *out_len, const struct synth_spec *spec)
{
    struct vult_vault v;
    struct vult_str signers[8];
    struct vult_key_share shares[3];
    char *share_text[3] = {NULL, NULL, NULL};
    size_t index = 0;
    int ret = -ENOMEM;

    memset(&v, 0, sizeof(v));
#define SYNTH_STR(s) ((struct vult_str){(s), strlen(s)})
    v.name = SYNTH_STR(spec->name);
    v.public_key_ecdsa = SYNTH_STR(spec->ecdsa ? spec->ecdsa : SYNTH_ECDSA);
    v.public_key_eddsa = SYNTH_STR(spec->eddsa ? spec->eddsa : SYNTH_EDDSA);
    v.signers = signers;
    for (size_t i = 0; i < 8 && spec->signers[i]; i++) {
        if (strcmp(spec->signers[i], spec->device) == 0)
            index = i;
        signers[v.signer_count++] = SYNTH_STR(spec->signers[i]);
    }
    v.created_at_seconds = 1714564800; /* 2024-05-01T12:00:00Z */
    v.hex_chain_code = SYNTH_STR("c0de00000000000000000000000000000000000000000000000000000000c0de");
    v.local_party_id = SYNTH_STR(spec->device);
    v.reshare_prefix = SYNTH_STR(spec->reshare_prefix ? spec->reshare_prefix : "");
    v.lib_type = spec->lib_type;
    v.key_shares = shares;
    for (size_t k = 0; k < (spec->omit_eddsa_share ? 1u : 2u); k++) {
        char text[200];
        snprintf(text, sizeof(text), "%s %s %s %s", k ? "eddsa" : "ecdsa", spec->name,
                 spec->device, spec->share_tag ? spec->share_tag : "");
        struct synth_share_spec ss = {
            spec->lib_type, text, k ? v.public_key_eddsa : v.public_key_ecdsa,
            k ? (struct vult_str){NULL, 0} : v.hex_chain_code, v.local_party_id,
            v.reshare_prefix, v.signer_count, index, 0};
        if (!(share_text[k] = synth_share(&ss)))
            goto out;
        shares[v.key_share_count++] = (struct vult_key_share){ss.key, SYNTH_STR(share_text[k])};
    }
    if (spec->mldsa) {
        char text[200];
        snprintf(text, sizeof(text), "mldsa %s %s %s", spec->name, spec->device,
                 spec->share_tag ? spec->share_tag : "");
        v.public_key_mldsa44 = SYNTH_STR(synth_mldsa_key());
        struct synth_share_spec ss = {spec->lib_type, text, v.public_key_mldsa44,
                                      {NULL, 0}, v.local_party_id, v.reshare_prefix,
                                      v.signer_count, index, 0};
        if (!(share_text[2] = synth_share(&ss)))
            goto out;
        shares[v.key_share_count++] = (struct vult_key_share){ss.key, SYNTH_STR(share_text[2])};
    }
#undef SYNTH_STR
    ret = vult_vault_encode(out, out_len, &v);
out:
    free(share_text[0]);
    free(share_text[1]);
    free(share_text[2]);
    return ret;
}

/* The whole .vult text of a spec, unencrypted (alloc_bytes, NUL-terminated). */
static inline char *synth_file(const struct synth_spec *spec, size_t *len)
{
    uint8_t *vault;
    size_t vault_len;
    if (synth_vault(&vault, &vault_len, spec) < 0)
        return NULL;
    size_t n = vult_encoded_len(vault_len, BACKUP_CRYPTO_NONE);
    char *text = alloc_bytes(n + 1);
    if (text && vult_encode(text, n, vault, vault_len, BACKUP_CRYPTO_NONE, NULL, NULL, NULL) == 0) {
        text[n] = '\0';
        *len = n;
    } else {
        alloc_free(text);
        text = NULL;
    }
    alloc_secret_free(vault);
    return text;
}

#endif
