/*
 * index: the store's one source of truth, and the lookups into it. In
 * memory the index is JSON: {"format":1,"vaults":[{"ecdsa", "dir_name"?,
 * "epochs":[{"number","current","record","generation","device","shares",
 * "vault_len","imported_sec","imported_nsec","facts"}]}]}. On disk each
 * vault's object is its own sealed record in vaults/, so a change writes
 * one small record whatever the store's size; stores made before that
 * hold the whole index in index.rec until their first change.
 */
#include "store_private.h"

#include <errno.h>
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

void index_hex_encode(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

int index_hex_decode(uint8_t *out, size_t len, const char *hex)
{
    size_t got = 0;
    if (!hex || strlen(hex) != len * 2 ||
        sodium_hex2bin(out, len, hex, len * 2, NULL, &got, NULL) != 0 || got != len)
        return -EINVAL;
    return 0;
}

const char *index_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

uint64_t index_num(const json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v < 0 ? 0 : (uint64_t)v;
}

/* JSON text is written compact and sorted, so equal indexes are equal bytes. */
/* jansson 2.14 can emit or parse wrong JSON after one failed allocation
 * instead of failing (upstream issue 655). The store trusts neither
 * direction: what it encodes is decoded again and compared, and what it
 * decodes is encoded again and compared with the bytes it read. */

/* Why jansson refused text the store wrote (its own encoder's, or a record
 * that verified). jansson 2.14 may leave error unset after a failed
 * allocation (callers zero it first) or call it a syntax error: when memory
 * is short now, say so rather than call the store damaged. */
static int json_failure(const json_error_t *error, size_t len)
{
    if (json_error_code(error) == json_error_out_of_memory)
        return -ENOMEM;
    void *probe = alloc_bytes(len + 4096);
    alloc_free(probe);
    return probe ? -EIO : -ENOMEM;
}

int index_dumps(char **out, const json_t *json, size_t flags)
{
    json_error_t error = {0};
    char *text = json_dumps(json, flags);
    json_t *back;
    int ret = 0;

    if (!text)
        return -ENOMEM;
    back = json_loads(text, 0, &error);
    if (!back)
        ret = json_failure(&error, strlen(text));
    else if (!json_equal(back, json))
        ret = -EIO; /* the encoder wrote something else than it was given */
    json_decref(back);
    if (ret < 0) {
        sodium_memzero(text, strlen(text));
        alloc_free(text);
        return ret;
    }
    *out = text;
    return 0;
}

/* The index's text: compact and sorted, so equal indexes are equal bytes. */
static int encode_checked(char **out, const json_t *index)
{
    return index_dumps(out, index, JSON_COMPACT | JSON_SORT_KEYS);
}

/* json_dump_callback's sink that compares what is dumped with text. */
struct same_text {
    const uint8_t *text;
    size_t len, at;
    bool differs;
};

static int compare_dumped(const char *chunk, size_t size, void *data)
{
    struct same_text *c = data;

    if (size > c->len - c->at || memcmp(c->text + c->at, chunk, size) != 0) {
        c->differs = true;
        return -1;
    }
    c->at += size;
    return 0;
}

/* Decodes JSON text and checks that it encodes back to the same bytes,
 * compared as the encoder writes them (no copy of the text): were the
 * encoder wrong, its text would not be the bytes read either. */
static int decode_checked(json_t **out, const uint8_t *plain, size_t len)
{
    json_error_t error = {0};
    json_t *json = json_loadb((const char *)plain, len, 0, &error);
    struct same_text c = {plain, len, 0, false};
    int ret = 0;

    if (!json)
        return json_failure(&error, len);
    if (json_dump_callback(json, compare_dumped, &c, JSON_COMPACT | JSON_SORT_KEYS) < 0)
        ret = c.differs ? -EIO : -ENOMEM;
    else if (c.at != len)
        ret = -EIO; /* the parser read something else than was written */
    if (ret < 0) {
        json_decref(json);
        return ret;
    }
    *out = json;
    return 0;
}

/* ---- the order of vaults and the lookup by key --------------------------- */

int index_reserve(void **array, size_t *cap, size_t count, size_t elem_size)
{
    if (count <= *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 64;
    while (want < count)
        want *= 2;
    void *grown = alloc_resize(*array, want * elem_size);
    if (!grown)
        return -ENOMEM;
    *array = grown;
    *cap = want;
    return 0;
}

static int reserve_order(struct store *store, size_t count)
{
    return index_reserve((void **)&store->vault_order, &store->order_cap, count,
                         sizeof(*store->vault_order));
}

json_t *index_vault_of(const struct store *store, const char *ecdsa)
{
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
    return at ? json_array_get(json_object_get(store->index, "vaults"), at - 1) : NULL;
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
 * thousands of vaults). */
static int read_index_record(struct plain_buf *buf, size_t *len, int dirfd, const char *name,
                             const char *id, const struct store *store)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = io_read_file(&sealed, &sealed_len, dirfd, name, MAX_INDEX_BYTES);

    if (ret == 0 && sealed_len > buf->cap)
        ret = index_reserve((void **)&buf->bytes, &buf->cap, sealed_len, 1);
    if (ret == 0)
        ret = seal_open_into(buf->bytes, buf->cap, len, sealed, sealed_len, SEAL_KIND_INDEX, id,
                             store->master);
    alloc_free(sealed);
    return ret;
}

/* ---- index.rec: the whole index in one record (format 1) ---------------- */

static int read_whole_index(json_t **out, struct store *store)
{
    struct plain_buf plain = {NULL, 0};
    size_t len = 0, count;
    int ret = read_index_record(&plain, &len, store->dirfd, INDEX_NAME, INDEX_ID, store);
    if (ret == 0)
        ret = decode_checked(out, plain.bytes, len);
    alloc_free(plain.bytes);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    if (ret < 0)
        return ret;
    count = json_array_size(json_object_get(*out, "vaults"));
    if (!json_is_array(json_object_get(*out, "vaults")))
        ret = -EIO;
    else
        ret = reserve_order(store, count);
    for (size_t i = 0; ret == 0 && i < count; i++)
        store->vault_order[i] = i;
    store->next_order = count;
    if (ret < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return ret;
}

/* ---- vaults/: one record per vault ---------------------------------------- */

/* A record holds {"order": n, "vault": {...}}: the vault's JSON object as
 * the index has it, and its place in the index (names go to the first
 * vault with a name, so the order must survive). Its file name is a keyed
 * hash of the ECDSA key, and the name is the record's sealed id. */
#define VAULT_RECORD_HEX (2 * RECORD_NAME_BYTES)

static void vault_record_name(char hex[VAULT_RECORD_HEX + 1], const struct store *store,
                              const char *ecdsa)
{
    static const char domain[] = "vultfs vault record";
    crypto_generichash_state st;
    uint8_t digest[RECORD_NAME_BYTES];

    crypto_generichash_init(&st, store->record_key, SEAL_KEY_BYTES, sizeof(digest));
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
    crypto_generichash_update(&st, (const uint8_t *)ecdsa, strlen(ecdsa));
    crypto_generichash_final(&st, digest, sizeof(digest));
    index_hex_encode(hex, digest, sizeof(digest));
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
 * as its temporary, not flushed (index_stage_vault). */
static int write_record_to(struct store *store, int dirfd, const json_t *vault, uint64_t order,
                           bool staged)
{
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;
    json_t *record = json_pack("{s:I, s:O}", "order", (json_int_t)order, "vault", vault);
    char *text = NULL;
    int ret = record ? encode_checked(&text, record) : -ENOMEM;

    json_decref(record);
    if (ret < 0)
        return ret;
    vault_record_name(hex, store, index_str(vault, "ecdsa"));
    vault_record_path(&path, hex);
    ret = record_seal_to(dirfd, path.file, (const uint8_t *)text, strlen(text), SEAL_KIND_INDEX,
                         path.id, store->master, staged ? io_write_temp : io_write_atomic);
    sodium_memzero(text, strlen(text));
    alloc_free(text);
    return ret;
}

/* ---- one value where a vault repeats it ------------------------------------
 * jansson values are reference counted and nothing in the store changes one
 * in place, so one value can stand in several places of the index without
 * changing a byte of any encoding. Shared: what a vault always repeats (its
 * ECDSA key in each epoch's facts, the device among the signers) and the
 * values of a few fields from a small closed set (lib_type's names, the
 * empty reshare prefix of DKLS vaults, epoch numbers and key-share counts).
 * At 10,000 vaults that is 4-5 MB of the index's ~50 in memory. */
#define SHARED_MAX 32

struct shared_values {
    json_t *values[SHARED_MAX]; /* a reference each */
    size_t count;
};

static bool shareable(const json_t *v)
{
    return (json_is_string(v) && json_string_length(v) <= 16) ||
           (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 256);
}

/* obj's key takes an equal value held already (sv) or its value is kept */
static void share_value(struct shared_values *sv, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!shareable(v))
        return;
    for (size_t i = 0; i < sv->count; i++) {
        if (json_equal(sv->values[i], v)) {
            /* the key exists: set replaces its value and allocates nothing
             * (on a failure obj is as it was) */
            int set = sv->values[i] == v ? 0 : json_object_set(obj, key, sv->values[i]);
            (void)set;
            return;
        }
    }
    if (sv->count < SHARED_MAX)
        sv->values[sv->count++] = json_incref(v);
}

/* obj's key takes same when their values are equal strings */
static void share_same(json_t *obj, const char *key, json_t *same)
{
    json_t *v = json_object_get(obj, key);

    if (v && v != same && json_is_string(same) && json_equal(v, same)) {
        int set = json_object_set(obj, key, same); /* allocates nothing */
        (void)set; /* on failure obj is as it was */
    }
}

static void share_vault_values(struct shared_values *sv, json_t *vault)
{
    json_t *ecdsa = json_object_get(vault, "ecdsa"), *e, *signer;
    size_t i, j;

    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        json_t *facts = json_object_get(e, "facts");
        share_value(sv, e, "number");
        share_value(sv, facts, "lib_type");
        share_value(sv, facts, "reshare_prefix");
        share_value(sv, facts, "key_share_count");
        share_same(facts, "public_key_ecdsa", ecdsa);
        json_array_foreach(json_object_get(facts, "signers"), j, signer)
            share_same(facts, "device", signer);
    }
}

static void shared_values_free(struct shared_values *sv)
{
    for (size_t i = 0; i < sv->count; i++)
        json_decref(sv->values[i]);
    sv->count = 0;
}

static int write_vault_record(struct store *store, int dirfd, const json_t *vault,
                              uint64_t order)
{
    return write_record_to(store, dirfd, vault, order, false);
}

/* What reading vaults/ collects: each record's vault and order. */
struct loaded {
    struct store *store;
    json_t *vaults; /* in directory order */
    json_t *orders;
    struct plain_buf plain;
    struct shared_values shared;
};

/* One vault record: opened, decoded, and checked to be the record of the
 * key its name says. */
static int load_vault_record(void *ctx, const char *name)
{
    struct loaded *l = ctx;
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;
    size_t len = 0;
    json_t *record = NULL;

    if (store_is_stale_temp(name) || strlen(name) != VAULT_RECORD_HEX + 4 ||
        strcmp(name + VAULT_RECORD_HEX, ".rec") != 0)
        return 0; /* an interrupted write's leftover */
    snprintf(hex, sizeof(hex), "%.*s", VAULT_RECORD_HEX, name);
    vault_record_path(&path, hex);
    int ret = read_index_record(&l->plain, &len, l->store->vaultsfd, name, path.id, l->store);
    if (ret == 0)
        ret = decode_checked(&record, l->plain.bytes, len);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    json_t *vault = json_object_get(record, "vault");
    json_t *order = json_object_get(record, "order");
    char want[VAULT_RECORD_HEX + 1];
    vault_record_name(want, l->store, index_str(vault, "ecdsa"));
    if (!json_is_object(vault) || !json_is_integer(order) || json_integer_value(order) < 0 ||
        !json_is_array(json_object_get(vault, "epochs")) || strcmp(want, hex) != 0)
        ret = -EIO;
    else if (json_array_append(l->vaults, vault) < 0 || json_array_append(l->orders, order) < 0)
        ret = -ENOMEM;
    if (ret == 0)
        share_vault_values(&l->shared, vault);
    json_decref(record);
    return ret;
}

static int compare_order(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* [order, position read] */
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The index {"format":1,"vaults":[...]} from l, in the vaults' order. */
static int index_from_records(json_t **out, struct store *store, const struct loaded *l)
{
    size_t count = json_array_size(l->vaults);
    uint64_t(*pairs)[2] = alloc_zeroed(count ? count : 1, sizeof(*pairs));
    json_t *index = json_pack("{s:i, s:[]}", "format", 1, "vaults");
    json_t *vaults = json_object_get(index, "vaults");
    int ret = pairs && index ? reserve_order(store, count) : -ENOMEM;

    for (size_t i = 0; ret == 0 && i < count; i++)
        pairs[i][0] = (uint64_t)json_integer_value(json_array_get(l->orders, i)), pairs[i][1] = i;
    if (ret == 0)
        qsort(pairs, count, sizeof(*pairs), compare_order);
    store->next_order = 0;
    for (size_t i = 0; ret == 0 && i < count; i++) {
        if (i && pairs[i][0] == pairs[i - 1][0])
            ret = -EIO; /* two records claim one place */
        else if (json_array_append(vaults, json_array_get(l->vaults, pairs[i][1])) < 0)
            ret = -ENOMEM;
        store->vault_order[i] = pairs[i][0];
        store->next_order = pairs[i][0] + 1;
    }
    alloc_free(pairs);
    if (ret < 0) {
        json_decref(index);
        return ret;
    }
    *out = index;
    return 0;
}

static int read_vault_records(json_t **out, struct store *store)
{
    struct loaded l = {store, json_array(), json_array(), {NULL, 0}, {{NULL}, 0}};
    int ret = l.vaults && l.orders ? io_list_dir(store->vaultsfd, load_vault_record, &l) : -ENOMEM;

    alloc_free(l.plain.bytes);
    shared_values_free(&l.shared);
    if (ret == 0)
        ret = index_from_records(out, store, &l);
    json_decref(l.vaults);
    json_decref(l.orders);
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

int index_read(json_t **out, struct store *store)
{
    int fd = open_subdir(store->dirfd, VAULTS_DIR);

    *out = NULL;
    close_vaults(store); /* read again (a rekey's pending key): from the start */
    if (fd == -ENOENT)
        return read_whole_index(out, store);
    if (fd < 0)
        return fd == -ENOTDIR || fd == -ELOOP ? -EIO : fd;
    store->vaultsfd = fd;
    store->per_vault = true;
    return read_vault_records(out, store);
}

/* ---- from index.rec to vaults/ --------------------------------------------- */

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

/* Every vault of index, sealed into a new vaults.new/ (synced); its
 * descriptor, or -errno (nothing left behind but vaults.new/). */
static int write_new_dir(struct store *store, const json_t *index)
{
    const json_t *vaults = json_object_get(index, "vaults");
    int ret = remove_unfinished(store), fd;

    if (ret < 0)
        return ret;
    if (mkdirat(store->dirfd, VAULTS_NEW_DIR, 0700) < 0)
        return -errno;
    fd = open_subdir(store->dirfd, VAULTS_NEW_DIR);
    if (fd < 0)
        return fd;
    for (size_t i = 0; ret == 0 && i < json_array_size(vaults); i++)
        ret = write_vault_record(store, fd, json_array_get(vaults, i), store->vault_order[i]);
    if (ret == 0)
        ret = io_sync_dir(fd);
    if (ret < 0) {
        close(fd);
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
    int fd = write_new_dir(store, store->index);

    if (fd < 0)
        return fd;
    if (renameat(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR) < 0) {
        close(fd);
        return -errno;
    }
    store->vaultsfd = fd;
    store->per_vault = true;
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
    int ret = remove_unfinished(store);
    int synced = io_sync_dir(store->dirfd);
    return ret < 0 ? ret : synced;
}

static int remove_if_stale(void *ctx, const char *name)
{
    int dirfd = *(const int *)ctx;
    if (store_is_stale_temp(name)) {
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

/* write(store, ctx) made as one change of the vault under ecdsa: on
 * failure the index on disk is put back byte for byte (*intact false when
 * that failed too). */
static int change(struct store *store, const char *ecdsa, bool *intact,
                  int (*write)(struct store *, const void *), const void *ctx)
{
    struct index_change c;
    int ret = begin_change(&c, store, ecdsa);

    *intact = true;
    if (ret < 0)
        return ret;
    ret = write(store, ctx);
    if (ret < 0)
        *intact = undo_change(store, &c) == 0;
    else
        index_tidy(store);
    alloc_free(c.old);
    return ret;
}

static int remove_vault(struct store *store, const void *ecdsa)
{
    char hex[VAULT_RECORD_HEX + 1];
    struct vault_record_path path;

    vault_record_name(hex, store, ecdsa);
    vault_record_path(&path, hex);
    int ret = io_remove(store->vaultsfd, path.file);
    return ret == -ENOENT ? 0 : ret;
}

/* Room for one more vault in memory, made before the change is written:
 * once it is on disk, index_set_vault must not fail to take it in (the
 * next change would write this vault's record without it). jansson keeps
 * an array's capacity when an element is removed. */
static int reserve_room(struct store *store)
{
    json_t *vaults = json_object_get(store->index, "vaults");
    size_t count = json_array_size(vaults);
    int ret = reserve_order(store, count + 1);

    if (ret == 0 && json_array_append_new(vaults, json_null()) < 0)
        return -ENOMEM;
    if (ret == 0 && json_array_remove(vaults, count) < 0)
        return -EIO;
    return ret;
}

int index_stage_vault(struct store *store, struct index_change *c, const json_t *vault)
{
    const char *ecdsa = index_str(vault, "ecdsa");
    int ret = reserve_room(store);

    if (ret == 0)
        ret = begin_change(c, store, ecdsa);
    if (ret < 0)
        return ret;
    /* leftovers go before anything of this open's is pending (the first
     * change), never after: a pending change's temporary looks the same */
    if (!c->migrated)
        index_tidy(store);
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
    ret = write_record_to(store, store->vaultsfd, vault,
                          at ? store->vault_order[at - 1] : store->next_order, true);
    if (ret < 0)
        index_undo_vault(store, c);
    return ret;
}

int index_publish_vault(struct store *store, struct index_change *c)
{
    int ret = io_rename_temp(store->vaultsfd, c->file);

    c->renamed = ret == 0;
    return ret;
}

int index_undo_vault(struct store *store, struct index_change *c)
{
    int ret = undo_change(store, c);

    alloc_free(c->old);
    c->old = NULL;
    return ret;
}

void index_finish_vault(struct store *store, struct index_change *c)
{
    alloc_free(c->old);
    c->old = NULL;
    if (c->migrated)
        index_tidy(store); /* index.rec goes once vaults/ holds the change */
}

int index_change_vault(struct store *store, const json_t *vault, bool *intact)
{
    struct index_change c;
    int ret = index_stage_vault(store, &c, vault);

    *intact = true;
    if (ret < 0)
        return ret;
    ret = io_flush_fs(store->vaultsfd);
    if (ret == 0)
        ret = index_publish_vault(store, &c);
    if (ret == 0)
        ret = io_sync_dir(store->vaultsfd);
    if (ret < 0)
        *intact = index_undo_vault(store, &c) == 0;
    else
        index_finish_vault(store, &c);
    return ret;
}

int index_write_all(struct store *store, const json_t *index)
{
    if (json_array_size(json_object_get(index, "vaults")) !=
        json_array_size(json_object_get(store->index, "vaults")))
        return -EINVAL; /* the order of each position is the index in memory's */
    int fd = write_new_dir(store, index);

    if (fd < 0)
        return fd;
    /* one atomic step: the old records end in vaults.new/, which goes after */
    int ret = store->per_vault ? renameat2(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR,
                                           RENAME_EXCHANGE)
                               : renameat(store->dirfd, VAULTS_NEW_DIR, store->dirfd, VAULTS_DIR);
    if (ret < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    close_vaults(store);
    store->vaultsfd = fd;
    store->per_vault = true;
    store->vaults_tidied = false; /* index.rec, if any, goes with index_tidy */
    ret = io_sync_dir(store->dirfd);
    int removed = remove_unfinished(store);
    (void)removed; /* the old records: index_tidy removes them otherwise */
    return ret;
}

int index_set_vault(struct store *store, json_t *vault)
{
    json_t *vaults = json_object_get(store->index, "vaults");
    const char *ecdsa = index_str(vault, "ecdsa");
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
    size_t position = at ? at - 1 : json_array_size(vaults);
    json_t *old = at ? json_incref(json_array_get(vaults, position)) : NULL;
    int ret = reserve_order(store, position + 1);

    if (ret == 0 && at)
        ret = json_array_set_new(vaults, position, vault) < 0 ? -EIO : 0;
    else if (ret == 0)
        ret = json_array_append_new(vaults, vault) < 0 ? -ENOMEM : 0;
    else
        json_decref(vault);
    if (ret < 0)
        return ret;
    if (!at)
        store->vault_order[position] = store->next_order++;
    ret = views_update(store, position, old); /* old's text stays valid until here */
    json_decref(old);
    return ret;
}

int index_remove_vault(struct store *store, const char *ecdsa)
{
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);
    int ret;

    if (!at)
        return -ENOENT;
    bool intact;
    ret = change(store, ecdsa, &intact, remove_vault, ecdsa);
    return ret < 0 ? ret : index_drop_vault(store, ecdsa);
}

int index_drop_vault(struct store *store, const char *ecdsa)
{
    uintptr_t at = (uintptr_t)strmap_get(&store->by_ecdsa, ecdsa);

    if (!at)
        return -ENOENT;
    size_t count = json_array_size(json_object_get(store->index, "vaults"));
    memmove(&store->vault_order[at - 1], &store->vault_order[at],
            (count - at) * sizeof(*store->vault_order));
    if (json_array_remove(json_object_get(store->index, "vaults"), at - 1) < 0)
        return -EIO;
    return views_rebuild(store);
}

/* A deep copy to change, checked against the original (see above). */
json_t *index_copy(const json_t *index)
{
    json_t *copy = json_deep_copy(index);
    if (copy && !json_equal(copy, index)) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

json_t *index_find_vault(const json_t *index, const char *ecdsa, size_t *position)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(index, "vaults"), i, v) {
        if (strcmp(index_str(v, "ecdsa"), ecdsa) == 0) {
            if (position)
                *position = i;
            return v;
        }
    }
    return NULL;
}

json_t *index_find_epoch(const json_t *vault, uint64_t number)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (index_num(e, "number") == number)
            return e;
    return NULL;
}
