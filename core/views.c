/*
 * views: struct store_vault and struct store_epoch, built from the index
 * after every change, and the lookups the tree makes into them. Inode
 * numbers are a keyed hash, stable across mounts and revealing nothing.
 */
#include "store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

void views_free(struct store *store)
{
    for (size_t i = 0; i < store->vault_count; i++) {
        struct store_vault *v = &store->vaults[i];
        for (size_t j = 0; j < v->epoch_count; j++)
            alloc_free((char *)v->epochs[j].facts.signers);
        alloc_free((struct store_epoch *)v->epochs);
        alloc_free((char *)v->dir_name);
    }
    alloc_free(store->vaults);
    store->vaults = NULL;
    store->vault_count = 0;
}

static uint64_t inode_of(const struct store *store, const char *ecdsa, const char *kind,
                         uint64_t number)
{
    crypto_generichash_state st;
    uint64_t ino;
    uint8_t digest[8];
    uint32_t number32 = (uint32_t)number; /* the inputs of stores made before 64-bit epochs */

    crypto_generichash_init(&st, store->inode_key, SEAL_KEY_BYTES, sizeof(digest));
    crypto_generichash_update(&st, (const uint8_t *)ecdsa, strlen(ecdsa) + 1);
    crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
    if (number <= UINT32_MAX)
        crypto_generichash_update(&st, (const uint8_t *)&number32, sizeof(number32));
    else
        crypto_generichash_update(&st, (const uint8_t *)&number, sizeof(number));
    crypto_generichash_final(&st, digest, sizeof(digest));
    memcpy(&ino, digest, sizeof(ino));
    return ino < 2 ? ino + 2 : ino; /* 1 is the root */
}

static char *joined_signers(const json_t *signers)
{
    size_t cap = 1, i;
    json_t *s;
    json_array_foreach(signers, i, s)
        cap += strlen(json_string_value(s) ? json_string_value(s) : "") + 1;
    char *out = alloc_bytes(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    json_array_foreach(signers, i, s) {
        if (i)
            strcat(out, ",");
        strcat(out, json_string_value(s) ? json_string_value(s) : "");
    }
    return out;
}

static int compare_epochs(const void *a, const void *b)
{
    const struct store_epoch *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

static int build_vault_view(struct store *store, struct store_vault *view, const json_t *vault)
{
    const json_t *epochs = json_object_get(vault, "epochs");
    size_t count = json_array_size(epochs);
    struct store_epoch *list = alloc_zeroed(count ? count : 1, sizeof(*list));
    size_t i;
    json_t *e;

    if (!list)
        return -ENOMEM;
    view->public_key_ecdsa = index_str(vault, "ecdsa");
    view->epochs = list;
    view->epoch_count = count;
    json_array_foreach(epochs, i, e) {
        struct store_epoch *ep = &list[i];
        const json_t *facts = json_object_get(e, "facts");
        ep->number = index_num(e, "number");
        ep->current = json_is_true(json_object_get(e, "current"));
        ep->imported_sec = (int64_t)index_num(e, "imported_sec");
        ep->imported_nsec = (int32_t)index_num(e, "imported_nsec");
        ep->facts.name = index_str(facts, "name");
        ep->facts.device = index_str(facts, "device");
        ep->facts.reshare_prefix = index_str(facts, "reshare_prefix");
        ep->facts.public_key_ecdsa = index_str(facts, "public_key_ecdsa");
        ep->facts.public_key_eddsa = index_str(facts, "public_key_eddsa");
        ep->facts.lib_type = index_str(facts, "lib_type");
        ep->facts.created_at = index_str(facts, "created_at");
        ep->facts.hex_chain_code = index_str(facts, "hex_chain_code");
        ep->facts.signer_count = json_array_size(json_object_get(facts, "signers"));
        ep->facts.key_share_count = (size_t)index_num(facts, "key_share_count");
        ep->facts.signers = joined_signers(json_object_get(facts, "signers"));
        if (!ep->facts.signers)
            return -ENOMEM;
        if (store->export_set)
            ep->export_size =
                vult_encoded_len((size_t)index_num(e, "vault_len"), store->export_scheme);
        ep->ino = inode_of(store, view->public_key_ecdsa, ep->current ? "current" : "history",
                           ep->number);
    }
    qsort(list, count, sizeof(*list), compare_epochs);
    for (i = 0; i < count; i++) {
        if (list[i].current)
            view->current = &list[i];
        if (list[i].imported_sec > view->changed_sec ||
            (list[i].imported_sec == view->changed_sec &&
             list[i].imported_nsec > view->changed_nsec)) {
            view->changed_sec = list[i].imported_sec;
            view->changed_nsec = list[i].imported_nsec;
        }
    }
    view->latest = view->current ? view->current : (count ? &list[count - 1] : NULL);
    view->ino_dir = inode_of(store, view->public_key_ecdsa, "dir", 0);
    view->ino_history = inode_of(store, view->public_key_ecdsa, "history", 0);
    view->ino_json = inode_of(store, view->public_key_ecdsa, "json", 0);
    return 0;
}

int views_rebuild(struct store *store)
{
    const json_t *vaults = json_object_get(store->index, "vaults");
    size_t count = json_array_size(vaults), i;
    json_t *v;
    int ret;

    views_free(store);
    store->vaults = alloc_zeroed(count ? count : 1, sizeof(*store->vaults));
    if (!store->vaults)
        return -ENOMEM;
    store->vault_count = count;
    json_array_foreach(vaults, i, v) {
        ret = build_vault_view(store, &store->vaults[i], v);
        if (ret < 0)
            goto out_free;
    }
    ret = names_assign(store);
    if (ret < 0)
        goto out_free;
    /* vault.json's size, once per change rather than on every stat */
    for (i = 0; i < count; i++) {
        char *text = NULL;
        ret = store_vault_json(&text, &store->vaults[i].json_size, store, &store->vaults[i]);
        alloc_free(text);
        if (ret < 0)
            goto out_free;
    }
    store->generation++;
    return 0;
out_free:
    views_free(store);
    return ret;
}

size_t store_vault_count(const struct store *store)
{
    return store->vault_count;
}

const struct store_vault *store_vault_at(const struct store *store, size_t index)
{
    return index < store->vault_count ? &store->vaults[index] : NULL;
}

const struct store_vault *store_vault_by_dir(const struct store *store, const char *dir_name)
{
    for (size_t i = 0; i < store->vault_count; i++)
        if (strcmp(store->vaults[i].dir_name, dir_name) == 0)
            return &store->vaults[i];
    return NULL;
}

const struct store_epoch *store_vault_epoch(const struct store_vault *vault, uint64_t number)
{
    for (size_t i = 0; i < vault->epoch_count; i++)
        if (vault->epochs[i].number == number)
            return &vault->epochs[i];
    return NULL;
}

uint64_t store_generation(const struct store *store)
{
    return store->generation;
}
