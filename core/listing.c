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

static json_t *signers_array(const struct store *store, const struct store_vault *vault,
                             uint64_t number)
{
    const json_t *vj = index_vault_of(store, vault->public_key_ecdsa);
    const json_t *ej = vj ? index_find_epoch(vj, number) : NULL;
    json_t *signers = json_object_get(json_object_get(ej, "facts"), "signers");
    return signers ? index_copy(signers) : json_array();
}

/* The pretty text of json, checked (index_dumps); takes json's reference. */
static int dumps_owned(char **out, json_t *json)
{
    int ret = index_dumps(out, json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(json);
    return ret;
}

int store_vault_json(char **out, size_t *len, const struct store *store,
                     const struct store_vault *vault)
{
    const struct store_epoch *latest = vault->latest;
    json_t *epochs = json_array();
    json_t *obj;
    char file[64];

    if (!latest || !epochs) {
        json_decref(epochs);
        return latest ? -ENOMEM : -ENOENT;
    }
    for (size_t i = 0; i < vault->epoch_count; i++) {
        const struct store_epoch *e = &vault->epochs[i];
        if (e->current)
            snprintf(file, sizeof(file), "share.vult");
        else
            snprintf(file, sizeof(file), "history/epoch-%" PRIu64 ".vult", e->number);
        if (json_array_append_new(
                epochs, json_pack("{s:I, s:s, s:b, s:s, s:o, s:s}", "epoch",
                                  (json_int_t)e->number, "file", file, "superseded",
                                  !e->current, "device", e->facts.device, "signers",
                                  signers_array(store, vault, e->number), "reshare_prefix",
                                  e->facts.reshare_prefix)) < 0) {
            json_decref(epochs);
            return -ENOMEM; /* never a vault.json with an epoch missing */
        }
    }
    /* "o*" leaves a NULL out: made here, so that a failed allocation is an
     * error and never a vault.json without its current epoch */
    json_t *current = vault->current ? json_integer((json_int_t)vault->current->number) : NULL;
    if (vault->current && !current) {
        json_decref(epochs);
        return -ENOMEM;
    }
    obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o}", "name", latest->facts.name,
                    "public_key_ecdsa", latest->facts.public_key_ecdsa, "public_key_eddsa",
                    latest->facts.public_key_eddsa, "hex_chain_code",
                    latest->facts.hex_chain_code, "lib_type", latest->facts.lib_type,
                    "created_at", latest->facts.created_at, "current_epoch", current, "epochs",
                    epochs);
    char *text = NULL;
    int ret = dumps_owned(&text, obj); /* obj NULL: -ENOMEM */
    if (ret < 0)
        return ret;
    /* a text file ends with a newline */
    size_t n = strlen(text);
    char *withnl = alloc_bytes(n + 2);
    if (!withnl) {
        free(text);
        return -ENOMEM;
    }
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    alloc_free(text);
    *out = withnl;
    *len = n + 1;
    return 0;
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
                epochs, json_pack("{s:I, s:b, s:s, s:o, s:s, s:s, s:s}", "epoch",
                                  (json_int_t)e->number, "current", e->current, "device",
                                  e->facts.device, "signers",
                                  signers_array(store, v, e->number), "reshare_prefix",
                                  e->facts.reshare_prefix, "lib_type", e->facts.lib_type,
                                  "imported_at", when));
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
