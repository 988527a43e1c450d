/*
 * dat: the 2024 Vultisig backups (.dat), turned into the Vault protobuf
 * bytes the store keeps, so that they are stored and exported like any
 * share (as current .vult files). Layouts, from the fixtures' MANIFEST:
 *
 *   plain     hex of UTF-8 JSON: {"version": "v1", "vault": VAULT} or VAULT
 *   iOS       raw legacy blob (key SHA-256(password), AES-256-GCM,
 *             nonce(12) || ct || tag(16)) of the hex text
 *   Android   base64 with line breaks of AES-256-CBC (key SHA-256(password),
 *             zero IV, PKCS#7) of the hex text
 *
 * VAULT is {name, signers, createdAt, pubKeyECDSA, pubKeyEdDSA,
 * hexChainCode, keyshares [{pubkey, keyshare}], localPartyID,
 * resharePrefix?, libType?}; other keys (Android's id, coins) are ignored.
 * createdAt is iOS seconds since 2001-01-01, or Android's 0.0 (no date).
 * Every malformed input is -EINVAL here; the caller checks the Vault.
 */
#ifndef VULTFS_DAT_H
#define VULTFS_DAT_H

#include <stddef.h>
#include <stdint.h>

#include "backup_crypto.h"
#include "vult_vault.h"
#include "wur.h"


/* Apple's reference date, 2001-01-01T00:00:00Z, in Unix seconds. */
#define DAT_APPLE_EPOCH 978307200
/* A createdAt at or past this is Unix seconds (2001-09-09 as Unix time, 2032
 * as Apple time): below it, seconds since 2001 (no Vultisig vault predates
 * 2001 as Unix time, and the apps left .dat behind in 2024). */
#define DAT_UNIX_SECONDS_FROM 1000000000.0

enum dat_form {
    DAT_NOT_DAT = 0,
    DAT_PLAIN,    /* hex text of JSON */
    DAT_IOS,      /* binary AES-GCM blob */
    DAT_ANDROID,  /* base64 lines of AES-CBC */
};

/* Which .dat form a file has (an iOS blob as it is, a text form with its
 * trailing white space cut), or
 * DAT_NOT_DAT: hex text starting with "7b" ('{'); mostly bytes that no
 * text has (an AES-GCM blob); base64 broken into lines (Android). A .vult
 * is one line of base64, so it is never taken for a .dat; nor is a zip. */
enum dat_form dat_detect(const uint8_t *file, size_t len);

/* An iOS .dat is bytes no text has, and so are random bytes, an image or
 * a zip: content alone cannot tell them apart, and every password fails on
 * all of them. The apps named every .dat so: binary data under another
 * name (name may be a path), and a zip under any, is not a Vultisig
 * backup, not a file whose password is missing. Returns why, a static
 * text for messages ("not a Vultisig backup: " goes before it), or NULL
 * when the file may be decoded as a backup. */
const char *dat_misnamed_binary(const char *name, const uint8_t *file, size_t len);

/* Decodes a .dat of the given form into Vault protobuf bytes (*vault is
 * alloc_secret; the caller frees it). Passwords are tried in order for
 * the encrypted forms. Returns 0, or:
 *   -EINVAL  truncated, bad hex, bad base64, bad JSON, missing fields
 *   -EACCES  encrypted and no password fits (or none given)
 *   -ENOMEM */
int dat_decode(uint8_t **vault, size_t *vault_len, const uint8_t *file, size_t len,
               enum dat_form form, const struct vult_password *passwords,
               size_t password_count) VULTFS_WUR;

/* A .dat createdAt as a Timestamp: 0 means no date (Android); below
 * DAT_UNIX_SECONDS_FROM it counts from 2001 (iOS), else from 1970; kept to
 * the microsecond (a double holds no more at these magnitudes).
 * -EINVAL for negative, non-finite or past year 9999. */
int dat_created_at(int64_t *seconds, int32_t *nanos, double value) VULTFS_WUR;

#endif
