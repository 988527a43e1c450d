/*
 * vult_vault: the Vault message of a backup (see vult_vault.h).
 *
 * The message is small and flat, so it is read with pb.h's bounds-checked
 * cursor instead of generated code: fields become views into the caller's
 * buffer, nothing is copied, and the secret key shares exist in exactly one
 * place that the caller wipes.
 */
#include "vult_vault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "keyshare.h"
#include "pb.h"
#include "utf8.h"

static int read_str(struct pb_reader *r, struct vult_str *out)
{
    const uint8_t *data;
    size_t len;
    int ret = pb_read_bytes(r, &data, &len);
    if (ret == 0)
        *out = (struct vult_str){(const char *)data, len};
    return ret;
}

/* proto3 omits empty strings and zero numbers; so do the apps. */
static void write_str(struct pb_writer *w, uint32_t field, struct vult_str s)
{
    if (s.len)
        pb_write_bytes(w, field, s.ptr, s.len);
}

/* ---- the Vault message ------------------------------------------------- */

enum vault_field {
    VAULT_NAME = 1,
    VAULT_PUBLIC_KEY_ECDSA = 2,
    VAULT_PUBLIC_KEY_EDDSA = 3,
    VAULT_SIGNERS = 4,
    VAULT_CREATED_AT = 5,
    VAULT_HEX_CHAIN_CODE = 6,
    VAULT_KEY_SHARES = 7,
    VAULT_LOCAL_PARTY_ID = 8,
    VAULT_RESHARE_PREFIX = 9,
    VAULT_LIB_TYPE = 10,
    VAULT_CHAIN_PUBLIC_KEYS = 11,
    VAULT_PUBLIC_KEY_MLDSA44 = 12,
    VAULT_PUBLIC_KEY_FROZT = 13,
    VAULT_PUBLIC_KEY_FROMT = 14,
};

static int parse_timestamp(struct vult_vault *out, struct vult_str msg)
{
    struct pb_reader c = {(const uint8_t *)msg.ptr, (const uint8_t *)msg.ptr + msg.len};
    uint32_t field;
    enum pb_wire type;
    uint64_t value;

    for (;;) {
        if (pb_read_tag(&c, &field, &type) < 0)
            return -EINVAL;
        if (field == 0)
            return 0;
        if ((field == 1 || field == 2) && type == PB_VARINT) {
            if (pb_read_varint(&c, &value) < 0)
                return -EINVAL;
            if (field == 1)
                out->created_at_seconds = (int64_t)value;
            else if ((int64_t)value < 0 || value > 999999999)
                return -EINVAL;
            else
                out->created_at_nanos = (int32_t)value;
        } else if (pb_skip(&c, type) < 0) {
            return -EINVAL;
        }
    }
}

/* A small message of bytes fields 1 and 2 (and, for a chain key, the
 * bool 3): a key share {public_key, keyshare} or a chain key
 * {public_key, chain, is_eddsa}. */
static int parse_pair(struct vult_str *first, struct vult_str *second, bool *flag,
                      struct vult_str msg)
{
    struct pb_reader c = {(const uint8_t *)msg.ptr, (const uint8_t *)msg.ptr + msg.len};
    uint32_t field;
    enum pb_wire type;
    uint64_t value;

    for (;;) {
        if (pb_read_tag(&c, &field, &type) < 0)
            return -EINVAL;
        if (field == 0)
            return 0;
        if ((field == 1 || field == 2) && type == PB_BYTES) {
            if (read_str(&c, field == 1 ? first : second) < 0)
                return -EINVAL;
        } else if (field == 3 && flag && type == PB_VARINT) {
            if (pb_read_varint(&c, &value) < 0 || value > 1)
                return -EINVAL;
            *flag = value == 1;
        } else if (pb_skip(&c, type) < 0) {
            return -EINVAL;
        }
    }
}

/* Text fields must be text: valid UTF-8 (proto3 strings are; names become
 * directory names, xattrs and JSON) and no NUL, which would cut them. */
static bool is_text(struct vult_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0;

    while (i < s.len) {
        size_t n = utf8_char_len(p + i, s.len - i);
        if (n == 0 || p[i] == 0)
            return false;
        i += n;
    }
    return true;
}

bool vult_str_is_hex(struct vult_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!strchr("0123456789abcdefABCDEF", s.ptr[i]) || s.ptr[i] == '\0')
            return false;
    return true;
}

/* How many of each repeated field: the arrays are sized before they are
 * filled, so a vault of any number of key shares parses in one block. */
struct vault_counts {
    size_t signers, key_shares, chains;
};

static int count_repeated(struct vault_counts *n, const uint8_t *bytes, size_t len)
{
    struct pb_reader c = {bytes, bytes + len};
    uint32_t field;
    enum pb_wire type;

    memset(n, 0, sizeof(*n));
    for (;;) {
        if (pb_read_tag(&c, &field, &type) < 0)
            return -EINVAL;
        if (field == 0)
            return 0;
        n->signers += field == VAULT_SIGNERS;
        n->key_shares += field == VAULT_KEY_SHARES;
        n->chains += field == VAULT_CHAIN_PUBLIC_KEYS;
        if (pb_skip(&c, type) < 0)
            return -EINVAL;
    }
}

static int parse_vault_field(struct vult_vault *out, struct pb_reader *c, uint32_t field,
                             enum pb_wire type)
{
    struct vult_str s;

    if (field == VAULT_LIB_TYPE) {
        if (type != PB_VARINT)
            return -EINVAL;
        return pb_read_varint(c, &out->lib_type);
    }
    if (field > VAULT_PUBLIC_KEY_FROMT)
        return pb_skip(c, type);
    if (type != PB_BYTES || read_str(c, &s) < 0)
        return -EINVAL;

    switch ((enum vault_field)field) {
    case VAULT_NAME:
        out->name = s;
        break;
    case VAULT_PUBLIC_KEY_ECDSA:
        out->public_key_ecdsa = s;
        break;
    case VAULT_PUBLIC_KEY_EDDSA:
        out->public_key_eddsa = s;
        break;
    case VAULT_SIGNERS:
        out->signers[out->signer_count++] = s;
        break;
    case VAULT_CREATED_AT:
        return parse_timestamp(out, s);
    case VAULT_HEX_CHAIN_CODE:
        out->hex_chain_code = s;
        break;
    case VAULT_KEY_SHARES: {
        struct vult_key_share *ks = &out->key_shares[out->key_share_count++];
        return parse_pair(&ks->public_key, &ks->keyshare, NULL, s);
    }
    case VAULT_LOCAL_PARTY_ID:
        out->local_party_id = s;
        break;
    case VAULT_RESHARE_PREFIX:
        out->reshare_prefix = s;
        break;
    case VAULT_CHAIN_PUBLIC_KEYS: {
        struct vult_chain_key *ck = &out->chains[out->chain_count++];
        return parse_pair(&ck->public_key, &ck->chain, &ck->is_eddsa, s);
    }
    case VAULT_PUBLIC_KEY_MLDSA44:
        out->public_key_mldsa44 = s;
        break;
    case VAULT_PUBLIC_KEY_FROZT:
        out->public_key_frozt = s;
        break;
    case VAULT_PUBLIC_KEY_FROMT:
        out->public_key_fromt = s;
        break;
    case VAULT_LIB_TYPE:
        break;
    }
    return 0;
}

static int compare_view(struct vult_str a, struct vult_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

/* Key shares by public key, and by position among equal keys, so that a
 * lookup finds the first share of a key (the one the apps use) in log
 * time: completeness looks up every chain key of a KEYIMPORT vault. */
static int compare_share_order(const void *a, const void *b, void *ctx)
{
    const struct vult_key_share *shares = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = compare_view(shares[x].public_key, shares[y].public_key);
    return c ? c : (x > y) - (x < y);
}

/* One block for the repeated fields and the lookup order. */
static int alloc_arrays(struct vult_vault *out, const struct vault_counts *n)
{
    size_t bytes = n->signers * sizeof(*out->signers) +
                   n->key_shares * sizeof(*out->key_shares) +
                   n->chains * sizeof(*out->chains) + n->key_shares * sizeof(uint32_t);
    uint8_t *block = alloc_zeroed(1, bytes ? bytes : 1);

    if (!block)
        return -ENOMEM;
    out->arrays = block;
    out->key_shares = (struct vult_key_share *)block;
    block += n->key_shares * sizeof(*out->key_shares);
    out->chains = (struct vult_chain_key *)block;
    block += n->chains * sizeof(*out->chains);
    out->signers = (struct vult_str *)block;
    block += n->signers * sizeof(*out->signers);
    out->share_order = (const uint32_t *)block;
    return 0;
}

static void sort_key_shares(struct vult_vault *v)
{
    uint32_t *order = (uint32_t *)v->share_order;

    for (size_t i = 0; i < v->key_share_count; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, v->key_share_count, sizeof(*order), compare_share_order, v->key_shares);
}

/* Each key share well-formed for the vault's kind, and agreeing with the
 * Vault on what it states of itself; NULL, or what is wrong. */
static const char *key_share_problem(const struct vult_vault *v, const struct vult_key_share *ks)
{
    enum keyshare_form form = keyshare_form(ks->keyshare.ptr, ks->keyshare.len);
    bool master_ecdsa = vult_str_eq(ks->public_key, v->public_key_ecdsa);
    struct keyshare_expect expect = {
        ks->public_key.ptr, ks->public_key.len, NULL, 0, v->local_party_id.ptr,
        v->local_party_id.len, v->reshare_prefix.ptr, v->reshare_prefix.len};

    /* GG20 key shares are JSON text; DKLS ones one canonical base64
     * string. Early DKLS files lack lib_type and read as GG20, so GG20
     * takes either. Empty is completeness's to judge. */
    if (form == KEYSHARE_MALFORMED || (form == KEYSHARE_JSON && v->lib_type != VULT_LIB_GG20))
        return "a key share is damaged (neither JSON text nor base64, as the apps write them)";
    if (!is_text(ks->public_key))
        return "a key share's public key is not text";
    /* A JSON share states the vault's chain code wherever it states one; a
     * DKLS share for a KEYIMPORT vault's chain key has its own. */
    if (form == KEYSHARE_JSON || (master_ecdsa && v->lib_type != VULT_LIB_KEYIMPORT)) {
        expect.chain_code = v->hex_chain_code.ptr;
        expect.chain_code_len = v->hex_chain_code.len;
    }
    return keyshare_disagreement(ks->keyshare.ptr, ks->keyshare.len, &expect);
}

/* What a share the apps wrote has, and what vultfs needs to file it. */
static const char *vault_problem(const struct vult_vault *v)
{
    if (!v->name.len || !v->public_key_ecdsa.len || !v->local_party_id.len || !v->signer_count)
        return "a field every backup has is missing";
    if (!vult_str_is_hex(v->public_key_ecdsa) || !vult_str_is_hex(v->public_key_eddsa) ||
        !vult_str_is_hex(v->hex_chain_code) || !vult_str_is_hex(v->public_key_mldsa44))
        return "a public key or the chain code is not hex";
    if (!is_text(v->name) || !is_text(v->local_party_id) || !is_text(v->reshare_prefix) ||
        !is_text(v->public_key_frozt) || !is_text(v->public_key_fromt))
        return "a text field is not text";
    for (size_t i = 0; i < v->signer_count; i++)
        if (!v->signers[i].len || !is_text(v->signers[i]))
            return "a signer is not a name";
    /* Chain entries may name chains this build does not know, with keys
     * in other encodings (the server's "SaplingExtras" is base64). */
    for (size_t i = 0; i < v->chain_count; i++)
        if (!v->chains[i].chain.len || !is_text(v->chains[i].chain) ||
            !is_text(v->chains[i].public_key))
            return "a chain key is not text";
    for (size_t i = 0; i < v->key_share_count; i++) {
        const char *why = key_share_problem(v, &v->key_shares[i]);
        if (why)
            return why;
    }
    return NULL;
}

void vult_vault_clear(struct vult_vault *vault)
{
    if (!vault)
        return;
    alloc_free(vault->arrays);
    sodium_memzero(vault, sizeof(*vault));
}

int vult_vault_parse(struct vult_vault *out, const char **problem, const uint8_t *bytes,
                     size_t len)
{
    struct pb_reader c = {bytes, bytes + len};
    struct vault_counts counts;
    const char *why = "not a Vault message";
    uint32_t field;
    enum pb_wire type;
    int ret = -EINVAL;

    memset(out, 0, sizeof(*out));
    if (problem)
        *problem = NULL;
    if (count_repeated(&counts, bytes, len) < 0)
        goto out_invalid;
    if ((ret = alloc_arrays(out, &counts)) < 0)
        return ret;
    ret = -EINVAL;
    for (;;) {
        if (pb_read_tag(&c, &field, &type) < 0)
            goto out_invalid;
        if (field == 0)
            break;
        if (parse_vault_field(out, &c, field, type) < 0)
            goto out_invalid;
    }
    sort_key_shares(out);
    if ((why = vault_problem(out)) != NULL)
        goto out_invalid;
    return 0;

out_invalid:
    vult_vault_clear(out);
    if (problem)
        *problem = why;
    return ret;
}

bool vult_str_eq(struct vult_str a, struct vult_str b)
{
    /* absent fields are {NULL, 0}: memcmp must not see a NULL pointer */
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

const struct vult_key_share *vult_vault_key_share(const struct vult_vault *vault,
                                                  struct vult_str public_key)
{
    if (!vault->share_order) {
        for (size_t i = 0; i < vault->key_share_count; i++)
            if (vult_str_eq(vault->key_shares[i].public_key, public_key))
                return &vault->key_shares[i];
        return NULL;
    }
    size_t lo = 0, hi = vault->key_share_count;
    while (lo < hi) { /* the first position whose key is not below */
        size_t mid = lo + (hi - lo) / 2;
        if (compare_view(vault->key_shares[vault->share_order[mid]].public_key, public_key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < vault->key_share_count &&
        vult_str_eq(vault->key_shares[vault->share_order[lo]].public_key, public_key))
        return &vault->key_shares[vault->share_order[lo]];
    return NULL;
}

bool vult_vault_is_dkls_shaped(const struct vult_vault *vault)
{
    if (vault->lib_type != VULT_LIB_GG20)
        return true;
    const struct vult_key_share *ecdsa = vult_vault_key_share(vault, vault->public_key_ecdsa);
    return ecdsa && keyshare_form(ecdsa->keyshare.ptr, ecdsa->keyshare.len) == KEYSHARE_BASE64;
}

const char *vult_lib_type_name(uint64_t lib_type)
{
    switch (lib_type) {
    case VULT_LIB_GG20:
        return "GG20";
    case VULT_LIB_DKLS:
        return "DKLS";
    case VULT_LIB_KEYIMPORT:
        return "KEYIMPORT";
    default:
        return NULL;
    }
}

/* A Timestamp message's bytes into ts (24 bytes is room for both). */
static size_t encode_timestamp(uint8_t ts[24], int64_t seconds, int32_t nanos)
{
    struct pb_writer tw = {ts, 0};
    if (seconds) {
        pb_write_tag(&tw, 1, PB_VARINT);
        pb_write_varint(&tw, (uint64_t)seconds);
    }
    if (nanos) {
        pb_write_tag(&tw, 2, PB_VARINT);
        pb_write_varint(&tw, (uint64_t)nanos);
    }
    return tw.len;
}

/* The length of a string field's tag, length and bytes; 0 when empty. */
static size_t str_field_len(struct vult_str s)
{
    return s.len ? 1 + pb_varint_len(s.len) + s.len : 0;
}

static void write_key_share(struct pb_writer *w, const struct vult_key_share *ks)
{
    pb_write_tag(w, VAULT_KEY_SHARES, PB_BYTES);
    pb_write_varint(w, str_field_len(ks->public_key) + str_field_len(ks->keyshare));
    write_str(w, 1, ks->public_key);
    write_str(w, 2, ks->keyshare);
}

static void write_chain_key(struct pb_writer *w, const struct vult_chain_key *ck)
{
    size_t inner = (ck->is_eddsa ? 2 : 0) + str_field_len(ck->public_key) +
                   str_field_len(ck->chain);
    pb_write_tag(w, VAULT_CHAIN_PUBLIC_KEYS, PB_BYTES);
    pb_write_varint(w, inner);
    write_str(w, 1, ck->public_key);
    write_str(w, 2, ck->chain);
    if (ck->is_eddsa) {
        pb_write_tag(w, 3, PB_VARINT);
        pb_write_varint(w, 1);
    }
}

/* Every field in order into w (a counting pass when w->buf is NULL). */
static void write_vault(struct pb_writer *w, const struct vult_vault *vault, const uint8_t *ts,
                        size_t ts_len)
{
    write_str(w, VAULT_NAME, vault->name);
    write_str(w, VAULT_PUBLIC_KEY_ECDSA, vault->public_key_ecdsa);
    write_str(w, VAULT_PUBLIC_KEY_EDDSA, vault->public_key_eddsa);
    for (size_t i = 0; i < vault->signer_count; i++)
        pb_write_bytes(w, VAULT_SIGNERS, vault->signers[i].ptr, vault->signers[i].len);
    if (ts_len)
        pb_write_bytes(w, VAULT_CREATED_AT, ts, ts_len);
    write_str(w, VAULT_HEX_CHAIN_CODE, vault->hex_chain_code);
    for (size_t i = 0; i < vault->key_share_count; i++)
        write_key_share(w, &vault->key_shares[i]);
    write_str(w, VAULT_LOCAL_PARTY_ID, vault->local_party_id);
    write_str(w, VAULT_RESHARE_PREFIX, vault->reshare_prefix);
    if (vault->lib_type) {
        pb_write_tag(w, VAULT_LIB_TYPE, PB_VARINT);
        pb_write_varint(w, vault->lib_type);
    }
    for (size_t i = 0; i < vault->chain_count; i++)
        write_chain_key(w, &vault->chains[i]);
    write_str(w, VAULT_PUBLIC_KEY_MLDSA44, vault->public_key_mldsa44);
    write_str(w, VAULT_PUBLIC_KEY_FROZT, vault->public_key_frozt);
    write_str(w, VAULT_PUBLIC_KEY_FROMT, vault->public_key_fromt);
}

int vult_vault_encode(uint8_t **out, size_t *out_len, const struct vult_vault *vault)
{
    uint8_t ts[24];
    size_t ts_len = encode_timestamp(ts, vault->created_at_seconds, vault->created_at_nanos);
    struct pb_writer w = {NULL, 0};

    /* Two passes: count, then write into an exact secret buffer. */
    write_vault(&w, vault, ts, ts_len);
    w.buf = alloc_secret(w.len ? w.len : 1);
    if (!w.buf)
        return -ENOMEM;
    w.len = 0;
    write_vault(&w, vault, ts, ts_len);
    *out = w.buf;
    *out_len = w.len;
    return 0;
}

/* ---- presentation ------------------------------------------------------ */

char *vult_suggested_filename(const struct vult_vault *vault)
{
    size_t position = 0;
    for (size_t i = 0; i < vault->signer_count; i++) {
        if (vult_str_eq(vault->signers[i], vault->local_party_id)) {
            position = i + 1;
            break;
        }
    }
    struct vult_str key = vault->public_key_ecdsa;
    const char *last4 = key.len >= 4 ? key.ptr + key.len - 4 : key.ptr;
    int last4_len = key.len >= 4 ? 4 : (int)key.len;
    const char *word = vult_vault_is_dkls_shaped(vault) ? "share" : "part";

    size_t cap = vault->name.len + 64;
    char *name = alloc_bytes(cap);
    if (!name)
        return NULL;
    snprintf(name, cap, "%.*s-%.*s-%s%zuof%zu.vult", (int)vault->name.len, vault->name.ptr,
             last4_len, last4, word, position, vault->signer_count);
    for (size_t i = 0; i < vault->name.len; i++)
        if (name[i] == '/')
            name[i] = '_';
    return name;
}

void vult_format_time(char *buf, size_t buf_len, int64_t seconds, int32_t nanos)
{
    struct tm tm;
    time_t t = (time_t)seconds;
    char base[32];

    if (!seconds && !nanos) {
        snprintf(buf, buf_len, "%s", "");
        return;
    }
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, buf_len, "%s", "");
        return;
    }
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (nanos) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09d", nanos);
        for (size_t n = strlen(frac); n > 1 && frac[n - 1] == '0'; n--)
            frac[n - 1] = '\0';
        snprintf(buf, buf_len, "%s.%sZ", base, frac);
    } else {
        snprintf(buf, buf_len, "%sZ", base);
    }
}
