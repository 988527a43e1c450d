/*
 * index: the store's one source of truth, and the lookups into it. The
 * index is JSON: {"format":1,"vaults":[{"ecdsa", "dir_name"?,
 * "epochs":[{"number","current","record","generation","device","shares",
 * "vault_len","imported_sec","imported_nsec","facts"}]}]}. In memory each
 * vault is the text of its object, parsed when a change or a check needs
 * it (struct index_slot). On disk each vault's object is its own sealed
 * record in vaults/, so a change writes one small record whatever the
 * store's size; stores made before that hold the whole index in index.rec
 * until their first change.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "io.h"

/* ---- the order of vaults and the lookup by key --------------------------- */

static int reserve_slots(struct store *store, size_t count)
{
    return alloc_reserve((void **)&store->slots, &store->slot_cap, count, sizeof(*store->slots));
}

static void slot_clear(struct index_slot *slot)
{
    alloc_free(slot->text);
    json_decref(slot->tree);
    slot->text = NULL;
    slot->tree = NULL;
    slot->len = 0;
}

void index_free(struct store *store)
{
    views_forget_read(store);
    for (size_t i = 0; i < store->slot_count; i++)
        slot_clear(&store->slots[i]);
    alloc_free(store->slots);
    store->slots = NULL;
    store->slot_count = store->slot_cap = 0;
}

/* The vault's text for its slot (encoded and checked). */
static int slot_fill(struct index_slot *slot, const json_t *vault)
{
    char *text = NULL;
    int ret = jsonx_dumps(&text, vault, JSON_COMPACT | JSON_SORT_KEYS);

    if (ret < 0)
        return ret;
    slot->text = text;
    slot->len = strlen(text);
    return 0;
}

int index_vault_at(const struct store *store, size_t position, json_t **out)
{
    *out = NULL;
    if (position >= store->slot_count)
        return 0;
    const struct index_slot *slot = &store->slots[position];
    if (slot->tree) {
        *out = json_incref(slot->tree);
        return 0;
    }
    return jsonx_loads(out, (const uint8_t *)slot->text, slot->len);
}

/* The position of the vault under ecdsa: by hash while the views are
 * whole, else (after a failure left them empty) by reading every vault. */
static int slot_position(const struct store *store, const char *ecdsa, size_t *position,
                         bool *found)
{
    *found = false;
    if (store->vault_count == store->slot_count) {
        uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
        *found = at != 0;
        *position = at ? at - 1 : 0;
        return 0;
    }
    for (size_t i = 0; i < store->slot_count; i++) {
        json_t *vault = NULL;
        int ret = index_vault_at(store, i, &vault);
        bool same = ret == 0 && strcmp(jsonx_str(vault, "ecdsa"), ecdsa) == 0;
        json_decref(vault);
        if (ret < 0)
            return ret;
        if (same) {
            *found = true;
            *position = i;
            return 0;
        }
    }
    return 0;
}

int index_vault_get(const struct store *store, const char *ecdsa, json_t **out)
{
    size_t position;
    bool found;
    int ret = slot_position(store, ecdsa, &position, &found);

    *out = NULL;
    return ret == 0 && found ? index_vault_at(store, position, out) : ret;
}

int index_whole(const struct store *store, json_t **out)
{
    json_t *index = json_pack("{s:i, s:[]}", "format", 1, "vaults");
    json_t *vaults = json_object_get(index, "vaults");
    int ret = index ? 0 : -ENOMEM;

    for (size_t i = 0; ret == 0 && i < store->slot_count; i++) {
        json_t *vault = NULL;
        ret = index_vault_at(store, i, &vault);
        if (ret == 0 && json_array_append_new(vaults, vault) < 0)
            ret = -ENOMEM;
    }
    if (ret < 0) {
        json_decref(index);
        return ret;
    }
    *out = index;
    return 0;
}

void index_replace_all(struct store *store, const json_t *index)
{
    const json_t *vaults = json_object_get(index, "vaults");

    views_forget_read(store);
    for (size_t i = 0; i < store->slot_count && i < json_array_size(vaults); i++) {
        struct index_slot fresh = {store->slots[i].order, NULL, 0, NULL};
        json_t *vault = json_array_get(vaults, i);
        if (slot_fill(&fresh, vault) < 0)
            fresh.tree = json_incref(vault); /* no room for its text: as it is */
        slot_clear(&store->slots[i]);
        store->slots[i] = fresh;
    }
}

/* A buffer for index records' text, grown as needed and kept: one for
 * every record read at open. */
struct plain_buf {
    uint8_t *bytes;
    size_t cap;
};

/* An index record's text into buf. It holds public facts and key-share
 * digests, nothing secret: opened into plain heap, one buffer for all (a
 * guarded, locked mapping per record was most of opening a store of
 * thousands of vaults). *state (may be NULL) gets the file's digest, for
 * the manifest, once it is read; *sealed_err (may be NULL) tells a file
 * that was read but does not open (its seal's error, then returned too)
 * from one that could not be read. */
static int read_index_record_as(struct plain_buf *buf, size_t *len, int dirfd, const char *name,
                                const char *id, const struct store *store,
                                struct manifest_state *state, bool *sealed_err)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = io_read_file(&sealed, &sealed_len, dirfd, name, MAX_INDEX_BYTES);

    if (sealed_err)
        *sealed_err = false;
    if (ret == 0 && state) {
        state->present = true;
        manifest_digest(state->digest, sealed, sealed_len);
    }
    if (ret == 0 && sealed_len > buf->cap)
        ret = alloc_reserve((void **)&buf->bytes, &buf->cap, sealed_len, 1);
    if (ret == 0) {
        ret = seal_open_into(buf->bytes, buf->cap, len, sealed, sealed_len, SEAL_KIND_INDEX, id,
                             store->master);
        if (ret < 0 && ret != -ENOMEM && sealed_err)
            *sealed_err = true;
    }
    alloc_free(sealed);
    return ret;
}

static int read_index_record(struct plain_buf *buf, size_t *len, int dirfd, const char *name,
                             const char *id, const struct store *store)
{
    return read_index_record_as(buf, len, dirfd, name, id, store, NULL, NULL);
}

/* ---- index.rec: the whole index in one record (format 1) ---------------- */

/* Every vault of index.rec into a slot, in its order. */
static int slots_from_whole(struct store *store, const json_t *vaults)
{
    size_t count = json_array_size(vaults);
    int ret = json_is_array(vaults) ? reserve_slots(store, count) : -EIO;

    for (size_t i = 0; ret == 0 && i < count; i++) {
        const json_t *vault = json_array_get(vaults, i);
        struct index_slot *slot = &store->slots[i];
        *slot = (struct index_slot){i, NULL, 0, NULL};
        /* as a vault record's is checked (take_vault_record) */
        ret = json_is_object(vault) ? slot_fill(slot, vault) : -EIO;
        if (ret == 0)
            store->slot_count++;
    }
    store->next_order = count;
    return ret;
}

static int read_whole_index(struct store *store)
{
    struct plain_buf plain = {NULL, 0};
    json_t *index = NULL;
    size_t len = 0;
    int ret = read_index_record(&plain, &len, store->dirfd, INDEX_NAME, INDEX_ID, store);

    if (ret == 0)
        ret = jsonx_loads(&index, plain.bytes, len);
    alloc_free(plain.bytes);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    ret = slots_from_whole(store, json_object_get(index, "vaults"));
    json_decref(index);
    return ret;
}

/* ---- vaults/: one record per vault ---------------------------------------- */

/* A record holds {"order": n, "vault": {...}}: the vault's JSON object as
 * the index has it, and its place in the index (names go to the first
 * vault with a name, so the order must survive). Its file name is a keyed
 * hash of the ECDSA key, and the name is the record's sealed id. */
#define VAULT_RECORD_HEX (2 * RECORD_NAME_BYTES)

void index_vault_record_name(char hex[VAULT_RECORD_HEX + 1], const struct store *store,
                             const char *ecdsa)
{
    static const char domain[] = "vultfs vault record";
    crypto_generichash_state st;
    uint8_t digest[RECORD_NAME_BYTES];

    crypto_generichash_init(&st, store->record_key, SEAL_KEY_BYTES, sizeof(digest));
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
    crypto_generichash_update(&st, (const uint8_t *)ecdsa, strlen(ecdsa));
    crypto_generichash_final(&st, digest, sizeof(digest));
    hex_encode(hex, digest, sizeof(digest));
}

static void vault_record_name(char hex[VAULT_RECORD_HEX + 1], const struct store *store,
                              const char *ecdsa)
{
    index_vault_record_name(hex, store, ecdsa);
}

struct vault_record_path {
    char file[VAULT_RECORD_HEX + 8];
    char id[VAULT_RECORD_HEX + 8];
};

static void vault_record_path(struct vault_record_path *p, const char *hex)
{
    snprintf(p->file, sizeof(p->file), "%s.rec", hex);
    snprintf(p->id, sizeof(p->id), "vault-%s", hex);
}

/* The vault's sealed record into dirfd: in place and durably, or (staged)
 * as its temporary, not flushed (index_stage_vault). *state (may be NULL)
 * gets what the manifest must say of it. */
static int write_record_to(struct store *store, int dirfd, const json_t *vault, uint64_t order,
                           bool staged, struct manifest_state *state)
{
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;
    json_t *record = json_pack("{s:I, s:O}", "order", (json_int_t)order, "vault", vault);
    char *text = NULL;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = record ? jsonx_dumps(&text, record, JSON_COMPACT | JSON_SORT_KEYS) : -ENOMEM;

    json_decref(record);
    if (ret < 0)
        return ret;
    vault_record_name(hex, store, jsonx_str(vault, "ecdsa"));
    vault_record_path(&path, hex);
    ret = seal_record(&sealed, &sealed_len, (const uint8_t *)text, strlen(text),
                      SEAL_KIND_INDEX, path.id, store->master);
    sodium_memzero(text, strlen(text));
    alloc_free(text);
    if (ret < 0)
        return ret;
    if (state) {
        state->present = true;
        manifest_digest(state->digest, sealed, sealed_len);
    }
    ret = (staged ? io_write_temp : io_write_atomic)(dirfd, path.file, sealed, sealed_len, 0600);
    alloc_free(sealed);
    return ret;
}

static int write_vault_record(struct store *store, int dirfd, const json_t *vault,
                              uint64_t order, struct manifest_state *state)
{
    return write_record_to(store, dirfd, vault, order, false, state);
}

/* What reading vaults/ collects: each record's vault text and order, and
 * its view while its tree is at hand, in directory order (sorted by order
 * after). */
struct loaded_vault {
    struct index_slot slot;
    struct store_vault *view; /* NULL: views_rebuild makes it */
};

struct loaded {
    struct store *store;
    struct loaded_vault *vaults;
    size_t count, cap;
    struct plain_buf plain;
    /* every record file found, for the manifest */
    struct manifest_item *found;
    size_t found_count, found_cap;
};

/* The vault's text in a record's text: the record is the compact, sorted
 * encoding of {"order":n,"vault":{...}} (jsonx_loads made sure), so its
 * vault is the text between the prefix and the last brace. */
static int vault_text_of(struct index_slot *slot, const uint8_t *record, size_t len,
                         uint64_t order)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "{\"order\":%" PRIu64 ",\"vault\":", order);

    if (n < 0 || (size_t)n + 1 > len || memcmp(record, prefix, (size_t)n) != 0 ||
        record[len - 1] != '}')
        return -EIO;
    slot->len = len - (size_t)n - 1;
    slot->text = alloc_strndup((const char *)record + n, slot->len);
    return slot->text ? 0 : -ENOMEM;
}

/* One record's vault, checked to be the record of the key its name says
 * (hex), into l's next slot. */
static int take_vault_record(struct loaded *l, const char *hex, size_t len, const json_t *record)
{
    const json_t *vault = json_object_get(record, "vault");
    const json_t *order = json_object_get(record, "order");
    char want[VAULT_RECORD_HEX + 1];

    vault_record_name(want, l->store, jsonx_str(vault, "ecdsa"));
    if (!json_is_object(vault) || !json_is_integer(order) || json_integer_value(order) < 0 ||
        !json_is_array(json_object_get(vault, "epochs")) || strcmp(want, hex) != 0)
        return -EIO;
    if (alloc_reserve((void **)&l->vaults, &l->cap, l->count + 1, sizeof(*l->vaults)) < 0)
        return -ENOMEM;
    struct loaded_vault *lv = &l->vaults[l->count];
    *lv = (struct loaded_vault){{(uint64_t)json_integer_value(order), NULL, 0, NULL}, NULL};
    int ret = vault_text_of(&lv->slot, l->plain.bytes, len, lv->slot.order);
    if (ret == 0) {
        l->count++;
        if (views_make(l->store, vault, &lv->view) < 0)
            lv->view = NULL; /* views_rebuild says why */
    }
    return ret;
}

/* One vault record: opened, decoded, checked, and its vault's text kept.
 * One that is read but does not open (damaged, or sealed for another
 * name) is a problem fsck reports, not a failure: share records are the
 * truth, and its vault can be rebuilt from them (store_repair). */
static int load_vault_record(void *ctx, const char *name)
{
    struct loaded *l = ctx;
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;
    size_t len = 0;
    json_t *record = NULL;
    struct manifest_state state = {0};
    bool sealed_err = false;

    if (io_is_stale_temp(name) || strlen(name) != VAULT_RECORD_HEX + 4 ||
        strcmp(name + VAULT_RECORD_HEX, ".rec") != 0)
        return 0; /* an interrupted write's leftover, or the manifest */
    snprintf(hex, sizeof(hex), "%.*s", VAULT_RECORD_HEX, name);
    vault_record_path(&path, hex);
    int ret = read_index_record_as(&l->plain, &len, l->store->vaultsfd, name, path.id, l->store,
                                   &state, &sealed_err);
    if (state.present) {
        if (alloc_reserve((void **)&l->found, &l->found_cap, l->found_count + 1,
                          sizeof(*l->found)) < 0)
            return -ENOMEM;
        struct manifest_item *f = &l->found[l->found_count++];
        *f = (struct manifest_item){.state = state};
        snprintf(f->key, sizeof(f->key), "%s", hex);
    }
    if (sealed_err)
        return store_note_problem(l->store, STORE_PROBLEM_RECORD_DAMAGED, hex,
                                  (uint64_t)-ret, 0);
    if (ret == 0)
        ret = jsonx_loads(&record, l->plain.bytes, len);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    ret = take_vault_record(l, hex, len, record);
    json_decref(record);
    return ret;
}

static int compare_order(const void *a, const void *b)
{
    const struct loaded_vault *x = a, *y = b;
    return (x->slot.order > y->slot.order) - (x->slot.order < y->slot.order);
}

/* l's vaults become the index, in their order, and their views wait for
 * views_rebuild. */
static int slots_from_records(struct store *store, struct loaded *l)
{
    size_t n = l->count;
    int ret = reserve_slots(store, n ? n : 1);
    struct store_vault **views = alloc_zeroed(n ? n : 1, sizeof(*views));

    if (n)
        qsort(l->vaults, n, sizeof(*l->vaults), compare_order);
    for (size_t i = 1; ret == 0 && i < n; i++)
        if (l->vaults[i].slot.order == l->vaults[i - 1].slot.order)
            ret = -EIO; /* two records claim one place */
    if (ret == 0 && !views)
        ret = -ENOMEM;
    if (ret < 0) {
        alloc_free(views);
        return ret;
    }
    for (size_t i = 0; i < n; i++) {
        store->slots[i] = l->vaults[i].slot;
        views[i] = l->vaults[i].view;
    }
    store->slot_count = n;
    store->read_views = views;
    store->next_order = n ? l->vaults[n - 1].slot.order + 1 : 0;
    l->count = 0;
    return 0;
}

/* export-stamp.rec as the manifest knows files: there or not, its digest. */
static int stamp_state(struct manifest_item *out, const struct store *store)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int ret = io_read_file(&bytes, &len, store->dirfd, STAMP_NAME, SEAL_OVERHEAD + 4096);

    *out = (struct manifest_item){0};
    snprintf(out->key, sizeof(out->key), "%s", MANIFEST_STAMP_KEY);
    if (ret == 0) {
        out->state.present = true;
        manifest_digest(out->state.digest, bytes, len);
    }
    alloc_free(bytes);
    /* too large to be one: as different as a damaged one */
    if (ret == -EFBIG) {
        out->state.present = true;
        memset(out->state.digest, 0xff, sizeof(out->state.digest));
        ret = 0;
    }
    return ret == -ENOENT ? 0 : ret;
}

/* The manifest read and the files found checked against it. */
static int check_manifest(struct store *store, struct loaded *l)
{
    struct manifest *m = &store->manifest;
    int ret = manifest_read(m, store->vaultsfd, store->master);
    bool format2 = json_integer_value(json_object_get(store->config, "format")) >= 2;

    if (ret == -ENOENT)
        return format2 ? store_note_problem(store, STORE_PROBLEM_MANIFEST_MISSING, "", 0, 0) : 0;
    if (ret == -EBADMSG || ret == -EIO || ret == -EINVAL)
        return store_note_problem(store, STORE_PROBLEM_MANIFEST_DAMAGED, "", (uint64_t)-ret, 0);
    if (ret < 0)
        return ret;
    const char *id = jsonx_str(store->config, "id");
    char hex[2 * MANIFEST_ID_BYTES + 1];
    hex_encode(hex, m->id, MANIFEST_ID_BYTES);
    if (*id && strcmp(id, hex) != 0)
        return store_note_problem(store, STORE_PROBLEM_MANIFEST_FOREIGN, "", 0, 0);
    if (alloc_reserve((void **)&l->found, &l->found_cap, l->found_count + 1, sizeof(*l->found)) < 0)
        return -ENOMEM;
    lastseen_load(store);
    ret = stamp_state(&l->found[l->found_count], store);
    if (ret == 0 && l->found[l->found_count].state.present)
        l->found_count++;
    return ret == 0 ? manifest_verify(store, l->found, l->found_count) : ret;
}

/* Not one record opens, nor the manifest: the key is not the records'
 * (an old vultfs.json after a rekey), not damage to each of them. */
static bool nothing_opens(const struct store *store, const struct loaded *l)
{
    size_t damaged = 0;
    bool manifest_opens = store->manifest.loaded;

    for (size_t i = 0; i < store->problem_count; i++)
        damaged += store->problems[i].kind == STORE_PROBLEM_RECORD_DAMAGED;
    return !manifest_opens && l->count == 0 && damaged > 0;
}

static int read_vault_records(struct store *store)
{
    struct loaded l = {store, NULL, 0, 0, {NULL, 0}, NULL, 0, 0};
    int ret = io_list_dir(store->vaultsfd, load_vault_record, &l);

    alloc_free(l.plain.bytes);
    if (ret == 0)
        ret = check_manifest(store, &l);
    if (ret == 0 && nothing_opens(store, &l) && !store->repairing)
        ret = -EBADMSG; /* as a rekey's pending key would open them (store.c) */
    if (ret == 0)
        ret = slots_from_records(store, &l);
    for (size_t i = 0; i < l.count; i++) {
        slot_clear(&l.vaults[i].slot);
        views_discard(l.vaults[i].view);
    }
    alloc_free(l.vaults);
    alloc_free(l.found);
    return ret;
}

static int open_subdir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int ret = fd < 0 ? -errno : storedir_check(fd); /* as shares/: ours, private */

    if (fd >= 0 && ret < 0)
        close(fd);
    return ret < 0 ? ret : fd;
}

static void close_vaults(struct store *store)
{
    if (store->per_vault)
        close(store->vaultsfd);
    store->vaultsfd = -1;
    store->per_vault = false;
}

int index_read(struct store *store)
{
    int fd = open_subdir(store->dirfd, VAULTS_DIR);

    index_free(store);
    close_vaults(store); /* read again (a rekey's pending key): from the start */
    manifest_clear(&store->manifest);
    store->problem_count = 0;
    if (fd == -ENOENT && json_integer_value(json_object_get(store->config, "format")) >= 2) {
        /* vaults/ gone: what its records said is rebuilt from the share
         * records (store_repair); until then the index is what an index.rec
         * left beside it says, or empty */
        int ret = store_note_problem(store, STORE_PROBLEM_MANIFEST_MISSING, "", 0, 0);
        struct stat st;
        store->next_order = 0;
        if (ret == 0 && fstatat(store->dirfd, INDEX_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
            ret = read_whole_index(store);
        return ret;
    }
    if (fd == -ENOENT)
        return read_whole_index(store);
    if (fd < 0)
        return fd == -ENOTDIR || fd == -ELOOP ? -EIO : fd;
    store->vaultsfd = fd;
    store->per_vault = true;
    return read_vault_records(store);
}

/* ---- from index.rec to vaults/ --------------------------------------------- */

static int stamp_state(struct manifest_item *out, const struct store *store);

static int remove_entry(void *ctx, const char *name)
{
    int dirfd = *(const int *)ctx;
    return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -errno;
}

/* Removes vaults.new/: left by a migration that did not finish, or the old
 * key's records after a rekey. */
static int remove_unfinished(struct store *store)
{
    int fd = openat(store->dirfd, VAULTS_NEW_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int ret;

    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    ret = io_list_dir(fd, remove_entry, &fd);
    close(fd);
    if (ret == 0 && unlinkat(store->dirfd, VAULTS_NEW_DIR, AT_REMOVEDIR) < 0)
        ret = -errno;
    return ret;
}

/* The store's id: vultfs.json's, else the manifest's, else a new one (a
 * store of format 1 being moved to format 2). */
static int store_id_of(uint8_t id[MANIFEST_ID_BYTES], const struct store *store)
{
    const char *hex = jsonx_str(store->config, "id");

    if (*hex)
        return hex_decode(id, MANIFEST_ID_BYTES, hex) < 0 ? -EIO : 0;
    if (store->manifest.loaded)
        memcpy(id, store->manifest.id, MANIFEST_ID_BYTES);
    else
        randombytes_buf(id, MANIFEST_ID_BYTES);
    return 0;
}

/* Every vault of index, sealed into a new vaults.new/ with its manifest,
 * a snapshot at change (synced); its descriptor, or -errno (nothing left
 * behind but vaults.new/). *fresh is the new manifest. */
static int write_new_dir(struct store *store, const json_t *index, uint64_t change,
                         struct manifest *fresh)
{
    const json_t *vaults = json_object_get(index, "vaults");
    size_t count = json_array_size(vaults);
    struct manifest_item *items = alloc_zeroed(count + 1, sizeof(*items));
    uint8_t id[MANIFEST_ID_BYTES];
    int ret = items ? store_id_of(id, store) : -ENOMEM, fd = -1;

    if (ret == 0)
        ret = remove_unfinished(store);
    if (ret == 0 && mkdirat(store->dirfd, VAULTS_NEW_DIR, 0700) < 0)
        ret = -errno;
    if (ret == 0 && (fd = open_subdir(store->dirfd, VAULTS_NEW_DIR)) < 0)
        ret = fd;
    for (size_t i = 0; ret == 0 && i < count; i++) {
        const json_t *vault = json_array_get(vaults, i);
        char *skeleton = NULL;
        ret = write_vault_record(store, fd, vault, store->slots[i].order, &items[i].state);
        if (ret == 0)
            ret = manifest_skeleton(&skeleton, &items[i].skeleton_len, vault,
                                    store->slots[i].order);
        items[i].skeleton = skeleton;
        vault_record_name(items[i].key, store, jsonx_str(vault, "ecdsa"));
    }
    if (ret == 0)
        ret = stamp_state(&items[count], store);
    if (ret == 0)
        ret = manifest_write_snapshot(fresh, fd, items, count + items[count].state.present,
                                      change, id, store->master);
    if (ret == 0)
        ret = io_sync_dir(fd);
    manifest_items_free(items, count + 1);
    if (ret < 0) {
        if (fd >= 0)
            close(fd);
        manifest_clear(fresh);
        return ret;
    }
    return fd;
}

/* Every vault's record into vaults.new/, which then becomes vaults/ in one
 * rename. index.rec stays until the change that needed vaults/ is made
 * (index_finish_change): a crash before the rename leaves index.rec the
 * index (and vaults.new/ to remove); after it, vaults/ is whole and is the
 * index, and a leftover index.rec is removed by the next change. */
static int migrate(struct store *store)
{
    json_t *index = NULL;
    struct manifest fresh = {0};
    int fd = index_whole(store, &index);

    if (fd == 0)
        fd = write_new_dir(store, index, 1, &fresh);
    json_decref(index);

    if (fd < 0)
        return fd;
    if (renameat(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR) < 0) {
        close(fd);
        manifest_clear(&fresh);
        return -errno;
    }
    store->vaultsfd = fd;
    store->per_vault = true;
    manifest_clear(&store->manifest);
    store->manifest = fresh;
    return io_sync_dir(store->dirfd);
}

/* Undoes migrate: vaults/ goes back to vaults.new/ in one rename (index.rec,
 * never touched, is the index again), which then goes. */
static int undo_migration(struct store *store)
{
    if (store->per_vault &&
        renameat(store->dirfd, VAULTS_DIR, store->dirfd, VAULTS_NEW_DIR) < 0)
        return -errno;
    close_vaults(store);
    manifest_clear(&store->manifest);
    int ret = remove_unfinished(store);
    int synced = io_sync_dir(store->dirfd);
    return ret < 0 ? ret : synced;
}

static int remove_if_stale(void *ctx, const char *name)
{
    int dirfd = *(const int *)ctx;
    if (io_is_stale_temp(name)) {
        int removed = unlinkat(dirfd, name, 0);
        (void)removed; /* tidying only: a leftover is never read */
    }
    return 0;
}

/* After a change: a leftover index.rec, vaults.new/ and interrupted record
 * writes go (once per open). Tidying only: vaults/ is the index. */
void index_tidy(struct store *store)
{
    if (!store->per_vault || store->vaults_tidied || store->read_only)
        return;
    bool removed = unlinkat(store->dirfd, INDEX_NAME, 0) == 0;
    int tidied = remove_unfinished(store);
    tidied = io_list_dir(store->vaultsfd, remove_if_stale, &store->vaultsfd);
    if (removed) {
        int synced = io_sync_dir(store->dirfd);
        (void)synced;
    }
    (void)tidied;
    store->vaults_tidied = true;
}

/* ---- changes ----------------------------------------------------------------- */

static int begin_change(struct index_change *c, struct store *store, const char *ecdsa)
{
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;
    int ret;

    memset(c, 0, sizeof(*c));
    if (store->read_only)
        return -EROFS;
    vault_record_name(hex, store, ecdsa);
    vault_record_path(&path, hex);
    snprintf(c->file, sizeof(c->file), "%s", path.file);
    if (!store->per_vault) {
        c->migrated = true;
        ret = migrate(store);
        if (ret < 0 && undo_migration(store) < 0)
            return -EIO; /* cannot happen unless the disk fails twice */
        return ret;
    }
    ret = io_read_file(&c->old, &c->old_len, store->vaultsfd, c->file, MAX_INDEX_BYTES);
    return ret == -ENOENT ? 0 : ret;
}

/* Puts the store back as begin_change found it, byte for byte. */
static int undo_change(struct store *store, const struct index_change *c)
{
    uint8_t *now = NULL;
    size_t now_len = 0;
    int ret;

    if (c->migrated)
        return undo_migration(store);
    io_discard_temp(store->vaultsfd, c->file);
    ret = io_read_file(&now, &now_len, store->vaultsfd, c->file, MAX_INDEX_BYTES);
    bool same = c->old ? ret == 0 && now_len == c->old_len && memcmp(now, c->old, now_len) == 0
                       : ret == -ENOENT;
    alloc_free(now);
    if (same)
        return 0;
    if (c->old)
        return io_write_atomic(store->vaultsfd, c->file, c->old, c->old_len, 0600);
    ret = unlinkat(store->vaultsfd, c->file, 0) == 0 ? 0 : -errno;
    return ret == 0 || ret == -ENOENT ? io_sync_dir(store->vaultsfd) : ret;
}

/* The record of the vault under ecdsa removed as one change: the
 * manifest says so first (durably), then the file goes; on failure the
 * index on disk is as it was (*intact false when putting it back failed). */
static int remove_vault_record(struct store *store, const char *ecdsa, bool *intact)
{
    struct index_change c;
    int ret = begin_change(&c, store, ecdsa);

    *intact = true;
    if (ret < 0)
        return ret;
    vault_record_name(c.item.key, store, ecdsa);
    c.item.state = (struct manifest_state){.forgotten = true};
    ret = manifest_change(store, &c.item, 1);
    if (ret == 0) {
        ret = io_remove(store->vaultsfd, c.file);
        if (ret == -ENOENT)
            ret = 0;
        if (ret < 0)
            *intact = undo_change(store, &c) == 0;
        manifest_end(store, ret, *intact);
    } else if (c.migrated) {
        *intact = undo_change(store, &c) == 0;
    }
    if (ret == 0)
        index_tidy(store);
    alloc_free(c.old);
    return ret;
}

/* Room for one more vault in memory, made before the change is written:
 * once it is on disk, index_set_vault must not fail to take it in (the
 * next change would write this vault's record without it). */
static int reserve_room(struct store *store)
{
    return reserve_slots(store, store->slot_count + 1);
}

int index_stage_vault(struct store *store, struct index_change *c, const json_t *vault)
{
    const char *ecdsa = jsonx_str(vault, "ecdsa");
    size_t position;
    bool found;
    int ret = reserve_room(store);

    if (ret == 0)
        ret = slot_position(store, ecdsa, &position, &found);
    if (ret == 0)
        ret = begin_change(c, store, ecdsa);
    if (ret < 0)
        return ret;
    /* leftovers go before anything of this open's is pending (the first
     * change), never after: a pending change's temporary looks the same */
    if (!c->migrated)
        index_tidy(store);
    uint64_t order = found ? store->slots[position].order : store->next_order;
    char *skeleton = NULL;
    vault_record_name(c->item.key, store, ecdsa);
    ret = manifest_skeleton(&skeleton, &c->item.skeleton_len, vault, order);
    c->item.skeleton = skeleton;
    if (ret == 0)
        ret = write_record_to(store, store->vaultsfd, vault, order, true, &c->item.state);
    if (ret < 0)
        index_undo_vault(store, c);
    return ret;
}

void index_flush_add(struct store *store, struct io_flush *f, const struct index_change *c)
{
    io_flush_add_temp(f, store->vaultsfd, c->file);
}

int index_publish_vault(struct store *store, struct index_change *c)
{
    int ret = io_rename_temp(store->vaultsfd, c->file);

    c->renamed = ret == 0;
    return ret;
}

static void free_change(struct index_change *c)
{
    alloc_free(c->old);
    c->old = NULL;
    alloc_free((char *)c->item.skeleton);
    c->item.skeleton = NULL;
}

int index_undo_vault(struct store *store, struct index_change *c)
{
    int ret = undo_change(store, c);

    free_change(c);
    return ret;
}

void index_finish_vault(struct store *store, struct index_change *c)
{
    free_change(c);
    if (c->migrated)
        index_tidy(store); /* index.rec goes once vaults/ holds the change */
}

int index_change_vault(struct store *store, const json_t *vault, bool *intact)
{
    struct index_change c;
    int ret = index_stage_vault(store, &c, vault);

    struct io_flush f;

    *intact = true;
    if (ret < 0)
        return ret;
    ret = manifest_begin(store, &c.item, 1);
    if (ret < 0) {
        *intact = index_undo_vault(store, &c) == 0;
        return ret;
    }
    io_flush_begin(&f);
    index_flush_add(store, &f, &c);
    manifest_flush_add(store, &f);
    ret = io_flush_end(&f, store->vaultsfd);
    if (ret == 0)
        ret = index_publish_vault(store, &c);
    if (ret == 0)
        ret = io_sync_dir(store->vaultsfd);
    if (ret < 0)
        *intact = index_undo_vault(store, &c) == 0;
    else
        index_finish_vault(store, &c);
    manifest_end(store, ret, *intact);
    return ret;
}

int index_write_all(struct store *store, const json_t *index)
{
    struct manifest fresh = {0};

    if (json_array_size(json_object_get(index, "vaults")) != store->slot_count)
        return -EINVAL; /* the order of each position is the index in memory's */
    int fd = write_new_dir(store, index, store->manifest.counter + 1, &fresh);

    if (fd < 0)
        return fd;
    /* one atomic step: the old records end in vaults.new/, which goes after */
    int ret = store->per_vault ? renameat2(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR,
                                           RENAME_EXCHANGE)
                               : renameat(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR);
    if (ret < 0) {
        ret = -errno;
        close(fd);
        manifest_clear(&fresh);
        return ret;
    }
    close_vaults(store);
    store->vaultsfd = fd;
    store->per_vault = true;
    store->vaults_tidied = false; /* index.rec, if any, goes with index_tidy */
    manifest_clear(&store->manifest);
    store->manifest = fresh;
    ret = io_sync_dir(store->dirfd);
    int removed = remove_unfinished(store);
    (void)removed; /* the old records: index_tidy removes them otherwise */
    if (ret == 0)
        lastseen_note(store);
    return ret;
}

int index_set_vault(struct store *store, json_t *vault)
{
    return index_place_vault(store, vault, UINT64_MAX);
}

int index_place_vault(struct store *store, json_t *vault, uint64_t order)
{
    views_forget_read(store);
    size_t position;
    bool found;
    int ret = slot_position(store, jsonx_str(vault, "ecdsa"), &position, &found);

    if (ret == 0 && !found)
        position = store->slot_count;
    if (ret == 0)
        ret = reserve_slots(store, position + 1); /* reserved before the change */
    if (ret < 0) {
        json_decref(vault);
        return ret;
    }
    for (size_t i = 0; !found && order != UINT64_MAX && i < store->slot_count; i++)
        if (store->slots[i].order == order)
            order = UINT64_MAX; /* another vault took its place meanwhile */
    if (!found && order != UINT64_MAX && order >= store->next_order)
        store->next_order = order; /* the next vault comes after it */
    struct index_slot fresh = {found              ? store->slots[position].order
                               : order != UINT64_MAX ? order
                                                     : store->next_order,
                               NULL, 0, NULL};
    if (slot_fill(&fresh, vault) < 0)
        fresh.tree = json_incref(vault); /* no room for its text: as it is */
    if (found) {
        slot_clear(&store->slots[position]);
    } else {
        store->slot_count++;
        store->next_order++;
    }
    store->slots[position] = fresh;
    ret = views_update(store, position, vault, found);
    json_decref(vault);
    return ret;
}

int index_remove_vault(struct store *store, const char *ecdsa)
{
    size_t position;
    bool found, intact;
    int ret = slot_position(store, ecdsa, &position, &found);

    if (ret == 0 && !found)
        ret = -ENOENT;
    if (ret == 0)
        ret = remove_vault_record(store, ecdsa, &intact);
    return ret < 0 ? ret : index_drop_vault(store, ecdsa);
}

int index_drop_vault(struct store *store, const char *ecdsa)
{
    views_forget_read(store);
    size_t position;
    bool found;
    int ret = slot_position(store, ecdsa, &position, &found);

    if (ret == 0 && !found)
        ret = -ENOENT;
    if (ret < 0)
        return ret;
    slot_clear(&store->slots[position]);
    memmove(&store->slots[position], &store->slots[position + 1],
            (store->slot_count - position - 1) * sizeof(*store->slots));
    store->slot_count--;
    return views_rebuild(store);
}

int index_skeletons(struct store *store, struct manifest_item **items, size_t *count)
{
    struct manifest_item *list = alloc_zeroed(store->slot_count + 1, sizeof(*list));
    int ret = list ? 0 : -ENOMEM;
    size_t n = 0;

    for (size_t i = 0; ret == 0 && i < store->slot_count; i++) {
        json_t *vault = NULL;
        char *skeleton = NULL;
        ret = index_vault_at(store, i, &vault);
        if (ret == 0)
            ret = manifest_skeleton(&skeleton, &list[n].skeleton_len, vault,
                                    store->slots[i].order);
        if (ret == 0) {
            vault_record_name(list[n].key, store, jsonx_str(vault, "ecdsa"));
            list[n].state.present = true;
            list[n++].skeleton = skeleton;
        }
        json_decref(vault);
    }
    if (ret < 0) {
        manifest_items_free(list, n);
        return ret;
    }
    *items = list;
    *count = n;
    return 0;
}

int index_migrate(struct store *store)
{
    bool format2 = json_integer_value(json_object_get(store->config, "format")) >= 2;
    int ret = 0;

    if (store->read_only)
        return -EROFS;
    if (!store->per_vault) {
        ret = migrate(store);
        if (ret < 0 && undo_migration(store) < 0)
            ret = -EIO;
    } else if (!store->manifest.loaded) {
        /* every record written again beside its manifest, in one exchange */
        json_t *index = NULL;
        ret = index_whole(store, &index);
        if (ret == 0)
            ret = index_write_all(store, index);
        json_decref(index);
    }
    if (ret == 0 && !format2) {
        char id[2 * MANIFEST_ID_BYTES + 1];
        hex_encode(id, store->manifest.id, MANIFEST_ID_BYTES);
        ret = store_upgrade_config(store, id);
    }
    if (ret == 0)
        index_tidy(store);
    return ret;
}

json_t *index_find_epoch(const json_t *vault, uint64_t number)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (jsonx_num(e, "number") == number)
            return e;
    return NULL;
}
