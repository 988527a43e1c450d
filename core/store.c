/*
 * store: the encrypted, crash-safe store (see store.h).
 *
 * The index is a jansson object and the single source of truth: a change is
 * made on a deep copy, sealed and written; only once it is durable does the
 * copy replace the index in memory and the views (struct store_vault) get
 * rebuilt from it. A failure at any step leaves memory and disk as they were.
 */
#include "store.h"

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

#define CONFIG_NAME "vultfs.json"
#define INDEX_NAME "index.rec"
#define LOCK_NAME "lock"
#define SHARES_DIR "shares"
#define MASTER_KEY_ID "master-key"
#define INDEX_ID "index"
#define RECORD_NAME_BYTES 16 /* keyed hash of the Vault bytes, hex in names */
#define MAX_CONFIG_BYTES (64u << 10)
#define MAX_INDEX_BYTES (64u << 20)
#define MAX_RECORD_BYTES (VULT_MAX_FILE_BYTES + SEAL_OVERHEAD)
#define MAX_PASSWORDS 64

/* Subkeys of the master key, one per purpose. */
#define SUBKEY_CONTEXT "vultfs01"
enum subkey_id {
    SUBKEY_RECORD_NAME = 1,
    SUBKEY_EXPORT_NONCE = 2,
    SUBKEY_EXPORT_SALT = 3,
    SUBKEY_INODE = 4,
};

struct export_entry {
    char record[2 * RECORD_NAME_BYTES + 1];
    uint8_t *data; /* alloc_secret: unencrypted exports are the share itself */
    size_t len;
    XXH128_canonical_t checksum;
    struct export_entry *next;
};

struct password {
    char *text; /* alloc_secret */
    size_t len;
};

struct store {
    int dirfd;
    int sharesfd;
    int lockfd;
    json_t *config;
    json_t *index;
    uint8_t *master; /* alloc_secret, SEAL_KEY_BYTES */
    uint8_t *record_key, *nonce_key, *inode_key; /* alloc_secret */

    struct password passwords[MAX_PASSWORDS]; /* export pw, passphrase, extra */
    size_t password_count;
    bool have_export_password;
    struct vult_keycache *keycache;

    bool export_set;
    enum backup_crypto_scheme export_scheme;
    uint8_t *export_key; /* alloc_secret */
    uint8_t export_salt[BACKUP_CRYPTO_SALT_BYTES];
    struct export_entry *exports;

    size_t max_import;
    uint64_t generation;
    bool tidied; /* stale temporary files removed (see remove_stale_temps) */

    /* views of the index */
    struct store_vault *vaults;
    size_t vault_count;
};

/* ---- small helpers ------------------------------------------------------ */

static void to_hex(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

static int from_hex(uint8_t *out, size_t len, const char *hex)
{
    size_t got = 0;
    if (!hex || strlen(hex) != len * 2 ||
        sodium_hex2bin(out, len, hex, len * 2, NULL, &got, NULL) != 0 || got != len)
        return -EINVAL;
    return 0;
}

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
    if (vult_base64_decode_to(buf, len + 1, out_len, text, len) != 0) {
        alloc_free(buf);
        return -EINVAL;
    }
    *out = buf;
    return 0;
}

static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static uint64_t jnum(const json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v < 0 ? 0 : (uint64_t)v;
}

static void now(int64_t *sec, int32_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (int32_t)ts.tv_nsec;
}

/* ---- sealed files -------------------------------------------------------- */

static int write_sealed(int dirfd, const char *name, const uint8_t *plain, size_t len,
                        enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = seal_record(&sealed, &sealed_len, plain, len, kind, id, key);
    if (ret < 0)
        return ret;
    ret = io_write_atomic(dirfd, name, sealed, sealed_len, 0600);
    alloc_free(sealed);
    return ret;
}

static int read_sealed(uint8_t **plain, size_t *len, int dirfd, const char *name,
                       size_t max_len, enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = io_read_file(&sealed, &sealed_len, dirfd, name, max_len);
    if (ret < 0)
        return ret;
    ret = seal_open_record(plain, len, sealed, sealed_len, kind, id, key);
    alloc_free(sealed);
    return ret;
}

/* JSON text is written compact and sorted, so equal indexes are equal bytes. */
static int write_index(struct store *store, const json_t *index)
{
    char *text = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
    int ret;
    if (!text)
        return -ENOMEM;
    ret = write_sealed(store->dirfd, INDEX_NAME, (const uint8_t *)text, strlen(text),
                       SEAL_KIND_INDEX, INDEX_ID, store->master);
    sodium_memzero(text, strlen(text));
    alloc_free(text);
    return ret;
}

static int read_index(json_t **out, struct store *store)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    json_error_t error;
    int ret = read_sealed(&plain, &len, store->dirfd, INDEX_NAME, MAX_INDEX_BYTES,
                          SEAL_KIND_INDEX, INDEX_ID, store->master);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    *out = json_loadb((const char *)plain, len, 0, &error);
    alloc_secret_free(plain);
    if (!*out || !json_is_array(json_object_get(*out, "vaults"))) {
        json_decref(*out);
        *out = NULL;
        return -EIO;
    }
    return 0;
}

/* ---- views ------------------------------------------------------------- */

static void free_views(struct store *store)
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
                         uint32_t number)
{
    crypto_generichash_state st;
    uint64_t ino;
    uint8_t digest[8];

    crypto_generichash_init(&st, store->inode_key, SEAL_KEY_BYTES, sizeof(digest));
    crypto_generichash_update(&st, (const uint8_t *)ecdsa, strlen(ecdsa) + 1);
    crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const uint8_t *)&number, sizeof(number));
    crypto_generichash_final(&st, digest, sizeof(digest));
    memcpy(&ino, digest, sizeof(ino));
    return ino < 2 ? ino + 2 : ino; /* 1 is the root */
}

/* "a/b" -> "a_b"; "." and ".." are not names; long names are cut at a
 * character boundary so a suffix still fits in NAME_MAX. */
static char *sanitize_name(const char *name, const char *suffix)
{
    size_t len = strlen(name);
    if (len > 200) {
        len = 200;
        while (len && ((unsigned char)name[len] & 0xc0) == 0x80)
            len--;
    }
    size_t cap = len + (suffix ? strlen(suffix) + 1 : 0) + 2;
    char *out = alloc_bytes(cap);
    if (!out)
        return NULL;
    memcpy(out, name, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (out[i] == '/')
            out[i] = '_';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || !*out)
        snprintf(out, cap, "%s", "_");
    if (suffix) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "-%s", suffix);
    }
    return out;
}

static const char *last4(const char *ecdsa)
{
    size_t len = strlen(ecdsa);
    return len >= 4 ? ecdsa + len - 4 : ecdsa;
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
    view->public_key_ecdsa = jstr(vault, "ecdsa");
    view->epochs = list;
    view->epoch_count = count;
    json_array_foreach(epochs, i, e) {
        struct store_epoch *ep = &list[i];
        const json_t *facts = json_object_get(e, "facts");
        ep->number = (uint32_t)jnum(e, "number");
        ep->current = json_is_true(json_object_get(e, "current"));
        ep->imported_sec = (int64_t)jnum(e, "imported_sec");
        ep->imported_nsec = (int32_t)jnum(e, "imported_nsec");
        ep->facts.name = jstr(facts, "name");
        ep->facts.device = jstr(facts, "device");
        ep->facts.reshare_prefix = jstr(facts, "reshare_prefix");
        ep->facts.public_key_ecdsa = jstr(facts, "public_key_ecdsa");
        ep->facts.public_key_eddsa = jstr(facts, "public_key_eddsa");
        ep->facts.lib_type = jstr(facts, "lib_type");
        ep->facts.created_at = jstr(facts, "created_at");
        ep->facts.hex_chain_code = jstr(facts, "hex_chain_code");
        ep->facts.signer_count = json_array_size(json_object_get(facts, "signers"));
        ep->facts.key_share_count = (size_t)jnum(facts, "key_share_count");
        ep->facts.signers = joined_signers(json_object_get(facts, "signers"));
        if (!ep->facts.signers)
            return -ENOMEM;
        if (store->export_set)
            ep->export_size = vult_encoded_len((size_t)jnum(e, "vault_len"), store->export_scheme);
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

static bool name_taken(const struct store *store, const char *dir)
{
    for (size_t i = 0; i < store->vault_count; i++)
        if (store->vaults[i].dir_name && strcmp(store->vaults[i].dir_name, dir) == 0)
            return true;
    return false;
}

/* The directory a vault was restored under (mkdir, then a share written
 * into it), when it is still one of the vault's own names: a restore in
 * any order then rebuilds the same tree. NULL otherwise. */
static char *remembered_name(const struct store *store, const struct store_vault *v,
                             const json_t *vault_json)
{
    const char *hint = json_string_value(json_object_get(vault_json, "dir_name"));
    const char *name = v->latest ? v->latest->facts.name : "vault";
    char *plain, *suffixed;

    if (!hint || name_taken(store, hint))
        return NULL;
    plain = sanitize_name(name, NULL);
    suffixed = sanitize_name(name, last4(v->public_key_ecdsa));
    bool own = (plain && strcmp(plain, hint) == 0) || (suffixed && strcmp(suffixed, hint) == 0);
    alloc_free(plain);
    alloc_free(suffixed);
    return own ? alloc_strndup(hint, strlen(hint)) : NULL;
}

/* Directory names: a vault keeps the name it was restored under; otherwise
 * the first vault with a name keeps it, and later ones with the same name
 * get "-<last 4 hex of the ECDSA key>" (more hex if needed). */
static int name_vaults(struct store *store)
{
    const json_t *vaults = json_object_get(store->index, "vaults");

    for (size_t i = 0; i < store->vault_count; i++)
        store->vaults[i].dir_name = remembered_name(store, &store->vaults[i],
                                                    json_array_get(vaults, i));
    for (size_t i = 0; i < store->vault_count; i++) {
        struct store_vault *v = &store->vaults[i];
        const char *name = v->latest ? v->latest->facts.name : "vault";
        size_t klen = strlen(v->public_key_ecdsa);
        size_t suffix_len = 4;
        char *dir;

        if (v->dir_name)
            continue;
        dir = sanitize_name(name, NULL);
        while (dir && name_taken(store, dir)) {
            size_t take = suffix_len < klen ? suffix_len : klen;
            alloc_free(dir);
            dir = sanitize_name(name, v->public_key_ecdsa + klen - take);
            if (take == klen)
                break; /* the whole key: cannot clash with another key */
            suffix_len += 4;
        }
        if (!dir)
            return -ENOMEM;
        v->dir_name = dir;
    }
    return 0;
}

static int rebuild_views(struct store *store)
{
    const json_t *vaults = json_object_get(store->index, "vaults");
    size_t count = json_array_size(vaults), i;
    json_t *v;
    int ret;

    free_views(store);
    store->vaults = alloc_zeroed(count ? count : 1, sizeof(*store->vaults));
    if (!store->vaults)
        return -ENOMEM;
    store->vault_count = count;
    json_array_foreach(vaults, i, v) {
        ret = build_vault_view(store, &store->vaults[i], v);
        if (ret < 0)
            goto out_free;
    }
    ret = name_vaults(store);
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
    free_views(store);
    return ret;
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

    if (strcmp(jstr(obj, "algorithm"), "argon2id13") != 0)
        return -EINVAL;
    kdf->opslimit = jnum(obj, "opslimit");
    kdf->memlimit = jnum(obj, "memlimit");
    ret = b64_to(&salt, &len, jstr(obj, "salt"));
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
    ret = write_sealed(dirfd, INDEX_NAME, (const uint8_t *)empty_index, strlen(empty_index),
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
    ret = b64_to(&sealed, &sealed_len, jstr(store->config, "master_key"));
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
static bool is_stale_temp(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp.") != NULL;
}

static void remove_stale_temps(int dirfd);

static void tidy_before_first_change(struct store *store)
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
        if (is_stale_temp(entry->d_name) && unlinkat(dirfd, entry->d_name, 0) == 0)
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
    ret = read_index(&store->index, store);
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
    ret = rebuild_views(store);
    if (ret < 0)
        goto out_fail;
    *out = store;
    return 0;

out_fail:
    store_close(store);
    return ret;
}

static void free_exports(struct store *store)
{
    while (store->exports) {
        struct export_entry *next = store->exports->next;
        alloc_secret_free(store->exports->data);
        alloc_free(store->exports);
        store->exports = next;
    }
}

void store_close(struct store *store)
{
    if (!store)
        return;
    free_views(store);
    free_exports(store);
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
    tidy_before_first_change(store);
    return write_config(store->dirfd, store->master, passphrase, passphrase_len, kdf);
}

/* ---- passwords and exports ---------------------------------------------- */

int store_set_export(struct store *store, const char *password, size_t password_len,
                     enum backup_crypto_scheme scheme)
{
    /* Android refuses blank passwords: such an export would not import. */
    if (password && backup_crypto_password_is_blank(password, password_len))
        return -EINVAL;
    free_exports(store);
    alloc_secret_free(store->export_key);
    store->export_key = NULL;
    if (password) {
        if (scheme == BACKUP_CRYPTO_NONE)
            return -EINVAL;
        store->export_key = alloc_secret(BACKUP_CRYPTO_KEY_BYTES);
        if (!store->export_key)
            return -ENOMEM;
        if (scheme == BACKUP_CRYPTO_CURRENT)
            backup_crypto_key_current(store->export_key, (const uint8_t *)password, password_len,
                                      store->export_salt);
        else
            backup_crypto_key_legacy(store->export_key, (const uint8_t *)password, password_len);
        /* the export password is the first one an import tries */
        if (store->password_count == MAX_PASSWORDS)
            return -ENOSPC;
        char *copy = alloc_secret(password_len + 1);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, password, password_len);
        copy[password_len] = '\0';
        if (store->have_export_password) {
            alloc_secret_free(store->passwords[0].text);
        } else {
            memmove(&store->passwords[1], &store->passwords[0],
                    store->password_count * sizeof(store->passwords[0]));
            store->password_count++;
            store->have_export_password = true;
        }
        store->passwords[0] = (struct password){copy, password_len};
    } else {
        scheme = BACKUP_CRYPTO_NONE;
    }
    store->export_scheme = scheme;
    store->export_set = true;
    return rebuild_views(store);
}

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

/* A vault's entry in an index (the store's, or a copy being changed). */
static json_t *find_vault_json(const json_t *index, const char *ecdsa, size_t *position)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(index, "vaults"), i, v) {
        if (strcmp(jstr(v, "ecdsa"), ecdsa) == 0) {
            if (position)
                *position = i;
            return v;
        }
    }
    return NULL;
}

static json_t *find_epoch_json(const json_t *vault, uint32_t number)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (jnum(e, "number") == number)
            return e;
    return NULL;
}

static int load_share(uint8_t **vault_bytes, size_t *len, struct store *store, const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    snprintf(name, sizeof(name), "%s.rec", record);
    return read_sealed(vault_bytes, len, store->sharesfd, name, MAX_RECORD_BYTES,
                       SEAL_KIND_SHARE, record, store->master);
}

/* The nonce is a keyed hash of the key and the plaintext
 * (backup_crypto_export_nonce): the same share and password give the same
 * bytes, different plaintexts under one key never share a nonce, and a
 * legacy blob never starts with the current scheme's magic. */
static int make_export(struct export_entry *entry, struct store *store, const uint8_t *vault,
                       size_t vault_len)
{
    uint8_t nonce[BACKUP_CRYPTO_NONCE_BYTES] = {0};

    if (store->export_scheme != BACKUP_CRYPTO_NONE &&
        backup_crypto_export_nonce(nonce, store->export_scheme, store->nonce_key, SEAL_KEY_BYTES,
                                   store->export_key, vault, vault_len) < 0)
        return -EIO;
    entry->len = vult_encoded_len(vault_len, store->export_scheme);
    entry->data = alloc_secret(entry->len);
    if (!entry->data)
        return -ENOMEM;
    int ret = vult_encode((char *)entry->data, entry->len, vault, vault_len,
                          store->export_scheme, store->export_salt, nonce, store->export_key);
    if (ret < 0) {
        alloc_secret_free(entry->data);
        entry->data = NULL;
        return ret;
    }
    XXH128_canonicalFromHash(&entry->checksum, XXH3_128bits(entry->data, entry->len));
    return 0;
}

/* The cached export entry of one epoch, made on first use. */
static int export_entry_of(struct export_entry **out, struct store *store,
                           const struct store_vault *vault, uint32_t epoch)
{
    const json_t *vj = find_vault_json(store->index, vault->public_key_ecdsa, NULL);
    const json_t *ej = vj ? find_epoch_json(vj, epoch) : NULL;
    const char *record = jstr(ej, "record");
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int ret;

    if (!store->export_set)
        return -EINVAL;
    if (!ej)
        return -ENOENT;
    for (struct export_entry *e = store->exports; e; e = e->next) {
        if (strcmp(e->record, record) == 0) {
            *out = e;
            return 0;
        }
    }
    struct export_entry *entry = alloc_zeroed(1, sizeof(*entry));
    if (!entry)
        return -ENOMEM;
    ret = load_share(&plain, &plain_len, store, record);
    if (ret == 0)
        ret = make_export(entry, store, plain, plain_len);
    alloc_secret_free(plain);
    if (ret < 0) {
        alloc_free(entry);
        return ret;
    }
    snprintf(entry->record, sizeof(entry->record), "%s", record);
    entry->next = store->exports;
    store->exports = entry;
    *out = entry;
    return 0;
}

int store_export(const uint8_t **data, size_t *len, struct store *store,
                 const struct store_vault *vault, uint32_t epoch)
{
    struct export_entry *entry;
    int ret = export_entry_of(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    *data = entry->data;
    *len = entry->len;
    return 0;
}

int store_export_info(struct store_export_info *out, struct store *store,
                      const struct store_vault *vault, uint32_t epoch)
{
    const struct store_epoch *e = store_vault_epoch(vault, epoch);
    struct export_entry *entry;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!e)
        return -ENOENT;
    ret = export_entry_of(&entry, store, vault, epoch);
    if (ret < 0)
        return ret;
    out->data = entry->data;
    out->len = entry->len;
    out->ino = e->ino;
    out->mtime_sec = e->imported_sec;
    out->mtime_nsec = e->imported_nsec;
    memcpy(out->checksum, entry->checksum.digest, sizeof(out->checksum));
    return 0;
}

/* ---- the tree ------------------------------------------------------------ */

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

const struct store_epoch *store_vault_epoch(const struct store_vault *vault, uint32_t number)
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

static json_t *signers_array(const struct store *store, const struct store_vault *vault,
                             uint32_t number)
{
    const json_t *vj = find_vault_json(store->index, vault->public_key_ecdsa, NULL);
    const json_t *ej = vj ? find_epoch_json(vj, number) : NULL;
    json_t *signers = json_object_get(json_object_get(ej, "facts"), "signers");
    return signers ? json_deep_copy(signers) : json_array();
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
            snprintf(file, sizeof(file), "history/epoch-%u.vult", e->number);
        json_array_append_new(
            epochs, json_pack("{s:i, s:s, s:b, s:s, s:o, s:s}", "epoch", (int)e->number, "file",
                              file, "superseded", !e->current, "device", e->facts.device,
                              "signers", signers_array(store, vault, e->number),
                              "reshare_prefix", e->facts.reshare_prefix));
    }
    obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o}", "name", latest->facts.name,
                    "public_key_ecdsa", latest->facts.public_key_ecdsa, "public_key_eddsa",
                    latest->facts.public_key_eddsa, "hex_chain_code",
                    latest->facts.hex_chain_code, "lib_type", latest->facts.lib_type,
                    "created_at", latest->facts.created_at, "current_epoch",
                    vault->current ? json_integer(vault->current->number) : NULL, "epochs",
                    epochs);
    if (!obj)
        return -ENOMEM;
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text)
        return -ENOMEM;
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
        const struct store_vault *v = &store->vaults[i];
        json_t *epochs = json_array();
        for (size_t j = 0; j < v->epoch_count; j++) {
            const struct store_epoch *e = &v->epochs[j];
            vult_format_time(when, sizeof(when), e->imported_sec, 0);
            json_array_append_new(
                epochs, json_pack("{s:i, s:b, s:s, s:o, s:s, s:s, s:s}", "epoch", (int)e->number,
                                  "current", e->current, "device", e->facts.device, "signers",
                                  signers_array(store, v, e->number), "reshare_prefix",
                                  e->facts.reshare_prefix, "lib_type", e->facts.lib_type,
                                  "imported_at", when));
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "directory", v->dir_name,
                                              "name", v->latest ? v->latest->facts.name : "",
                                              "public_key_ecdsa", v->public_key_ecdsa, "epochs",
                                              epochs));
    }
    char *text = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(list);
    if (!text)
        return -ENOMEM;
    *out = text;
    return 0;
}

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
        list[i].number = (uint32_t)jnum(e, "number");
        list[i].current = json_is_true(json_object_get(e, "current"));
        if (from_hex(list[i].generation, EPOCHS_DIGEST_BYTES, jstr(e, "generation")) < 0 ||
            from_hex(list[i].device, EPOCHS_DIGEST_BYTES, jstr(e, "device")) < 0 ||
            from_hex(list[i].shares, EPOCHS_DIGEST_BYTES, jstr(e, "shares")) < 0) {
            alloc_free(list);
            return -EIO;
        }
    }
    *out = list;
    *count = n;
    return 0;
}

/* Is dir_name where this share belongs? Its own vault's directory, or a
 * new directory (mkdir during a restore) with the name it would get. */
static bool in_its_place(const struct store *store, const struct store_target *target,
                         const struct vult_vault *v, const char *ecdsa)
{
    if (!target || !target->dir_name)
        return true;
    const struct store_vault *existing = store_vault_by_dir(store, target->dir_name);
    if (existing)
        return strcmp(existing->public_key_ecdsa, ecdsa) == 0;
    char *name = alloc_strndup(v->name.ptr, v->name.len);
    char *plain = name ? sanitize_name(name, NULL) : NULL;
    char *suffixed = name ? sanitize_name(name, last4(ecdsa)) : NULL;
    bool ok = (plain && strcmp(plain, target->dir_name) == 0) ||
              (suffixed && strcmp(suffixed, target->dir_name) == 0);
    alloc_free(suffixed);
    alloc_free(plain);
    alloc_free(name);
    return ok;
}

static json_t *epoch_json(const struct epochs_entry *d, uint32_t number, bool current,
                          const char *record, size_t vault_len, json_t *facts)
{
    char gen[2 * EPOCHS_DIGEST_BYTES + 1], dev[sizeof(gen)], shares[sizeof(gen)];
    int64_t sec;
    int32_t nsec;

    now(&sec, &nsec);
    to_hex(gen, d->generation, EPOCHS_DIGEST_BYTES);
    to_hex(dev, d->device, EPOCHS_DIGEST_BYTES);
    to_hex(shares, d->shares, EPOCHS_DIGEST_BYTES);
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
    vault = find_vault_json(index, ecdsa, NULL);
    if (!vault) {
        vault = json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
        if (!vault || json_array_append_new(vaults, vault) < 0)
            goto out_fail;
        /* a restore names the directory first: remember it (see name_vaults) */
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

static int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len)
{
    uint8_t digest[RECORD_NAME_BYTES];
    if (crypto_generichash(digest, sizeof(digest), vault, len, store->record_key,
                           SEAL_KEY_BYTES) != 0)
        return -EINVAL;
    to_hex(out, digest, sizeof(digest));
    return 0;
}

/* Writes the record and the new index; on failure removes a record it
 * created, so the store is as it was. */
static int commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  json_t *index)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    struct stat st;
    int ret;

    tidy_before_first_change(store);
    snprintf(name, sizeof(name), "%s.rec", record);
    bool existed = fstatat(store->sharesfd, name, &st, 0) == 0;
    ret = write_sealed(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record, store->master);
    if (ret < 0)
        return ret;
    ret = write_index(store, index);
    if (ret < 0) {
        /* A failed directory fsync comes after the rename, so the new
         * index may be in place: put the old one back before removing the
         * record it would reference. If that fails too, keep the record:
         * an unreferenced record is harmless, a missing one is not. */
        int restored = write_index(store, store->index);
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
    candidate.in_its_place = in_its_place(store, target, v, ecdsa);
    candidate.history_slot = target ? target->history_slot : 0;
    const json_t *vault_json = find_vault_json(store->index, ecdsa, NULL);
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
    ret = rebuild_views(store);
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
    json_t *vault = find_vault_json(index, view->public_key_ecdsa,
                                    &index_pos);
    json_t *records = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        json_array_append_new(records, json_string(jstr(e, "record")));
    json_array_remove(json_object_get(index, "vaults"), index_pos);

    /* index first: a crash after it leaves unreferenced records, which
     * fsck reports, never a reference to a missing one */
    tidy_before_first_change(store);
    ret = write_index(store, index);
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
    free_exports(store);
    int rebuilt = rebuild_views(store);
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
            if (strcmp(jstr(e, "record"), record) == 0)
                return true;
    return false;
}

static int check_share(struct store *store, const json_t *epoch)
{
    const char *record = jstr(epoch, "record");
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    struct epochs_entry d;
    uint8_t want[EPOCHS_DIGEST_BYTES];
    int ret = load_share(&plain, &len, store, record);

    if (ret < 0)
        return ret;
    ret = vult_vault_parse(&v, plain, len);
    if (ret == 0) {
        epochs_describe(&d, &v);
        if (from_hex(want, sizeof(want), jstr(epoch, "shares")) < 0 ||
            memcmp(want, d.shares, sizeof(want)) != 0 ||
            from_hex(want, sizeof(want), jstr(epoch, "generation")) < 0 ||
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
        if (!is_stale_temp(entry->d_name))
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
                report(report_line, ctx, "missing share record %s.rec", jstr(e, "record"));
            } else {
                rep->records_bad++;
                report(report_line, ctx,
                       "share record %s.rec: %s", jstr(e, "record"),
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
        if (is_stale_temp(name) || len != 2 * RECORD_NAME_BYTES + 4 ||
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
