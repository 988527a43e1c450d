/*
 * synth: synthetic vaults for tests. Everything here is FAKE key material,
 * clearly marked, so a fresh clone tests itself without ../shared: the
 * public keys are made-up hex and every key share says it is fake.
 */
#ifndef VULTFS_TEST_SYNTH_H
#define VULTFS_TEST_SYNTH_H

#include <errno.h>
#include <stdio.h>
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
};

#define SYNTH_ECDSA "02deadbeef00000000000000000000000000000000000000000000000000fa4e"
#define SYNTH_EDDSA "feedface0000000000000000000000000000000000000000000000000000fa4e"

/* Every fake key share contains this marker, so a test can check that no
 * key share material reaches an output. */
#define SYNTH_FAKE_MARKER "FAKEKEYSHARE"

/* Fake key share text shaped as the codec demands of real ones: JSON text
 * for GG20, one canonical base64 string for DKLS and KEYIMPORT (the marker
 * is itself four whole base64 quanta). Returns the length written, or -1
 * when cap is too small. */
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

/* Encodes the spec as Vault protobuf bytes (alloc_secret; caller frees with
 * alloc_secret_free). Returns 0 or -errno. */
static inline int synth_vault(uint8_t **out, size_t *out_len, const struct synth_spec *spec)
{
    static char share_ecdsa[400], share_eddsa[400];
    struct vult_vault v;
    memset(&v, 0, sizeof(v));
#define SYNTH_STR(s) ((struct vult_str){(s), strlen(s)})
    v.name = SYNTH_STR(spec->name);
    v.public_key_ecdsa = SYNTH_STR(spec->ecdsa ? spec->ecdsa : SYNTH_ECDSA);
    v.public_key_eddsa = SYNTH_STR(spec->eddsa ? spec->eddsa : SYNTH_EDDSA);
    for (size_t i = 0; i < 8 && spec->signers[i]; i++)
        v.signers[v.signer_count++] = SYNTH_STR(spec->signers[i]);
    v.created_at_seconds = 1714564800; /* 2024-05-01T12:00:00Z */
    v.hex_chain_code = SYNTH_STR("c0de00000000000000000000000000000000000000000000000000000000c0de");
    char text[200];
    snprintf(text, sizeof(text), "ecdsa %s %s %s", spec->name, spec->device,
             spec->share_tag ? spec->share_tag : "");
    if (synth_fake_share(share_ecdsa, sizeof(share_ecdsa), spec->lib_type, text) < 0)
        return -EINVAL;
    snprintf(text, sizeof(text), "eddsa %s %s %s", spec->name, spec->device,
             spec->share_tag ? spec->share_tag : "");
    if (synth_fake_share(share_eddsa, sizeof(share_eddsa), spec->lib_type, text) < 0)
        return -EINVAL;
    v.key_shares[0].public_key = v.public_key_ecdsa;
    v.key_shares[0].keyshare = SYNTH_STR(share_ecdsa);
    v.key_share_count = 1;
    if (!spec->omit_eddsa_share) {
        v.key_shares[1].public_key = v.public_key_eddsa;
        v.key_shares[1].keyshare = SYNTH_STR(share_eddsa);
        v.key_share_count = 2;
    }
    v.local_party_id = SYNTH_STR(spec->device);
    v.reshare_prefix = SYNTH_STR(spec->reshare_prefix ? spec->reshare_prefix : "");
    v.lib_type = spec->lib_type;
#undef SYNTH_STR
    return vult_vault_encode(out, out_len, &v);
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
