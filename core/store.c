/*
 * store: opening, locking and closing a store; its config (vultfs.json:
 * the Argon2id parameters and the master key sealed under the passphrase
 * key), the master key's subkeys, passphrase changes, the passwords an
 * import tries, and tidying what an interrupted write left. The other
 * parts of the store are index.c, record.c, names.c, views.c, listing.c,
 * export.c, import.c, forget.c and fsck.c (see store_private.h).
 */
#include "store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "base64.h"
#include "io.h"

/* Subkeys of the master key, one per purpose. */
#define SUBKEY_CONTEXT "vultfs01"
enum subkey_id {
    SUBKEY_RECORD_NAME = 1,
    SUBKEY_EXPORT_NONCE = 2,
    SUBKEY_EXPORT_SALT = 3,
    SUBKEY_INODE = 4,
};

/* ---- config ------------------------------------------------------------ */

static char *b64_of(const uint8_t *bin, size_t len)
{
    size_t n = base64_encoded_len(len);
    char *text = alloc_bytes(n + 1);
    if (text) {
        base64_encode(text, bin, len);
        text[n] = '\0';
    }
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
    if (base64_decode(buf, len + 1, out_len, text, len) != 0) {
        alloc_free(buf);
        return -EINVAL;
    }
    *out = buf;
    return 0;
}

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

    if (strcmp(jsonx_str(obj, "algorithm"), "argon2id13") != 0)
        return -EINVAL;
    kdf->opslimit = jsonx_num(obj, "opslimit");
    kdf->memlimit = jsonx_num(obj, "memlimit");
    ret = b64_to(&salt, &len, jsonx_str(obj, "salt"));
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

/* master sealed under wrap_key, as base64 (alloc_bytes), into *out. */
static int sealed_b64(char **out, const uint8_t *master, const uint8_t *wrap_key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = seal_record(&sealed, &sealed_len, master, SEAL_KEY_BYTES, SEAL_KIND_MASTER_KEY,
                          MASTER_KEY_ID, wrap_key);

    if (ret < 0)
        return ret;
    *out = b64_of(sealed, sealed_len);
    alloc_free(sealed);
    return *out ? 0 : -ENOMEM;
}

/* The config's JSON: the master key (and the pending one of an unfinished
 * rekey, rekey.c) sealed under wrap_key, and the checksum. */
static int config_json(json_t **out, const uint8_t *master, const uint8_t *pending,
                       const uint8_t *wrap_key, const struct seal_kdf *kdf, const char *id)
{
    char *master_b64 = NULL, *pending_b64 = NULL;
    int ret = sealed_b64(&master_b64, master, wrap_key);

    if (ret == 0 && pending)
        ret = sealed_b64(&pending_b64, pending, wrap_key);
    if (ret == 0) {
        *out = json_pack("{s:i, s:s, s:o, s:s}", "format", STORE_FORMAT_VERSION, "id", id,
                         "kdf", kdf_json(kdf), "master_key", master_b64);
        ret = *out ? 0 : -ENOMEM;
    }
    if (ret == 0 && pending_b64 &&
        json_object_set_new(*out, PENDING_KEY_FIELD, json_string(pending_b64)) != 0)
        ret = -ENOMEM;
    if (ret == 0)
        ret = config_add_checksum(*out);
    alloc_free(pending_b64);
    alloc_free(master_b64);
    return ret;
}

int store_write_config(int dirfd, const uint8_t *master, const uint8_t *pending,
                       const char *passphrase, size_t passphrase_len, const struct seal_kdf *kdf,
                       const char *id)
{
    uint8_t *wrap_key = alloc_secret(SEAL_KEY_BYTES);
    char *text = NULL;
    json_t *config = NULL;
    int ret;

    if (!wrap_key)
        return -ENOMEM;
    ret = seal_derive_key(wrap_key, passphrase, passphrase_len, kdf);
    if (ret == 0)
        ret = config_json(&config, master, pending, wrap_key, kdf, id);
    if (ret == 0)
        ret = jsonx_dumps(&text, config, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (ret == 0)
        ret = io_write_atomic(dirfd, CONFIG_NAME, text, strlen(text), 0600);
    alloc_free(text);
    json_decref(config);
    alloc_secret_free(wrap_key);
    return ret;
}

/* io_list_dir's callback for a directory that must be empty. */
static int refuse_any_entry(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return -EEXIST;
}

/* An empty vaults/ holding the manifest of a store with no vault. */
static int init_index(int dirfd, const uint8_t *master, const uint8_t id[MANIFEST_ID_BYTES])
{
    struct manifest m = {0};
    int fd, ret;

    if (mkdirat(dirfd, VAULTS_DIR, 0700) < 0)
        return -errno;
    fd = openat(dirfd, VAULTS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ret = manifest_write_snapshot(&m, fd, NULL, 0, 1, id, master);
    manifest_clear(&m);
    close(fd);
    return ret == 0 ? io_sync_dir(dirfd) : ret;
}

int store_init(const char *dir, const char *passphrase, size_t passphrase_len,
               const struct seal_kdf *kdf)
{
    struct seal_kdf fresh;
    uint8_t *master = NULL, id[MANIFEST_ID_BYTES];
    char id_hex[2 * MANIFEST_ID_BYTES + 1];
    int dirfd = -1, ret;

    randombytes_buf(id, sizeof(id));
    hex_encode(id_hex, id, sizeof(id));
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
    /* another user's directory stays theirs (they could plant links in
     * it): checked before the chmod that makes ours private */
    struct stat st;
    if (fstat(dirfd, &st) < 0 || fchmod(dirfd, st.st_uid == geteuid() ? 0700 : st.st_mode) < 0) {
        ret = -errno;
        goto out_close;
    }
    ret = storedir_check(dirfd);
    if (ret == 0)
        ret = io_list_dir(dirfd, refuse_any_entry, NULL);
    if (ret < 0)
        goto out_close;
    if (mkdirat(dirfd, SHARES_DIR, 0700) < 0) {
        ret = -errno;
        goto out_close;
    }

    master = alloc_secret(SEAL_KEY_BYTES);
    if (!master) {
        ret = -ENOMEM;
        goto out_close;
    }
    seal_random_key(master);
    /* the index first, an empty vaults/ and its manifest: a store without
     * vultfs.json is not a store yet */
    ret = init_index(dirfd, master, id);
    if (ret == 0)
        ret = store_write_config(dirfd, master, NULL, passphrase, passphrase_len, kdf, id_hex);
    alloc_secret_free(master);
out_close:
    close(dirfd);
    return ret;
}

static int take_lock(struct store *store, int *busy_pid)
{
    int ret = storedir_lock(store->dirfd);

    if (ret == -EBUSY && busy_pid)
        *busy_pid = storedir_read_pid(store->dirfd);
    if (ret < 0)
        return ret;
    return store_claim_lock(store);
}

int store_claim_lock(struct store *store)
{
    return storedir_write_pid(store->dirfd);
}

void store_record_key(uint8_t out[SEAL_KEY_BYTES], const uint8_t *master)
{
    seal_subkey(out, SUBKEY_RECORD_NAME, SUBKEY_CONTEXT, master);
}

int store_derive_subkeys(struct store *store)
{
    if (!store->record_key)
        store->record_key = alloc_secret(SEAL_KEY_BYTES);
    if (!store->nonce_key)
        store->nonce_key = alloc_secret(SEAL_KEY_BYTES);
    if (!store->inode_key)
        store->inode_key = alloc_secret(SEAL_KEY_BYTES);
    if (!store->record_key || !store->nonce_key || !store->inode_key)
        return -ENOMEM;
    store_record_key(store->record_key, store->master);
    seal_subkey(store->nonce_key, SUBKEY_EXPORT_NONCE, SUBKEY_CONTEXT, store->master);
    seal_subkey(store->inode_key, SUBKEY_INODE, SUBKEY_CONTEXT, store->master);
    uint8_t salt_key[SEAL_KEY_BYTES];
    seal_subkey(salt_key, SUBKEY_EXPORT_SALT, SUBKEY_CONTEXT, store->master);
    memcpy(store->export_salt, salt_key, sizeof(store->export_salt));
    sodium_memzero(salt_key, sizeof(salt_key));
    return 0;
}

int store_password_copy(struct password *out, const char *text, size_t len)
{
    char *copy = alloc_secret(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    *out = (struct password){copy, len};
    return 0;
}

static int add_password(struct store *store, const char *text, size_t len)
{
    if (store->password_count == MAX_PASSWORDS)
        return -ENOSPC;
    int ret = store_password_copy(&store->passwords[store->password_count], text, len);
    if (ret == 0)
        store->password_count++;
    return ret;
}

/* The key in the config's field (master_key, or a rekey's pending key)
 * into store->master, replacing the one there. */
static int unwrap_master(struct store *store, const char *field, const char *passphrase,
                         size_t passphrase_len)
{
    struct seal_kdf kdf;
    uint8_t *sealed = NULL, *master = NULL, *wrap_key = NULL;
    size_t sealed_len = 0, master_len = 0;
    int ret;

    /* read_config verified the fields: a failure here is memory */
    ret = kdf_from_json(&kdf, json_object_get(store->config, "kdf"));
    if (ret < 0)
        return ret == -ENOMEM ? ret : -EBADMSG;
    ret = b64_to(&sealed, &sealed_len, jsonx_str(store->config, field));
    if (ret < 0)
        return ret == -ENOMEM ? ret : -EBADMSG;
    wrap_key = alloc_secret(SEAL_KEY_BYTES);
    ret = wrap_key ? seal_derive_key(wrap_key, passphrase, passphrase_len, &kdf) : -ENOMEM;
    if (ret == 0)
        ret = seal_open_record(&master, &master_len, sealed, sealed_len, SEAL_KIND_MASTER_KEY,
                               MASTER_KEY_ID, wrap_key);
    if (ret == -EBADMSG)
        ret = -EACCES; /* the one way a right record fails to open */
    else if (ret == 0 && master_len != SEAL_KEY_BYTES)
        ret = -EBADMSG;
    else if (ret == -EINVAL || ret == -EIO)
        ret = -EBADMSG; /* not a sealed record, or its checksum fails */
    if (ret == 0) {
        alloc_secret_free(store->master);
        store->master = master;
        master = NULL;
    }
    alloc_secret_free(master);
    alloc_secret_free(wrap_key);
    alloc_free(sealed);
    return ret;
}

static void remove_stale_temps(int dirfd);

void store_tidy_before_change(struct store *store)
{
    /* a reader removes nothing: the temporaries it sees may be a mount's
     * writes in flight */
    if (store->tidied || store->read_only)
        return;
    remove_stale_temps(store->dirfd);
    remove_stale_temps(store->sharesfd);
    store->tidied = true;
}

struct tidy {
    int dirfd;
    bool removed;
};

static int remove_if_stale(void *ctx, const char *name)
{
    struct tidy *tidy = ctx;
    if (io_is_stale_temp(name) && unlinkat(tidy->dirfd, name, 0) == 0)
        tidy->removed = true;
    return 0;
}

static void remove_stale_temps(int dirfd)
{
    struct tidy tidy = {dirfd, false};
    int listed = io_list_dir(dirfd, remove_if_stale, &tidy);

    (void)listed; /* tidying only: a store that cannot be listed is whole */
    if (tidy.removed) {
        int synced = io_sync_dir(dirfd);
        (void)synced; /* tidying only: the store is whole either way */
    }
}

int store_config_parse(json_t **out, const uint8_t *text, size_t len)
{
    json_error_t error = {0}; /* jansson may leave it unset when memory runs out */
    json_t *config = json_loadb((const char *)text, len, 0, &error);
    int ret;

    *out = NULL;
    if (!config && json_error_code(&error) == json_error_out_of_memory)
        return -ENOMEM;
    if (!config) {
        /* or call a failed allocation a syntax error: damaged only when
         * memory is there now */
        void *probe = alloc_bytes(len + 4096);
        alloc_free(probe);
        return probe ? -EBADMSG : -ENOMEM;
    }
    json_t *format = json_object_get(config, "format");
    /* format 1 is the first: older formats to migrate from would go here */
    if (json_is_integer(format) && json_integer_value(format) > STORE_FORMAT_VERSION)
        ret = -EPROTONOSUPPORT;
    else
        ret = config_verify(config);
    if (ret < 0) {
        json_decref(config);
        return ret;
    }
    *out = config;
    return 0;
}

const char *store_id_hex(struct store *store)
{
    const char *id = jsonx_str(store->config, "id");

    if (!*id && store->manifest.loaded)
        hex_encode(store->id_text, store->manifest.id, MANIFEST_ID_BYTES);
    else
        snprintf(store->id_text, sizeof(store->id_text), "%s", id);
    return store->id_text;
}

int store_upgrade_config(struct store *store, const char *id)
{
    json_t *config = json_deep_copy(store->config);
    char *text = NULL;
    int ret = config ? 0 : -ENOMEM;

    if (store->read_only)
        ret = -EROFS;
    if (ret == 0 && (json_object_set_new(config, "format", json_integer(STORE_FORMAT_VERSION)) <
                         0 ||
                     json_object_set_new(config, "id", json_string(id)) < 0))
        ret = -ENOMEM;
    if (ret == 0)
        ret = config_add_checksum(config);
    if (ret == 0)
        ret = jsonx_dumps(&text, config, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (ret == 0)
        ret = io_write_atomic(store->dirfd, CONFIG_NAME, text, strlen(text), 0600);
    alloc_free(text);
    if (ret == 0) {
        json_decref(store->config);
        store->config = config;
    } else {
        json_decref(config);
    }
    return ret;
}

/* ---- what opening found -------------------------------------------------- */

int store_note_problem(struct store *store, enum store_problem_kind kind, const char *key,
                       uint64_t a, uint64_t b)
{
    if (alloc_reserve((void **)&store->problems, &store->problem_cap, store->problem_count + 1,
                      sizeof(*store->problems)) < 0)
        return -ENOMEM;
    struct store_problem *p = &store->problems[store->problem_count++];
    *p = (struct store_problem){.kind = kind, .a = a, .b = b};
    snprintf(p->key, sizeof(p->key), "%s", key);
    return 0;
}

bool store_problem_blocks(enum store_problem_kind kind)
{
    switch (kind) {
    case STORE_PROBLEM_STAMP_MISSING:
    case STORE_PROBLEM_STAMP_DIFFERS:
    case STORE_PROBLEM_STAMP_DAMAGED:
    case STORE_PROBLEM_MANIFEST_TAIL:
    case STORE_PROBLEM_UNAPPLIED:
        return false; /* a mount rewrites the stamp; the others are settled by a change */
    default:
        return true;
    }
}

static bool has_problem(const struct store *store, bool (*which)(enum store_problem_kind))
{
    for (size_t i = 0; i < store->problem_count; i++)
        if (which(store->problems[i].kind))
            return true;
    return false;
}

static bool is_rollback(enum store_problem_kind kind)
{
    return kind == STORE_PROBLEM_ROLLBACK || kind == STORE_PROBLEM_STATE_DAMAGED;
}

static bool is_index_problem(enum store_problem_kind kind)
{
    return store_problem_blocks(kind) && !is_rollback(kind);
}

/* A read-only open while a mount writes may read a record renamed after
 * the manifest it read, or the manifest after two changes: read again. */
static bool is_race(enum store_problem_kind kind)
{
    return kind == STORE_PROBLEM_RECORD_DIFFERS || kind == STORE_PROBLEM_RECORD_MISSING ||
           kind == STORE_PROBLEM_RECORD_UNLISTED || kind == STORE_PROBLEM_ROLLBACK;
}

/* Reads vultfs.json into store->config and checks its format version and
 * every field (store_config_parse): -EBADMSG for a damaged config. */
static int read_config(struct store *store)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    int ret = io_read_file(&text, &text_len, store->dirfd, CONFIG_NAME, MAX_CONFIG_BYTES);

    if (ret < 0)
        return ret == -EIO || ret == -EFBIG ? -EBADMSG : ret;
    ret = store_config_parse(&store->config, text, text_len);
    alloc_free(text);
    return ret;
}

/* A rekey that stopped after writing the index under its new key and
 * before dropping the old key from the config (rekey.c): the index opens
 * with the pending key, which is then the master key. */
static int open_with_pending_key(struct store *store, const char *passphrase,
                                 size_t passphrase_len)
{
    int ret = unwrap_master(store, PENDING_KEY_FIELD, passphrase, passphrase_len);

    if (ret == -EACCES)
        ret = -EBADMSG; /* the master key opened: the pending one is damaged */
    if (ret == 0)
        ret = store_derive_subkeys(store);
    if (ret == 0)
        ret = index_read(store);
    return ret;
}

/* The store directory, its config and shares/, each checked (owner, mode,
 * a real directory): what an open needs before any key. */
static int open_dirs(struct store *store, const char *dir)
{
    int ret;

    store->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->dirfd < 0)
        return -errno;
    ret = storedir_check(store->dirfd);
    if (ret == 0)
        ret = read_config(store);
    if (ret < 0)
        return ret;
    store->sharesfd = openat(store->dirfd, SHARES_DIR,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (store->sharesfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? -EIO : -errno;
    return storedir_check(store->sharesfd);
}

/* The index, under the master key (or a rekey's pending one). */
/* Records that do not open under the key read with: a rekey's pending key
 * may be theirs. */
static bool sealed_for_another_key(const struct store *store)
{
    for (size_t i = 0; i < store->problem_count; i++)
        if (store->problems[i].kind == STORE_PROBLEM_RECORD_DAMAGED ||
            store->problems[i].kind == STORE_PROBLEM_MANIFEST_DAMAGED)
            return true;
    return false;
}

static int open_index(struct store *store, const char *passphrase, size_t passphrase_len)
{
    int ret = index_read(store);

    if ((ret == -EBADMSG || (ret == 0 && sealed_for_another_key(store))) &&
        json_object_get(store->config, PENDING_KEY_FIELD)) {
        /* every record is under one key (index_write_all swaps them at once):
         * the pending one when it opens them, else the master key's damage */
        uint8_t *master = alloc_secret_copy(store->master, SEAL_KEY_BYTES);
        int pending = master ? open_with_pending_key(store, passphrase, passphrase_len) : -ENOMEM;
        if (pending == 0 && !sealed_for_another_key(store)) {
            ret = 0;
        } else if (pending == -ENOMEM) {
            ret = pending;
        } else {
            memcpy(store->master, master, SEAL_KEY_BYTES);
            ret = store_derive_subkeys(store);
            if (ret == 0)
                ret = index_read(store);
        }
        alloc_secret_free(master);
    }
    return ret == -EBADMSG ? -EIO : ret; /* -EBADMSG names a damaged config (store.h) */
}

/* The state directory (lastseen.c), when one is given and is private. */
static void open_state_dir(struct store *store, const struct store_open_options *opt)
{
    store->statefd = -1;
    if (!opt || !opt->state_dir)
        return;
    int fd = open(opt->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && storedir_check(fd) == 0)
        store->statefd = fd;
    else if (fd >= 0)
        close(fd); /* another user's, or open to others: not trusted */
}

/* The first problem of a kind, for the caller's message. */
static void say_problem(struct store_open_options *opt, const struct store *store,
                        bool (*which)(enum store_problem_kind))
{
    bool blocks;
    for (size_t i = 0; opt && i < store->problem_count; i++)
        if (which(store->problems[i].kind)) {
            store_problem_text(opt->problem, sizeof(opt->problem), &blocks, store, i);
            return;
        }
}

/* What a store that may write does after reading: refuse it when its
 * index has problems (unless repairing) or it is older than the one seen
 * last (unless accepted); bring a format 1 store to format 2; settle what
 * an interrupted change left. */
static int open_to_write(struct store *store, struct store_open_options *opt)
{
    bool repair = opt && opt->repair, accept = opt && opt->accept_rollback;
    bool problems = has_problem(store, is_index_problem);
    int ret = 0;

    if (problems && !repair) {
        say_problem(opt, store, is_index_problem);
        return -EUCLEAN;
    }
    if (!problems)
        ret = index_migrate(store);
    if (ret == 0)
        ret = lastseen_check(store, !problems, accept);
    if (ret == 0 && has_problem(store, is_rollback)) {
        say_problem(opt, store, is_rollback);
        return -ESTALE;
    }
    if (ret == 0 && !problems)
        ret = manifest_settle(store);
    if (ret == 0 && !problems)
        manifest_compact_if_due(store); /* here, not in a change: a change's
                                           cost stays the same at any size */
    return ret;
}

static int open_store(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
                      size_t passphrase_len, bool read_only, struct store_open_options *opt)
{
    struct store *store = alloc_zeroed(1, sizeof(*store));
    int ret;

    *out = NULL;
    if (busy_pid)
        *busy_pid = 0;
    if (!store)
        return -ENOMEM;
    store->dirfd = store->sharesfd = store->statefd = -1;
    store->max_import = STORE_DEFAULT_MAX_IMPORT;

    ret = open_dirs(store, dir);
    if (ret == 0)
        ret = unwrap_master(store, "master_key", passphrase, passphrase_len);
    if (ret == 0)
        ret = store_derive_subkeys(store);
    if (ret < 0)
        goto out_fail;
    /* only a right passphrase touches the lock file; a reader takes none */
    store->read_only = read_only;
    store->repairing = !read_only && opt && opt->repair;
    ret = read_only ? 0 : take_lock(store, busy_pid);
    open_state_dir(store, opt);
    for (int tries = 0; ret == 0 && tries < 10; tries++) {
        if (tries) {
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        ret = open_index(store, passphrase, passphrase_len);
        if (ret == 0 && read_only)
            ret = lastseen_check(store, false, opt && opt->accept_rollback);
        if (!read_only || !has_problem(store, is_race))
            break;
    }
    if (ret < 0)
        goto out_fail;
    store->keycache = backup_keycache_new();
    if (ret == 0)
        ret = store->keycache ? add_password(store, passphrase, passphrase_len) : -ENOMEM;
    if (ret == 0)
        ret = views_rebuild(store);
    if (ret == 0 && !read_only)
        ret = open_to_write(store, opt);
    if (ret < 0)
        goto out_fail;
    *out = store;
    return 0;

out_fail:
    if (opt && store->manifest.loaded) {
        opt->change = store->manifest.counter;
        opt->seen_change = store->seen;
    }
    store_close(store);
    return ret;
}

int store_open(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
               size_t passphrase_len)
{
    return open_store(out, busy_pid, dir, passphrase, passphrase_len, false, NULL);
}

int store_open_readonly(struct store **out, const char *dir, const char *passphrase,
                        size_t passphrase_len)
{
    return open_store(out, NULL, dir, passphrase, passphrase_len, true, NULL);
}

int store_open_with(struct store **out, int *busy_pid, const char *dir, const char *passphrase,
                    size_t passphrase_len, struct store_open_options *opt)
{
    return open_store(out, busy_pid, dir, passphrase, passphrase_len, false, opt);
}

int store_open_readonly_with(struct store **out, const char *dir, const char *passphrase,
                             size_t passphrase_len, struct store_open_options *opt)
{
    return open_store(out, NULL, dir, passphrase, passphrase_len, true, opt);
}

void store_close(struct store *store)
{
    if (!store)
        return;
    views_free(store);
    export_free_all(store);
    for (size_t i = 0; i < store->password_count; i++)
        alloc_secret_free(store->passwords[i].text);
    backup_keycache_free(store->keycache);
    alloc_secret_free(store->export_key);
    alloc_secret_free(store->record_key);
    alloc_secret_free(store->nonce_key);
    alloc_secret_free(store->inode_key);
    alloc_secret_free(store->master);
    json_decref(store->config);
    manifest_clear(&store->manifest);
    alloc_free(store->problems);
    if (store->statefd >= 0)
        close(store->statefd);
    if (store->sharesfd >= 0)
        close(store->sharesfd);
    if (store->dirfd >= 0)
        close(store->dirfd); /* releases the flock (the last descriptor of it) */
    sodium_memzero(store, sizeof(*store));
    alloc_free(store);
}

int store_kdf(struct seal_kdf *kdf, const struct store *store)
{
    int ret = kdf_from_json(kdf, json_object_get(store->config, "kdf"));
    if (ret < 0)
        return ret == -ENOMEM ? ret : -EIO;
    randombytes_buf(kdf->salt, sizeof(kdf->salt));
    return 0;
}

int store_passwd(struct store *store, const char *passphrase, size_t passphrase_len,
                 const struct seal_kdf *kdf)
{
    struct seal_kdf fresh;

    if (store->read_only)
        return -EROFS;
    if (!passphrase_len)
        return -EINVAL;
    if (!kdf) {
        int ret = store_kdf(&fresh, store);
        if (ret < 0)
            return ret;
        kdf = &fresh;
    }
    store_tidy_before_change(store);
    return store_write_config(store->dirfd, store->master, NULL, passphrase, passphrase_len,
                              kdf, store_id_hex(store));
}

/* ---- import settings ----------------------------------------------------- */

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

