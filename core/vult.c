/*
 * vult: decoding and encoding Vultisig backup files (see vult.h).
 *
 * The protobuf messages are small and flat, so they are read with pb.h's
 * bounds-checked cursor instead of generated code: fields become views into
 * the caller's buffer, nothing is copied, and the secret key shares exist in
 * exactly one place that the caller wipes.
 */
#include "vult.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "base64.h"
#include "dat.h"
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

int vult_vault_encode(uint8_t **out, size_t *out_len, const struct vult_vault *vault)
{
    struct pb_writer w = {NULL, 0};
    uint8_t ts[24];
    struct pb_writer tw = {ts, 0};

    if (vault->created_at_seconds || vault->created_at_nanos) {
        if (vault->created_at_seconds) {
            pb_write_tag(&tw, 1, PB_VARINT);
            pb_write_varint(&tw, (uint64_t)vault->created_at_seconds);
        }
        if (vault->created_at_nanos) {
            pb_write_tag(&tw, 2, PB_VARINT);
            pb_write_varint(&tw, (uint64_t)vault->created_at_nanos);
        }
    }

    /* Two passes: count, then write into an exact secret buffer. */
    for (int pass = 0; pass < 2; pass++) {
        write_str(&w, VAULT_NAME, vault->name);
        write_str(&w, VAULT_PUBLIC_KEY_ECDSA, vault->public_key_ecdsa);
        write_str(&w, VAULT_PUBLIC_KEY_EDDSA, vault->public_key_eddsa);
        for (size_t i = 0; i < vault->signer_count; i++)
            pb_write_bytes(&w, VAULT_SIGNERS, vault->signers[i].ptr, vault->signers[i].len);
        if (tw.len)
            pb_write_bytes(&w, VAULT_CREATED_AT, ts, tw.len);
        write_str(&w, VAULT_HEX_CHAIN_CODE, vault->hex_chain_code);
        for (size_t i = 0; i < vault->key_share_count; i++) {
            const struct vult_key_share *ks = &vault->key_shares[i];
            size_t inner = 0;
            if (ks->public_key.len)
                inner += 1 + pb_varint_len(ks->public_key.len) + ks->public_key.len;
            if (ks->keyshare.len)
                inner += 1 + pb_varint_len(ks->keyshare.len) + ks->keyshare.len;
            pb_write_tag(&w, VAULT_KEY_SHARES, PB_BYTES);
            pb_write_varint(&w, inner);
            write_str(&w, 1, ks->public_key);
            write_str(&w, 2, ks->keyshare);
        }
        write_str(&w, VAULT_LOCAL_PARTY_ID, vault->local_party_id);
        write_str(&w, VAULT_RESHARE_PREFIX, vault->reshare_prefix);
        if (vault->lib_type) {
            pb_write_tag(&w, VAULT_LIB_TYPE, PB_VARINT);
            pb_write_varint(&w, vault->lib_type);
        }
        for (size_t i = 0; i < vault->chain_count; i++) {
            const struct vult_chain_key *ck = &vault->chains[i];
            size_t inner = (ck->is_eddsa ? 2 : 0);
            if (ck->public_key.len)
                inner += 1 + pb_varint_len(ck->public_key.len) + ck->public_key.len;
            if (ck->chain.len)
                inner += 1 + pb_varint_len(ck->chain.len) + ck->chain.len;
            pb_write_tag(&w, VAULT_CHAIN_PUBLIC_KEYS, PB_BYTES);
            pb_write_varint(&w, inner);
            write_str(&w, 1, ck->public_key);
            write_str(&w, 2, ck->chain);
            if (ck->is_eddsa) {
                pb_write_tag(&w, 3, PB_VARINT);
                pb_write_varint(&w, 1);
            }
        }
        write_str(&w, VAULT_PUBLIC_KEY_MLDSA44, vault->public_key_mldsa44);
        write_str(&w, VAULT_PUBLIC_KEY_FROZT, vault->public_key_frozt);
        write_str(&w, VAULT_PUBLIC_KEY_FROMT, vault->public_key_fromt);
        if (pass == 0) {
            w.buf = alloc_secret(w.len ? w.len : 1);
            if (!w.buf)
                return -ENOMEM;
            w.len = 0;
        }
    }
    *out = w.buf;
    *out_len = w.len;
    return 0;
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

/* ---- key cache --------------------------------------------------------- */

#define KEYCACHE_SLOTS 8

struct keycache_slot {
    bool used;
    uint8_t password_hash[crypto_generichash_BYTES]; /* BLAKE2b, never the password */
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
};

/* Decodes run on several threads at once (a mount decodes outside its
 * lock): the slots are read and filled under the cache's own mutex, and
 * PBKDF2 runs outside it, so a slow derivation holds up no other file. */
struct vult_keycache {
    pthread_mutex_t lock;
    struct keycache_slot slots[KEYCACHE_SLOTS];
    size_t next;
};

struct vult_keycache *vult_keycache_new(void)
{
    struct vult_keycache *cache = alloc_secret(sizeof(*cache));
    if (!cache)
        return NULL;
    sodium_memzero(cache, sizeof(*cache));
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        alloc_secret_free(cache);
        return NULL;
    }
    return cache;
}

void vult_keycache_free(struct vult_keycache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    alloc_secret_free(cache);
}

/* The cached key for (pw_hash, salt) into key: true when there is one. */
static bool keycache_find(struct vult_keycache *cache, uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                          const uint8_t pw_hash[crypto_generichash_BYTES],
                          const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    bool found = false;

    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < KEYCACHE_SLOTS && !found; i++) {
        const struct keycache_slot *slot = &cache->slots[i];
        found = slot->used &&
                sodium_memcmp(slot->password_hash, pw_hash, crypto_generichash_BYTES) == 0 &&
                memcmp(slot->salt, salt, sizeof(slot->salt)) == 0;
        if (found)
            memcpy(key, slot->key, BACKUP_CRYPTO_KEY_BYTES);
    }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

static void keycache_add(struct vult_keycache *cache, const uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                         const uint8_t pw_hash[crypto_generichash_BYTES],
                         const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES])
{
    pthread_mutex_lock(&cache->lock);
    struct keycache_slot *slot = &cache->slots[cache->next];
    cache->next = (cache->next + 1) % KEYCACHE_SLOTS;
    slot->used = true;
    memcpy(slot->password_hash, pw_hash, crypto_generichash_BYTES);
    memcpy(slot->salt, salt, sizeof(slot->salt));
    memcpy(slot->key, key, BACKUP_CRYPTO_KEY_BYTES);
    pthread_mutex_unlock(&cache->lock);
}

static void derive_current_key(uint8_t key[BACKUP_CRYPTO_KEY_BYTES],
                               const struct vult_password *pw,
                               const uint8_t salt[BACKUP_CRYPTO_SALT_BYTES],
                               struct vult_keycache *cache)
{
    uint8_t pw_hash[crypto_generichash_BYTES];

    if (!cache) {
        backup_crypto_key_current(key, (const uint8_t *)pw->ptr, pw->len, salt);
        return;
    }
    crypto_generichash(pw_hash, sizeof(pw_hash), (const uint8_t *)pw->ptr, pw->len, NULL, 0);
    if (!keycache_find(cache, key, pw_hash, salt)) {
        backup_crypto_key_current(key, (const uint8_t *)pw->ptr, pw->len, salt);
        keycache_add(cache, key, pw_hash, salt);
    }
    sodium_memzero(pw_hash, sizeof(pw_hash));
}

/* Tries each password on blob; on success the Vault bytes are in plain. */
static int decrypt_blob(uint8_t *plain, size_t *plain_len, enum backup_crypto_scheme *scheme,
                        const uint8_t *blob, size_t blob_len,
                        const struct vult_password *passwords, size_t password_count,
                        struct vult_keycache *cache)
{
    uint8_t key[BACKUP_CRYPTO_KEY_BYTES];
    uint8_t salt[BACKUP_CRYPTO_SALT_BYTES];
    int ret = -EACCES;

    *scheme = backup_crypto_detect(blob, blob_len);
    if (*scheme == BACKUP_CRYPTO_CURRENT && backup_crypto_salt(salt, blob, blob_len) < 0)
        return -EINVAL;
    for (size_t i = 0; i < password_count; i++) {
        if (*scheme == BACKUP_CRYPTO_CURRENT)
            derive_current_key(key, &passwords[i], salt, cache);
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
                            enum backup_crypto_scheme *scheme, const uint8_t *file,
                            size_t file_len, const struct vult_password *passwords,
                            size_t password_count, struct vult_keycache *cache)
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
                struct vult_keycache *cache)
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
