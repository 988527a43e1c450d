/*
 * keyshare: the forms of a key share and what each states of itself (see
 * keyshare.h). The byte offsets of the DKLS layouts were read off every
 * DKLS share in ../shared/fixtures and ../shared/more-fixtures (2 and 3
 * parties, the app's, the server's and the plugin verifier's).
 */
#include "keyshare.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "jscan.h"

/* The DKLS ECDSA share: a header, then count, threshold and index. */
static const uint8_t ecdsa_header[8] = {0, 0, 0, 1, 0, 0, 0, 0};
#define ECDSA_COUNT_AT 8
#define ECDSA_THRESHOLD_AT 9
#define ECDSA_INDEX_AT 10
#define ECDSA_CHAIN_CODE_AT 43
#define ECDSA_PUBLIC_KEY_AT 75
#define ECDSA_PUBLIC_KEY_BYTES 33
#define ECDSA_STATED_BYTES (ECDSA_PUBLIC_KEY_AT + ECDSA_PUBLIC_KEY_BYTES)
/* The DKLS EdDSA share: threshold, count, index, secret, public key, ... */
#define EDDSA_SHARE_BYTES 132
#define EDDSA_PUBLIC_KEY_AT 35
#define EDDSA_PUBLIC_KEY_BYTES 32
#define CHAIN_CODE_BYTES 32
/* base64 letters of the longest prefix read: the whole EdDSA share */
#define PREFIX_LETTERS (EDDSA_SHARE_BYTES / 3 * 4)

static const uint8_t locked_magic[4] = {'V', 'L', 'T', 0x02};

enum keyshare_form keyshare_form(const char *share, size_t len)
{
    if (len == 0)
        return KEYSHARE_EMPTY;
    if (base64_is_canonical(share, len))
        return KEYSHARE_BASE64;
    if (share[0] == '{' && jscan_valid(share, len))
        return KEYSHARE_JSON;
    return KEYSHARE_MALFORMED;
}

/* The first letters of a base64 share decoded into out (cap bytes at
 * least PREFIX_LETTERS / 4 * 3): how many bytes, or 0 when they do not
 * decode. *total gets the length of the whole share decoded. */
static size_t decode_prefix(uint8_t *out, size_t cap, size_t *total, const char *share,
                            size_t len)
{
    size_t padding = 0, got = 0;
    size_t letters = len < PREFIX_LETTERS ? len : PREFIX_LETTERS;

    while (padding < 2 && padding < len && share[len - 1 - padding] == '=')
        padding++;
    *total = len / 4 * 3 - padding;
    if (letters < len)
        letters -= letters % 4; /* whole quanta, none of them padded */
    if (base64_decode(out, cap, &got, share, letters) < 0)
        return 0;
    return got;
}

bool keyshare_is_locked(const char *share, size_t len)
{
    uint8_t head[6];
    size_t got = 0;
    bool locked;

    if (len < 8 || base64_decode(head, sizeof(head), &got, share, 8) < 0)
        return false;
    locked = memcmp(head, locked_magic, sizeof(locked_magic)) == 0;
    sodium_memzero(head, sizeof(head));
    return locked;
}

/* Does hex (any case) spell exactly the bytes of bin? */
static bool hex_is(const char *hex, size_t hex_len, const uint8_t *bin, size_t bin_len)
{
    uint8_t decoded[64];
    size_t got = 0;

    if (hex_len != 2 * bin_len || bin_len > sizeof(decoded) ||
        sodium_hex2bin(decoded, sizeof(decoded), hex, hex_len, NULL, &got, NULL) != 0 ||
        got != bin_len)
        return false;
    return memcmp(decoded, bin, bin_len) == 0;
}

static bool hex_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len != b_len)
        return false;
    for (size_t i = 0; i < a_len; i++) {
        char x = a[i] >= 'A' && a[i] <= 'F' ? (char)(a[i] - 'A' + 'a') : a[i];
        char y = b[i] >= 'A' && b[i] <= 'F' ? (char)(b[i] - 'A' + 'a') : b[i];
        if (x != y)
            return false;
    }
    return true;
}

static bool sane_party(uint8_t count, uint8_t threshold, uint8_t index)
{
    return count >= 1 && threshold >= 1 && threshold <= count && index < count;
}

static const char *dkls_disagreement(const char *share, size_t len,
                                     const struct keyshare_expect *x)
{
    uint8_t raw[PREFIX_LETTERS / 4 * 3];
    size_t total = 0, got = decode_prefix(raw, sizeof(raw), &total, share, len);
    const char *why = NULL;

    /* Only keys of the size each layout holds: a share of another kind
     * (ML-DSA, FROST) may begin alike and is not read as one of these. */
    if (x->public_key_len == 2 * ECDSA_PUBLIC_KEY_BYTES && got >= ECDSA_STATED_BYTES &&
        memcmp(raw, ecdsa_header, sizeof(ecdsa_header)) == 0) {
        if (!sane_party(raw[ECDSA_COUNT_AT], raw[ECDSA_THRESHOLD_AT], raw[ECDSA_INDEX_AT]))
            why = "a key share states an impossible party count, threshold or index";
        else if (!hex_is(x->public_key, x->public_key_len, raw + ECDSA_PUBLIC_KEY_AT,
                         ECDSA_PUBLIC_KEY_BYTES))
            why = "a key share states another public key than the one it is listed under";
        else if (x->chain_code_len &&
                 !hex_is(x->chain_code, x->chain_code_len, raw + ECDSA_CHAIN_CODE_AT,
                         CHAIN_CODE_BYTES))
            why = "a key share states another chain code than the vault's";
    } else if (x->public_key_len == 2 * EDDSA_PUBLIC_KEY_BYTES && total == EDDSA_SHARE_BYTES &&
               got == EDDSA_SHARE_BYTES) {
        if (!sane_party(raw[1], raw[0], raw[2]))
            why = "a key share states an impossible party count, threshold or index";
        else if (!hex_is(x->public_key, x->public_key_len, raw + EDDSA_PUBLIC_KEY_AT,
                         EDDSA_PUBLIC_KEY_BYTES))
            why = "a key share states another public key than the one it is listed under";
    }
    sodium_memzero(raw, sizeof(raw));
    return why;
}

/* A hex member: absent or empty passes when optional. */
static bool member_hex_is(const char *json, size_t len, const char *key, const char *want,
                          size_t want_len, bool optional)
{
    const char *value;
    size_t value_len;

    if (!jscan_member_string(&value, &value_len, json, len, key))
        return optional;
    if (optional && (value_len == 0 || want_len == 0))
        return true;
    if (memchr(value, '\\', value_len))
        return jscan_string_equals(value, value_len, want, want_len);
    return hex_equal(value, value_len, want, want_len);
}

static const char *gg20_disagreement(const char *json, size_t len,
                                     const struct keyshare_expect *x)
{
    const char *value;
    size_t value_len;

    /* Each fact is compared where the share states it: every share the
     * apps wrote states all four, and a share that states none (a test's
     * synthetic one) claims nothing to disagree with. */
    if (!member_hex_is(json, len, "pub_key", x->public_key, x->public_key_len, false) &&
        jscan_member_string(&value, &value_len, json, len, "pub_key"))
        return "a key share states another public key than the one it is listed under";
    if (jscan_member_string(&value, &value_len, json, len, "local_party_key") &&
        !jscan_string_equals(value, value_len, x->local_party_id, x->local_party_id_len))
        return "a key share names another device than the backup's";
    if (!member_hex_is(json, len, "chain_code_hex", x->chain_code, x->chain_code_len, true))
        return "a key share states another chain code than the vault's";
    /* Either side may leave the prefix empty: a server's share after a
     * reshare (the FastVault-6 .bak in ../shared/more-fixtures), and the
     * SDK's export of a reshared vault (its Vault has none). Two that are
     * stated must be the same. */
    if (jscan_member_string(&value, &value_len, json, len, "reshare_prefix") && value_len &&
        x->reshare_prefix_len &&
        !jscan_string_equals(value, value_len, x->reshare_prefix, x->reshare_prefix_len))
        return "a key share states another reshare prefix than the vault's";
    return NULL;
}

const char *keyshare_disagreement(const char *share, size_t len,
                                  const struct keyshare_expect *expect)
{
    switch (keyshare_form(share, len)) {
    case KEYSHARE_JSON:
        return gg20_disagreement(share, len, expect);
    case KEYSHARE_BASE64:
        return keyshare_is_locked(share, len) ? NULL : dkls_disagreement(share, len, expect);
    case KEYSHARE_EMPTY:
    case KEYSHARE_MALFORMED:
        break;
    }
    return NULL;
}
