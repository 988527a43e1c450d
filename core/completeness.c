#include "completeness.h"

#include <stdio.h>
#include <string.h>

#include "chains.h"
#include "keyshare.h"

/* Notes the first gap found and counts them all. */
static void note(struct completeness *c, enum completeness_gap gap, const char *key,
                 struct vult_str chain)
{
    /* a missing share is worse than a locked one: report that first */
    if (c->gap == COMPLETENESS_OK || (c->gap == COMPLETENESS_LOCKED && gap == COMPLETENESS_MISSING)) {
        c->count = 0;
        c->gap = gap;
        c->key = key;
        c->chain = chain;
    }
    if (c->gap == gap)
        c->count++;
}

static void need(struct completeness *c, const struct vult_vault *v, struct vult_str key,
                 const char *what, struct vult_str chain)
{
    const struct vult_key_share *ks = vult_vault_key_share(v, key);

    if (!ks || !ks->keyshare.len)
        note(c, COMPLETENESS_MISSING, what, chain);
}

/* An early iOS KEYIMPORT file: no share for either master key, only one
 * per chain key. */
static bool per_chain_only(const struct vult_vault *v)
{
    return v->lib_type == VULT_LIB_KEYIMPORT && v->chain_count &&
           !vult_vault_key_share(v, v->public_key_ecdsa) &&
           (!v->public_key_eddsa.len || !vult_vault_key_share(v, v->public_key_eddsa));
}

struct completeness completeness_of(const struct vult_vault *v)
{
    struct completeness c = {COMPLETENESS_OK, NULL, {NULL, 0}, 0};
    struct vult_str none = {NULL, 0};

    if (!per_chain_only(v)) {
        need(&c, v, v->public_key_ecdsa, "ECDSA", none);
        if (v->public_key_eddsa.len)
            need(&c, v, v->public_key_eddsa, "EdDSA", none);
    }
    if (v->public_key_mldsa44.len)
        need(&c, v, v->public_key_mldsa44, "ML-DSA", none);
    if (v->lib_type == VULT_LIB_KEYIMPORT)
        for (size_t i = 0; i < v->chain_count; i++)
            if (chains_is_signing(v->chains[i].chain.ptr, v->chains[i].chain.len))
                need(&c, v, v->chains[i].public_key, "chain", v->chains[i].chain);
    for (size_t i = 0; i < v->key_share_count; i++) {
        const struct vult_key_share *ks = &v->key_shares[i];
        if (keyshare_is_locked(ks->keyshare.ptr, ks->keyshare.len))
            note(&c, COMPLETENESS_LOCKED, "a key", none);
    }
    return c;
}

void completeness_describe(char *out, size_t cap, const struct completeness *c)
{
    char key[160], more[48] = "";

    if (c->chain.len)
        snprintf(key, sizeof(key), "the key of chain %.*s", (int)(c->chain.len > 64 ? 64 : c->chain.len),
                 c->chain.ptr);
    else
        snprintf(key, sizeof(key), "its %s key", c->key ? c->key : "");
    if (c->count > 1)
        snprintf(more, sizeof(more), " (and %zu more)", c->count - 1);
    switch (c->gap) {
    case COMPLETENESS_OK:
        snprintf(out, cap, "complete");
        break;
    case COMPLETENESS_MISSING:
        snprintf(out, cap, "it lacks a key share for %s%s, so it could not sign with it", key,
                 more);
        break;
    case COMPLETENESS_LOCKED:
        snprintf(out, cap,
                 "%zu of its key shares %s still locked by the app's passcode: unlock the vault "
                 "in the app and export it again", c->count, c->count == 1 ? "is" : "are");
        break;
    }
}
