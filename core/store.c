/*
 * store: the encrypted, crash-safe store (see store.h).
 *
 * The index is a jansson object and the single source of truth: a change is
 * made on a deep copy, sealed and written; only once it is durable does the
 * copy replace the index in memory and the views (struct store_vault) get
 * rebuilt from it. A failure at any step leaves memory and disk as they were.
 */
#include "store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <xxhash.h>

#include "alloc.h"
#include "io.h"

/* Subkeys of the master key, one per purpose. */
#define SUBKEY_CONTEXT "vultfs01"
enum subkey_id {
    SUBKEY_RECORD_NAME = 1,
    SUBKEY_EXPORT_NONCE = 2,
    SUBKEY_EXPORT_SALT = 3,
    SUBKEY_INODE = 4,
};

/* ---- small helpers ------------------------------------------------------ */

static char *b64_of(const uint8_t *bin, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = alloc_bytes(cap);
    if (text)
        sodium_bin2base64(text, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return text;
}

static int b64_to(uint8_t **out, size_t *out_len, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    uint8_t *buf = alloc_bytes(len + 1);
    if (!text)
        return -EINVAL;
    if (!buf)
        return -ENOMEM;
    if (sodium_base642bin(buf, len + 1, text, len, NULL, out_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        alloc_free(buf);
        return -EINVAL;
    }
    *out = buf;
    return 0;
}

static void now(int64_t *sec, int32_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (int32_t)ts.tv_nsec;
}

/* ---- sealed files -------------------------------------------------------- */

/* ---- views ------------------------------------------------------------- */

/* ---- init, open, close ------------------------------------------------- */

static json_t *kdf_json(const struct seal_kdf *kdf)
{
    char *salt = b64_of(kdf->salt, sizeof(kdf->salt));
    json_t *obj = salt ? json_pack("{s:s, s:I, s:I, s:s}", "algorithm", "argon2id13",
                                   "opslimit", (json_int_t)kdf->opslimit, "memlimit",
                                   (json_int_t)kdf->memlimit, "salt", salt)
                       : NULL;
    alloc_free(salt);
    return obj;
}

static int kdf_from_json(struct seal_kdf *kdf, const json_t *obj)
{
    uint8_t *salt = NULL;
    size_t len = 0;
    int ret;

    if (strcmp(index_str(obj, "algorithm"), "argon2id13") != 0)
        return -EINVAL;
    kdf->opslimit = index_num(obj, "opslimit");
    kdf->memlimit = index_num(obj, "memlimit");
    ret = b64_to(&salt, &len, index_str(obj, "salt"));
    if (ret < 0)
        return ret;
    if (len != sizeof(kdf->salt)) {
        alloc_free(salt);
        return -EINVAL;
    }
    memcpy(kdf->salt, salt, len);
    alloc_free(salt);
    return seal_kdf_check(kdf);
}

/* Writes vultfs.json: the master key sealed under the passphrase key. */
static int write_config(int dirfd, const uint8_t *master, const char *passphrase,
                        size_t passphrase_len, const struct seal_kdf *kdf)
{
    uint8_t *wrap_key = alloc_secret(SEAL_KEY_BYTES);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    char *sealed_b64 = NULL, *text = NULL;
    json_t *config = NULL;
    int ret = -ENOMEM;

    if (!wrap_key)
        return -ENOMEM;
    ret = seal_derive_key(wrap_key, passphrase, passphrase_len, kdf);
    if (ret < 0)
        goto out;
    ret = seal_record(&sealed, &sealed_len, master, SEAL_KEY_BYTES, SEAL_KIND_MASTER_KEY,
                      MASTER_KEY_ID, wrap_key);
    if (ret < 0)
        goto out;
    ret = -ENOMEM;
    sealed_b64 = b64_of(sealed, sealed_len);
    if (!sealed_b64)
        goto out;
    config = json_pack("{s:i, s:o, s:s}", "format", STORE_FORMAT_VERSION, "kdf", kdf_json(kdf),
                       "master_key", sealed_b64);
    if (!config)
        goto out;
    text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        goto out;
    ret = io_write_atomic(dirfd, CONFIG_NAME, text, strlen(text), 0600);
out:
    alloc_free(text);
    json_decref(config);
    alloc_free(sealed_b64);
    alloc_free(sealed);
    alloc_secret_free(wrap_key);
    return ret;
}

int store_init(const char *dir, const char *passphrase, size_t passphrase_len,
               const struct seal_kdf *kdf)
{
    struct seal_kdf fresh;
    uint8_t *master = NULL;
    int dirfd = -1, ret;
    DIR *listing;
    struct dirent *entry;

    if (!passphrase_len)
        return -EINVAL;
    if (!kdf) {
        seal_kdf_default(&fresh);
        kdf = &fresh;
    }
    if (seal_kdf_check(kdf) < 0)
        return -EINVAL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    listing = fdopendir(dup(dirfd));
    if (!listing) {
        ret = -errno;
        goto out_close;
    }
    ret = 0;
    while ((entry = readdir(listing)))
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            ret = -EEXIST;
    closedir(listing);
    if (ret < 0)
        goto out_close;
    if (fchmod(dirfd, 0700) < 0 || mkdirat(dirfd, SHARES_DIR, 0700) < 0) {
        ret = -errno;
        goto out_close;
    }

    master = alloc_secret(SEAL_KEY_BYTES);
    if (!master) {
        ret = -ENOMEM;
        goto out_close;
    }
    seal_random_key(master);
    /* the index first: a store without vultfs.json is not a store yet */
    static const char empty_index[] = "{\"format\":1,\"vaults\":[]}";
    ret = record_write_sealed(dirfd, INDEX_NAME, (const uint8_t *)empty_index, strlen(empty_index),
                       SEAL_KIND_INDEX, INDEX_ID, master);
    if (ret == 0)
        ret = write_config(dirfd, master, passphrase, passphrase_len, kdf);
    alloc_secret_free(master);
out_close:
    close(dirfd);
    return ret;
}

static int take_lock(struct store *store, int *busy_pid)
{
    char text[32];
    ssize_t n;

    store->lockfd = openat(store->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (store->lockfd < 0)
        return -errno;
    if (flock(store->lockfd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        n = pread(store->lockfd, text, sizeof(text) - 1, 0);
        if (busy_pid && n > 0) {
            text[n] = '\0';
            *busy_pid = atoi(text);
        }
        return err;
    }
    return store_claim_lock(store);
}

int store_claim_lock(struct store *store)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    if (ftruncate(store->lockfd, 0) < 0 || pwrite(store->lockfd, text, (size_t)n, 0) != n)
        return -errno;
    return 0;
}

static int derive_subkeys(struct store *store)
{
    store->record_key = alloc_secret(SEAL_KEY_BYTES);
    store->nonce_key = alloc_secret(SEAL_KEY_BYTES);
    store->inode_key = alloc_secret(SEAL_KEY_BYTES);
    if (!store->record_key || !store->nonce_key || !store->inode_key)
        return -ENOMEM;
    seal_subkey(store->record_key, SUBKEY_RECORD_NAME, SUBKEY_CONTEXT, store->master);
    seal_subkey(store->nonce_key, SUBKEY_EXPORT_NONCE, SUBKEY_CONTEXT, store->master);
    seal_subkey(store->inode_key, SUBKEY_INODE, SUBKEY_CONTEXT, store->master);
    uint8_t salt_key[SEAL_KEY_BYTES];
    seal_subkey(salt_key, SUBKEY_EXPORT_SALT, SUBKEY_CONTEXT, store->master);
    memcpy(store->export_salt, salt_key, sizeof(store->export_salt));
    sodium_memzero(salt_key, sizeof(salt_key));
    return 0;
}

static int add_password(struct store *store, const char *text, size_t len)
{
    if (store->password_count == MAX_PASSWORDS)
        return -ENOSPC;
    char *copy = alloc_secret(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    store->passwords[store->password_count++] = (struct password){copy, len};
    return 0;
}

static int unwrap_master(struct store *store, const char *passphrase, size_t passphrase_len)
{
    struct seal_kdf kdf;
    uint8_t *sealed = NULL, *master = NULL, *wrap_key = NULL;
    size_t sealed_len = 0, master_len = 0;
    int ret;

    ret = kdf_from_json(&kdf, json_object_get(store->config, "kdf"));
    if (ret < 0)
        return -EIO;
    ret = b64_to(&sealed, &sealed_len, index_str(store->config, "master_key"));
    if (ret < 0)
        return ret == -ENOMEM ? ret : -EIO;
    wrap_key = alloc_secret(SEAL_KEY_BYTES);
    ret = wrap_key ? seal_derive_key(wrap_key, passphrase, passphrase_len, &kdf) : -ENOMEM;
    if (ret == 0)
        ret = seal_open_record(&master, &master_len, sealed, sealed_len, SEAL_KIND_MASTER_KEY,
                               MASTER_KEY_ID, wrap_key);
    if (ret == -EBADMSG)
        ret = -EACCES; /* the one way a right record fails to open */
    else if (ret == 0 && master_len != SEAL_KEY_BYTES)
        ret = -EIO;
    else if (ret == -EINVAL)
        ret = -EIO;
    if (ret == 0) {
        store->master = master;
        master = NULL;
    }
    alloc_secret_free(master);
    alloc_secret_free(wrap_key);
    alloc_free(sealed);
    return ret;
}

/* A crash between io_write_atomic's create and rename leaves a temporary
 * file (".<name>.tmp.<pid>"); it was never part of the store. The first
 * change after opening removes them (fsck, which changes nothing, reports
 * them instead). Only the lock holder writes, so none is in flight. */
bool store_is_stale_temp(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp.") != NULL;
}

static void remove_stale_temps(int dirfd);

void store_tidy_before_change(struct store *store)
{
    if (store->tidied)
        return;
    remove_stale_temps(store->dirfd);
    remove_stale_temps(store->sharesfd);
    store->tidied = true;
}

static void remove_stale_temps(int dirfd)
{
    DIR *listing = fdopendir(dup(dirfd));
    struct dirent *entry;
    bool removed = false;

    if (!listing)
        return;
    rewinddir(listing); /* the dup shares dirfd's offset with earlier listings */
    while ((entry = readdir(listing)))
        if (store_is_stale_temp(entry->d_name) && unlinkat(dirfd, entry->d_name, 0) == 0)
            removed = true;
    closedir(listing);
    if (removed) {
        int synced = io_sync_dir(dirfd);
        (void)synced; /* tidying only: the store is whole either way */
    }
}

int store_open(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
               size_t passphrase_len)
{
    struct store *store = alloc_zeroed(1, sizeof(*store));
    uint8_t *text = NULL;
    size_t text_len = 0;
    json_error_t error;
    int ret;

    *out = NULL;
    if (busy_pid)
        *busy_pid = 0;
    if (!store)
        return -ENOMEM;
    store->dirfd = store->sharesfd = store->lockfd = -1;
    store->max_import = STORE_DEFAULT_MAX_IMPORT;

    store->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->dirfd < 0) {
        ret = -errno;
        goto out_fail;
    }
    ret = io_read_file(&text, &text_len, store->dirfd, CONFIG_NAME, MAX_CONFIG_BYTES);
    if (ret < 0)
        goto out_fail;
    store->config = json_loadb((const char *)text, text_len, 0, &error);
    alloc_free(text);
    if (!store->config || !json_is_integer(json_object_get(store->config, "format"))) {
        ret = store->config ? -EIO : -ENOMEM;
        if (!store->config && error.text[0])
            ret = -EIO;
        goto out_fail;
    }
    json_int_t format = json_integer_value(json_object_get(store->config, "format"));
    if (format > STORE_FORMAT_VERSION) {
        ret = -EPROTONOSUPPORT;
        goto out_fail;
    }
    if (format < 1) {
        ret = -EIO;
        goto out_fail;
    }
    /* format 1 is the first: older formats to migrate from would go here */

    store->sharesfd = openat(store->dirfd, SHARES_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->sharesfd < 0) {
        ret = errno == ENOENT ? -EIO : -errno;
        goto out_fail;
    }
    ret = unwrap_master(store, passphrase, passphrase_len);
    if (ret < 0)
        goto out_fail;
    ret = derive_subkeys(store);
    if (ret < 0)
        goto out_fail;
    /* only a right passphrase touches the lock file */
    ret = take_lock(store, busy_pid);
    if (ret < 0)
        goto out_fail;
    ret = index_read(&store->index, store);
    if (ret < 0)
        goto out_fail;
    store->keycache = vult_keycache_new();
    if (!store->keycache) {
        ret = -ENOMEM;
        goto out_fail;
    }
    ret = add_password(store, passphrase, passphrase_len);
    if (ret < 0)
        goto out_fail;
    ret = views_rebuild(store);
    if (ret < 0)
        goto out_fail;
    *out = store;
    return 0;

out_fail:
    store_close(store);
    return ret;
}

void store_close(struct store *store)
{
    if (!store)
        return;
    views_free(store);
    export_free_all(store);
    for (size_t i = 0; i < store->password_count; i++)
        alloc_secret_free(store->passwords[i].text);
    vult_keycache_free(store->keycache);
    alloc_secret_free(store->export_key);
    alloc_secret_free(store->record_key);
    alloc_secret_free(store->nonce_key);
    alloc_secret_free(store->inode_key);
    alloc_secret_free(store->master);
    json_decref(store->index);
    json_decref(store->config);
    if (store->lockfd >= 0)
        close(store->lockfd); /* releases the flock */
    if (store->sharesfd >= 0)
        close(store->sharesfd);
    if (store->dirfd >= 0)
        close(store->dirfd);
    sodium_memzero(store, sizeof(*store));
    alloc_free(store);
}

int store_passwd(struct store *store, const char *passphrase, size_t passphrase_len,
                 const struct seal_kdf *kdf)
{
    struct seal_kdf fresh;

    if (!passphrase_len)
        return -EINVAL;
    if (!kdf) {
        int ret = kdf_from_json(&fresh, json_object_get(store->config, "kdf"));
        if (ret < 0)
            return -EIO;
        randombytes_buf(fresh.salt, sizeof(fresh.salt));
        kdf = &fresh;
    }
    store_tidy_before_change(store);
    return write_config(store->dirfd, store->master, passphrase, passphrase_len, kdf);
}

/* ---- passwords and exports ---------------------------------------------- */

int store_add_import_password(struct store *store, const char *password, size_t password_len)
{
    return add_password(store, password, password_len);
}

void store_set_max_import(struct store *store, size_t max_bytes)
{
    store->max_import = max_bytes;
}

size_t store_max_import(const struct store *store)
{
    return store->max_import;
}

/* ---- the tree ------------------------------------------------------------ */

/* ---- importing ------------------------------------------------------------ */

/* Records an outcome and its reason; returns the outcome's errno. */
__attribute__((format(printf, 3, 4))) static int set_outcome(struct store_import_result *result,
                                                            enum epochs_outcome outcome,
                                                            const char *fmt, ...)
{
    va_list ap;
    result->outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(result->reason, sizeof(result->reason), fmt, ap);
    va_end(ap);
    return epochs_errno(outcome);
}

static json_t *facts_of(const struct vult_vault *v)
{
    char created[64];
    json_t *signers = json_array();
    const char *lib = vult_lib_type_name(v->lib_type);
    char lib_num[24];

    if (!lib) {
        snprintf(lib_num, sizeof(lib_num), "%llu", (unsigned long long)v->lib_type);
        lib = lib_num;
    }
    for (size_t i = 0; i < v->signer_count; i++)
        json_array_append_new(signers, json_stringn(v->signers[i].ptr, v->signers[i].len));
    vult_format_time(created, sizeof(created), v->created_at_seconds, v->created_at_nanos);
#define S(x) json_stringn((x).ptr ? (x).ptr : "", (x).len)
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:I}", "name", S(v->name),
                     "device", S(v->local_party_id), "reshare_prefix", S(v->reshare_prefix),
                     "public_key_ecdsa", S(v->public_key_ecdsa), "public_key_eddsa",
                     S(v->public_key_eddsa), "hex_chain_code", S(v->hex_chain_code), "lib_type",
                     lib, "created_at", created, "signers", signers, "key_share_count",
                     (json_int_t)v->key_share_count);
#undef S
}

static int entries_of(struct epochs_entry **out, size_t *count, const json_t *vault)
{
    const json_t *epochs = json_object_get(vault, "epochs");
    size_t n = json_array_size(epochs), i;
    json_t *e;
    struct epochs_entry *list = alloc_zeroed(n ? n : 1, sizeof(*list));

    if (!list)
        return -ENOMEM;
    json_array_foreach(epochs, i, e) {
        list[i].number = (uint32_t)index_num(e, "number");
        list[i].current = json_is_true(json_object_get(e, "current"));
        if (index_hex_decode(list[i].generation, EPOCHS_DIGEST_BYTES, index_str(e, "generation")) < 0 ||
            index_hex_decode(list[i].device, EPOCHS_DIGEST_BYTES, index_str(e, "device")) < 0 ||
            index_hex_decode(list[i].shares, EPOCHS_DIGEST_BYTES, index_str(e, "shares")) < 0) {
            alloc_free(list);
            return -EIO;
        }
    }
    *out = list;
    *count = n;
    return 0;
}

static json_t *epoch_json(const struct epochs_entry *d, uint32_t number, bool current,
                          const char *record, size_t vault_len, json_t *facts)
{
    char gen[2 * EPOCHS_DIGEST_BYTES + 1], dev[sizeof(gen)], shares[sizeof(gen)];
    int64_t sec;
    int32_t nsec;

    now(&sec, &nsec);
    index_hex_encode(gen, d->generation, EPOCHS_DIGEST_BYTES);
    index_hex_encode(dev, d->device, EPOCHS_DIGEST_BYTES);
    index_hex_encode(shares, d->shares, EPOCHS_DIGEST_BYTES);
    return json_pack("{s:i, s:b, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:o}", "number", (int)number,
                     "current", current, "record", record, "imported_sec", (json_int_t)sec,
                     "imported_nsec", (json_int_t)nsec, "generation", gen, "device", dev,
                     "shares", shares, "vault_len", (json_int_t)vault_len, "facts", facts);
}

/* The index after an accepted change, as a new object (the old is kept). */
static json_t *changed_index(const struct store *store, const struct epochs_decision *d,
                             const char *ecdsa, const struct store_target *target,
                             json_t *new_epoch)
{
    json_t *index = json_deep_copy(store->index);
    json_t *vaults = json_object_get(index, "vaults");
    json_t *vault;
    size_t i;
    json_t *e;

    if (!index)
        return NULL;
    vault = index_find_vault(index, ecdsa, NULL);
    if (!vault) {
        vault = json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
        if (!vault || json_array_append_new(vaults, vault) < 0)
            goto out_fail;
        /* a restore names the directory first: remember it (see names_assign) */
        if (target && target->dir_name &&
            json_object_set_new(vault, "dir_name", json_string(target->dir_name)) < 0)
            goto out_fail;
    }
    json_t *epochs = json_object_get(vault, "epochs");
    json_array_foreach(epochs, i, e) {
        bool current = json_is_true(json_object_get(e, "current"));
        if (d->outcome == EPOCHS_NEW_EPOCH && current)
            json_object_set_new(e, "current", json_false());
        if (d->renumber_current && current)
            json_object_set_new(e, "number", json_integer(d->renumber_current));
    }
    if (json_array_append(epochs, new_epoch) < 0)
        goto out_fail;
    return index;
out_fail:
    json_decref(index);
    return NULL;
}

/* Writes the record and the new index; on failure removes a record it
 * created, so the store is as it was. */
static int commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  json_t *index)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    struct stat st;
    int ret;

    store_tidy_before_change(store);
    snprintf(name, sizeof(name), "%s.rec", record);
    bool existed = fstatat(store->sharesfd, name, &st, 0) == 0;
    ret = record_write_sealed(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record, store->master);
    if (ret < 0)
        return ret;
    ret = index_write(store, index);
    if (ret < 0) {
        /* A failed directory fsync comes after the rename, so the new
         * index may be in place: put the old one back before removing the
         * record it would reference. If that fails too, keep the record:
         * an unreferenced record is harmless, a missing one is not. */
        int restored = index_write(store, store->index);
        if (restored == 0 && !existed && unlinkat(store->sharesfd, name, 0) == 0) {
            int synced = io_sync_dir(store->sharesfd);
            (void)synced; /* the import already failed; this only tidies up */
        }
    }
    return ret;
}

static void describe_vault_dir(struct store_import_result *result, const struct store *store,
                               const char *ecdsa)
{
    for (size_t i = 0; i < store->vault_count; i++)
        if (strcmp(store->vaults[i].public_key_ecdsa, ecdsa) == 0)
            snprintf(result->dir_name, sizeof(result->dir_name), "%s", store->vaults[i].dir_name);
}

static int apply(struct store *store, const struct vult_file *file, const struct vult_vault *v,
                 const struct store_target *target, struct store_import_result *result)
{
    struct epochs_candidate candidate = {0};
    struct epochs_entry *entries = NULL;
    size_t count = 0;
    char *ecdsa = alloc_strndup(v->public_key_ecdsa.ptr, v->public_key_ecdsa.len);
    char *device = alloc_strndup(v->local_party_id.ptr, v->local_party_id.len);
    char record[2 * RECORD_NAME_BYTES + 1];
    json_t *new_epoch = NULL, *index = NULL;
    int ret = -ENOMEM;

    if (!ecdsa || !device)
        goto out;
    epochs_describe(&candidate.share, v);
    candidate.complete = vult_vault_is_complete(v);
    candidate.in_its_place = names_in_its_place(store, target, v, ecdsa);
    candidate.history_slot = target ? target->history_slot : 0;
    const json_t *vault_json = index_find_vault(store->index, ecdsa, NULL);
    if (vault_json && (ret = entries_of(&entries, &count, vault_json)) < 0)
        goto out;

    struct epochs_decision d = epochs_decide(entries, count, &candidate);
    result->outcome = d.outcome;
    result->epoch = d.epoch;
    describe_vault_dir(result, store, ecdsa);
    switch (d.outcome) {
    case EPOCHS_UNCHANGED:
        ret = set_outcome(result, d.outcome, "the store already holds this share (device %s)",
                          device);
        goto out;
    case EPOCHS_STALE:
        ret = set_outcome(result, d.outcome,
                          "an older share: its generation is epoch %u, kept in history; the "
                          "vault has been reshared since", d.epoch);
        goto out;
    case EPOCHS_COLOCATION:
        ret = set_outcome(result, d.outcome,
                          "this store already holds another device's share of this vault "
                          "(epoch %u); two devices' shares must never be kept in one place "
                          "(this one is %s's)", d.epoch, device);
        goto out;
    case EPOCHS_CONFLICT:
        ret = set_outcome(result, d.outcome,
                          "the store holds a different share for device %s in epoch %u: a "
                          "damaged or altered file must not replace a good one", device, d.epoch);
        goto out;
    case EPOCHS_SLOT_TAKEN:
        ret = set_outcome(result, d.outcome,
                          "epoch %u of this vault holds another generation, or this generation "
                          "is already held as another epoch", d.epoch);
        goto out;
    case EPOCHS_INCOMPLETE:
        ret = set_outcome(result, d.outcome,
                          "incomplete backup: it lacks a key share for its ECDSA or EdDSA public "
                          "key, so it could not sign");
        goto out;
    case EPOCHS_WRONG_PLACE:
        ret = set_outcome(result, d.outcome,
                          "this is a share of another vault than the directory it was written "
                          "into");
        goto out;
    default:
        break;
    }

    /* accepted and changing: new vault, new epoch or history insert */
    ret = record_name(record, store, file->vault_bytes, file->vault_len);
    if (ret < 0)
        goto out;
    ret = -ENOMEM;
    new_epoch = epoch_json(&candidate.share, d.epoch, d.outcome != EPOCHS_HISTORY_INSERT, record,
                           file->vault_len, facts_of(v));
    if (!new_epoch)
        goto out;
    index = changed_index(store, &d, ecdsa, target, new_epoch);
    if (!index)
        goto out;
    ret = commit(store, record, file->vault_bytes, file->vault_len, index);
    if (ret < 0) {
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "the store could not be written: %s",
                 strerror(-ret));
        goto out;
    }
    json_decref(store->index);
    store->index = index;
    index = NULL;
    ret = views_rebuild(store);
    if (ret < 0) {
        /* durable on disk; the views come back on the next open */
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "%s", "out of memory after import");
        goto out;
    }
    describe_vault_dir(result, store, ecdsa);
    if (d.outcome == EPOCHS_NEW_VAULT)
        snprintf(result->reason, sizeof(result->reason), "device %s, epoch %u", device, d.epoch);
    else if (d.outcome == EPOCHS_NEW_EPOCH)
        snprintf(result->reason, sizeof(result->reason),
                 "device %s, epoch %u; the previous epoch moved to history", device, d.epoch);
    else
        snprintf(result->reason, sizeof(result->reason), "device %s, history epoch %u", device,
                 d.epoch);
    ret = 0;
out:
    json_decref(index);
    json_decref(new_epoch);
    alloc_free(entries);
    alloc_free(device);
    alloc_free(ecdsa);
    return ret;
}

int store_import(struct store *store, const uint8_t *file, size_t file_len,
                 const struct store_target *target, struct store_import_result *result)
{
    struct vult_password candidates[MAX_PASSWORDS];
    struct vult_file decoded;
    struct vult_vault vault;
    int ret;

    memset(result, 0, sizeof(*result));
    if (file_len > store->max_import)
        return set_outcome(result, EPOCHS_TOO_LARGE, "larger than the import limit of %zu bytes",
                      store->max_import);
    for (size_t i = 0; i < store->password_count; i++)
        candidates[i] = (struct vult_password){store->passwords[i].text, store->passwords[i].len};

    ret = vult_decode(&decoded, file, file_len, candidates, store->password_count,
                      store->keycache);
    sodium_memzero(candidates, sizeof(candidates));
    switch (ret) {
    case 0:
        break;
    case -EACCES:
        return set_outcome(result, EPOCHS_WRONG_PASSWORD,
                      "encrypted, and none of the passwords fits (export password, store "
                      "passphrase, --import-passwords)");
    case -EFBIG:
        return set_outcome(result, EPOCHS_TOO_LARGE, "too large for a Vultisig backup");
    case -ENOTSUP:
        return set_outcome(result, EPOCHS_UNREADABLE,
                      "a 2024 .dat backup, which vultfs does not read: export the vault again "
                      "from the Vultisig app to get a .vult file");
    case -EINVAL:
        return set_outcome(result, EPOCHS_UNREADABLE,
                      "not a Vultisig backup, or truncated or corrupt");
    default:
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "%s", strerror(-ret));
        return ret;
    }
    ret = vult_vault_parse(&vault, decoded.vault_bytes, decoded.vault_len);
    if (ret == 0)
        ret = apply(store, &decoded, &vault, target, result);
    else
        ret = set_outcome(result, EPOCHS_UNREADABLE, "not a Vultisig vault");
    sodium_memzero(&vault, sizeof(vault));
    vult_file_clear(&decoded);
    return ret;
}

/* ---- offline maintenance ---------------------------------------------------- */

int store_forget(struct store *store, const char *dir_name)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    size_t index_pos;
    int ret;

    if (!view)
        return -ENOENT;
    json_t *index = json_deep_copy(store->index);
    if (!index)
        return -ENOMEM;
    json_t *vault = index_find_vault(index, view->public_key_ecdsa,
                                    &index_pos);
    json_t *records = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        json_array_append_new(records, json_string(index_str(e, "record")));
    json_array_remove(json_object_get(index, "vaults"), index_pos);

    /* index first: a crash after it leaves unreferenced records, which
     * fsck reports, never a reference to a missing one */
    store_tidy_before_change(store);
    ret = index_write(store, index);
    if (ret < 0) {
        json_decref(records);
        json_decref(index);
        return ret;
    }
    json_decref(store->index);
    store->index = index;
    json_array_foreach(records, i, e) {
        char name[2 * RECORD_NAME_BYTES + 8];
        snprintf(name, sizeof(name), "%s.rec", json_string_value(e));
        int err = io_remove(store->sharesfd, name);
        if (err < 0 && err != -ENOENT && ret == 0)
            ret = err;
    }
    json_decref(records);
    export_free_all(store);
    int rebuilt = views_rebuild(store);
    return ret < 0 ? ret : rebuilt;
}

__attribute__((format(printf, 3, 4))) static void report(void (*line)(void *, const char *),
                                                        void *ctx, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    if (!line)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    line(ctx, text);
}

static bool referenced(const json_t *index, const char *record)
{
    size_t i, j;
    json_t *v, *e;
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e)
            if (strcmp(index_str(e, "record"), record) == 0)
                return true;
    return false;
}

static int check_share(struct store *store, const json_t *epoch)
{
    const char *record = index_str(epoch, "record");
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    struct epochs_entry d;
    uint8_t want[EPOCHS_DIGEST_BYTES];
    int ret = record_load_share(&plain, &len, store, record);

    if (ret < 0)
        return ret;
    ret = vult_vault_parse(&v, plain, len);
    if (ret == 0) {
        epochs_describe(&d, &v);
        if (index_hex_decode(want, sizeof(want), index_str(epoch, "shares")) < 0 ||
            memcmp(want, d.shares, sizeof(want)) != 0 ||
            index_hex_decode(want, sizeof(want), index_str(epoch, "generation")) < 0 ||
            memcmp(want, d.generation, sizeof(want)) != 0)
            ret = -EBADMSG;
    }
    sodium_memzero(&v, sizeof(v));
    alloc_secret_free(plain);
    return ret;
}

static void report_temps(int dirfd, const char *prefix,
                         struct store_fsck_report *rep,
                         void (*report_line)(void *ctx, const char *line), void *ctx)
{
    DIR *listing = fdopendir(dup(dirfd));
    struct dirent *entry;

    if (!listing)
        return;
    rewinddir(listing); /* the dup shares dirfd's offset with earlier listings */
    while ((entry = readdir(listing))) {
        if (!store_is_stale_temp(entry->d_name))
            continue;
        rep->temporary_files++;
        report(report_line, ctx,
               "leftover temporary file %s%s (an interrupted write; removed by the next change)",
               prefix, entry->d_name);
    }
    closedir(listing);
}

int store_fsck(struct store *store, struct store_fsck_report *rep,
               void (*report_line)(void *ctx, const char *line), void *ctx)
{
    size_t i, j;
    json_t *v, *e;
    DIR *listing;
    struct dirent *entry;

    memset(rep, 0, sizeof(*rep));
    json_array_foreach(json_object_get(store->index, "vaults"), i, v) {
        json_array_foreach(json_object_get(v, "epochs"), j, e) {
            int ret = check_share(store, e);
            if (ret == 0) {
                rep->records_ok++;
            } else if (ret == -ENOENT) {
                rep->records_missing++;
                report(report_line, ctx, "missing share record %s.rec", index_str(e, "record"));
            } else {
                rep->records_bad++;
                report(report_line, ctx,
                       "share record %s.rec: %s", index_str(e, "record"),
                       ret == -EIO ? "checksum mismatch (disk corruption)"
                                   : "does not verify (damaged or altered)");
            }
        }
    }
    report_temps(store->dirfd, "", rep, report_line, ctx);
    report_temps(store->sharesfd, "shares/", rep, report_line, ctx);
    listing = fdopendir(dup(store->sharesfd));
    if (!listing)
        return -errno;
    rewinddir(listing); /* the dup shares sharesfd's offset with earlier listings */
    while ((entry = readdir(listing))) {
        const char *name = entry->d_name;
        size_t len = strlen(name);
        if (store_is_stale_temp(name) || len != 2 * RECORD_NAME_BYTES + 4 ||
            strcmp(name + len - 4, ".rec") != 0)
            continue;
        char record[2 * RECORD_NAME_BYTES + 1];
        snprintf(record, sizeof(record), "%.*s", 2 * RECORD_NAME_BYTES, name);
        if (!referenced(store->index, record)) {
            rep->records_orphaned++;
            report(report_line, ctx,
                   "unreferenced share record %s (left by an interrupted import; harmless)",
                   name);
        }
    }
    closedir(listing);
    return rep->records_bad || rep->records_missing ? -EIO : 0;
}
