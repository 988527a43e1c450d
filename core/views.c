/*
 * views: struct store_vault and struct store_epoch, built from the index
 * when a store opens and for the one vault a change touches, and the
 * lookups the tree makes into them (by hash). Inode
 * numbers are a keyed hash, stable across mounts and revealing nothing.
 */
#include "store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

static void free_view(struct store_vault *v)
{
    if (!v)
        return;
    for (size_t j = 0; j < v->epoch_count; j++)
        alloc_free((char *)v->epochs[j].facts.signers);
    alloc_free((struct store_epoch *)v->epochs);
    alloc_free((char *)v->dir_name);
    alloc_free(v);
}

/* Forgets every view (the index stays). */
static void views_clear(struct store *store)
{
    for (size_t i = 0; i < store->vault_count; i++)
        free_view(store->vaults[i]);
    store->vault_count = 0;
    strmap_clear(&store->by_dir);
    strmap_clear(&store->by_ecdsa);
}

void views_free(struct store *store)
{
    views_clear(store);
    alloc_free(store->vaults);
    store->vaults = NULL;
    store->vault_cap = 0;
    strmap_free(&store->by_dir);
    strmap_free(&store->by_ecdsa);
    alloc_free(store->vault_order);
    store->vault_order = NULL;
    store->order_cap = 0;
    if (store->per_vault)
        close(store->vaultsfd);
    store->per_vault = false;
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
    /* the key names the vault's directory ("-<last 4>") and its record:
     * an import takes only hex (vult.c), so anything else is not an index
     * this store wrote */
    struct vult_str key = {view->public_key_ecdsa, strlen(view->public_key_ecdsa)};
    if (key.len == 0 || !vult_str_is_hex(key)) {
        alloc_free(list);
        return -EIO;
    }
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

static int reserve_views(struct store *store, size_t count)
{
    return index_reserve((void **)&store->vaults, &store->vault_cap, count,
                         sizeof(*store->vaults));
}

/* vault.json's size, once per change rather than on every stat; counted,
 * not made (listing.c) */
static int size_json(struct store *store, struct store_vault *view)
{
    return listing_vault_json_len(&view->json_size, store, view);
}

/* A new view of the vault at position (its key in by_ecdsa). */
static int new_view(struct store_vault **out, struct store *store, size_t position)
{
    const json_t *vault = json_array_get(json_object_get(store->index, "vaults"), position);
    struct store_vault *view = alloc_zeroed(1, sizeof(*view));
    int ret = view ? build_vault_view(store, view, vault) : -ENOMEM;

    if (ret == 0 && strmap_put(&store->by_ecdsa, view->public_key_ecdsa,
                               (void *)(uintptr_t)(position + 1)) < 0)
        ret = -ENOMEM;
    if (ret < 0) {
        free_view(view);
        return ret;
    }
    *out = view;
    return 0;
}

int views_rebuild(struct store *store)
{
    size_t count = json_array_size(json_object_get(store->index, "vaults")), i;
    int ret;

    views_clear(store);
    ret = reserve_views(store, count);
    for (i = 0; ret == 0 && i < count; i++) {
        ret = new_view(&store->vaults[i], store, i);
        if (ret == 0)
            store->vault_count++;
    }
    if (ret == 0)
        ret = names_assign(store);
    for (i = 0; ret == 0 && i < count; i++)
        ret = size_json(store, store->vaults[i]);
    if (ret < 0) {
        views_clear(store);
        return ret;
    }
    store->generation++;
    return 0;
}

/* Does the directory name derive from the same things in both? */
static bool same_name_source(const struct store_vault *a, const json_t *a_json,
                             const struct store_vault *b, const json_t *b_json)
{
    const char *hint_a = json_string_value(json_object_get(a_json, "dir_name"));
    const char *hint_b = json_string_value(json_object_get(b_json, "dir_name"));
    const char *name_a = a->latest ? a->latest->facts.name : "vault";
    const char *name_b = b->latest ? b->latest->facts.name : "vault";
    return strcmp(name_a, name_b) == 0 && (hint_a ? hint_b && strcmp(hint_a, hint_b) == 0 : !hint_b);
}

/* The changed vault's view in place of its old one (the pointer stays). */
static int replace_view(struct store *store, size_t position, const json_t *old_json)
{
    const json_t *vault = json_array_get(json_object_get(store->index, "vaults"), position);
    struct store_vault *view = store->vaults[position], *fresh;
    int ret = new_view(&fresh, store, position);

    if (ret < 0)
        return ret;
    bool keep_name = same_name_source(view, old_json, fresh, vault);
    if (keep_name) {
        fresh->dir_name = view->dir_name; /* by_dir's key: the same text */
        view->dir_name = NULL;
    }
    struct store_vault old = *view;
    *view = *fresh;
    *fresh = old;
    free_view(fresh);
    if (keep_name)
        return strmap_put(&store->by_dir, view->dir_name, view) < 0 ? -ENOMEM : 0;
    return names_assign(store);
}

int views_update(struct store *store, size_t position, const json_t *old_json)
{
    int ret = 0;

    /* views left empty by a failure earlier: all of them again */
    if (position > store->vault_count || (old_json && position == store->vault_count))
        return views_rebuild(store);
    if (old_json) {
        ret = replace_view(store, position, old_json);
    } else {
        ret = reserve_views(store, store->vault_count + 1);
        if (ret == 0)
            ret = new_view(&store->vaults[position], store, position);
        if (ret == 0) {
            store->vault_count++;
            ret = names_assign_last(store);
        }
    }
    if (ret == 0)
        ret = size_json(store, store->vaults[position]);
    if (ret < 0) {
        int rebuilt = views_rebuild(store); /* whole again, or empty */
        (void)rebuilt;
        return ret;
    }
    store->generation++;
    return 0;
}

size_t store_vault_count(const struct store *store)
{
    return store->vault_count;
}

const struct store_vault *store_vault_at(const struct store *store, size_t index)
{
    return index < store->vault_count ? store->vaults[index] : NULL;
}

const struct store_vault *store_vault_by_dir(const struct store *store, const char *dir_name)
{
    return strmap_get(&store->by_dir, dir_name);
}

void views_set_export_sizes(struct store *store)
{
    for (size_t i = 0; i < store->vault_count; i++) {
        struct store_vault *v = store->vaults[i];
        const json_t *vj = index_vault_of(store, v->public_key_ecdsa);
        for (size_t j = 0; j < v->epoch_count; j++) {
            struct store_epoch *e = (struct store_epoch *)&v->epochs[j];
            size_t vault_len = (size_t)index_num(index_find_epoch(vj, e->number), "vault_len");
            e->export_size = vult_encoded_len(vault_len, store->export_scheme);
        }
    }
    store->generation++;
}

const struct store_vault *views_by_ecdsa(const struct store *store, const char *ecdsa)
{
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
    return at && at <= store->vault_count ? store->vaults[at - 1] : NULL;
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
