/*
 * keyshare: what one key share's own bytes say about itself, checked
 * against the Vault that carries it, so that a damaged or altered share
 * is refused before it can be kept (and lock out the good file later).
 *
 * The forms, as the apps write them (../shared/fixtures, MANIFEST.md):
 *   - GG20: JSON text naming its own pub_key, local_party_key,
 *     chain_code_hex and reshare_prefix;
 *   - DKLS (and KEYIMPORT, ML-DSA, ...): one canonical base64 string. The
 *     DKLS ECDSA share starts with a header (version 1), the party count,
 *     threshold and index, a key id, the chain code and the 33-byte public
 *     key; the EdDSA share is 132 bytes: threshold, count, index, the
 *     secret scalar, the 32-byte public key, then public data;
 *   - locked: base64 of "VLT" 0x02 ... : still encrypted by the app's
 *     passcode (a desktop export once wrote such shares).
 * Only the parts that name public facts are compared; secret bytes are
 * decoded into locked memory or a wiped stack buffer, never kept.
 */
#ifndef VULTFS_KEYSHARE_H
#define VULTFS_KEYSHARE_H

#include <stdbool.h>
#include <stddef.h>

enum keyshare_form {
    KEYSHARE_EMPTY,
    KEYSHARE_JSON,      /* GG20 */
    KEYSHARE_BASE64,    /* DKLS and every later kind */
    KEYSHARE_MALFORMED, /* neither: a damaged share */
};

enum keyshare_form keyshare_form(const char *share, size_t len);

/* Still locked by the app's passcode (base64 of "VLT" 0x02 ...). */
bool keyshare_is_locked(const char *share, size_t len);

/* What the share must agree with: the public key it is listed under and
 * the Vault's own facts. chain_code is checked where the share states
 * one (NULL/0: the share's chain code is not compared, as for the chain
 * keys of a KEYIMPORT vault, which derive their own). */
struct keyshare_expect {
    const char *public_key;
    size_t public_key_len;
    const char *chain_code;
    size_t chain_code_len;
    const char *local_party_id;
    size_t local_party_id_len;
    const char *reshare_prefix;
    size_t reshare_prefix_len;
};

/* NULL when what the share states of itself agrees with expect (or it
 * states nothing this module knows how to read: a locked share, an
 * ML-DSA share, a future layout); else a short phrase saying what
 * disagrees, for a message ("its own public key is not the one it is
 * listed under"). The share must not be KEYSHARE_MALFORMED. */
const char *keyshare_disagreement(const char *share, size_t len,
                                  const struct keyshare_expect *expect);

#endif
