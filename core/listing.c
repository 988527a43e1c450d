/*
 * listing: the JSON a user reads, vault.json in the mount and `vultfs list`.
 * Deterministic (no local times in vault.json), public facts only.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"

static json_t *signers_array(const struct store_epoch *e)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < e->facts.signer_count; i++) {
        if (json_array_append_new(list, json_string(e->facts.signer_list[i])) < 0) {
            json_decref(list);
            return NULL; /* json_pack fails on it: never a listing with one missing */
        }
    }
    return list;
}

/* The pretty text of json, checked (jsonx_dumps); takes json's reference. */
static int dumps_owned(char **out, json_t *json)
{
    int ret = jsonx_dumps(out, json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(json);
    return ret;
}

/* ---- vault.json, written directly ----------------------------------------
 * The bytes json_dumps(JSON_INDENT(2) | JSON_PRESERVE_ORDER) makes of it,
 * written without a JSON tree: with no buffer the same code only counts,
 * so a view's size costs no allocation (10,000 of them at open) and
 * always matches the text. */
struct text {
    char *buf; /* NULL: count only */
    size_t len;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->buf)
        memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void put_s(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* A JSON string as jansson writes it: UTF-8 as it is; '"', '\\' and
 * control characters escaped. */
static void put_string(struct text *t, const char *s)
{
    static const char short_escape[] = "btn?fr"; /* \b \t \n, \f \r: 8-13 */
    char esc[8];

    put(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            put(t, esc, 2);
        } else if (*p >= 0x20) {
            put(t, (const char *)p, 1);
        } else if (*p >= 8 && *p <= 13 && *p != 11) {
            esc[0] = '\\', esc[1] = short_escape[*p - 8];
            put(t, esc, 2);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04X", *p);
            put(t, esc, 6);
        }
    }
    put(t, "\"", 1);
}

/* ,\n and indent, then "key": (no comma before the first of an object) */
static void put_key(struct text *t, int depth, bool first, const char *key)
{
    put_s(t, first ? "\n" : ",\n");
    for (int i = 0; i < depth; i++)
        put(t, "  ", 2);
    put_string(t, key);
    put(t, ": ", 2);
}

static void put_number(struct text *t, uint64_t n)
{
    char digits[24];
    snprintf(digits, sizeof(digits), "%" PRIu64, n);
    put_s(t, digits);
}

/* An epoch's "signers" (a name may hold a comma) */
static void put_signers(struct text *t, const struct store_epoch *e)
{
    put_key(t, 3, false, "signers");
    if (e->facts.signer_count == 0) {
        put_s(t, "[]");
        return;
    }
    put(t, "[", 1);
    for (size_t i = 0; i < e->facts.signer_count; i++) {
        put_s(t, i ? ",\n        " : "\n        ");
        put_string(t, e->facts.signer_list[i]);
    }
    put_s(t, "\n      ]");
}

static void put_epoch(struct text *t, const struct store_vault *vault,
                      const struct store_epoch *e)
{
    char file[64];

    if (e->current)
        snprintf(file, sizeof(file), "share.vult");
    else
        snprintf(file, sizeof(file), "history/epoch-%" PRIu64 ".vult", e->number);
    put_s(t, e == vault->epochs ? "\n    {" : ",\n    {");
    put_key(t, 3, true, "epoch");
    put_number(t, e->number);
    put_key(t, 3, false, "file");
    put_string(t, file);
    put_key(t, 3, false, "superseded");
    put_s(t, e->current ? "false" : "true");
    put_key(t, 3, false, "device");
    put_string(t, e->facts.device);
    put_signers(t, e);
    put_key(t, 3, false, "reshare_prefix");
    put_string(t, e->facts.reshare_prefix);
    put_s(t, "\n    }");
}

/* The chain keys, as jansson writes an array of objects at this depth. */
static void put_chains(struct text *t, const struct store_facts *f)
{
    put_key(t, 1, false, "chains");
    put(t, "[", 1);
    for (size_t i = 0; i < f->chain_count; i++) {
        put_s(t, i ? ",\n    {" : "\n    {");
        put_key(t, 3, true, "chain");
        put_string(t, f->chain_list[i].name);
        put_key(t, 3, false, "public_key");
        put_string(t, f->chain_list[i].public_key);
        put_key(t, 3, false, "is_eddsa");
        put_s(t, f->chain_list[i].is_eddsa ? "true" : "false");
        put_s(t, "\n    }");
    }
    put_s(t, "\n  ]");
}

static int put_vault_json(struct text *t, const struct store_vault *vault)
{
    const struct store_epoch *latest = vault->latest;

    if (!latest)
        return -ENOENT;
    /* the 2026 keys only where the share has them: a vault.json of an
     * older vault stays as it was, so restoring an old backup of it into
     * a mount matches what the mount shows */
    const char *facts[][2] = {{"name", latest->facts.name},
                              {"public_key_ecdsa", latest->facts.public_key_ecdsa},
                              {"public_key_eddsa", latest->facts.public_key_eddsa},
                              {"public_key_mldsa44", latest->facts.public_key_mldsa44},
                              {"public_key_frozt", latest->facts.public_key_frozt},
                              {"public_key_fromt", latest->facts.public_key_fromt},
                              {"hex_chain_code", latest->facts.hex_chain_code},
                              {"lib_type", latest->facts.lib_type},
                              {"created_at", latest->facts.created_at}};
    put(t, "{", 1);
    for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        if (i >= 3 && i <= 5 && !*facts[i][1])
            continue;
        put_key(t, 1, i == 0, facts[i][0]);
        put_string(t, facts[i][1]);
    }
    if (latest->facts.chain_count)
        put_chains(t, &latest->facts);
    if (vault->current) {
        put_key(t, 1, false, "current_epoch");
        put_number(t, vault->current->number);
    }
    put_key(t, 1, false, "epochs");
    put(t, "[", 1);
    for (size_t i = 0; i < vault->epoch_count; i++)
        put_epoch(t, vault, &vault->epochs[i]);
    put_s(t, "\n  ]\n}\n"); /* a text file ends with a newline */
    return 0;
}

int listing_vault_json_len(size_t *len, const struct store_vault *vault)
{
    struct text count = {NULL, 0};
    int ret = put_vault_json(&count, vault);

    *len = count.len;
    return ret;
}

int store_vault_json(char **out, size_t *len, const struct store *store,
                     const struct store_vault *vault)
{
    struct text t = {NULL, 0};
    int ret = listing_vault_json_len(&t.len, vault);

    (void)store; /* the view is the store's: all it needs */

    if (ret < 0)
        return ret;
    t.buf = alloc_bytes(t.len + 1);
    if (!t.buf)
        return -ENOMEM;
    size_t want = t.len;
    t.len = 0;
    ret = put_vault_json(&t, vault);
    if (ret == 0 && t.len != want)
        ret = -EIO; /* the index changed under us: cannot happen under the store's lock */
    if (ret < 0) {
        alloc_free(t.buf);
        return ret;
    }
    t.buf[t.len] = '\0';
    *out = t.buf;
    *len = t.len;
    return 0;
}

/* The chain keys of an epoch as a new JSON array, or NULL. */
static json_t *chains_array(const struct store_facts *f)
{
    json_t *list = json_array();

    for (size_t i = 0; list && i < f->chain_count; i++) {
        const struct store_chain *c = &f->chain_list[i];
        if (json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "chain", c->name,
                                                  "public_key", c->public_key, "is_eddsa",
                                                  c->is_eddsa)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* An epoch's listing with the 2026 facts it has (none for older shares);
 * takes obj's reference and returns it, NULL on failure. */
static json_t *epoch_listing(const struct store_epoch *e, json_t *obj)
{
    const struct store_facts *f = &e->facts;

    if (!obj)
        return NULL;
    if ((*f->public_key_mldsa44 &&
         json_object_set_new(obj, "public_key_mldsa44", json_string(f->public_key_mldsa44)) < 0) ||
        (f->chain_count && json_object_set_new(obj, "chains", chains_array(f)) < 0) ||
        /* files vultfs replace kept beside the epoch: only when there are */
        (e->replaced_count &&
         json_object_set_new(obj, "replaced_files",
                             json_integer((json_int_t)e->replaced_count)) < 0)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int store_list_json(char **out, const struct store *store)
{
    json_t *list = json_array();
    char when[64];

    if (!list)
        return -ENOMEM;
    for (size_t i = 0; i < store->vault_count; i++) {
        const struct store_vault *v = store->vaults[i];
        json_t *epochs = json_array();
        int appended = epochs ? 0 : -1;
        for (size_t j = 0; appended == 0 && j < v->epoch_count; j++) {
            const struct store_epoch *e = &v->epochs[j];
            vult_format_time(when, sizeof(when), e->imported_sec, 0);
            appended = json_array_append_new(
                epochs, epoch_listing(e, json_pack("{s:I, s:b, s:s, s:o, s:s, s:s, s:s}",
                                                   "epoch", (json_int_t)e->number, "current",
                                                   e->current, "device", e->facts.device,
                                                   "signers", signers_array(e),
                                                   "reshare_prefix", e->facts.reshare_prefix,
                                                   "lib_type", e->facts.lib_type,
                                                   "imported_at", when)));
        }
        if (appended < 0) {
            json_decref(epochs);
            json_decref(list);
            return -ENOMEM; /* never a listing with a vault or an epoch missing */
        }
        if (json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "directory",
                                                  v->dir_name, "name",
                                                  v->latest ? v->latest->facts.name : "",
                                                  "public_key_ecdsa", v->public_key_ecdsa,
                                                  "epochs", epochs)) < 0) {
            json_decref(list);
            return -ENOMEM;
        }
    }
    return dumps_owned(out, list);
}
