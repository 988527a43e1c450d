/*
 * test_store: the store end to end, on disk, in temporary directories.
 *
 * Every row of DESIGN.md's import table through store_import (with the
 * real app exports in ../shared/fixtures when present, synthetic FAKE
 * vaults always), each refusal leaving every file of the store byte for
 * byte as it was; persistence and deterministic exports across reopenings;
 * passphrases, the lock and the format version; vault.json; and crash
 * safety: an I/O fault at every step of an import, and a failed allocation
 * at every point of an import and an open.
 *
 * Argon2id runs at libsodium's minimum cost here (the kdf is explicit).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "store.h"
#include "store_private.h" /* an index as older versions wrote it; a record's file */
#include "synth.h"
#include "vult.h"

#define PASS "correct horse battery staple"
#define PASS_LEN (sizeof(PASS) - 1)
#define EXPORT_PW "export-password"
#define EXPORT_PW_LEN (sizeof(EXPORT_PW) - 1)

static struct seal_kdf cheap_kdf;

/* ---- temporary stores ------------------------------------------------------ */

static char *make_dir(void)
{
    char tmpl[] = "/tmp/vultfs-test-store-XXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(char *dir)
{
    if (dir) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
}

/* A fresh store (in a new directory when dir is NULL) and it opened. */
static struct store *fresh_store(char **dir_out)
{
    struct store *s = NULL;
    char *dir = make_dir();
    int ret;

    CHECK(dir != NULL);
    if (!dir)
        return NULL;
    ret = store_init(dir, PASS, PASS_LEN, &cheap_kdf);
    CHECK_EQ_INT(ret, 0);
    ret = store_open(&s, NULL, dir, PASS, PASS_LEN);
    CHECK_EQ_INT(ret, 0);
    *dir_out = dir;
    return s;
}

static struct store *reopen(struct store *s, const char *dir)
{
    int ret;
    store_close(s);
    s = NULL;
    ret = store_open(&s, NULL, dir, PASS, PASS_LEN);
    CHECK_EQ_INT(ret, 0);
    return s;
}

/* ---- snapshots: every file under the store, names and bytes ---------------- */

#define SNAP_MAX 512

struct snap {
    size_t n;
    char *names[SNAP_MAX];
    uint8_t *data[SNAP_MAX];
    size_t lens[SNAP_MAX];
};

static void snap_walk(struct snap *sn, const char *root, const char *rel)
{
    char path[4096];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    d = opendir(path);
    if (!d)
        return;
    while ((de = readdir(d)) && sn->n < SNAP_MAX) {
        char sub[4096], full[8192];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        if (lstat(full, &st) != 0)
            continue;
        size_t i = sn->n++;
        sn->names[i] = strdup(sub);
        sn->data[i] = NULL;
        sn->lens[i] = 0;
        if (S_ISDIR(st.st_mode)) {
            snap_walk(sn, root, sub);
        } else {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (io_read_file(&buf, &len, AT_FDCWD, full, 64u << 20) == 0) {
                sn->data[i] = malloc(len ? len : 1);
                memcpy(sn->data[i], buf, len);
                sn->lens[i] = len;
                alloc_free(buf);
            }
        }
    }
    closedir(d);
}

static struct snap *snap_take(const char *dir)
{
    struct snap *sn = calloc(1, sizeof(*sn));
    snap_walk(sn, dir, "");
    /* readdir order is not stable: sort by name (insertion sort, small) */
    for (size_t i = 1; i < sn->n; i++)
        for (size_t j = i; j > 0 && strcmp(sn->names[j - 1], sn->names[j]) > 0; j--) {
            char *tn = sn->names[j];
            uint8_t *td = sn->data[j];
            size_t tl = sn->lens[j];
            sn->names[j] = sn->names[j - 1];
            sn->data[j] = sn->data[j - 1];
            sn->lens[j] = sn->lens[j - 1];
            sn->names[j - 1] = tn;
            sn->data[j - 1] = td;
            sn->lens[j - 1] = tl;
        }
    return sn;
}

static void snap_free(struct snap *sn)
{
    if (!sn)
        return;
    for (size_t i = 0; i < sn->n; i++) {
        free(sn->names[i]);
        free(sn->data[i]);
    }
    free(sn);
}

/* True when a and b hold the same names and bytes; prints the first difference. */
static bool snap_same(const struct snap *a, const struct snap *b, int line)
{
    if (a->n != b->n) {
        fprintf(stderr, "  (line %d) store holds %zu entries, was %zu\n", line, b->n, a->n);
        for (size_t i = 0; i < b->n; i++)
            fprintf(stderr, "    now: %s\n", b->names[i]);
        for (size_t i = 0; i < a->n; i++)
            fprintf(stderr, "    was: %s\n", a->names[i]);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], b->names[i]) != 0 || a->lens[i] != b->lens[i] ||
            (a->lens[i] && memcmp(a->data[i], b->data[i], a->lens[i]) != 0)) {
            fprintf(stderr, "  (line %d) %s changed\n", line, a->names[i]);
            return false;
        }
    }
    return true;
}

/* ---- the store's state, as text ---------------------------------------------- */

enum { STATE_TIMES = 1, STATE_INODES = 2, STATE_ALL = 3 };

static char *state_of(const struct store *s, int what)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!s) {
        fprintf(f, "(no store)");
        fclose(f);
        return text;
    }
    for (size_t i = 0; i < store_vault_count(s); i++) {
        const struct store_vault *v = store_vault_at(s, i);
        fprintf(f, "vault dir=%s ecdsa=%s current=%" PRIu64 " latest=%" PRIu64, v->dir_name,
                v->public_key_ecdsa, v->current ? v->current->number : 0,
                v->latest ? v->latest->number : 0);
        if (what & STATE_INODES)
            fprintf(f, " ino=%llu,%llu,%llu", (unsigned long long)v->ino_dir,
                    (unsigned long long)v->ino_history, (unsigned long long)v->ino_json);
        if (what & STATE_TIMES)
            fprintf(f, " changed=%lld.%09d", (long long)v->changed_sec, (int)v->changed_nsec);
        fprintf(f, " hint=%s\n", v->dir_hint ? v->dir_hint : "(none)");
        for (size_t j = 0; j < v->epoch_count; j++) {
            const struct store_epoch *e = &v->epochs[j];
            const struct store_facts *x = &e->facts;
            fprintf(f,
                    "  epoch %" PRIu64 " current=%d name=%s device=%s prefix=%s ecdsa=%s eddsa=%s "
                    "signers=%s(%zu) lib=%s created=%s chain=%s shares=%zu",
                    e->number, e->current, x->name, x->device, x->reshare_prefix,
                    x->public_key_ecdsa, x->public_key_eddsa, x->signers, x->signer_count,
                    x->lib_type, x->created_at, x->hex_chain_code, x->key_share_count);
            fprintf(f, " mldsa=%.16s chains=%s(%zu)", x->public_key_mldsa44, x->chains,
                    x->chain_count);
            fprintf(f, " len=%zu list=", e->vault_len);
            for (size_t k = 0; k < x->signer_count; k++)
                fprintf(f, "%s%s", k ? "|" : "", x->signer_list[k]);
            if (what & STATE_INODES) /* record names are keyed per store too */
                fprintf(f, " ino=%llu record=%s", (unsigned long long)e->ino, e->record);
            if (what & STATE_TIMES)
                fprintf(f, " imported=%lld.%09d", (long long)e->imported_sec,
                        (int)e->imported_nsec);
            fprintf(f, "\n");
        }
    }
    if (what & STATE_TIMES) {
        int64_t sec;
        int32_t nsec;
        store_latest_change(s, &sec, &nsec);
        fprintf(f, "latest change=%lld.%09d\n", (long long)sec, (int)nsec);
    }
    fclose(f);
    return text;
}

static void check_fsck_clean(struct store *s, bool allow_orphans, int line)
{
    struct store_fsck_report rep;
    int ret = store_fsck(s, &rep, NULL, NULL);
    CHECK(rep.records_bad == 0 && rep.records_missing == 0);
    if (rep.records_bad || rep.records_missing || ret != 0)
        fprintf(stderr, "  (line %d) fsck: ret %d, ok %zu bad %zu missing %zu orphaned %zu\n",
                line, ret, rep.records_ok, rep.records_bad, rep.records_missing,
                rep.records_orphaned);
    /* unreferenced records are findings (fsck fails), allowed only where
     * an interrupted change may leave them */
    if (allow_orphans && rep.records_orphaned)
        CHECK_EQ_INT(ret, -EIO);
    else
        CHECK_EQ_INT(ret, 0);
    if (!allow_orphans)
        CHECK_EQ_INT(rep.records_orphaned, 0);
}

/* ---- files to import ------------------------------------------------------------ */

struct blob {
    uint8_t *bytes; /* malloc */
    size_t len;
};

static struct blob blob_copy(const void *p, size_t len)
{
    struct blob b = {malloc(len ? len : 1), len};
    memcpy(b.bytes, p, len);
    return b;
}

static struct blob synth(const struct synth_spec *spec)
{
    size_t len = 0;
    char *text = synth_file(spec, &len);
    struct blob b = {NULL, 0};
    CHECK(text != NULL);
    if (text) {
        b = blob_copy(text, len);
        alloc_free(text);
    }
    return b;
}

static struct blob read_fixture(const char *dir, const char *name)
{
    char path[1024];
    uint8_t *bytes = NULL;
    size_t len = 0;
    struct blob b = {NULL, 0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int ret = io_read_file(&bytes, &len, AT_FDCWD, path, VULT_MAX_FILE_BYTES);
    CHECK_EQ_INT(ret, 0);
    if (ret == 0) {
        b = blob_copy(bytes, len);
        alloc_free(bytes);
    } else {
        fprintf(stderr, "  fixture %s: %d\n", name, ret);
    }
    return b;
}

/* The Vault bytes inside a file (decoded with password when given). */
static struct blob vault_bytes_of(struct blob file, const char *password,
                                  struct backup_keycache *cache)
{
    struct vult_file decoded;
    struct vult_password pw = {password, password ? strlen(password) : 0};
    struct blob b = {NULL, 0};
    int ret = vult_decode(&decoded, file.bytes, file.len, &pw, password ? 1 : 0, cache);
    CHECK_EQ_INT(ret, 0);
    if (ret == 0) {
        b = blob_copy(decoded.vault_bytes, decoded.vault_len);
        vult_file_clear(&decoded);
    }
    return b;
}

/* How to make a synthetic variant of a real share. */
struct edit {
    const char *prefix;      /* new reshare_prefix */
    const char *signers[8];  /* new committee (NULL-terminated) */
    const char *device;      /* another local_party_id */
    bool flip_keyshare_byte; /* one byte of the first key share changed */
    /* a reshare renews every key share: new FAKE ones, in the right shape
     * for the lib_type, made from this text (and flip_keyshare_byte then
     * changes the first one's text) */
    const char *renew;
    bool drop_eddsa_share;   /* incomplete */
};

static struct blob derive(const char *fx, const char *name, const char *password,
                          const struct edit *ed)
{
    struct blob file = read_fixture(fx, name), out = {NULL, 0};
    struct vult_file decoded;
    struct vult_password pw = {password, password ? strlen(password) : 0};
    struct vult_vault v;
    struct vult_key_share *shares = NULL;
    char *flipped = NULL;
    uint8_t *bytes = NULL;
    size_t bytes_len = 0;

    if (!file.bytes)
        return out;
    if (vult_decode(&decoded, file.bytes, file.len, &pw, password ? 1 : 0, NULL) != 0) {
        CHECK(0);
        free(file.bytes);
        return out;
    }
    /* the parse's arrays are the decoded file's: edits go to our own */
    v = decoded.vault;
    v.arrays = NULL;
    v.share_order = NULL;
    struct vult_str signers[8];
    shares = malloc((v.key_share_count + 1) * sizeof(*shares));
    memcpy(shares, v.key_shares, v.key_share_count * sizeof(*shares));
    v.key_shares = shares;
    if (ed->prefix)
        v.reshare_prefix = (struct vult_str){ed->prefix, strlen(ed->prefix)};
    if (ed->signers[0]) {
        v.signer_count = 0;
        v.signers = signers;
        for (size_t i = 0; i < 8 && ed->signers[i]; i++)
            signers[v.signer_count++] = (struct vult_str){ed->signers[i], strlen(ed->signers[i])};
    }
    if (ed->device)
        v.local_party_id = (struct vult_str){ed->device, strlen(ed->device)};
    if (ed->renew) {
        static char renewed[64][400];
        for (size_t i = 0; i < v.key_share_count; i++) {
            char text[200];
            snprintf(text, sizeof(text), "%s %zu%s", ed->renew, i,
                     ed->flip_keyshare_byte && i == 0 ? " flipped" : "");
            int n = synth_fake_share(renewed[i], sizeof(renewed[i]), (unsigned)v.lib_type, text);
            CHECK(n > 0);
            v.key_shares[i].keyshare = (struct vult_str){renewed[i], n > 0 ? (size_t)n : 0};
        }
    } else if (ed->flip_keyshare_byte) {
        struct vult_str ks = v.key_shares[0].keyshare;
        flipped = malloc(ks.len);
        memcpy(flipped, ks.ptr, ks.len);
        flipped[ks.len / 2] ^= 0x01;
        v.key_shares[0].keyshare = (struct vult_str){flipped, ks.len};
    }
    if (ed->drop_eddsa_share) {
        size_t kept = 0;
        for (size_t i = 0; i < v.key_share_count; i++) {
            struct vult_str pk = v.key_shares[i].public_key;
            if (pk.len == v.public_key_eddsa.len &&
                memcmp(pk.ptr, v.public_key_eddsa.ptr, pk.len) == 0)
                continue;
            v.key_shares[kept++] = v.key_shares[i];
        }
        CHECK(kept < v.key_share_count);
        v.key_share_count = kept;
    }
    if (vult_vault_encode(&bytes, &bytes_len, &v) == 0) {
        size_t n = vult_encoded_len(bytes_len, BACKUP_CRYPTO_NONE);
        char *text = alloc_secret(n);
        if (text && vult_encode(text, n, bytes, bytes_len, BACKUP_CRYPTO_NONE, NULL, NULL,
                                NULL) == 0)
            out = blob_copy(text, n);
        alloc_secret_free(text);
        alloc_secret_free(bytes);
    }
    CHECK(out.bytes != NULL);
    free(flipped);
    free(shares);
    vult_file_clear(&decoded);
    free(file.bytes);
    return out;
}

/* ---- importing with checks ---------------------------------------------------------- */

/* Imports and checks the return value, the outcome and (when given) the
 * epoch; a refused or no-op import must leave every file as it was. */
static int expect_import(struct store *s, const char *dir, struct blob file,
                         const char *target_dir, uint32_t slot, int want_ret,
                         enum epochs_outcome want_outcome, uint32_t want_epoch, int line,
                         struct store_import_result *result_out)
{
    struct store_target target = {target_dir, slot};
    struct store_import_result r;
    bool no_change = want_ret != 0 || want_outcome == EPOCHS_UNCHANGED;
    struct snap *before = no_change ? snap_take(dir) : NULL;
    char *state_before = no_change ? state_of(s, STATE_ALL) : NULL;
    uint64_t gen_before = store_generation(s);

    memset(&r, 0xa5, sizeof(r));
    int ret = store_import(s, file.bytes, file.len, &target, &r);
    CHECK_EQ_INT(ret, want_ret);
    CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(want_outcome));
    if (want_epoch)
        CHECK_EQ_INT(r.epoch, want_epoch);
    CHECK(memchr(r.reason, '\0', sizeof(r.reason)) != NULL && r.reason[0] != '\0');
    if (ret != want_ret || r.outcome != want_outcome || (want_epoch && r.epoch != want_epoch))
        fprintf(stderr, "  (line %d) import: %d %s epoch %" PRIu64 ": %s\n", line, ret,
                epochs_outcome_name(r.outcome), r.epoch, r.reason);
    if (no_change) {
        struct snap *after = snap_take(dir);
        char *state_after = state_of(s, STATE_ALL);
        CHECK(snap_same(before, after, line));
        CHECK_EQ_STR(state_after, state_before);
        CHECK_EQ_INT(store_generation(s), gen_before);
        snap_free(after);
        free(state_after);
    } else if (ret == 0) {
        CHECK(store_generation(s) != gen_before);
    }
    snap_free(before);
    free(state_before);
    if (result_out)
        *result_out = r;
    return ret;
}

#define EXPECT(s, dir, file, tdir, slot, ret, outcome, epoch) \
    expect_import((s), (dir), (file), (tdir), (slot), (ret), (outcome), (epoch), __LINE__, NULL)

/* ---- the table, with synthetic vaults (always runs) ------------------------------------- */

static const struct synth_spec spec_a = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen1"};
/* the same generation, signers listed in another order, another device */
static const struct synth_spec spec_a_other_device = {
    .name = "Synth Vault", .device = "laptop-2", .signers = {"laptop-2", "phone-1"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen1"};
static const struct synth_spec spec_a_conflict = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen1-damaged"};
static const struct synth_spec spec_b = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2", "server-3"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen2"};
static const struct synth_spec spec_c = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "server-3"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen3"};
/* spec_a's backup after the apps added an ML-DSA key: the same shares
 * and one more */
static const struct synth_spec spec_a_mldsa = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen1", .mldsa = 1};
static const struct synth_spec spec_incomplete = {
    .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2", "tablet-4"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "gen4", .omit_eddsa_share = 1};

static char other_ecdsa[] = SYNTH_ECDSA;
static struct synth_spec spec_other = {
    .name = "Other Vault", .ecdsa = other_ecdsa, .device = "phone-1",
    .signers = {"phone-1", "laptop-2"}, .reshare_prefix = "0badc0de", .lib_type = VULT_LIB_GG20,
    .share_tag = "other"};

static void test_synthetic_table(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), a_dev = synth(&spec_a_other_device),
                a_bad = synth(&spec_a_conflict), b = synth(&spec_b), c = synth(&spec_c),
                inc = synth(&spec_incomplete), other = synth(&spec_other);
    struct store_import_result r;

    if (!s)
        return;
    expect_import(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "Synth Vault");
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_UNCHANGED, 1);
    EXPECT(s, dir, a, "Synth Vault", 0, 0, EPOCHS_UNCHANGED, 1);
    EXPECT(s, dir, a_dev, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, a_bad, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 1);
    EXPECT(s, dir, inc, NULL, 0, -EINVAL, EPOCHS_INCOMPLETE, 0);
    expect_import(s, dir, b, "Synth Vault", 0, 0, EPOCHS_NEW_EPOCH, 2, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "Synth Vault");
    EXPECT(s, dir, a, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, a_dev, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, a_bad, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, b, NULL, 0, 0, EPOCHS_UNCHANGED, 2);

    const struct store_vault *v = store_vault_by_dir(s, "Synth Vault");
    CHECK(v != NULL);
    if (v) {
        CHECK_EQ_INT(v->epoch_count, 2);
        CHECK(v->current == &v->epochs[1] && v->latest == v->current);
        CHECK(v->epochs[0].number == 1 && !v->epochs[0].current);
        CHECK(v->epochs[1].number == 2 && v->epochs[1].current);
        CHECK_EQ_STR(v->epochs[1].facts.signers, "phone-1,laptop-2,server-3");
        CHECK_EQ_INT(v->epochs[1].facts.signer_count, 3);
        CHECK_EQ_STR(v->epochs[0].facts.signers, "phone-1,laptop-2");
        CHECK_EQ_STR(v->epochs[1].facts.lib_type, "DKLS");
        CHECK_EQ_STR(v->epochs[1].facts.created_at, "2024-05-01T12:00:00Z");
        CHECK_EQ_INT(v->epochs[1].facts.key_share_count, 2);
        CHECK(v->epochs[0].ino != v->epochs[1].ino);
        CHECK(v->ino_dir != v->ino_history && v->ino_dir != v->ino_json);
    }

    /* another vault, then each one written into the other's directory */
    EXPECT(s, dir, other, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    EXPECT(s, dir, other, "Synth Vault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, c, "Other Vault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, c, "Other Vault", 3, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    /* a new directory must carry the vault's own name */
    EXPECT(s, dir, c, "Not Its Name", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);

    /* unreadable, too large */
    struct blob junk = blob_copy("hello, not a backup", 19);
    EXPECT(s, dir, junk, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    struct blob empty = {junk.bytes, 0};
    EXPECT(s, dir, empty, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    struct blob half = {c.bytes, c.len / 2};
    EXPECT(s, dir, half, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    struct blob chopped = {c.bytes, c.len - 4};
    EXPECT(s, dir, chopped, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    CHECK_EQ_INT(store_max_import(s), STORE_DEFAULT_MAX_IMPORT);
    store_set_max_import(s, c.len - 1);
    CHECK_EQ_INT(store_max_import(s), c.len - 1);
    EXPECT(s, dir, c, NULL, 0, -EFBIG, EPOCHS_TOO_LARGE, 0);
    store_set_max_import(s, c.len);
    EXPECT(s, dir, c, NULL, 0, 0, EPOCHS_NEW_EPOCH, 3);
    store_set_max_import(s, STORE_DEFAULT_MAX_IMPORT);
    {
        /* over the 1 MiB default */
        struct blob big = {calloc(1, STORE_DEFAULT_MAX_IMPORT + 1), STORE_DEFAULT_MAX_IMPORT + 1};
        memset(big.bytes, 'A', big.len);
        EXPECT(s, dir, big, NULL, 0, -EFBIG, EPOCHS_TOO_LARGE, 0);
        free(big.bytes);
    }

    /* persisted */
    char *st = state_of(s, STATE_ALL);
    s = reopen(s, dir);
    char *st2 = state_of(s, STATE_ALL);
    CHECK_EQ_STR(st2, st);
    check_fsck_clean(s, false, __LINE__);
    free(st);
    free(st2);

    free(junk.bytes);
    free(a.bytes);
    free(a_dev.bytes);
    free(a_bad.bytes);
    free(b.bytes);
    free(c.bytes);
    free(inc.bytes);
    free(other.bytes);
    store_close(s);
    rm_rf(dir);
}

/* DESIGN's "one device's line" and "no reused key shares" rows (issue 7,
 * items 1 and 2), and lib_type in the generation, with synthetic vaults. */
static void test_synthetic_device_line(void)
{
    /* laptop-2's share of a "new generation" that still lists phone-1 */
    static const struct synth_spec other_device_new = {
        .name = "Synth Vault", .device = "laptop-2", .signers = {"phone-1", "laptop-2", "x"},
        .lib_type = VULT_LIB_DKLS, .share_tag = "gen2"};
    /* phone-1's key shares of epoch 1 under an edited signer list */
    static const struct synth_spec altered_signers = {
        .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-3"},
        .lib_type = VULT_LIB_DKLS, .share_tag = "gen1"};
    /* phone-1 left the vault: its successor's share is this location's */
    static const struct synth_spec successor = {
        .name = "Synth Vault", .device = "laptop-2", .signers = {"laptop-2", "server-3"},
        .lib_type = VULT_LIB_DKLS, .share_tag = "gen2"};
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), other = synth(&other_device_new),
                altered = synth(&altered_signers), next = synth(&successor);

    if (!s)
        return;
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    /* both devices' key shares would sit in this store */
    EXPECT(s, dir, other, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, other, "Synth Vault", 0, -EPERM, EPOCHS_COLOCATION, 1);
    /* the altered file takes nothing over; the good one is still current */
    EXPECT(s, dir, altered, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 1);
    EXPECT(s, dir, altered, "Synth Vault", 2, -EEXIST, EPOCHS_CONFLICT, 2);
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_UNCHANGED, 1);
    /* the same after reopening: the rules' facts come from the index */
    s = reopen(s, dir);
    if (!s)
        goto out;
    EXPECT(s, dir, other, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, altered, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 1);
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_UNCHANGED, 1);
    EXPECT(s, dir, next, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    EXPECT(s, dir, a, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    check_fsck_clean(s, false, __LINE__);
out:
    free(a.bytes);
    free(other.bytes);
    free(altered.bytes);
    free(next.bytes);
    store_close(s);
    rm_rf(dir);
}

static void test_synthetic_migration(void)
{
    static const struct synth_spec gg20 = {
        .name = "Migrating", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
        .lib_type = VULT_LIB_GG20, .share_tag = "gg20"};
    static const struct synth_spec dkls = {
        .name = "Migrating", .device = "phone-1", .signers = {"laptop-2", "phone-1"},
        .lib_type = VULT_LIB_DKLS, .share_tag = "dkls"};
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob old = synth(&gg20), migrated = synth(&dkls);

    if (!s)
        return;
    EXPECT(s, dir, old, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    /* the same signers and prefix: a new generation all the same */
    EXPECT(s, dir, migrated, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    EXPECT(s, dir, old, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    s = reopen(s, dir);
    const struct store_vault *v = s ? store_vault_by_dir(s, "Migrating") : NULL;
    CHECK(v && v->epoch_count == 2);
    if (v && v->epoch_count == 2) {
        CHECK_EQ_STR(v->epochs[0].facts.lib_type, "GG20");
        CHECK_EQ_STR(v->epochs[1].facts.lib_type, "DKLS");
    }
    if (s) {
        EXPECT(s, dir, migrated, NULL, 0, 0, EPOCHS_UNCHANGED, 2);
        EXPECT(s, dir, old, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
        check_fsck_clean(s, false, __LINE__);
    }
    free(old.bytes);
    free(migrated.bytes);
    store_close(s);
    rm_rf(dir);
}

/* ---- damaged records, older indexes ----------------------------------------------------- */

/* The index's object of the vault under ecdsa (a reference), or NULL. */
static json_t *held_vault(const struct store *s, const char *ecdsa)
{
    json_t *vault = NULL;
    CHECK_EQ_INT(index_vault_get(s, ecdsa, &vault), 0);
    return vault;
}

/* The file of epoch `number`'s share record. */
static void record_path(char *out, size_t size, const struct store *s, const char *dir,
                        const char *ecdsa, uint64_t number)
{
    json_t *vault = NULL;
    CHECK_EQ_INT(index_vault_get(s, ecdsa, &vault), 0);
    const json_t *e = index_find_epoch(vault, number);
    CHECK(e != NULL);
    snprintf(out, size, "%s/shares/%s.rec", dir, jsonx_str(e, "record"));
    json_decref(vault);
}

/* Flips one byte in the middle of a record, as a bad disk would. */
static void damage_record(const struct store *s, const char *dir, const char *ecdsa,
                          uint64_t number)
{
    char path[4096];
    struct stat st;
    FILE *f;
    int c;

    record_path(path, sizeof(path), s, dir, ecdsa, number);
    f = stat(path, &st) == 0 ? fopen(path, "r+b") : NULL;
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fseek(f, st.st_size / 2, SEEK_SET) == 0 && (c = fgetc(f)) != EOF);
    CHECK(fseek(f, st.st_size / 2, SEEK_SET) == 0 && fputc(c ^ 0x01, f) != EOF);
    CHECK(fclose(f) == 0);
}

static size_t fsck_bad(struct store *s)
{
    struct store_fsck_report rep;
    int ret = store_fsck(s, &rep, NULL, NULL);
    CHECK(ret == 0 || ret == -EIO);
    return rep.records_bad + rep.records_missing + rep.records_orphaned;
}

static size_t count_records(const char *dir)
{
    char path[4096];
    struct dirent *de;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/shares", dir);
    DIR *d = opendir(path);
    while (d && (de = readdir(d)))
        n += strstr(de->d_name, ".rec") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* The same share in other bytes: its vault renamed. */
static struct blob renamed_copy(struct blob file, const char *name)
{
    struct blob bytes = vault_bytes_of(file, NULL, NULL), out = {NULL, 0};
    struct vult_vault v;
    uint8_t *enc = NULL;
    size_t enc_len = 0;

    if (!bytes.bytes || vult_vault_parse(&v, NULL, bytes.bytes, bytes.len) != 0) {
        CHECK(0);
        free(bytes.bytes);
        return out;
    }
    v.name = (struct vult_str){name, strlen(name)};
    if (vult_vault_encode(&enc, &enc_len, &v) == 0) {
        size_t n = vult_encoded_len(enc_len, BACKUP_CRYPTO_NONE);
        char *text = malloc(n);
        if (vult_encode(text, n, enc, enc_len, BACKUP_CRYPTO_NONE, NULL, NULL, NULL) == 0)
            out = (struct blob){(uint8_t *)text, n};
        else
            free(text);
        alloc_secret_free(enc);
    }
    CHECK(out.bytes != NULL);
    vult_vault_clear(&v);
    free(bytes.bytes);
    return out;
}

/* The apps add an ML-DSA key to a vault with no reshare: its backup grows
 * by one key share. The fuller file replaces the epoch's file in place
 * (same epoch, its facts updated); the lesser file stays in the store,
 * listed as a replaced file (no import removes a share record). The older
 * file is then refused as out of date, and a new generation follows as
 * usual. DESIGN's import table. */
static void test_grown_backup_in_store(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), grown = synth(&spec_a_mldsa), b = synth(&spec_b);
    struct store_import_result r;

    if (!s)
        return;
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    const struct store_vault *v = store_vault_at(s, 0);
    CHECK(v && v->current && !*v->current->facts.public_key_mldsa44);
    char *before = state_of(s, STATE_INODES);
    expect_import(s, dir, grown, NULL, 0, 0, EPOCHS_GREW, 1, __LINE__, &r);
    CHECK(strstr(r.reason, "ML-DSA") != NULL);
    char *after = state_of(s, STATE_INODES);
    CHECK(strcmp(before, after) != 0);
    v = store_vault_at(s, 0);
    CHECK(v && v->epoch_count == 1 && v->current && v->current->number == 1);
    CHECK(v && v->current && v->current->facts.key_share_count == 3);
    CHECK(v && v->current && strcmp(v->current->facts.public_key_mldsa44, synth_mldsa_key()) == 0);
    CHECK_EQ_INT(count_records(dir), 2); /* the lesser file kept, not removed */
    CHECK(v && v->current && v->current->replaced_count == 1);
    check_fsck_clean(s, false, __LINE__);

    /* the older file: out of date, refused, nothing changes */
    expect_import(s, dir, a, NULL, 0, -EEXIST, EPOCHS_OUTGROWN, 1, __LINE__, &r);
    CHECK(strstr(r.reason, "newer backup of epoch 1") != NULL);
    /* the fuller one again: unchanged */
    EXPECT(s, dir, grown, NULL, 0, 0, EPOCHS_UNCHANGED, 1);
    /* reopened: the same */
    s = reopen(s, dir);
    char *again = s ? state_of(s, STATE_INODES) : NULL;
    CHECK_EQ_STR(again, after);
    free(again);
    /* a reshare still moves the grown epoch to history as usual */
    if (s)
        EXPECT(s, dir, b, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    if (s)
        EXPECT(s, dir, a, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    if (s)
        check_fsck_clean(s, false, __LINE__);
    free(before);
    free(after);
    free(a.bytes);
    free(grown.bytes);
    free(b.bytes);
    store_close(s);
    rm_rf(dir);
}

/* An epoch stored by a build that kept none of the 2026 facts (here: the
 * ML-DSA key taken out of its stored facts) shows them once the same file
 * is imported again; nothing else changes. */
static void test_old_facts_refreshed(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob grown = synth(&spec_a_mldsa);
    struct store_import_result r;
    size_t i, j;
    json_t *v, *e, *index = NULL;

    if (!s)
        return;
    EXPECT(s, dir, grown, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    CHECK_EQ_INT(index_whole(s, &index), 0);
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e)
            CHECK_EQ_INT(json_object_del(json_object_get(e, "facts"), "public_key_mldsa44"), 0);
    CHECK_EQ_INT(index_write_all(s, index), 0);
    json_decref(index);
    s = reopen(s, dir);
    const struct store_vault *sv = s ? store_vault_at(s, 0) : NULL;
    CHECK(sv && sv->current && !*sv->current->facts.public_key_mldsa44);
    if (s)
        CHECK_EQ_INT(store_import(s, grown.bytes, grown.len, NULL, &r), 0);
    CHECK_EQ_INT(r.outcome, EPOCHS_UNCHANGED);
    sv = s ? store_vault_at(s, 0) : NULL;
    CHECK(sv && sv->current && strcmp(sv->current->facts.public_key_mldsa44, synth_mldsa_key()) == 0);
    s = reopen(s, dir);
    sv = s ? store_vault_at(s, 0) : NULL;
    CHECK(sv && sv->current && strcmp(sv->current->facts.public_key_mldsa44, synth_mldsa_key()) == 0);
    if (s)
        check_fsck_clean(s, false, __LINE__);
    free(grown.bytes);
    store_close(s);
    rm_rf(dir);
}

/* Importing the same share while its record is damaged or missing: the
 * record is rewritten from the file (DESIGN; issue 7, item 10). */
static void test_repair_by_reimport(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), b = synth(&spec_b), b_renamed = renamed_copy(b, "Renamed");
    struct store_import_result r;
    const uint8_t *data;
    size_t len;

    if (!s)
        return;
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    EXPECT(s, dir, b, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    CHECK_EQ_INT(store_set_export(s, NULL, 0, BACKUP_CRYPTO_NONE), 0);
    damage_record(s, dir, SYNTH_ECDSA, 1);
    damage_record(s, dir, SYNTH_ECDSA, 2);
    s = reopen(s, dir); /* no export cached */
    if (!s)
        goto out;
    CHECK_EQ_INT(store_set_export(s, NULL, 0, BACKUP_CRYPTO_NONE), 0);
    CHECK_EQ_INT(fsck_bad(s), 2);
    const struct store_vault *v = store_vault_by_dir(s, "Synth Vault");
    int ret = v ? store_export(&data, &len, s, v, 2) : -1;
    CHECK(ret == -EIO || ret == -EBADMSG);

    /* the current share, then the history one at its slot */
    CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
    CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(EPOCHS_UNCHANGED));
    CHECK(strstr(r.reason, "rewritten") != NULL);
    CHECK_EQ_INT(fsck_bad(s), 1);
    CHECK_EQ_INT(store_import(s, a.bytes, a.len, &(struct store_target){"Synth Vault", 1}, &r), 0);
    CHECK(strstr(r.reason, "rewritten") != NULL);
    CHECK_EQ_INT(fsck_bad(s), 0);
    check_fsck_clean(s, false, __LINE__);
    v = store_vault_by_dir(s, "Synth Vault");
    CHECK_EQ_INT(v ? store_export(&data, &len, s, v, 2) : -1, 0);
    CHECK(len == b.len && memcmp(data, b.bytes, len) == 0);
    CHECK_EQ_INT(v ? store_export(&data, &len, s, v, 1) : -1, 0);
    CHECK(len == a.len && memcmp(data, a.bytes, len) == 0);
    /* intact now: the same share again changes nothing */
    struct store_import_result again;
    expect_import(s, dir, b, NULL, 0, 0, EPOCHS_UNCHANGED, 2, __LINE__, &again);
    CHECK(strstr(again.reason, "rewritten") == NULL);

    /* a missing record is rewritten too */
    char path[4096];
    record_path(path, sizeof(path), s, dir, SYNTH_ECDSA, 2);
    CHECK(unlink(path) == 0);
    CHECK_EQ_INT(fsck_bad(s), 1);
    CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
    CHECK(strstr(r.reason, "rewritten") != NULL);
    check_fsck_clean(s, false, __LINE__);

    /* the same share in other bytes: its own record replaces the damaged one */
    damage_record(s, dir, SYNTH_ECDSA, 2);
    CHECK_EQ_INT(store_import(s, b_renamed.bytes, b_renamed.len, NULL, &r), 0);
    CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(EPOCHS_UNCHANGED));
    CHECK(strstr(r.reason, "rewritten") != NULL);
    check_fsck_clean(s, false, __LINE__);
    CHECK_EQ_INT(count_records(dir), 2);
    s = reopen(s, dir);
    /* (store_set_export rebuilds the views: look the vault up after it) */
    CHECK(s && store_set_export(s, NULL, 0, BACKUP_CRYPTO_NONE) == 0);
    v = s ? store_vault_by_dir(s, "Renamed") : NULL;
    CHECK(v && v->current && v->current->number == 2);
    if (s && v) {
        CHECK_EQ_INT(store_export(&data, &len, s, v, 2), 0);
        CHECK(len == b_renamed.len && memcmp(data, b_renamed.bytes, len) == 0);
        check_fsck_clean(s, false, __LINE__);
    }
out:
    free(a.bytes);
    free(b.bytes);
    free(b_renamed.bytes);
    store_close(s);
    rm_rf(dir);
}

/* Removes every epoch's key digests, as an index written before they
 * were stored, and reopens: all of them (before key_shares was kept), or
 * only the two that came with the 2026 layouts. */
static struct store *index_without(struct store *s, const char *dir, bool only_keys)
{
    size_t i, j;
    json_t *v, *e, *index = NULL;
    CHECK_EQ_INT(index_whole(s, &index), 0);
    json_array_foreach(json_object_get(index, "vaults"), i, v)
        json_array_foreach(json_object_get(v, "epochs"), j, e) {
            if (!only_keys)
                CHECK_EQ_INT(json_object_del(e, "key_shares"), 0);
            CHECK_EQ_INT(json_object_del(e, "key_share_keys"), 0);
            CHECK_EQ_INT(json_object_del(e, "declared_keys"), 0);
        }
    CHECK_EQ_INT(index_write_all(s, index), 0);
    json_decref(index);
    return reopen(s, dir);
}

static struct store *as_older_index(struct store *s, const char *dir)
{
    return index_without(s, dir, false);
}

static size_t stored_key_shares(const struct store *s, uint64_t number)
{
    json_t *vault = NULL;
    CHECK_EQ_INT(index_vault_get(s, SYNTH_ECDSA, &vault), 0);
    const json_t *e = index_find_epoch(vault, number);
    size_t n = json_array_size(json_object_get(e, "key_shares"));
    json_decref(vault);
    return n;
}

/* Epochs imported before key-share digests were kept: they are read from
 * the records when the vault is next imported into; an unreadable record
 * refuses the change instead of guessing. */
static void test_index_without_key_shares(void)
{
    static const struct synth_spec altered_signers = {
        .name = "Synth Vault", .device = "phone-1", .signers = {"phone-1", "laptop-3"},
        .lib_type = VULT_LIB_DKLS, .share_tag = "gen1"};
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), b = synth(&spec_b), c = synth(&spec_c),
                altered = synth(&altered_signers);
    struct store_import_result r;

    if (!s)
        return;
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    CHECK_EQ_INT(stored_key_shares(s, 1), 2);
    s = as_older_index(s, dir);
    if (!s)
        goto out;
    CHECK_EQ_INT(stored_key_shares(s, 1), 0);
    EXPECT(s, dir, altered, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 1);
    EXPECT(s, dir, b, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    /* read once, kept from then on */
    CHECK_EQ_INT(stored_key_shares(s, 1), 2);
    CHECK_EQ_INT(stored_key_shares(s, 2), 2);

    s = as_older_index(s, dir);
    if (!s)
        goto out;
    damage_record(s, dir, SYNTH_ECDSA, 2);
    expect_import(s, dir, c, NULL, 0, -EIO, EPOCHS_FAILED, 0, __LINE__, &r);
    CHECK(strstr(r.reason, "epoch 2") != NULL && strstr(r.reason, "run vultfs fsck") != NULL);
    /* a refusal stands on what it found; the repair brings them back */
    EXPECT(s, dir, a, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, altered, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 2);
    CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
    CHECK(strstr(r.reason, "rewritten") != NULL);
    EXPECT(s, dir, c, NULL, 0, 0, EPOCHS_NEW_EPOCH, 3);
    CHECK_EQ_INT(stored_key_shares(s, 2), 2);
    check_fsck_clean(s, false, __LINE__);
out:
    free(a.bytes);
    free(b.bytes);
    free(c.bytes);
    free(altered.bytes);
    store_close(s);
    rm_rf(dir);
}

/* history/epoch-N.vult: restored in every order, the tree ends the same. */
static void test_synthetic_restore_orders(void)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    struct blob files[3] = {synth(&spec_a), synth(&spec_b), synth(&spec_c)};
    const uint32_t slots[3] = {1, 2, 0};
    char *reference = NULL;

    for (int o = 0; o < 6; o++) {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        if (!s)
            return;
        for (int k = 0; k < 3; k++) {
            int f = orders[o][k];
            struct store_import_result r;
            int ret = expect_import(s, dir, files[f], k ? "Synth Vault" : NULL, slots[f], 0,
                                    slots[f] ? EPOCHS_HISTORY_INSERT
                                             : (k ? EPOCHS_NEW_EPOCH : EPOCHS_NEW_VAULT),
                                    0, __LINE__, &r);
            if (ret != 0)
                fprintf(stderr, "  order %d, step %d\n", o, k);
            if (slots[f])
                CHECK_EQ_INT(r.epoch, slots[f]);
        }
        const struct store_vault *v = store_vault_by_dir(s, "Synth Vault");
        CHECK(v && v->epoch_count == 3);
        if (v && v->epoch_count == 3) {
            CHECK(v->epochs[0].number == 1 && !v->epochs[0].current);
            CHECK(v->epochs[1].number == 2 && !v->epochs[1].current);
            CHECK(v->epochs[2].number == 3 && v->epochs[2].current);
            CHECK_EQ_STR(v->epochs[0].facts.signers, "phone-1,laptop-2");
            CHECK_EQ_STR(v->epochs[2].facts.signers, "phone-1,server-3");
            CHECK(v->current == &v->epochs[2]);
        }
        /* the restore again: every file is a no-op */
        for (int f = 0; f < 3; f++)
            EXPECT(s, dir, files[f], "Synth Vault", slots[f], 0, EPOCHS_UNCHANGED, f + 1u);
        /* vault.json is the same whatever the order */
        char *json = NULL;
        size_t json_len = 0;
        CHECK_EQ_INT(store_vault_json(&json, &json_len, s, v), 0);
        CHECK_EQ_INT(v->json_size, json_len);
        if (json) {
            if (!reference)
                reference = strdup(json);
            else
                CHECK_EQ_STR(json, reference);
            alloc_free(json);
        }
        check_fsck_clean(s, false, __LINE__);
        store_close(s);
        rm_rf(dir);
    }
    free(reference);
    for (int f = 0; f < 3; f++)
        free(files[f].bytes);
}

/* ---- the table, with real app exports --------------------------------------------- */

static void test_fixture_colocation(const char *fx)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob s1 = read_fixture(fx, "qa-secure-share1of3.vult"),
                s2 = read_fixture(fx, "qa-secure-share2of3.vult"),
                s3 = read_fixture(fx, "qa-secure-share3of3.vult");
    struct store_import_result r;

    if (!s || !s1.bytes || !s2.bytes || !s3.bytes)
        goto out;
    expect_import(s, dir, s1, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "QA Secure Vault 01");
    EXPECT(s, dir, s2, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, s3, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, s2, "QA Secure Vault 01", 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, s1, "QA Secure Vault 01", 0, 0, EPOCHS_UNCHANGED, 1);
    const struct store_vault *v = store_vault_at(s, 0);
    CHECK_EQ_INT(store_vault_count(s), 1);
    if (v && v->current) {
        CHECK_EQ_STR(v->current->facts.device, "windows-227");
        CHECK_EQ_STR(v->current->facts.lib_type, "DKLS");
        CHECK_EQ_INT(v->current->facts.signer_count, 3);
        CHECK_EQ_STR(v->current->facts.reshare_prefix, "");
    }

    /* the Android and the macOS .bak of one GG20 vault, both encrypted */
    struct blob android = read_fixture(fx, "test_android_vault_backup.bak"),
                ios = read_fixture(fx, "test_ios_vault_backup.bak");
    EXPECT(s, dir, android, NULL, 0, -EACCES, EPOCHS_WRONG_PASSWORD, 0);
    CHECK_EQ_INT(store_add_import_password(s, "android_test_pwd", 16), 0);
    CHECK_EQ_INT(store_add_import_password(s, "ios_test_pwd", 12), 0);
    expect_import(s, dir, android, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "TestVault");
    EXPECT(s, dir, ios, NULL, 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, ios, "TestVault", 0, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, android, "TestVault", 0, 0, EPOCHS_UNCHANGED, 1);
    v = store_vault_by_dir(s, "TestVault");
    if (v && v->current) {
        CHECK_EQ_STR(v->current->facts.device, "PCT-L29-919");
        CHECK_EQ_STR(v->current->facts.lib_type, "GG20");
        CHECK_EQ_INT(v->current->facts.key_share_count, 3);
    }
    /* written into the other vault's directory */
    EXPECT(s, dir, s1, "TestVault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, android, "QA Secure Vault 01", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, ios, "QA Secure Vault 01", 1, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    check_fsck_clean(s, false, __LINE__);
    free(android.bytes);
    free(ios.bytes);
out:
    free(s1.bytes);
    free(s2.bytes);
    free(s3.bytes);
    store_close(s);
    rm_rf(dir);
}

/* GG20 reshares (reshare_prefix changes): honeypot.bak and Test-part1of2. */
static void test_fixture_reshares(const char *fx)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob hp = read_fixture(fx, "honeypot.bak");
    struct blob hp2 = derive(fx, "honeypot.bak", NULL,
                                 &(struct edit){.prefix = "0badc0de", .renew = "hp2"});
    struct blob hp2_flip = derive(fx, "honeypot.bak", NULL,
                                  &(struct edit){.prefix = "0badc0de", .renew = "hp2",
                                                 .flip_keyshare_byte = true});
    struct blob hp_flip = derive(fx, "honeypot.bak", NULL, &(struct edit){.flip_keyshare_byte = true});
    struct blob hp2_dev = derive(fx, "honeypot.bak", NULL,
                                 &(struct edit){.prefix = "0badc0de", .device = "iPhone-0000",
                                                .renew = "hp2 other device"});
    struct blob hp3_inc = derive(fx, "honeypot.bak", NULL,
                                 &(struct edit){.prefix = "feedf00d", .renew = "hp3",
                                                .drop_eddsa_share = true});
    struct blob t1 = read_fixture(fx, "Test-part1of2.vult"),
                t2 = read_fixture(fx, "Test-part2of2.vult");
    struct blob t1r = derive(fx, "Test-part1of2.vult", NULL,
                             &(struct edit){.prefix = "12345678", .renew = "t1r"});
    struct blob enc = read_fixture(fx, "TestFastVault-44fd-share1of2-Vultiserver.vult");
    struct store_import_result r;

    if (!s || !hp.bytes || !hp2.bytes || !t1.bytes || !t2.bytes || !enc.bytes)
        goto out;
    expect_import(s, dir, hp, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "JP Honeypot Vault");
    /* same generation and device, one key-share byte changed */
    EXPECT(s, dir, hp_flip, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 1);
    /* the reshare: epoch 2, epoch 1 to history */
    expect_import(s, dir, hp2, "JP Honeypot Vault", 0, 0, EPOCHS_NEW_EPOCH, 2, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "JP Honeypot Vault");
    const struct store_vault *v = store_vault_at(s, 0);
    CHECK(v != NULL && v->epoch_count == 2);
    if (v && v->epoch_count == 2) {
        CHECK_EQ_INT(v->epochs[0].number, 1);
        CHECK(!v->epochs[0].current);
        CHECK_EQ_INT(v->epochs[1].number, 2);
        CHECK(v->epochs[1].current);
        CHECK(v->current == &v->epochs[1]);
        CHECK_EQ_STR(v->epochs[0].facts.reshare_prefix, "2c5e9ced");
        CHECK_EQ_STR(v->epochs[1].facts.reshare_prefix, "0badc0de");
        CHECK_EQ_STR(v->epochs[1].facts.device, "iPad-D3842FFB838E");
        CHECK_EQ_STR(v->epochs[1].facts.lib_type, "GG20");
        CHECK_EQ_STR(v->public_key_ecdsa, v->epochs[1].facts.public_key_ecdsa);
    }
    /* the old share again: stale, also the damaged one */
    EXPECT(s, dir, hp, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, hp, "JP Honeypot Vault", 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, hp_flip, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    /* a changed key-share byte of the current epoch: conflict */
    EXPECT(s, dir, hp2_flip, NULL, 0, -EEXIST, EPOCHS_CONFLICT, 2);
    /* another device of the new generation: co-location */
    EXPECT(s, dir, hp2_dev, NULL, 0, -EPERM, EPOCHS_COLOCATION, 2);
    /* an incomplete share of a new generation */
    EXPECT(s, dir, hp3_inc, NULL, 0, -EINVAL, EPOCHS_INCOMPLETE, 0);
    EXPECT(s, dir, hp2, NULL, 0, 0, EPOCHS_UNCHANGED, 2);

    /* Test-part1of2 reshared; then the other device's old share is stale */
    EXPECT(s, dir, t1, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    EXPECT(s, dir, t1r, NULL, 0, 0, EPOCHS_NEW_EPOCH, 2);
    EXPECT(s, dir, t2, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, t1, NULL, 0, -EEXIST, EPOCHS_STALE, 1);
    /* into the honeypot's directory */
    EXPECT(s, dir, t1r, "JP Honeypot Vault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, hp2, "Test private key vault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);

    /* garbage and truncation of a real file */
    struct blob half = {hp.bytes, hp.len / 2};
    EXPECT(s, dir, half, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    struct blob less = {hp.bytes, hp.len - 1};
    EXPECT(s, dir, less, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    hp.bytes[hp.len / 3] = '*';
    EXPECT(s, dir, hp, NULL, 0, -EINVAL, EPOCHS_UNREADABLE, 0);
    /* encrypted with a password the store does not know */
    EXPECT(s, dir, enc, NULL, 0, -EACCES, EPOCHS_WRONG_PASSWORD, 0);
    struct blob enc_half = {enc.bytes, enc.len / 2};
    CHECK(store_import(s, enc_half.bytes, enc_half.len, NULL, &r) < 0);
    /* over a small import cap */
    store_set_max_import(s, 4096);
    EXPECT(s, dir, t1, NULL, 0, -EFBIG, EPOCHS_TOO_LARGE, 0);
    EXPECT(s, dir, enc, NULL, 0, -EFBIG, EPOCHS_TOO_LARGE, 0);
    store_set_max_import(s, STORE_DEFAULT_MAX_IMPORT);
    /* now it knows the password */
    CHECK_EQ_INT(store_add_import_password(s, "Password123!", 12), 0);
    EXPECT(s, dir, enc, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    check_fsck_clean(s, false, __LINE__);

out:
    free(hp.bytes);
    free(hp2.bytes);
    free(hp2_flip.bytes);
    free(hp_flip.bytes);
    free(hp2_dev.bytes);
    free(hp3_inc.bytes);
    free(t1.bytes);
    free(t2.bytes);
    free(t1r.bytes);
    free(enc.bytes);
    store_close(s);
    rm_rf(dir);
}

/* DKLS reshares (signers change) and history/epoch-N. */
static void test_fixture_history(const char *fx)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    const char *d = "vulticli01";
    struct blob gen_a = read_fixture(fx, "qa-fast-share1of2.vult");
    struct blob gen_b = derive(fx, "qa-fast-share1of2.vult", NULL,
                               &(struct edit){.signers = {"iPhone-CBC", "Server-97859", "Mac-1"},
                                              .renew = "gen b"});
    struct blob gen_c = derive(fx, "qa-fast-share1of2.vult", NULL,
                               &(struct edit){.signers = {"iPhone-CBC", "Mac-1"},
                                              .renew = "gen c"});
    struct blob gen_d = derive(fx, "qa-fast-share1of2.vult", NULL,
                               &(struct edit){.signers = {"iPhone-CBC", "Mac-1", "Pixel-2"},
                                              .renew = "gen d"});
    struct blob gen_e = derive(fx, "qa-fast-share1of2.vult", NULL,
                               &(struct edit){.signers = {"iPhone-CBC", "Pixel-2"},
                                              .renew = "gen e"});
    /* gen A's signers, reordered: the same generation */
    struct blob gen_a_reordered = derive(
        fx, "qa-fast-share1of2.vult", NULL,
        &(struct edit){.signers = {"Server-97859", "iPhone-CBC"}, .flip_keyshare_byte = true});
    struct blob server = read_fixture(fx, "qa-fast-share2of2.vult");
    struct store_import_result r;

    if (!s || !gen_a.bytes || !gen_b.bytes || !server.bytes)
        goto out;
    /* history/epoch-1 first (a restore): not current */
    expect_import(s, dir, gen_a, d, 1, 0, EPOCHS_HISTORY_INSERT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, d);
    const struct store_vault *v = store_vault_by_dir(s, d);
    CHECK(v != NULL);
    if (v) {
        CHECK_EQ_INT(v->epoch_count, 1);
        CHECK(v->current == NULL);
        CHECK(v->latest == &v->epochs[0]);
        CHECK(!v->epochs[0].current);
        CHECK_EQ_INT(v->epochs[0].number, 1);
    }
    EXPECT(s, dir, gen_a, d, 1, 0, EPOCHS_UNCHANGED, 1);
    EXPECT(s, dir, gen_a, d, 0, -EEXIST, EPOCHS_STALE, 1);
    EXPECT(s, dir, gen_a_reordered, d, 1, -EEXIST, EPOCHS_CONFLICT, 1);
    /* the other device's share of that generation, at its slot and elsewhere */
    CHECK_EQ_INT(store_add_import_password(s, "vulticli01", 10), 0);
    EXPECT(s, dir, server, d, 1, -EPERM, EPOCHS_COLOCATION, 1);
    EXPECT(s, dir, server, d, 0, -EEXIST, EPOCHS_STALE, 1);

    /* share.vult of a newer generation: current, epoch 2 */
    EXPECT(s, dir, gen_b, d, 0, 0, EPOCHS_NEW_EPOCH, 2);
    v = store_vault_by_dir(s, d);
    if (v && v->epoch_count == 2) {
        CHECK(v->current == &v->epochs[1]);
        CHECK_EQ_INT(v->current->number, 2);
        CHECK_EQ_STR(v->current->facts.signers, "iPhone-CBC,Server-97859,Mac-1");
    }
    /* the same generation at another number; another generation at a taken slot */
    EXPECT(s, dir, gen_a, d, 2, -EEXIST, EPOCHS_SLOT_TAKEN, 1);
    EXPECT(s, dir, gen_b, d, 1, -EEXIST, EPOCHS_SLOT_TAKEN, 2);
    EXPECT(s, dir, gen_e, d, 1, -EEXIST, EPOCHS_SLOT_TAKEN, 1);
    EXPECT(s, dir, server, d, 2, -EPERM, EPOCHS_COLOCATION, 1);
    /* history/epoch-2 of another generation: inserted, current moves to 3 */
    EXPECT(s, dir, gen_c, d, 2, 0, EPOCHS_HISTORY_INSERT, 2);
    v = store_vault_by_dir(s, d);
    CHECK(v && v->epoch_count == 3);
    if (v && v->epoch_count == 3) {
        CHECK(v->epochs[0].number == 1 && !v->epochs[0].current);
        CHECK(v->epochs[1].number == 2 && !v->epochs[1].current);
        CHECK(v->epochs[2].number == 3 && v->epochs[2].current);
        CHECK_EQ_STR(v->epochs[1].facts.signers, "iPhone-CBC,Mac-1");
        CHECK_EQ_STR(v->epochs[2].facts.signers, "iPhone-CBC,Server-97859,Mac-1");
    }
    EXPECT(s, dir, gen_b, d, 0, 0, EPOCHS_UNCHANGED, 3);
    EXPECT(s, dir, gen_c, d, 0, -EEXIST, EPOCHS_STALE, 2);
    /* a newer generation again */
    EXPECT(s, dir, gen_d, NULL, 0, 0, EPOCHS_NEW_EPOCH, 4);
    EXPECT(s, dir, gen_b, NULL, 0, -EEXIST, EPOCHS_STALE, 3);
    char *st = state_of(s, STATE_ALL);
    s = reopen(s, dir);
    char *st2 = state_of(s, STATE_ALL);
    CHECK_EQ_STR(st2, st);
    free(st);
    free(st2);
    v = store_vault_by_dir(s, d);
    if (v && v->epoch_count == 4) {
        for (uint32_t i = 0; i < 4; i++) {
            CHECK_EQ_INT(v->epochs[i].number, i + 1);
            CHECK(v->epochs[i].current == (i == 3));
        }
    }
    check_fsck_clean(s, false, __LINE__);
out:
    free(gen_a.bytes);
    free(gen_b.bytes);
    free(gen_c.bytes);
    free(gen_d.bytes);
    free(gen_e.bytes);
    free(gen_a_reordered.bytes);
    free(server.bytes);
    store_close(s);
    rm_rf(dir);
}

/* ---- persistence and exports ---------------------------------------------------------- */

struct held {
    struct blob file;  /* what was imported */
    bool plain;        /* unencrypted file */
    struct blob vault; /* its Vault bytes */
    char dir[256];
    uint32_t epoch;
};

static void test_persistence(const char *fx)
{
    struct held held[6];
    size_t count = 0;
    char *dir = NULL, *dir2 = NULL;
    struct store *s = fresh_store(&dir), *s2 = NULL;
    struct backup_keycache *cache = backup_keycache_new();
    const uint8_t *data;
    size_t len;

    memset(held, 0, sizeof(held));
    if (!s)
        return;
    held[count++].file = synth(&spec_a);
    held[count++].file = synth(&spec_b);
    held[count++].file = synth(&spec_other);
    if (fx) {
        held[count++].file = read_fixture(fx, "honeypot.bak");
        held[count++].file = derive(fx, "honeypot.bak", NULL,
                                 &(struct edit){.prefix = "0badc0de", .renew = "hp2"});
        held[count].file = read_fixture(fx, "qa-fast-share2of2.vult");
        held[count++].plain = false;
        CHECK_EQ_INT(store_add_import_password(s, "vulticli01", 10), 0);
    }
    for (size_t i = 0; i < count; i++) {
        struct store_import_result r;
        if (i < count - (fx ? 1 : 0))
            held[i].plain = true;
        held[i].vault = vault_bytes_of(held[i].file, held[i].plain ? NULL : "vulticli01", cache);
        CHECK_EQ_INT(store_import(s, held[i].file.bytes, held[i].file.len, NULL, &r), 0);
        snprintf(held[i].dir, sizeof(held[i].dir), "%s", r.dir_name);
        held[i].epoch = r.epoch;
    }

    /* reopened: the same vaults, epochs, names, inodes and times */
    char *st = state_of(s, STATE_ALL);
    char *jsons[8] = {0};
    for (size_t i = 0; i < store_vault_count(s) && i < 8; i++) {
        size_t jl;
        CHECK_EQ_INT(store_vault_json(&jsons[i], &jl, s, store_vault_at(s, i)), 0);
        CHECK(jsons[i] && strlen(jsons[i]) == jl && jsons[i][jl - 1] == '\n');
    }
    s = reopen(s, dir);
    if (!s)
        goto out;
    char *st2 = state_of(s, STATE_ALL);
    CHECK_EQ_STR(st2, st);
    free(st2);
    for (size_t i = 0; i < store_vault_count(s) && i < 8; i++) {
        char *j = NULL;
        size_t jl;
        CHECK_EQ_INT(store_vault_json(&j, &jl, s, store_vault_at(s, i)), 0);
        CHECK_EQ_STR(j, jsons[i]);
        alloc_free(j);
    }

    /* exports in each scheme: deterministic across reopenings, decode back
     * to the exact Vault bytes, sizes announced exactly */
    static const enum backup_crypto_scheme schemes[3] = {
        BACKUP_CRYPTO_CURRENT, BACKUP_CRYPTO_LEGACY, BACKUP_CRYPTO_NONE};
    struct blob first_current = {NULL, 0};
    for (int k = 0; k < 3; k++) {
        enum backup_crypto_scheme scheme = schemes[k];
        const char *pw = scheme == BACKUP_CRYPTO_NONE ? NULL : EXPORT_PW;
        struct blob exports[6] = {{0}};
        for (int round = 0; round < 2; round++) {
            CHECK_EQ_INT(store_set_export(s, pw, pw ? EXPORT_PW_LEN : 0, scheme), 0);
            for (size_t i = 0; i < count; i++) {
                const struct store_vault *v = store_vault_by_dir(s, held[i].dir);
                const struct store_epoch *e = v ? store_vault_epoch(v, held[i].epoch) : NULL;
                CHECK(e != NULL);
                if (!e)
                    continue;
                data = NULL;
                len = 0;
                CHECK_EQ_INT(store_export(&data, &len, s, v, held[i].epoch), 0);
                if (!data)
                    continue;
                CHECK_EQ_INT(e->export_size, len);
                CHECK_EQ_INT(len, vult_encoded_len(held[i].vault.len, scheme));
                /* the facts a filesystem shows, in one call */
                struct store_export_info info;
                CHECK_EQ_INT(store_export_info(&info, s, v, held[i].epoch), 0);
                CHECK(info.data == data && info.len == len);
                CHECK(info.ino == e->ino && info.mtime_sec == e->imported_sec &&
                      info.mtime_nsec == e->imported_nsec);
                if (round == 0) {
                    exports[i] = blob_copy(data, len);
                    /* cached: the same bytes again */
                    const uint8_t *again = NULL;
                    size_t again_len = 0;
                    CHECK_EQ_INT(store_export(&again, &again_len, s, v, held[i].epoch), 0);
                    CHECK(again == data && again_len == len);
                    struct blob back = vault_bytes_of((struct blob){(uint8_t *)data, len}, pw,
                                                      cache);
                    CHECK(back.len == held[i].vault.len &&
                          memcmp(back.bytes, held[i].vault.bytes, back.len) == 0);
                    free(back.bytes);
                    if (scheme == BACKUP_CRYPTO_NONE && held[i].plain)
                        CHECK(len == held[i].file.len &&
                              memcmp(data, held[i].file.bytes, len) == 0);
                    if (scheme != BACKUP_CRYPTO_NONE) {
                        struct vult_password wrong = {"nope", 4};
                        struct vult_file f;
                        CHECK_EQ_INT(vult_decode(&f, data, len, &wrong, 1, cache), -EACCES);
                    }
                    if (scheme == BACKUP_CRYPTO_CURRENT && i == 0)
                        first_current = blob_copy(data, len);
                } else {
                    CHECK(len == exports[i].len && memcmp(data, exports[i].bytes, len) == 0);
                }
            }
            /* no such epoch */
            const struct store_vault *v0 = store_vault_at(s, 0);
            CHECK_EQ_INT(store_export(&data, &len, s, v0, 99), -ENOENT);
            if (round == 0) {
                s = reopen(s, dir);
                if (!s)
                    goto out;
            }
        }
        for (size_t i = 0; i < count; i++)
            free(exports[i].bytes);
    }
    /* the inodes and times did not depend on the export settings */
    st2 = state_of(s, STATE_ALL);
    CHECK_EQ_STR(st2, st);
    free(st2);

    /* a second store: its own encryption, the same unencrypted bytes, the
     * same vault.json */
    s2 = fresh_store(&dir2);
    if (s2) {
        struct store_import_result r;
        CHECK_EQ_INT(store_import(s2, held[0].file.bytes, held[0].file.len, NULL, &r), 0);
        /* store_set_export rebuilds the views: fetch them after it */
        CHECK_EQ_INT(store_set_export(s2, EXPORT_PW, EXPORT_PW_LEN, BACKUP_CRYPTO_CURRENT), 0);
        const struct store_vault *v = store_vault_at(s2, 0);
        CHECK_EQ_INT(store_export(&data, &len, s2, v, 1), 0);
        CHECK(first_current.bytes && len == first_current.len &&
              memcmp(data, first_current.bytes, len) != 0);
        struct blob back = vault_bytes_of((struct blob){(uint8_t *)data, len}, EXPORT_PW, cache);
        CHECK(back.len == held[0].vault.len &&
              memcmp(back.bytes, held[0].vault.bytes, back.len) == 0);
        free(back.bytes);
        CHECK_EQ_INT(store_set_export(s2, EXPORT_PW, EXPORT_PW_LEN, BACKUP_CRYPTO_LEGACY), 0);
        v = store_vault_at(s2, 0);
        const uint8_t *d2;
        size_t l2;
        CHECK_EQ_INT(store_export(&d2, &l2, s2, v, 1), 0);
        CHECK_EQ_INT(store_set_export(s, EXPORT_PW, EXPORT_PW_LEN, BACKUP_CRYPTO_LEGACY), 0);
        const struct store_vault *v1 = store_vault_by_dir(s, held[0].dir);
        CHECK_EQ_INT(store_export(&data, &len, s, v1, held[0].epoch), 0);
        CHECK(l2 == len && memcmp(d2, data, len) != 0);
        CHECK_EQ_INT(store_set_export(s2, NULL, 0, BACKUP_CRYPTO_NONE), 0);
        v = store_vault_at(s2, 0);
        CHECK_EQ_INT(store_export(&d2, &l2, s2, v, 1), 0);
        CHECK(l2 == held[0].file.len && memcmp(d2, held[0].file.bytes, l2) == 0);
        /* the same share gives the same vault.json in any store */
        struct store_import_result r2;
        CHECK_EQ_INT(store_import(s2, held[1].file.bytes, held[1].file.len, NULL, &r2), 0);
        char *j1 = NULL, *j2 = NULL;
        size_t l;
        CHECK_EQ_INT(store_vault_json(&j2, &l, s2, store_vault_by_dir(s2, held[1].dir)), 0);
        CHECK_EQ_INT(store_vault_json(&j1, &l, s, store_vault_by_dir(s, held[1].dir)), 0);
        CHECK_EQ_STR(j2, j1);
        alloc_free(j1);
        alloc_free(j2);
        store_close(s2);
        rm_rf(dir2);
    }
    free(first_current.bytes);
out:
    free(st);
    for (size_t i = 0; i < 8; i++)
        alloc_free(jsons[i]);
    for (size_t i = 0; i < count; i++) {
        free(held[i].file.bytes);
        free(held[i].vault.bytes);
    }
    backup_keycache_free(cache);
    store_close(s);
    rm_rf(dir);
}

/* ---- passphrase, lock, format ----------------------------------------------------------- */

static void test_passphrase_and_lock(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir), *t = NULL;
    struct blob a = synth(&spec_a);
    struct store_import_result r;
    int busy = -1, ret;

    if (!s)
        return;
    CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
    char *st = state_of(s, STATE_ALL);

    /* a second opener while one is open: busy, with the holder's pid */
    struct snap *before = snap_take(dir);
    ret = store_open(&t, &busy, dir, PASS, PASS_LEN);
    CHECK_EQ_INT(ret, -EBUSY);
    CHECK_EQ_INT(busy, getpid());
    CHECK(t == NULL);
    struct snap *after = snap_take(dir);
    CHECK(snap_same(before, after, __LINE__));
    snap_free(after);
    snap_free(before);
    /* ... and still busy with the lock file deleted: the lock is the directory's */
    {
        char lock_path[4096];
        snprintf(lock_path, sizeof(lock_path), "%s/lock", dir);
        CHECK_EQ_INT(unlink(lock_path), 0);
        ret = store_open(&t, &busy, dir, PASS, PASS_LEN);
        CHECK_EQ_INT(ret, -EBUSY);
        CHECK(t == NULL);
        store_close(t);
        t = NULL;
    }
    store_close(s);
    s = NULL;

    /* the wrong passphrase: EACCES, nothing changed */
    before = snap_take(dir);
    ret = store_open(&t, &busy, dir, "wrong", 5);
    CHECK_EQ_INT(ret, -EACCES);
    CHECK(t == NULL);
    after = snap_take(dir);
    CHECK(snap_same(before, after, __LINE__));
    snap_free(after);
    /* ... from another process (every mount attempt is one) */
    pid_t pid = fork();
    if (pid == 0) {
        struct store *c = NULL;
        _exit(store_open(&c, NULL, dir, "wrong", 5) == -EACCES ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
    after = snap_take(dir);
    CHECK(snap_same(before, after, __LINE__)); /* a wrong passphrase never touches the lock */
    snap_free(after);
    snap_free(before);
    ret = store_open(&t, NULL, dir, "", 0);
    CHECK(ret < 0);

    /* a new passphrase: the old one stops working, the vaults stay */
    ret = store_open(&s, NULL, dir, PASS, PASS_LEN);
    CHECK_EQ_INT(ret, 0);
    if (s) {
        CHECK_EQ_INT(store_passwd(s, "new passphrase", 14, NULL), 0);
        store_close(s);
        s = NULL;
    }
    CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, PASS_LEN), -EACCES);
    CHECK_EQ_INT(store_open(&s, NULL, dir, "new passphrase", 14), 0);
    if (s) {
        char *st2 = state_of(s, STATE_ALL);
        CHECK_EQ_STR(st2, st);
        free(st2);
        check_fsck_clean(s, false, __LINE__);
        /* and with an explicit cost */
        struct seal_kdf kdf = cheap_kdf;
        randombytes_buf(kdf.salt, sizeof(kdf.salt));
        CHECK_EQ_INT(store_passwd(s, "third", 5, &kdf), 0);
        CHECK_EQ_INT(store_passwd(s, "", 0, NULL), -EINVAL);
        store_close(s);
        s = NULL;
    }
    CHECK_EQ_INT(store_open(&s, NULL, dir, "new passphrase", 14), -EACCES);
    CHECK_EQ_INT(store_open(&s, NULL, dir, "third", 5), 0);
    store_close(s);
    s = NULL;

    /* init refuses a non-empty directory, an existing store included */
    {
        struct snap *b = snap_take(dir);
        CHECK_EQ_INT(store_init(dir, PASS, PASS_LEN, &cheap_kdf), -EEXIST);
        struct snap *a2 = snap_take(dir);
        CHECK(snap_same(b, a2, __LINE__));
        snap_free(a2);
        snap_free(b);
        char *other = make_dir();
        char path[4096];
        snprintf(path, sizeof(path), "%s/notes.txt", other);
        FILE *f = fopen(path, "w");
        fputs("mine\n", f);
        fclose(f);
        CHECK_EQ_INT(store_init(other, PASS, PASS_LEN, &cheap_kdf), -EEXIST);
        CHECK_EQ_INT(store_init(other, "", 0, &cheap_kdf), -EINVAL);
        rm_rf(other);
        CHECK_EQ_INT(store_open(&s, NULL, "/nonexistent/vultfs-store", PASS, PASS_LEN), -ENOENT);
        other = make_dir();
        CHECK_EQ_INT(store_open(&s, NULL, other, PASS, PASS_LEN), -ENOENT);
        rm_rf(other);
    }

    /* a newer format than this build knows */
    {
        char path[4096];
        uint8_t *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/vultfs.json", dir);
        CHECK_EQ_INT(io_read_file(&text, &len, AT_FDCWD, path, 1 << 16), 0);
        char *copy = calloc(1, len + 1);
        memcpy(copy, text, len);
        char want[32];
        snprintf(want, sizeof(want), "\"format\": %d", STORE_FORMAT_VERSION);
        char *at = strstr(copy, want);
        CHECK(at != NULL);
        if (at) {
            at[10] = '0' + STORE_FORMAT_VERSION + 1;
            FILE *f = fopen(path, "w");
            fwrite(copy, 1, len, f);
            fclose(f);
            CHECK_EQ_INT(store_open(&s, NULL, dir, "third", 5), -EPROTONOSUPPORT);
            CHECK(s == NULL);
            CHECK_EQ_INT(store_open(&s, NULL, dir, "wrong", 5), -EPROTONOSUPPORT);
            /* and back: it opens again */
            f = fopen(path, "w");
            fwrite(text, 1, len, f);
            fclose(f);
            CHECK_EQ_INT(store_open(&s, NULL, dir, "third", 5), 0);
            store_close(s);
            s = NULL;
        }
        free(copy);
        alloc_free(text);
    }
    free(st);
    free(a.bytes);
    rm_rf(dir);
}

/* A wrong passphrase on a store that was never opened must not change it
 * either (a mount attempt with a typo right after init). */
static void test_wrong_passphrase_fresh(void)
{
    char *dir = make_dir();
    struct store *t = NULL;
    CHECK_EQ_INT(store_init(dir, PASS, PASS_LEN, &cheap_kdf), 0);
    struct snap *before = snap_take(dir);
    CHECK_EQ_INT(store_open(&t, NULL, dir, "wrong", 5), -EACCES);
    struct snap *after = snap_take(dir);
    CHECK(snap_same(before, after, __LINE__));
    snap_free(after);
    snap_free(before);
    rm_rf(dir);
}

/* ---- vault.json and names ------------------------------------------------------------------ */

static void test_vault_json_and_names(const char *fx)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct synth_spec clash = spec_a;
    char clash_ecdsa[] = SYNTH_ECDSA;
    struct synth_spec slash = spec_a;
    char slash_ecdsa[] = SYNTH_ECDSA;
    struct store_import_result r;

    if (!s)
        return;
    memcpy(clash_ecdsa + strlen(clash_ecdsa) - 4, "1234", 4);
    clash.ecdsa = clash_ecdsa;
    clash.share_tag = "clash";
    memcpy(slash_ecdsa + strlen(slash_ecdsa) - 4, "5678", 4);
    slash.ecdsa = slash_ecdsa;
    slash.name = "a/b";

    struct blob a = synth(&spec_a), c = synth(&clash), sl = synth(&slash);
    expect_import(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "Synth Vault");
    expect_import(s, dir, c, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "Synth Vault-1234");
    expect_import(s, dir, sl, NULL, 0, 0, EPOCHS_NEW_VAULT, 1, __LINE__, &r);
    CHECK_EQ_STR(r.dir_name, "a_b");
    CHECK(store_vault_by_dir(s, "Synth Vault") != NULL);
    CHECK(store_vault_by_dir(s, "Synth Vault-1234") != NULL);
    CHECK(store_vault_by_dir(s, "a_b") != NULL);
    CHECK(store_vault_by_dir(s, "a/b") == NULL);
    /* each goes into its own directory only */
    EXPECT(s, dir, c, "Synth Vault", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, a, "Synth Vault-1234", 0, -EINVAL, EPOCHS_WRONG_PLACE, 0);
    EXPECT(s, dir, c, "Synth Vault-1234", 0, 0, EPOCHS_UNCHANGED, 1);
    if (fx) {
        struct blob hp = read_fixture(fx, "honeypot.bak");
        EXPECT(s, dir, hp, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
        free(hp.bytes);
    }

    size_t n = store_vault_count(s);
    char **jsons = calloc(n, sizeof(*jsons));
    for (size_t i = 0; i < n; i++) {
        const struct store_vault *v = store_vault_at(s, i);
        size_t len = 0;
        CHECK_EQ_INT(store_vault_json(&jsons[i], &len, s, v), 0);
        if (!jsons[i])
            continue;
        CHECK(strstr(jsons[i], "FAKEKEYSHARE") == NULL);
        CHECK(strstr(jsons[i], "imported") == NULL);
        CHECK(strstr(jsons[i], "keyshare") == NULL);
        char when[32];
        snprintf(when, sizeof(when), "%lld", (long long)v->epochs[0].imported_sec);
        CHECK(strstr(jsons[i], when) == NULL);
        vult_format_time(when, sizeof(when), v->epochs[0].imported_sec, 0);
        when[10] = '\0'; /* the date */
        CHECK(strstr(jsons[i], when) == NULL);
        CHECK(strstr(jsons[i], v->public_key_ecdsa) != NULL);
        CHECK(strstr(jsons[i], "\"current_epoch\": 1") != NULL);
    }
    if (fx) {
        /* no piece of the honeypot's real key shares */
        const struct store_vault *v = store_vault_by_dir(s, "JP Honeypot Vault");
        struct blob file = read_fixture(fx, "honeypot.bak");
        struct blob vb = vault_bytes_of(file, NULL, NULL);
        struct vult_vault parsed;
        CHECK(v != NULL);
        if (v && vb.bytes && vult_vault_parse(&parsed, NULL, vb.bytes, vb.len) == 0) {
            char *j = NULL;
            size_t len;
            CHECK_EQ_INT(store_vault_json(&j, &len, s, v), 0);
            for (size_t k = 0; j && k < parsed.key_share_count; k++) {
                struct vult_str ks = parsed.key_shares[k].keyshare;
                for (size_t off = 0; off + 24 <= ks.len; off += ks.len / 7 + 1) {
                    char piece[25];
                    memcpy(piece, ks.ptr + off, 24);
                    piece[24] = '\0';
                    CHECK(strstr(j, piece) == NULL);
                }
            }
            CHECK(j && strstr(j, "2c5e9ced") != NULL);
            CHECK(j && strstr(j, "iPad-D3842FFB838E") != NULL);
            alloc_free(j);
            vult_vault_clear(&parsed);
        }
        free(file.bytes);
        free(vb.bytes);
    }
    char *list = NULL;
    CHECK_EQ_INT(store_list_json(&list, s), 0);
    CHECK(list && strstr(list, "FAKEKEYSHARE") == NULL);
    CHECK(list && strstr(list, "Synth Vault-1234") != NULL);
    alloc_free(list);

    char *st = state_of(s, STATE_ALL);
    s = reopen(s, dir);
    if (s) {
        char *st2 = state_of(s, STATE_ALL);
        CHECK_EQ_STR(st2, st);
        free(st2);
        CHECK_EQ_INT(store_vault_count(s), n);
        for (size_t i = 0; i < n && i < store_vault_count(s); i++) {
            char *j = NULL;
            size_t len;
            CHECK_EQ_INT(store_vault_json(&j, &len, s, store_vault_at(s, i)), 0);
            CHECK_EQ_STR(j, jsons[i]);
            alloc_free(j);
        }
        CHECK_EQ_STR(store_vault_at(s, 1)->dir_name, "Synth Vault-1234");
    }
    for (size_t i = 0; i < n; i++)
        alloc_free(jsons[i]);
    free(jsons);
    free(st);
    free(a.bytes);
    free(c.bytes);
    free(sl.bytes);
    store_close(s);
    rm_rf(dir);
}

/* vault.json is written without a JSON tree (listing.c): its text must be
 * exactly what jansson makes of the same document, whatever the names
 * hold, and the size a stat shows must be the text's. */
static void check_vault_json_as_jansson(const struct store *s, const struct store_vault *v)
{
    char *text = NULL;
    size_t len = 0;
    json_error_t error;

    CHECK_EQ_INT(store_vault_json(&text, &len, s, v), 0);
    if (!text)
        return;
    CHECK_EQ_INT(v->json_size, len);
    CHECK_EQ_INT(strlen(text), len);
    json_t *doc = json_loadb(text, len, 0, &error);
    CHECK(doc != NULL);
    char *again = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    CHECK(again != NULL);
    if (again) {
        size_t n = strlen(again);
        CHECK(len == n + 1 && memcmp(text, again, n) == 0 && text[n] == '\n');
        if (len != n + 1 || memcmp(text, again, n) != 0)
            fprintf(stderr, "  ours:\n%s  jansson's:\n%s\n", text, again);
    }
    alloc_free(again);
    json_decref(doc);
    alloc_free(text);
}

static void test_vault_json_text(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    char odd_ecdsa[] = SYNTH_ECDSA;
    struct synth_spec odd = {
        .name = "q\"b\\s/\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f \xc3\xa9 \xf0\x9f\x94\x91",
        .ecdsa = odd_ecdsa, .device = "dev\"ice\\1", .signers = {"dev\"ice\\1", "a,b", "\t"},
        .reshare_prefix = "pre\x02", .lib_type = VULT_LIB_GG20, .share_tag = "odd"};

    if (!s)
        return;
    memcpy(odd_ecdsa + strlen(odd_ecdsa) - 4, "0dd0", 4);
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&odd);
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    EXPECT(s, dir, b, "Synth Vault", 0, 0, EPOCHS_NEW_EPOCH, 2); /* 1 is history */
    EXPECT(s, dir, o, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    CHECK_EQ_INT(store_vault_count(s), 2);
    for (size_t i = 0; i < store_vault_count(s); i++)
        check_vault_json_as_jansson(s, store_vault_at(s, i));
    s = reopen(s, dir); /* the sizes made at open, too */
    for (size_t i = 0; s && i < store_vault_count(s); i++)
        check_vault_json_as_jansson(s, store_vault_at(s, i));
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
    store_close(s);
    rm_rf(dir);
}

/* An opened index holds one value where vaults repeat it (index.c): a
 * change of one vault after reopening must leave every other vault, in
 * memory and on disk, exactly as it was. */
static void test_shared_values_after_reopen(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct synth_spec twin = spec_a; /* same lib type, prefix, numbers */
    char twin_ecdsa[] = SYNTH_ECDSA;

    if (!s)
        return;
    memcpy(twin_ecdsa + strlen(twin_ecdsa) - 4, "7777", 4);
    twin.ecdsa = twin_ecdsa;
    twin.name = "Twin Vault";
    struct blob a = synth(&spec_a), t = synth(&twin), b = synth(&spec_b);
    EXPECT(s, dir, a, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    EXPECT(s, dir, t, NULL, 0, 0, EPOCHS_NEW_VAULT, 1);
    s = reopen(s, dir);
    if (s) {
        char *twin_json = NULL, *again = NULL;
        size_t len = 0;
        json_t *twin_before = held_vault(s, twin_ecdsa);
        CHECK(twin_before != NULL);
        CHECK_EQ_INT(store_vault_json(&twin_json, &len, s, store_vault_by_dir(s, "Twin Vault")), 0);
        EXPECT(s, dir, b, "Synth Vault", 0, 0, EPOCHS_NEW_EPOCH, 2);
        json_t *twin_after = held_vault(s, twin_ecdsa);
        CHECK(json_equal(twin_after, twin_before));
        json_decref(twin_after);
        CHECK_EQ_INT(store_vault_json(&again, &len, s, store_vault_by_dir(s, "Twin Vault")), 0);
        CHECK_EQ_STR(again, twin_json);
        check_fsck_clean(s, false, __LINE__);
        char *st = state_of(s, STATE_ALL);
        s = reopen(s, dir); /* from disk: the twin's record as it was */
        char *st2 = s ? state_of(s, STATE_ALL) : NULL;
        CHECK_EQ_STR(st2, st);
        twin_after = s ? held_vault(s, twin_ecdsa) : NULL;
        CHECK(json_equal(twin_after, twin_before));
        json_decref(twin_after);
        free(st);
        free(st2);
        json_decref(twin_before);
        alloc_free(twin_json);
        alloc_free(again);
    }
    free(a.bytes);
    free(t.bytes);
    free(b.bytes);
    store_close(s);
    rm_rf(dir);
}

/* ---- I/O faults: every step of an import, failed once -------------------------------------- */

struct fault {
    int n;    /* the call to fail, 1-based */
    int err;  /* with this -errno */
    int calls;
    bool fired;
};

static int fault_nth(enum io_step step, void *ctx)
{
    struct fault *f = ctx;
    (void)step;
    if (++f->calls == f->n) {
        f->fired = true;
        return f->err;
    }
    return 0;
}

/* new_epoch: b over a; else a new vault, into a store holding another
 * one, or (first_change) into a new store, whose first change moves the
 * index from index.rec to vaults/ and must be undone whole. */
static void fault_loop(bool new_epoch, bool first_change, int err)
{
    struct blob other = synth(&spec_other), a = synth(&spec_a), b = synth(&spec_b);
    struct blob incoming = new_epoch ? b : a;
    bool done = false;
    int n, failed = 0;

    for (n = 1; n < 100 && !done; n++) {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        struct store_import_result r;
        if (!s)
            break;
        if (!first_change)
            CHECK_EQ_INT(store_import(s, other.bytes, other.len, NULL, &r), 0);
        if (new_epoch)
            CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
        char *old = state_of(s, STATE_ALL);
        struct snap *files_before = snap_take(dir);

        struct fault f = {.n = n, .err = err};
        io_set_fault_hook(fault_nth, &f);
        int ret = store_import(s, incoming.bytes, incoming.len, NULL, &r);
        io_set_fault_hook(NULL, NULL);

        /* a first change's last I/O call tidies up (index.rec removed, the
         * directory synced): the import is durable by then and succeeds */
        if (f.fired && !(first_change && ret == 0)) {
            failed++;
            CHECK_EQ_INT(ret, err);
            CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(EPOCHS_FAILED));
            /* byte for byte as it was: no share record left behind (an
             * encrypted copy of a share the user was told was not stored),
             * the index put back exactly */
            struct snap *files_after = snap_take(dir);
            CHECK(snap_same(files_before, files_after, __LINE__));
            snap_free(files_after);
            char *mem = state_of(s, STATE_ALL);
            CHECK_EQ_STR(mem, old);
            free(mem);
            s = reopen(s, dir);
            char *now = state_of(s, STATE_ALL);
            /* a failed directory fsync comes after the index rename:
             * commit() must put the old index back */
            CHECK_EQ_STR(now, old);
            if (strcmp(now ? now : "", old) != 0 || ret != err)
                fprintf(stderr, "  %s import, fault %s at I/O call %d: ret %d\n",
                        new_epoch ? "new-epoch" : "new-vault", err == -EIO ? "EIO" : "ENOSPC",
                        n, ret);
            free(now);
            if (s) {
                check_fsck_clean(s, false, __LINE__);
                if (s && store_vault_count(s) == 0)
                    fprintf(stderr, "  (fault at call %d)\n", n);
                /* and the import goes through afterwards */
                int again = store_import(s, incoming.bytes, incoming.len, NULL, &r);
                CHECK(again == 0);
                if (again != 0)
                    fprintf(stderr, "  retry after fault at call %d: %d %s\n", n, again,
                            r.reason);
                s = reopen(s, dir);
                if (s)
                    check_fsck_clean(s, false, __LINE__);
            }
        } else {
            done = true;
            CHECK_EQ_INT(ret, 0);
            CHECK_EQ_STR(epochs_outcome_name(r.outcome),
                         epochs_outcome_name(new_epoch ? EPOCHS_NEW_EPOCH : EPOCHS_NEW_VAULT));
            s = reopen(s, dir);
            if (s) {
                const struct store_vault *v = store_vault_by_dir(s, "Synth Vault");
                CHECK(v && v->current && v->current->number == (new_epoch ? 2u : 1u));
                CHECK(v && v->epoch_count == (new_epoch ? 2u : 1u));
                CHECK_EQ_INT(store_vault_count(s), first_change ? 1 : 2);
                check_fsck_clean(s, false, __LINE__);
            }
        }
        free(old);
        snap_free(files_before);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done);
    /* record: open, write; the index: open, write; flush; rename; dirsync */
    CHECK(failed >= 7);
    free(other.bytes);
    free(a.bytes);
    free(b.bytes);
}

static struct synth_spec spec_third = {
    .name = "Third Vault", .device = "phone-1", .signers = {"phone-1", "laptop-2"},
    .lib_type = VULT_LIB_DKLS, .share_tag = "third"};
static char third_ecdsa[] = SYNTH_ECDSA;

/* A store holding `other` and a (its first change made: per-vault
 * records), for a batch of b (a new epoch of a) and the third vault. */
static struct store *store_for_batch(char **dir, struct blob other, struct blob a)
{
    struct store *s = fresh_store(dir);
    struct store_import_result r;

    if (s) {
        CHECK_EQ_INT(store_import(s, other.bytes, other.len, NULL, &r), 0);
        CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
    }
    return s;
}

/* Counts the flushes (fsync, syncfs, a directory's fsync) an import asks for. */
static int count_flushes(enum io_step step, void *ctx)
{
    if (step == IO_STEP_FSYNC || step == IO_STEP_DIRSYNC)
        ++*(int *)ctx;
    return 0;
}

static int flushes_of(struct store *s, struct blob file, const struct store_target *target,
                      enum epochs_outcome want)
{
    struct store_import_result r;
    int flushes = 0;

    io_set_fault_hook(count_flushes, &flushes);
    CHECK_EQ_INT(store_import(s, file.bytes, file.len, target, &r), 0);
    io_set_fault_hook(NULL, NULL);
    CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(want));
    return flushes;
}

/* A new vault, a new epoch and a history insert each take per_change
 * flushes under policy, an unchanged import none, a repair at most
 * repair; the store is whole and reopens as it was. */
static void check_flushes(enum io_flush_policy policy, int per_change, int repair)
{
    struct blob other = synth(&spec_other), a = synth(&spec_a), b = synth(&spec_b),
                c = synth(&spec_c), third = synth(&spec_third);
    char *dir = NULL;
    struct store *s = store_for_batch(&dir, other, a); /* its first change made */

    io_set_flush_policy(policy);
    if (s) {
        CHECK_EQ_INT(flushes_of(s, third, NULL, EPOCHS_NEW_VAULT), per_change);
        CHECK_EQ_INT(flushes_of(s, c, NULL, EPOCHS_NEW_EPOCH), per_change);
        CHECK_EQ_INT(flushes_of(s, b, &(struct store_target){"Synth Vault", 2},
                                EPOCHS_HISTORY_INSERT), per_change);
        CHECK_EQ_INT(flushes_of(s, c, NULL, EPOCHS_UNCHANGED), 0);
        damage_record(s, dir, SYNTH_ECDSA, 3);
        CHECK(flushes_of(s, c, NULL, EPOCHS_UNCHANGED) <= repair);
        check_fsck_clean(s, false, __LINE__);
        char *mem = state_of(s, STATE_ALL);
        s = reopen(s, dir);
        char *disk = s ? state_of(s, STATE_ALL) : NULL;
        CHECK_EQ_STR(disk, mem);
        free(mem);
        free(disk);
    }
    io_set_flush_policy(IO_FLUSH_AUTO);
    store_close(s);
    rm_rf(dir);
    free(other.bytes);
    free(a.bytes);
    free(b.bytes);
    free(c.bytes);
    free(third.bytes);
}

/* Issue 8: at most two flushes per import with syncfs (it was four: the
 * share record and the vault's record each fsynced, renamed and their
 * directory fsynced), whatever the outcome, a repair included; the
 * manifest's frame (issue 20) rides on the same syncfs. Flushing each file
 * (--flush files) takes five: the two files and the manifest, shares/ for
 * the new record's name, vaults/ after the rename. */
static void test_flushes_per_import(void)
{
    check_flushes(IO_FLUSH_FS, 2, 2);
    check_flushes(IO_FLUSH_FILES, 5, 3); /* a repair: the record, its rename */
}

/* ---- group commit (core/batch.c) --------------------------------------------------------- */

/* store_import_decode and store_import_stage of file; the stage's return. */
static int stage(struct store *s, struct blob file, const struct store_target *target,
                 struct store_ticket *ticket, struct store_import_result *r)
{
    struct store_decoded *decoded = NULL;
    int ret = store_import_decode(&decoded, s, file.bytes, file.len, r);

    if (ret == 0)
        ret = store_import_stage(s, decoded, target, r, ticket);
    store_decoded_free(decoded);
    return ret;
}

/* What the batch tests import: `other` and a first, then b (a new epoch
 * of a) and the third vault in one batch, a_dev (a's other device) meanwhile. */
struct batch_files {
    struct blob other, a, b, a_dev, third;
};

static struct batch_files batch_files(void)
{
    return (struct batch_files){synth(&spec_other), synth(&spec_a), synth(&spec_b),
                                synth(&spec_a_other_device), synth(&spec_third)};
}

static void batch_files_free(struct batch_files *f)
{
    free(f->other.bytes), free(f->a.bytes), free(f->b.bytes), free(f->a_dev.bytes);
    free(f->third.bytes);
}

/* The open batch taken (no other can be while it flushes), flushed with
 * hook watching its I/O calls, and ended: the flush's result. */
static int flush_open_batch(struct store *s, io_fault_hook hook, void *ctx)
{
    struct store_batch *batch = store_commit_take(s);

    CHECK(batch != NULL && store_commit_busy(s) && store_commit_take(s) == NULL);
    io_set_fault_hook(hook, ctx);
    int err = batch ? store_commit_flush(s, batch) : -1;
    io_set_fault_hook(NULL, NULL);
    if (batch)
        store_commit_end(s, batch, err);
    return err;
}

/* Two changes staged into one batch: shown at once, durable after one
 * flush of two steps, a second change of a vault waits for the first
 * (-EAGAIN) and is then decided on what is on disk. */
static void test_batch_commit(void)
{
    struct batch_files f = batch_files();
    struct store_ticket tb, tt, tdev;
    struct store_import_result r;
    char *dir = NULL;
    struct store *s = store_for_batch(&dir, f.other, f.a);

    if (!s)
        return;
    CHECK_EQ_INT(stage(s, f.b, NULL, &tb, &r), 0);
    CHECK_EQ_STR(epochs_outcome_name(r.outcome), epochs_outcome_name(EPOCHS_NEW_EPOCH));
    CHECK_EQ_INT(stage(s, f.third, NULL, &tt, &r), 0);
    CHECK(!tb.settled && !tt.settled);
    CHECK_EQ_INT(store_vault_count(s), 3); /* shown at once */
    /* the same vault from another device waits for the first change */
    CHECK_EQ_INT(stage(s, f.a_dev, NULL, &tdev, &r), -EAGAIN);
    CHECK(!store_commit_idle(s));

    int flushes = 0;
    io_set_flush_policy(IO_FLUSH_FS);
    CHECK_EQ_INT(flush_open_batch(s, count_flushes, &flushes), 0);
    io_set_flush_policy(IO_FLUSH_AUTO);
    CHECK_EQ_INT(flushes, 2); /* for both changes */
    CHECK(tb.settled && tb.result == 0 && tt.settled && tt.result == 0);
    CHECK(store_commit_idle(s));
    /* decided on b, durable now: a's generation is history (stale) */
    CHECK_EQ_INT(stage(s, f.a_dev, NULL, &tdev, &r), -EEXIST);
    CHECK(tdev.settled);
    char *mem = state_of(s, STATE_ALL);
    s = reopen(s, dir);
    char *disk = s ? state_of(s, STATE_ALL) : NULL;
    CHECK_EQ_STR(disk, mem);
    if (s)
        check_fsck_clean(s, false, __LINE__);
    free(mem);
    free(disk);
    store_close(s);
    rm_rf(dir);
    batch_files_free(&f);
}

/* A fault at each step of a batch's flush fails every change of the batch
 * and leaves the store byte for byte as before it, in memory and on disk;
 * a writer of the same vault then decides on that state; the imports go
 * through afterwards. */
static void test_batch_faults(enum io_flush_policy policy)
{
    struct batch_files files = batch_files();
    struct blob b = files.b, third = files.third;
    bool done = false;
    int n, failed = 0;

    for (n = 1; n < 50 && !done; n++) {
        struct store_ticket tb, tt, tdev;
        struct store_import_result r;
        char *dir = NULL;
        struct store *s = store_for_batch(&dir, files.other, files.a);
        if (!s)
            break;
        char *old = state_of(s, STATE_ALL);
        struct snap *files_before = snap_take(dir);

        CHECK_EQ_INT(stage(s, b, NULL, &tb, &r), 0);
        CHECK_EQ_INT(stage(s, third, NULL, &tt, &r), 0);
        struct fault f = {.n = n, .err = -EIO};
        io_set_flush_policy(policy);
        int err = flush_open_batch(s, fault_nth, &f);
        io_set_flush_policy(IO_FLUSH_AUTO);
        CHECK(tb.settled && tt.settled && tb.result == err && tt.result == err);
        if (!f.fired) {
            done = true;
            CHECK_EQ_INT(err, 0);
        } else {
            failed++;
            CHECK_EQ_INT(err, -EIO);
            struct snap *files_after = snap_take(dir);
            CHECK(snap_same(files_before, files_after, __LINE__));
            snap_free(files_after);
            char *mem = state_of(s, STATE_ALL);
            CHECK_EQ_STR(mem, old);
            free(mem);
            /* b never happened: the other device's share is held to a */
            CHECK_EQ_INT(stage(s, files.a_dev, NULL, &tdev, &r), -EPERM);
            s = reopen(s, dir);
            char *now = s ? state_of(s, STATE_ALL) : NULL;
            CHECK_EQ_STR(now, old);
            free(now);
            if (s) {
                check_fsck_clean(s, false, __LINE__);
                CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
                CHECK_EQ_INT(store_import(s, third.bytes, third.len, NULL, &r), 0);
            }
        }
        free(old);
        snap_free(files_before);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done);
    /* the flush (or each file's and shares/), each rename, vaults/ */
    CHECK(failed >= (policy == IO_FLUSH_FILES ? 8 : 4));
    fprintf(stderr, "store: a batch (flush %s) survives a failed I/O step at each of %d steps\n",
            policy == IO_FLUSH_FILES ? "files" : "fs", failed);
    batch_files_free(&files);
}

static void test_io_faults(void)
{
    /* each file fsynced (--flush files): more steps to fail */
    io_set_flush_policy(IO_FLUSH_FILES);
    fault_loop(false, false, -EIO);
    fault_loop(true, false, -EIO);
    io_set_flush_policy(IO_FLUSH_FS);
    fault_loop(false, false, -EIO);
    fault_loop(false, false, -ENOSPC);
    fault_loop(true, false, -EIO);
    fault_loop(true, false, -ENOSPC);
    fault_loop(false, true, -EIO);
    fault_loop(false, true, -ENOSPC);
    io_set_flush_policy(IO_FLUSH_AUTO);
}

/* ---- the manifest, the state file and repair (issue 20) ------------------------------- */

static off_t file_size_in(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void print_line(void *ctx, const char *line)
{
    if (getenv("VULTFS_TEST_VERBOSE"))
        fprintf(stderr, "  %s: %s\n", (const char *)ctx, line);
}

/* Vault k of many, its generation g: its own key; each g a reshare. */
static struct blob vault_kg(unsigned k, unsigned g)
{
    char ecdsa[67], name[32], other[32], tag[48];
    snprintf(ecdsa, sizeof(ecdsa), "02%064x", k + 0x1000u);
    snprintf(name, sizeof(name), "Many %u", k);
    snprintf(other, sizeof(other), "laptop-%u", g + 2);
    snprintf(tag, sizeof(tag), "%s gen %u", name, g);
    struct synth_spec spec = {.name = name, .ecdsa = ecdsa, .device = "phone-1",
                              .signers = {"phone-1", other}, .lib_type = VULT_LIB_DKLS,
                              .share_tag = tag};
    return synth(&spec);
}

static struct blob vault_k(unsigned k)
{
    return vault_kg(k, 0);
}

/* A state_of text with its vaults in name order (a vault rebuilt from its
 * share records alone has lost its place among the others). */
static char *vaults_sorted(const char *state)
{
    char *copy = strdup(state ? state : ""), *blocks[64], *out = NULL;
    size_t n = 0, len = 0;
    for (char *at = strstr(copy, "vault dir="); at && n < 64; at = strstr(at + 1, "\nvault dir=")) {
        if (at != copy && at[0] == '\n')
            *at++ = '\0';
        blocks[n++] = at;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(blocks[j - 1], blocks[j]) > 0; j--) {
            char *t = blocks[j];
            blocks[j] = blocks[j - 1];
            blocks[j - 1] = t;
        }
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++) {
        size_t end = strlen(blocks[i]);
        while (end && blocks[i][end - 1] == '\n')
            blocks[i][--end] = '\0';
        fprintf(f, "%s\n", blocks[i]);
    }
    fclose(f);
    free(copy);
    return out;
}

static void import_ok(struct store *s, struct blob b)
{
    struct store_import_result r;
    int ret = store_import(s, b.bytes, b.len, NULL, &r);
    CHECK_EQ_INT(ret, 0);
    if (ret)
        fprintf(stderr, "  import: %s\n", r.reason);
}

/* The path of the vault record of the vault under ecdsa. */
static void vault_record_path(char *out, size_t cap, const struct store *s, const char *dir,
                              const char *ecdsa)
{
    char hex[MANIFEST_KEY_BYTES];
    index_vault_record_name(hex, s, ecdsa);
    snprintf(out, cap, "%s/vaults/%s.rec", dir, hex);
}

static struct blob read_path(const char *path)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_EQ_INT(io_read_file(&bytes, &len, AT_FDCWD, path, 64u << 20), 0);
    struct blob b = blob_copy(bytes, len);
    alloc_free(bytes);
    return b;
}

static void write_path(const char *path, struct blob b)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(fwrite(b.bytes, 1, b.len, f), b.len);
        CHECK_EQ_INT(fclose(f), 0);
    }
}

static bool has_problem_kind(const struct store *s, enum store_problem_kind kind)
{
    for (size_t i = 0; i < s->problem_count; i++)
        if (s->problems[i].kind == kind)
            return true;
    return false;
}

/* The journal is written again as one snapshot, at an open that may write,
 * once its changes name more files than the threshold or half the store:
 * its size stays bounded, and the store reads the same afterwards. A
 * change itself never compacts (its cost does not grow with the store). */
static void test_manifest_compaction(void)
{
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    off_t last = 0;
    int shrunk = 0, grew_in_change = 0;

    if (!s)
        return;
    manifest_compact_min = 4;
    /* new vaults grow the journal as the store grows; reshares of one
     * vault make it longer than the threshold, and it is compacted */
    for (unsigned k = 0; k < 3; k++) {
        struct blob b = vault_k(k);
        import_ok(s, b);
        free(b.bytes);
    }
    for (unsigned g = 1; g <= 12 && s; g++) {
        struct blob b = vault_kg(1, g);
        off_t before = file_size_in(dir, "vaults/manifest");
        import_ok(s, b);
        free(b.bytes);
        grew_in_change += file_size_in(dir, "vaults/manifest") > before;
        s = reopen(s, dir);
        off_t now = file_size_in(dir, "vaults/manifest");
        shrunk += now < last;
        last = now;
    }
    CHECK_EQ_INT(grew_in_change, 12);
    CHECK(shrunk >= 2);
    CHECK(s && s->manifest.journal_items <= 5);
    char *mem = s ? state_of(s, STATE_ALL) : NULL;
    s = reopen(s, dir);
    char *disk = s ? state_of(s, STATE_ALL) : NULL;
    CHECK_EQ_STR(disk, mem);
    if (s)
        check_fsck_clean(s, false, __LINE__);
    manifest_compact_min = MANIFEST_COMPACT_MIN;
    free(mem);
    free(disk);
    store_close(s);
    rm_rf(dir);
}

/* A compaction with each of its I/O steps failed once: the store keeps the
 * journal it had or the snapshot, and reads the same either way. */
static void test_compaction_faults(void)
{
    bool done = false;
    int failed = 0;

    for (int n = 1; n < 40 && !done; n++) {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        if (!s)
            break;
        for (unsigned k = 0; k < 3; k++) {
            struct blob b = vault_k(k);
            import_ok(s, b);
            free(b.bytes);
        }
        char *ref = state_of(s, STATE_ALL);
        struct fault f = {.n = n, .err = -EIO};
        io_set_fault_hook(fault_nth, &f);
        int ret = manifest_compact(s);
        io_set_fault_hook(NULL, NULL);
        done = !f.fired;
        failed += f.fired;
        CHECK(f.fired ? ret == -EIO || ret == 0 : ret == 0);
        struct blob more = vault_k(9);
        s = reopen(s, dir);
        char *now = s ? state_of(s, STATE_ALL) : NULL;
        CHECK_EQ_STR(now, ref);
        if (s) {
            check_fsck_clean(s, false, __LINE__);
            import_ok(s, more); /* the journal goes on after either */
            s = reopen(s, dir);
            if (s)
                check_fsck_clean(s, false, __LINE__);
        }
        free(more.bytes);
        free(now);
        free(ref);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done && failed >= 3); /* write, fsync, rename, directory */
    fprintf(stderr, "store: a compaction survives a failed I/O step at each of %d steps\n",
            failed);
}

/* A store of format 1 before vaults/: the whole index in index.rec and
 * vultfs.json without id, as builds before issue 20 wrote it. */
static void make_format1(struct store *s, const char *dir)
{
    char *text = NULL, *config_text = NULL, path[4096];
    json_t *index = NULL, *config = json_deep_copy(s->config);

    CHECK_EQ_INT(index_whole(s, &index), 0);
    CHECK_EQ_INT(jsonx_dumps(&text, index, JSON_COMPACT | JSON_SORT_KEYS), 0);
    CHECK_EQ_INT(sealed_write(s->dirfd, INDEX_NAME, (const uint8_t *)text, strlen(text),
                              SEAL_KIND_INDEX, INDEX_ID, s->master),
                 0);
    CHECK_EQ_INT(json_object_set_new(config, "format", json_integer(1)), 0);
    CHECK_EQ_INT(json_object_del(config, "id"), 0);
    CHECK_EQ_INT(config_add_checksum(config), 0);
    CHECK_EQ_INT(jsonx_dumps(&config_text, config, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    CHECK_EQ_INT(io_write_atomic(s->dirfd, CONFIG_NAME, config_text, strlen(config_text), 0600),
                 0);
    snprintf(path, sizeof(path), "%s/vaults", dir);
    rm_rf(strdup(path));
    alloc_free(text);
    alloc_free(config_text);
    json_decref(index);
    json_decref(config);
}

/* A store of format 1 is brought to format 2 when it is opened to write;
 * with each I/O step of that failed once, the open fails or not, and the
 * next open (the steps done again) shows the same store, with a manifest. */
static void test_migration_faults(void)
{
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&spec_other);
    bool done = false;
    int failed = 0;

    for (int n = 1; n < 60 && !done; n++) {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        if (!s)
            break;
        import_ok(s, a);
        import_ok(s, b);
        import_ok(s, o);
        char *ref = state_of(s, STATE_ALL);
        make_format1(s, dir);
        store_close(s);
        s = NULL;
        struct fault f = {.n = n, .err = -EIO};
        io_set_fault_hook(fault_nth, &f);
        int ret = store_open(&s, NULL, dir, PASS, PASS_LEN);
        io_set_fault_hook(NULL, NULL);
        done = !f.fired;
        failed += f.fired;
        CHECK(ret == 0 || (f.fired && ret == -EIO));
        char *now = s ? state_of(s, STATE_ALL) : NULL;
        if (s)
            CHECK_EQ_STR(now, ref);
        free(now);
        store_close(s);
        s = NULL;
        CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, PASS_LEN), 0);
        now = s ? state_of(s, STATE_ALL) : NULL;
        CHECK_EQ_STR(now, ref);
        if (s) {
            CHECK(s->per_vault && s->manifest.loaded);
            CHECK_EQ_INT(json_integer_value(json_object_get(s->config, "format")), 2);
            check_fsck_clean(s, false, __LINE__);
        }
        free(now);
        free(ref);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done && failed >= 8);
    fprintf(stderr, "store: moving to format 2 survives a failed I/O step at each of %d steps\n",
            failed);
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
}

static char *copy_dir(const char *dir)
{
    char *to = make_dir(), cmd[8192];
    snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", dir, to);
    CHECK_EQ_INT(system(cmd), 0);
    return to;
}

/* A whole store restored from an older copy is refused where a newer one
 * was seen (-ESTALE), opens to read with the rollback a problem fsck
 * reports, and is taken as it is on demand (a deliberate restore). */
static void test_rollback_seen(void)
{
    struct blob a = synth(&spec_a), b = synth(&spec_b);
    char *state = make_dir(), *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct store_open_options opt = {.state_dir = state};

    if (!s)
        return;
    import_ok(s, a);
    store_close(s);
    s = NULL;
    CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), 0);
    store_close(s);
    s = NULL;
    char *older = copy_dir(dir);
    CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), 0);
    if (s)
        import_ok(s, b);
    uint64_t newest = s ? store_change(s, NULL, NULL) : 0;
    store_close(s);
    s = NULL;

    struct store_open_options o2 = {.state_dir = state};
    CHECK_EQ_INT(store_open_with(&s, NULL, older, PASS, PASS_LEN, &o2), -ESTALE);
    CHECK(o2.seen_change == newest && o2.change < newest);
    CHECK(s == NULL);
    o2 = (struct store_open_options){.state_dir = state};
    CHECK_EQ_INT(store_open_readonly_with(&s, older, PASS, PASS_LEN, &o2), 0);
    if (s) {
        struct store_fsck_report rep;
        CHECK_EQ_INT(store_fsck(s, &rep, NULL, NULL), -EIO);
        CHECK_EQ_INT(rep.rolled_back, 1);
        CHECK(has_problem_kind(s, STORE_PROBLEM_ROLLBACK));
    }
    store_close(s);
    s = NULL;
    o2 = (struct store_open_options){.state_dir = state, .accept_rollback = true};
    CHECK_EQ_INT(store_open_with(&s, NULL, older, PASS, PASS_LEN, &o2), 0);
    store_close(s);
    s = NULL;
    /* taken: the state file now says the copy's change, and opens stay quiet */
    o2 = (struct store_open_options){.state_dir = state};
    CHECK_EQ_INT(store_open_with(&s, NULL, older, PASS, PASS_LEN, &o2), 0);
    store_close(s);
    /* a damaged state file: whether it was rolled back cannot be told */
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", state, "x");
    DIR *d = opendir(state);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "store-", 6) == 0)
            snprintf(path, sizeof(path), "%s/%s", state, de->d_name);
    if (d)
        closedir(d);
    struct blob text = read_path(path);
    if (text.len > 12)
        text.bytes[10] ^= 1; /* inside the change number */
    write_path(path, text);
    free(text.bytes);
    s = NULL;
    o2 = (struct store_open_options){.state_dir = state};
    CHECK_EQ_INT(store_open_with(&s, NULL, older, PASS, PASS_LEN, &o2), -ESTALE);
    CHECK(strstr(o2.problem, "state file") != NULL);
    o2 = (struct store_open_options){.state_dir = state, .accept_rollback = true};
    CHECK_EQ_INT(store_open_with(&s, NULL, older, PASS, PASS_LEN, &o2), 0);
    store_close(s);
    rm_rf(older);
    rm_rf(dir);
    rm_rf(state);
    free(a.bytes);
    free(b.bytes);
}

/* A vault record missing, or an older copy of it: a store that may write
 * refuses to open (-EUCLEAN), and store_repair makes the record again from
 * the manifest and the share records, losing nothing: the same epochs,
 * numbers, import times and current epoch. */
static void test_repair_rebuilds_records(void)
{
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&spec_other);

    for (int how = 0; how < 3; how++) {
        char *dir = NULL, path[4096];
        struct store *s = fresh_store(&dir);
        if (!s)
            break;
        import_ok(s, a);
        vault_record_path(path, sizeof(path), s, dir, SYNTH_ECDSA);
        struct blob older = read_path(path);
        usleep(30000); /* without the manifest, the files' times order the epochs */
        import_ok(s, b);
        import_ok(s, o);
        /* without the manifest, times come from the files: compare the rest */
        char *ref = state_of(s, how == 2 ? 0 : STATE_ALL);
        store_close(s);
        s = NULL;
        if (how == 0)
            CHECK_EQ_INT(unlink(path), 0);
        else if (how == 1)
            write_path(path, older); /* an older copy restored */
        else {
            CHECK_EQ_INT(unlink(path), 0); /* and the manifest with it */
            char manifest[4096];
            snprintf(manifest, sizeof(manifest), "%s/vaults/manifest", dir);
            CHECK_EQ_INT(unlink(manifest), 0);
        }
        size_t shares = count_records(dir);
        struct store_open_options opt = {0};
        CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), -EUCLEAN);
        CHECK(opt.problem[0] != '\0');
        CHECK_EQ_INT(count_records(dir), shares);
        opt = (struct store_open_options){.repair = true};
        CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), 0);
        struct store_repair_report rep;
        CHECK_EQ_INT(s ? store_repair(s, print_line, "repair", &rep) : -1, 0);
        CHECK(rep.written && rep.vaults_rebuilt >= 1);
        CHECK_EQ_INT(count_records(dir), shares);
        char *now = s ? state_of(s, how == 2 ? 0 : STATE_ALL) : NULL;
        if (how == 2) {
            char *got = vaults_sorted(now), *want = vaults_sorted(ref);
            CHECK_EQ_STR(got, want);
            free(got);
            free(want);
        } else {
            CHECK_EQ_STR(now, ref);
        }
        free(now);
        store_close(s);
        s = NULL;
        CHECK_EQ_INT(store_open(&s, NULL, dir, PASS, PASS_LEN), 0);
        if (s) {
            const struct store_vault *v = store_vault_by_dir(s, "Synth Vault");
            CHECK(v && v->epoch_count == 2 && v->current && v->current->number == 2);
            check_fsck_clean(s, false, __LINE__);
            /* and another device's share of the current generation is still refused */
            struct store_import_result r;
            struct blob dev = synth(&spec_a_other_device);
            CHECK(store_import(s, dev.bytes, dev.len, NULL, &r) < 0);
            free(dev.bytes);
        }
        free(ref);
        free(older.bytes);
        store_close(s);
        rm_rf(dir);
    }
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
}

/* store_repair with each allocation failed once: it fails or not, and the
 * store then repairs and reads as it should, nothing lost. */
static void test_repair_allocations(void)
{
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&spec_other);
    bool done = false;
    long n;

    for (n = getenv("VULTFS_TEST_FROM") ? atol(getenv("VULTFS_TEST_FROM")) : 0;
         n < 20000 && !done; n += n < 200 ? 1 : 7) {
        char *dir = NULL, path[4096];
        struct store *s = fresh_store(&dir);
        if (!s)
            break;
        import_ok(s, a);
        import_ok(s, b);
        import_ok(s, o);
        char *ref = state_of(s, STATE_ALL);
        vault_record_path(path, sizeof(path), s, dir, SYNTH_ECDSA);
        store_close(s);
        s = NULL;
        CHECK_EQ_INT(unlink(path), 0);
        struct store_open_options opt = {.repair = true};
        CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), 0);
        struct store_repair_report rep;
        alloc_fail_once(n);
        int ret = s ? store_repair(s, NULL, NULL, &rep) : -1;
        done = alloc_failures() == 0;
        alloc_fail_once(-1);
        if (done)
            CHECK_EQ_INT(ret, 0);
        store_close(s);
        s = NULL;
        opt = (struct store_open_options){.repair = true};
        CHECK_EQ_INT(store_open_with(&s, NULL, dir, PASS, PASS_LEN, &opt), 0);
        CHECK_EQ_INT(s ? store_repair(s, print_line, "again", &rep) : -1, 0);
        char *now = s ? state_of(s, STATE_ALL) : NULL;
        CHECK_EQ_STR(now, ref);
        if (strcmp(now ? now : "", ref) != 0)
            fprintf(stderr, "  repair failing at allocation %ld (ret %d)\n", n, ret);
        if (s)
            check_fsck_clean(s, false, __LINE__);
        free(now);
        free(ref);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done);
    fprintf(stderr, "store: a repair survives a failure (fail-once) at allocations 0..%ld\n", n);
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
}

/* ---- failed allocations ------------------------------------------------------------------------ */

/* The two ways the allocation hook fails: from the n-th allocation on
 * (memory exhausted), or only the n-th (a failure a library may swallow). */
struct alloc_mode {
    const char *name;
    void (*fail)(long n);
    bool sticky;
};
static const struct alloc_mode alloc_modes[] = {
    {"fail-from-n-on", alloc_fail_after, true},
    {"fail-once", alloc_fail_once, false},
};

/* Imports b over a with the n-th allocation failing, for every n: the store
 * must reopen, hold a's state or b's (b's when the import said so), and
 * pass fsck. b is a new generation (a new epoch), or a's backup grown by
 * an ML-DSA key (its epoch's file replaced in place). */
static void alloc_loop_import(const struct alloc_mode *mode, const struct synth_spec *spec_b_)
{
    struct blob a = synth(&spec_a), b = synth(spec_b_);
    char *old_ref = NULL, *new_ref = NULL;
    long n;
    bool done = false;

    /* the two states, without times and inodes (which are per store) */
    {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        struct store_import_result r;
        if (!s)
            return;
        CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
        old_ref = state_of(s, 0);
        CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
        new_ref = state_of(s, 0);
        store_close(s);
        rm_rf(dir);
    }
    for (n = 0; n < 20000 && !done; n++) {
        char *dir = NULL;
        struct store *s = fresh_store(&dir);
        struct store_import_result r;
        if (!s)
            break;
        CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
        mode->fail(n);
        int ret = store_import(s, b.bytes, b.len, NULL, &r);
        long failures = alloc_failures();
        alloc_fail_after(-1);
        done = failures == 0;
        if (done)
            CHECK_EQ_INT(ret, 0);
        /* from the n-th on, nothing can succeed: the import must say so */
        if (failures && mode->sticky && ret >= 0) {
            CHECK(ret < 0);
            fprintf(stderr, "  %s: import with allocation %ld failed returned %d\n",
                    mode->name, n, ret);
        }
        if (ret < 0)
            CHECK(r.outcome == EPOCHS_FAILED && r.reason[0] != '\0');
        s = reopen(s, dir); /* CHECKs that the index still opens */
        if (s) {
            char *now = state_of(s, 0);
            /* a failure after the index is durable still reports an error */
            bool ok = ret == 0 ? strcmp(now, new_ref) == 0
                               : strcmp(now, old_ref) == 0 || strcmp(now, new_ref) == 0;
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  %s: allocation %ld, import returned %d: state:\n%s",
                        mode->name, n, ret, now);
            free(now);
            check_fsck_clean(s, true, __LINE__);
        } else {
            fprintf(stderr, "  %s: allocation %ld left a store that does not open\n",
                    mode->name, n);
        }
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done);
    CHECK(n > 20);
    fprintf(stderr, "store: import%s survives a failure (%s) at each of %ld allocations\n",
            spec_b_->mldsa ? " of a grown backup" : "", mode->name, n - 1);
    free(old_ref);
    free(new_ref);
    free(a.bytes);
    free(b.bytes);
}

/* Opens a store with the n-th allocation failing, for every n: an open
 * that fails leaves nothing; one that succeeds sees exactly the store and
 * still refuses another device's share of a held vault. */
static void alloc_loop_open(const struct alloc_mode *mode)
{
    /* the current generation's share of another device: co-location */
    static const struct synth_spec spec_b_other_device = {
        .name = "Synth Vault", .device = "laptop-2",
        .signers = {"phone-1", "laptop-2", "server-3"}, .lib_type = VULT_LIB_DKLS,
        .share_tag = "gen2"};
    char *dir = NULL;
    struct store *s = fresh_store(&dir);
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&spec_other);
    struct blob a_dev = synth(&spec_b_other_device);
    struct store_import_result r;
    bool done = false;
    long n;

    if (!s)
        return;
    CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
    CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
    CHECK_EQ_INT(store_import(s, o.bytes, o.len, NULL, &r), 0);
    CHECK_EQ_INT(store_import(s, a_dev.bytes, a_dev.len, NULL, &r), -EPERM);
    char *ref = state_of(s, STATE_ALL);
    store_close(s);
    s = NULL;
    for (n = 0; n < 20000 && !done; n++) {
        struct store *t = NULL;
        mode->fail(n);
        int ret = store_open(&t, NULL, dir, PASS, PASS_LEN);
        long failures = alloc_failures();
        alloc_fail_after(-1);
        done = failures == 0;
        if (done || (!mode->sticky && ret == 0)) {
            CHECK_EQ_INT(ret, 0);
            if (t) {
                char *now = state_of(t, STATE_ALL);
                CHECK_EQ_STR(now, ref);
                free(now);
                ret = store_import(t, a_dev.bytes, a_dev.len, NULL, &r);
                CHECK_EQ_INT(ret, -EPERM);
                if (ret != -EPERM)
                    fprintf(stderr, "  %s: allocation %ld: another device's share: %s (%s)\n",
                            mode->name, n, epochs_outcome_name(r.outcome), r.reason);
            }
        } else {
            CHECK(ret < 0);
            CHECK(t == NULL);
            if (ret >= 0)
                fprintf(stderr, "  %s: open with allocation %ld failed returned %d\n",
                        mode->name, n, ret);
            /* out of memory for good: never "the store is damaged" */
            if (mode->sticky && ret != -ENOMEM) {
                CHECK_EQ_INT(ret, -ENOMEM);
                fprintf(stderr, "  %s: open with allocation %ld failed: %s\n", mode->name, n,
                        strerror(-ret));
            }
        }
        store_close(t);
        t = NULL;
        CHECK_EQ_INT(store_open(&t, NULL, dir, PASS, PASS_LEN), 0);
        if (t) {
            char *now = state_of(t, STATE_ALL);
            CHECK_EQ_STR(now, ref);
            free(now);
            if (done || n % 16 == 0)
                check_fsck_clean(t, false, __LINE__);
        }
        store_close(t);
    }
    CHECK(done);
    CHECK(n > 10);
    fprintf(stderr, "store: open survives a failure (%s) at each of %ld allocations\n",
            mode->name, n - 1);
    free(ref);
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
    free(a_dev.bytes);
    rm_rf(dir);
}

/* ---- rekey ------------------------------------------------------------------------------------- */

#define NEW_PASS "a new passphrase"

/* A fresh store holding a (epochs 1 and 2, from b) and the other vault. */
static struct store *store_of_three(char **dir)
{
    struct blob a = synth(&spec_a), b = synth(&spec_b), o = synth(&spec_other);
    struct store_import_result r;
    struct store *s = fresh_store(dir);

    if (s) {
        CHECK_EQ_INT(store_import(s, a.bytes, a.len, NULL, &r), 0);
        CHECK_EQ_INT(store_import(s, b.bytes, b.len, NULL, &r), 0);
        CHECK_EQ_INT(store_import(s, o.bytes, o.len, NULL, &r), 0);
    }
    free(a.bytes);
    free(b.bytes);
    free(o.bytes);
    return s;
}

/* A rekey with the n-th allocation or I/O step failing (fail, undone by
 * unfail), for every n: the store opens with the old passphrase or, once
 * the rekey says it switched, the new one, with the same vaults and no
 * damaged or missing record. Returns true once nothing failed. */
static bool rekey_failing_at(long n, void (*fail)(long n, void *ctx), long (*unfail)(void *ctx),
                             void *ctx, const char *ref)
{
    char *dir = NULL;
    struct store *s = store_of_three(&dir);
    bool switched = false;

    if (!s)
        return true;
    fail(n, ctx);
    int ret = store_rekey(s, &switched, NEW_PASS, strlen(NEW_PASS), NULL);
    long failures = unfail(ctx);
    store_close(s);
    s = NULL;
    if (!failures)
        CHECK(ret == 0 && switched);
    bool new_pass = ret == 0 || switched;
    CHECK_EQ_INT(store_open(&s, NULL, dir, new_pass ? NEW_PASS : PASS,
                            strlen(new_pass ? NEW_PASS : PASS)), 0);
    struct store *other = NULL;
    CHECK_EQ_INT(store_open(&other, NULL, dir, new_pass ? PASS : NEW_PASS,
                            strlen(new_pass ? PASS : NEW_PASS)), -EACCES);
    if (s) {
        char *now = state_of(s, 0);
        CHECK_EQ_STR(now, ref);
        free(now);
        check_fsck_clean(s, ret < 0, __LINE__);
    } else {
        fprintf(stderr, "  rekey failing at %ld (ret %d, switched %d): the store does not open\n",
                n, ret, switched);
        struct store *r = NULL;
        if (store_open_readonly(&r, dir, new_pass ? NEW_PASS : PASS,
                                strlen(new_pass ? NEW_PASS : PASS)) == 0) {
            for (size_t i = 0; i < store_problem_count(r); i++) {
                char text[1024];
                bool blocks;
                store_problem_text(text, sizeof(text), &blocks, r, i);
                fprintf(stderr, "    %s\n", text);
            }
        }
        store_close(r);
    }
    store_close(s);
    rm_rf(dir);
    return failures == 0;
}

static void fail_alloc(long n, void *ctx)
{
    ((const struct alloc_mode *)ctx)->fail(n);
}

static long unfail_alloc(void *ctx)
{
    long failures = alloc_failures();
    (void)ctx;
    alloc_fail_after(-1);
    return failures;
}

static void fail_io(long n, void *ctx)
{
    struct fault *f = ctx;
    *f = (struct fault){.n = (int)n, .err = -EIO};
    io_set_fault_hook(fault_nth, f);
}

static long unfail_io(void *ctx)
{
    io_set_fault_hook(NULL, NULL);
    return ((struct fault *)ctx)->fired;
}

static void rekey_loops(void)
{
    char *dir = NULL, *ref = NULL;
    struct store *s = store_of_three(&dir);
    struct fault f;
    long n;

    if (!s)
        return;
    ref = state_of(s, 0);
    store_close(s);
    rm_rf(dir);
    for (n = 1; n < 200 && !rekey_failing_at(n, fail_io, unfail_io, &f, ref); n++)
        ;
    CHECK(n > 10 && n < 200);
    fprintf(stderr, "store: rekey survives a failed I/O step at each of %ld steps\n", n - 1);
    /* every allocation of the first 64, then every 24th: each round costs
     * some 25 fsyncs, and the allocations repeat per record */
    for (size_t i = 0; i < sizeof(alloc_modes) / sizeof(alloc_modes[0]); i++) {
        void *mode = (void *)&alloc_modes[i];
        for (n = 0; n < 20000 && !rekey_failing_at(n, fail_alloc, unfail_alloc, mode, ref);
             n += n < 64 ? 1 : 24)
            ;
        CHECK(n > 10 && n < 20000);
        fprintf(stderr, "store: rekey survives a failure (%s) at allocations 0..%ld\n",
                alloc_modes[i].name, n);
    }
    free(ref);
}

/* A change staged into a batch (store_import_stage) with the n-th
 * allocation failing, for every n, then flushed: refused, it leaves the
 * store as it was on disk (and in memory, unless the views were lost to
 * the failure); staged, the store shows it and reopens the same. */
static void alloc_loop_stage(const struct alloc_mode *mode)
{
    struct batch_files files = batch_files();
    long n;
    bool done = false;

    for (n = 0; n < 20000 && !done; n++) {
        char *dir = NULL;
        struct store *s = store_for_batch(&dir, files.other, files.a);
        struct store_decoded *decoded = NULL;
        struct store_import_result r;
        struct store_ticket t;
        if (!s)
            break;
        char *old = state_of(s, 0);
        CHECK_EQ_INT(store_import_decode(&decoded, s, files.b.bytes, files.b.len, &r), 0);
        mode->fail(n);
        int ret = decoded ? store_import_stage(s, decoded, NULL, &r, &t) : -1;
        long failures = alloc_failures();
        alloc_fail_after(-1);
        store_decoded_free(decoded);
        done = failures == 0;
        struct store_batch *batch = ret == 0 && !t.settled ? store_commit_take(s) : NULL;
        if (batch)
            store_commit_end(s, batch, store_commit_flush(s, batch));
        CHECK(t.settled && (ret < 0 || t.result == 0));
        char *mem = state_of(s, 0);
        /* out of memory, the views may be left empty (index_set_vault);
         * the next open has them */
        if (ret < 0)
            CHECK(strcmp(mem, old) == 0 || strcmp(mem, "") == 0);
        s = reopen(s, dir);
        char *now = s ? state_of(s, 0) : NULL;
        CHECK_EQ_STR(now, ret < 0 ? old : mem);
        if (s)
            check_fsck_clean(s, true, __LINE__);
        free(now);
        free(mem);
        free(old);
        store_close(s);
        rm_rf(dir);
    }
    CHECK(done && n > 20);
    fprintf(stderr, "store: a staged import survives a failure (%s) at each of %ld allocations\n",
            mode->name, n - 1);
    batch_files_free(&files);
}

static void alloc_loops(void)
{
    test_repair_allocations();
    for (size_t i = 0; i < sizeof(alloc_modes) / sizeof(alloc_modes[0]); i++) {
        alloc_loop_stage(&alloc_modes[i]);
        alloc_loop_import(&alloc_modes[i], &spec_b);
        alloc_loop_import(&alloc_modes[i], &spec_a_mldsa);
        alloc_loop_open(&alloc_modes[i]);
    }
}

int main(int argc, char **argv)
{
    const char *fx = check_fixtures_dir();

    alloc_install_jansson();
    if (backup_crypto_init() < 0 || sodium_init() < 0) {
        fprintf(stderr, "test_store: no AES-256-GCM on this CPU\n");
        return 77;
    }
    /* another ECDSA key for the other synthetic vault */
    memcpy(other_ecdsa + 2, "cafe", 4);
    memcpy(other_ecdsa + strlen(other_ecdsa) - 4, "beef", 4);
    memcpy(third_ecdsa + 2, "7777", 4);
    spec_third.ecdsa = third_ecdsa;
    seal_kdf_default(&cheap_kdf);
    cheap_kdf.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    cheap_kdf.memlimit = crypto_pwhash_MEMLIMIT_MIN;

    /* "test_store alloc": only the allocation loops (for valgrind) */
    if (argc > 1 && strcmp(argv[1], "alloc") == 0) {
        alloc_loops();
        return check_done("store");
    }
    if (argc > 1 && strcmp(argv[1], "manifest") == 0) { /* issue 20's tests alone */
        test_manifest_compaction();
        test_compaction_faults();
        test_migration_faults();
        test_rollback_seen();
        test_repair_rebuilds_records();
        test_repair_allocations();
        return check_done("store");
    }

    test_synthetic_table();
    test_synthetic_device_line();
    test_synthetic_migration();
    test_repair_by_reimport();
    test_grown_backup_in_store();
    test_old_facts_refreshed();
    test_index_without_key_shares();
    test_synthetic_restore_orders();
    test_passphrase_and_lock();
    test_wrong_passphrase_fresh();
    rekey_loops();
    test_vault_json_and_names(fx);
    test_vault_json_text();
    test_shared_values_after_reopen();
    test_persistence(fx);
    if (fx) {
        test_fixture_colocation(fx);
        test_fixture_reshares(fx);
        test_fixture_history(fx);
    } else {
        fprintf(stderr, "test_store: no VULTFS_FIXTURES: real-share cases skipped\n");
    }
    test_flushes_per_import();
    test_batch_commit();
    test_batch_faults(IO_FLUSH_FS);
    test_batch_faults(IO_FLUSH_FILES);
    test_io_faults();
    test_manifest_compaction();
    test_compaction_faults();
    test_migration_faults();
    test_rollback_seen();
    test_repair_rebuilds_records();
    alloc_loops();
    return check_done("store");
}
