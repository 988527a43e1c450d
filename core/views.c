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
    alloc_free(v->text);
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
    index_free(store); /* and read_views */
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

/* A view's text in one block: the signers' pointer arrays, then the
 * characters. Filled twice, by the same code: first only counting
 * (ptrs NULL), then copying into the block. */
struct view_text {
    const char **ptrs;
    struct store_chain *chains;
    char *chars;
    size_t nptrs, nchains, nchars;
    bool bad; /* a signer that is not a name: an import stores names only */
};

static const char *put_text(struct view_text *t, const char *s)
{
    size_t n = strlen(s) + 1;
    char *at = t->ptrs ? t->chars + t->nchars : NULL;

    if (at)
        memcpy(at, s, n);
    t->nchars += n;
    return at ? at : "";
}

static const char *put_str(struct view_text *t, const json_t *obj, const char *key)
{
    return put_text(t, jsonx_str(obj, key));
}

/* The signers, each and joined by commas (the xattr's form). */
static void put_signers(struct view_text *t, struct store_facts *facts, const json_t *signers)
{
    const char **list = t->ptrs ? t->ptrs + t->nptrs : NULL;
    size_t i, joined = 1;
    json_t *s;

    facts->signer_count = json_array_size(signers);
    facts->signer_list = list;
    t->nptrs += facts->signer_count;
    json_array_foreach(signers, i, s) {
        const char *name = json_string_value(s) ? json_string_value(s) : "";
        t->bad |= !json_is_string(s);
        const char *copy = put_text(t, name);
        if (list)
            list[i] = copy;
        joined += strlen(name) + 1;
    }
    char *out = t->ptrs ? t->chars + t->nchars : NULL;
    t->nchars += joined;
    facts->signers = out ? out : "";
    if (!out)
        return;
    out[0] = '\0';
    for (i = 0; i < facts->signer_count; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, list[i]);
    }
}

/* The chain keys, each and their names joined by commas (the xattr). */
static void put_chains(struct view_text *t, struct store_facts *facts, const json_t *chains)
{
    struct store_chain *list = t->ptrs ? t->chains + t->nchains : NULL;
    size_t i, joined = 1;
    json_t *c;

    facts->chain_count = json_array_size(chains);
    facts->chain_list = list;
    t->nchains += facts->chain_count;
    json_array_foreach(chains, i, c) {
        const char *name = put_str(t, c, "chain");
        const char *key = put_str(t, c, "public_key");
        if (list)
            list[i] = (struct store_chain){name, key, json_is_true(json_object_get(c, "is_eddsa"))};
        joined += strlen(jsonx_str(c, "chain")) + 1;
    }
    char *out = t->ptrs ? t->chars + t->nchars : NULL;
    t->nchars += joined;
    facts->chains = out ? out : "";
    if (!out)
        return;
    out[0] = '\0';
    for (i = 0; i < facts->chain_count; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, list[i].name);
    }
}

/* The records a replace kept (their names only). */
static void put_replaced(struct view_text *t, struct store_epoch *ep, const json_t *replaced)
{
    const char **list = t->ptrs ? t->ptrs + t->nptrs : NULL;
    size_t i;
    json_t *r;

    ep->replaced_count = json_array_size(replaced);
    ep->replaced = list;
    t->nptrs += ep->replaced_count;
    json_array_foreach(replaced, i, r) {
        const char *copy = put_str(t, r, "record");
        if (list)
            list[i] = copy;
    }
}

static int compare_epochs(const void *a, const void *b)
{
    const struct store_epoch *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

static void put_epoch(struct view_text *t, const struct store *store, struct store_epoch *ep,
                      const json_t *e)
{
    const json_t *facts = json_object_get(e, "facts");

    ep->number = jsonx_num(e, "number");
    ep->current = json_is_true(json_object_get(e, "current"));
    ep->imported_sec = (int64_t)jsonx_num(e, "imported_sec");
    ep->imported_nsec = (int32_t)jsonx_num(e, "imported_nsec");
    ep->record = put_str(t, e, "record");
    ep->vault_len = (size_t)jsonx_num(e, "vault_len");
    ep->facts.name = put_str(t, facts, "name");
    ep->facts.device = put_str(t, facts, "device");
    ep->facts.reshare_prefix = put_str(t, facts, "reshare_prefix");
    ep->facts.public_key_ecdsa = put_str(t, facts, "public_key_ecdsa");
    ep->facts.public_key_eddsa = put_str(t, facts, "public_key_eddsa");
    ep->facts.lib_type = put_str(t, facts, "lib_type");
    ep->facts.created_at = put_str(t, facts, "created_at");
    ep->facts.hex_chain_code = put_str(t, facts, "hex_chain_code");
    ep->facts.key_share_count = (size_t)jsonx_num(facts, "key_share_count");
    ep->facts.public_key_mldsa44 = put_str(t, facts, "public_key_mldsa44");
    ep->facts.public_key_frozt = put_str(t, facts, "public_key_frozt");
    ep->facts.public_key_fromt = put_str(t, facts, "public_key_fromt");
    put_signers(t, &ep->facts, json_object_get(facts, "signers"));
    put_chains(t, &ep->facts, json_object_get(facts, "chains"));
    put_replaced(t, ep, json_object_get(e, "replaced"));
    if (store->export_set)
        ep->export_size = vult_encoded_len(ep->vault_len, store->export_scheme);
}

/* Every string of the view from vault (counting, or copying: see above). */
static void put_view(struct view_text *t, const struct store *store, struct store_vault *view,
                     struct store_epoch *list, const json_t *vault)
{
    const json_t *hint = json_object_get(vault, "dir_name");
    size_t i;
    json_t *e;

    t->nptrs = t->nchains = t->nchars = 0;
    view->public_key_ecdsa = put_str(t, vault, "ecdsa");
    view->dir_hint = json_is_string(hint) ? put_text(t, json_string_value(hint)) : NULL;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        put_epoch(t, store, &list[i], e);
}

/* The view's own copy of what it shows: one block (view->text). */
static int copy_view_text(const struct store *store, struct store_vault *view,
                          struct store_epoch *list, const json_t *vault)
{
    struct view_text t = {NULL, NULL, NULL, 0, 0, 0, false};

    put_view(&t, store, view, list, vault);
    if (t.bad)
        return -EIO;
    size_t ptr_bytes = t.nptrs * sizeof(*t.ptrs);
    size_t chain_bytes = t.nchains * sizeof(*t.chains);
    view->text = alloc_bytes(ptr_bytes + chain_bytes + t.nchars);
    if (!view->text)
        return -ENOMEM;
    t.ptrs = view->text;
    t.chains = (struct store_chain *)((char *)view->text + ptr_bytes);
    t.chars = (char *)view->text + ptr_bytes + chain_bytes;
    put_view(&t, store, view, list, vault);
    return 0;
}

static int build_vault_view(struct store *store, struct store_vault *view, const json_t *vault)
{
    size_t count = json_array_size(json_object_get(vault, "epochs")), i;
    struct store_epoch *list = alloc_zeroed(count ? count : 1, sizeof(*list));

    if (!list)
        return -ENOMEM;
    view->epochs = list;
    view->epoch_count = count;
    int ret = copy_view_text(store, view, list, vault);
    if (ret < 0)
        return ret;
    /* the key names the vault's directory ("-<last 4>") and its record:
     * an import takes only hex (vult.c), so anything else is not an index
     * this store wrote */
    struct vult_str key = {view->public_key_ecdsa, strlen(view->public_key_ecdsa)};
    if (key.len == 0 || !vult_str_is_hex(key))
        return -EIO;
    for (i = 0; i < count; i++)
        list[i].ino = inode_of(store, view->public_key_ecdsa,
                               list[i].current ? "current" : "history", list[i].number);
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
    return alloc_reserve((void **)&store->vaults, &store->vault_cap, count, sizeof(*store->vaults));
}

/* vault.json's size, once per change rather than on every stat; counted,
 * not made (listing.c) */
static int size_json(struct store_vault *view)
{
    return listing_vault_json_len(&view->json_size, view);
}

static bool newer(int64_t sec, int32_t nsec, int64_t than_sec, int32_t than_nsec)
{
    return sec > than_sec || (sec == than_sec && nsec > than_nsec);
}

/* The newest change of all views, from scratch. */
static void find_latest(struct store *store)
{
    store->latest_sec = 0;
    store->latest_nsec = 0;
    for (size_t i = 0; i < store->vault_count; i++) {
        const struct store_vault *v = store->vaults[i];
        if (newer(v->changed_sec, v->changed_nsec, store->latest_sec, store->latest_nsec)) {
            store->latest_sec = v->changed_sec;
            store->latest_nsec = v->changed_nsec;
        }
    }
}

/* After view changed from (was_sec, was_nsec): the newest change kept,
 * found again only when view held it and went back (an undone change). */
static void note_change(struct store *store, const struct store_vault *view, int64_t was_sec,
                        int32_t was_nsec)
{
    if (!newer(store->latest_sec, store->latest_nsec, view->changed_sec, view->changed_nsec)) {
        store->latest_sec = view->changed_sec;
        store->latest_nsec = view->changed_nsec;
    } else if (was_sec == store->latest_sec && was_nsec == store->latest_nsec) {
        find_latest(store);
    }
}

void store_latest_change(const struct store *store, int64_t *sec, int32_t *nsec)
{
    *sec = store->latest_sec;
    *nsec = store->latest_nsec;
}

int views_make(struct store *store, const json_t *vault, struct store_vault **out)
{
    struct store_vault *view = alloc_zeroed(1, sizeof(*view));
    int ret = view ? build_vault_view(store, view, vault) : -ENOMEM;

    if (ret < 0) {
        free_view(view);
        return ret;
    }
    *out = view;
    return 0;
}

void views_discard(struct store_vault *view)
{
    free_view(view);
}

void views_forget_read(struct store *store)
{
    for (size_t i = 0; store->read_views && i < store->slot_count; i++)
        free_view(store->read_views[i]);
    alloc_free(store->read_views);
    store->read_views = NULL;
}

/* view, the vault at position, under its key in by_ecdsa */
static int index_view(struct store *store, struct store_vault *view, size_t position)
{
    return strmap_put(&store->by_ecdsa, view->public_key_ecdsa,
                      (void *)(uintptr_t)(position + 1)) < 0 ? -ENOMEM : 0;
}

/* A new view of vault, the vault at position (its key in by_ecdsa). */
static int new_view(struct store_vault **out, struct store *store, size_t position,
                    const json_t *vault)
{
    int ret = views_make(store, vault, out);

    if (ret == 0 && (ret = index_view(store, *out, position)) < 0) {
        free_view(*out);
        *out = NULL;
    }
    return ret;
}

/* The view of the index's vault at position: the one index_read made,
 * else its text parsed for it. */
static int view_at(struct store_vault **out, struct store *store, size_t position)
{
    json_t *vault = NULL;

    if (store->read_views && store->read_views[position]) {
        int put = index_view(store, store->read_views[position], position);
        if (put == 0) {
            *out = store->read_views[position];
            store->read_views[position] = NULL;
        }
        return put;
    }
    int ret = index_vault_at(store, position, &vault);

    if (ret == 0 && !vault)
        ret = -EIO;
    if (ret == 0)
        ret = new_view(out, store, position, vault);
    json_decref(vault);
    return ret;
}

int views_rebuild(struct store *store)
{
    size_t count = store->slot_count, i;
    int ret;

    views_clear(store);
    ret = reserve_views(store, count);
    for (i = 0; ret == 0 && i < count; i++) {
        ret = view_at(&store->vaults[i], store, i);
        if (ret == 0)
            store->vault_count++;
    }
    views_forget_read(store); /* taken, or left by a failure: made again next time */
    if (ret == 0)
        ret = names_assign(store);
    for (i = 0; ret == 0 && i < count; i++)
        ret = size_json(store->vaults[i]);
    if (ret < 0) {
        views_clear(store);
        find_latest(store);
        return ret;
    }
    find_latest(store);
    store->generation++;
    return 0;
}

static bool same_text(const char *a, const char *b)
{
    return a ? b && strcmp(a, b) == 0 : !b;
}

/* Does the directory name derive from the same things in both? */
static bool same_name_source(const struct store_vault *a, const struct store_vault *b)
{
    const char *name_a = a->latest ? a->latest->facts.name : "vault";
    const char *name_b = b->latest ? b->latest->facts.name : "vault";
    return strcmp(name_a, name_b) == 0 && same_text(a->dir_hint, b->dir_hint);
}

/* The changed vault's view in place of its old one (the pointer stays). */
static int replace_view(struct store *store, size_t position, const json_t *vault)
{
    struct store_vault *view = store->vaults[position], *fresh;
    int ret = new_view(&fresh, store, position, vault);

    if (ret < 0)
        return ret;
    bool keep_name = same_name_source(view, fresh);
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

int views_update(struct store *store, size_t position, const json_t *vault, bool replaced)
{
    int ret = 0;
    int64_t was_sec = 0;
    int32_t was_nsec = 0;

    /* views left empty by a failure earlier: all of them again */
    if (position > store->vault_count || (replaced && position == store->vault_count))
        return views_rebuild(store);
    if (replaced) {
        was_sec = store->vaults[position]->changed_sec;
        was_nsec = store->vaults[position]->changed_nsec;
        ret = replace_view(store, position, vault);
    } else {
        ret = reserve_views(store, store->vault_count + 1);
        if (ret == 0)
            ret = new_view(&store->vaults[position], store, position, vault);
        if (ret == 0) {
            store->vault_count++;
            ret = names_assign_last(store);
        }
    }
    if (ret == 0)
        ret = size_json(store->vaults[position]);
    if (ret < 0) {
        int rebuilt = views_rebuild(store); /* whole again, or empty */
        (void)rebuilt;
        return ret;
    }
    note_change(store, store->vaults[position], was_sec, was_nsec);
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
        for (size_t j = 0; j < v->epoch_count; j++) {
            struct store_epoch *e = (struct store_epoch *)&v->epochs[j];
            e->export_size = vult_encoded_len(e->vault_len, store->export_scheme);
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
