/*
 * vult_vault: the Vault message inside a Vultisig backup, parsed into
 * views of its bytes and encoded from fields.
 *
 * The Vault bytes of an imported file are kept exactly as imported and
 * never re-encoded: parsing makes views (pointers into those bytes), so
 * key share material lives in one secret buffer only. Unknown fields are
 * skipped. Encoding serves the files vultfs makes itself (synthetic
 * vaults) and the 2024 .dat, whose JSON has no protobuf bytes to keep.
 */
#ifndef VULTFS_VULT_VAULT_H
#define VULTFS_VULT_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wur.h"

enum vult_lib_type {
    VULT_LIB_GG20 = 0,
    VULT_LIB_DKLS = 1,
    VULT_LIB_KEYIMPORT = 2,
};

/* A borrowed view of bytes inside a parsed buffer; not NUL-terminated. */
struct vult_str {
    const char *ptr;
    size_t len;
};

/* Same bytes (absent fields, {NULL, 0}, equal each other). */
bool vult_str_eq(struct vult_str a, struct vult_str b);

/* Only hex digits (an empty view is hex). */
bool vult_str_is_hex(struct vult_str s);

struct vult_key_share {
    struct vult_str public_key;
    struct vult_str keyshare; /* secret */
};

/* One entry of chain_public_keys (a KEYIMPORT vault's key per chain). */
struct vult_chain_key {
    struct vult_str public_key; /* hex, or what the app wrote (base64) */
    struct vult_str chain;      /* as the app spells it: "Bitcoin" */
    bool is_eddsa;
};

/* The Vault fields vultfs uses, as views into the Vault bytes: valid only
 * while those bytes are. The repeated fields are arrays that
 * vult_vault_parse allocates (one block, `arrays`) and vult_vault_clear
 * frees; a caller that fills a vault by hand (vult_vault_encode's input)
 * points them at its own arrays and leaves `arrays` NULL. */
struct vult_vault {
    struct vult_str name;
    struct vult_str public_key_ecdsa;
    struct vult_str public_key_eddsa;
    struct vult_str *signers;
    size_t signer_count;
    int64_t created_at_seconds;
    int32_t created_at_nanos;
    struct vult_str hex_chain_code;
    struct vult_key_share *key_shares;
    size_t key_share_count;
    struct vult_str local_party_id;
    struct vult_str reshare_prefix;
    uint64_t lib_type; /* enum vult_lib_type; other values are kept as read */
    struct vult_chain_key *chains; /* chain_public_keys */
    size_t chain_count;
    struct vult_str public_key_mldsa44; /* hex of the ML-DSA-44 key, when set */
    struct vult_str public_key_frozt;
    struct vult_str public_key_fromt;
    void *arrays; /* owns the arrays above after vult_vault_parse */
    const uint32_t *share_order; /* key shares by public key (parse only) */
};

/* Parses Vault protobuf bytes into views (and the arrays that hold the
 * repeated ones: vult_vault_clear frees them). -EINVAL when malformed,
 * when a required field (name, public_key_ecdsa, local_party_id, a
 * signer) is missing, or when a key share is damaged: neither JSON text
 * (GG20) nor canonical base64 (DKLS and later kinds), or stating other
 * public facts than the Vault (keyshare.h); *problem (may be NULL) then
 * says which, as a short static phrase. -ENOMEM. */
int vult_vault_parse(struct vult_vault *out, const char **problem, const uint8_t *bytes,
                     size_t len) VULTFS_WUR;

/* Frees what vult_vault_parse allocated and clears *vault; NULL-safe. */
void vult_vault_clear(struct vult_vault *vault);

/* The key share for a public key (the first, as the apps pick), or NULL. */
const struct vult_key_share *vult_vault_key_share(const struct vult_vault *vault,
                                                  struct vult_str public_key);

/* What the key shares are, whatever lib_type says: early DKLS files lack
 * lib_type (it reads as GG20) but their shares are base64, and the apps
 * tell GG20 from DKLS by the export's name ("part" or "share"). */
bool vult_vault_is_dkls_shaped(const struct vult_vault *vault);

/* "GG20", "DKLS", "KEYIMPORT", or NULL for an unknown value. */
const char *vult_lib_type_name(uint64_t lib_type);

/* The file name the apps give an export:
 * "<name>-<last 4 hex of ECDSA key>-share<i>of<n>.vult" ("part" for GG20
 * shares; vult_vault_is_dkls_shaped decides),
 * i = 1-based position of local_party_id in signers. "/" and NUL in the
 * name become "_". Returns a NUL-terminated alloc_bytes string or NULL. */
char *vult_suggested_filename(const struct vult_vault *vault);

/* Encodes a Vault protobuf from fields: synthetic vaults (tests, the
 * demo) and the Vault of a 2024 .dat (dat.c), whose JSON has no protobuf
 * bytes to keep. *out is alloc_secret. */
int vult_vault_encode(uint8_t **out, size_t *out_len, const struct vult_vault *vault) VULTFS_WUR;

/* RFC 3339 UTC text of created_at ("2024-05-01T12:00:00Z", with
 * fractional seconds when nanos != 0) into buf; "" when unset. */
void vult_format_time(char *buf, size_t buf_len, int64_t seconds, int32_t nanos);

#endif
