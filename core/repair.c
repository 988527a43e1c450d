/*
 * repair: vultfs fsck --repair. Share records are the truth; vault records
 * are derived from them, and this makes them again, losing nothing:
 *
 * - a vault whose record is missing, older than the manifest says,
 *   altered or damaged is rebuilt from the manifest's skeleton of it (its
 *   epochs' numbers, records, import times and current flag, the records a
 *   replace kept, its forgotten markers, directory hint and order) and its
 *   share records' facts;
 * - a share record no epoch names (an import that did not finish, or a
 *   record older than its shares, the manifest's too) is taken in under
 *   the import rules, oldest file first: a new generation becomes a new
 *   epoch, the same share in other bytes is kept beside its epoch (as
 *   vultfs replace keeps one); one the rules refuse stays as it is, named;
 * - share records of what was forgotten on purpose (a vault the manifest
 *   says was forgotten, a generation among a vault's forgotten markers) are
 *   removed: the forget that left them did not finish;
 * - then every vault record and a new manifest are written at once
 *   (index_write_all), a store of format 1 becomes format 2, and the store
 *   is read again, so what fsck says next is about the repaired store.
 *
 * Without a skeleton (no manifest, or one that lost it) an epoch's number
 * comes from the rules in the order the share records were written, and
 * its import time is that file's time: a copy or a rekey may have changed
 * it. Nothing else is guessed, and every step is reported.
 */
#include "store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "completeness.h"
#include "io.h"

struct repair {
    struct store *store;
    void (*line)(void *ctx, const char *text);
    void *ctx;
    json_t *skeletons;  /* vault record key -> {"state": "present"|"absent"|"forgotten", "skeleton": {...}} */
    bool manifest_read;
    json_t *orphans;    /* ECDSA key -> [{"record", "sec", "nsec"}] */
    json_t *remove;     /* share records to remove once the index is written */
    size_t changed, unreadable, kept;
};

__attribute__((format(printf, 2, 3))) static void say(struct repair *r, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    if (!r->line)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    r->line(r->ctx, text);
}

/* ---- what the manifest knew --------------------------------------------------------- */

static int take_skeletons(void *ctx, unsigned kind, uint64_t change, const uint8_t *id,
                          const struct manifest_item *items, size_t count)
{
    json_t *skeletons = ctx;
    (void)kind, (void)change, (void)id;

    for (size_t i = 0; i < count; i++) {
        const struct manifest_item *it = &items[i];
        if (!manifest_is_vault_key(it->key))
            continue;
        json_t *entry = json_object_get(skeletons, it->key);
        if (!entry) {
            entry = json_object();
            if (!entry || json_object_set_new(skeletons, it->key, entry) < 0)
                return -ENOMEM;
        }
        const char *state = it->state.present     ? "present"
                            : it->state.forgotten ? "forgotten"
                                                  : "absent";
        if (json_object_set_new(entry, "state", json_string(state)) < 0)
            return -ENOMEM;
        if (!it->state.present || !it->skeleton_len)
            continue; /* a settled or lost record keeps the skeleton it had */
        json_t *sk = NULL;
        int ret = jsonx_loads(&sk, (const uint8_t *)it->skeleton, it->skeleton_len);
        if (ret == 0 && !json_is_object(sk))
            ret = -EIO;
        if (ret < 0) {
            json_decref(sk);
            return ret == -EBADMSG ? -EIO : ret;
        }
        if (json_object_set_new(entry, "skeleton", sk) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int read_skeletons(struct repair *r)
{
    uint8_t *file = NULL;
    size_t len = 0, whole = 0;
    int ret = r->store->per_vault ? io_read_file(&file, &len, r->store->vaultsfd, MANIFEST_NAME,
                                                 (size_t)256 << 20)
                                  : -ENOENT;

    r->skeletons = json_object();
    if (!r->skeletons || ret == -ENOMEM) {
        alloc_free(file);
        return -ENOMEM;
    }
    if (ret == 0) {
        ret = manifest_walk(file, len, r->store->master, take_skeletons, r->skeletons, &whole);
        alloc_free(file);
        /* a skeleton that opened but does not parse is memory, or a bug:
         * never a reason to rebuild with less than the manifest knew */
        if (ret < 0 && ret != -EBADMSG)
            return ret;
    }
    r->manifest_read = ret == 0;
    if (ret < 0 && ret != -ENOENT)
        say(r, "the manifest cannot be read: what it knew of each vault's epochs is lost, and "
               "vaults are rebuilt from their share records alone");
    return 0;
}

/* ---- share records --------------------------------------------------------------------- */

/* A share record's Vault, parsed (v points into *plain, alloc_secret) and
 * described; unload_share frees what this made, whatever it returned. */
static int load_share(uint8_t **plain, struct vult_vault *v, struct epochs_entry *d,
                      size_t *len, const struct store *store, const char *record)
{
    int ret = record_load_share(plain, len, store, record);

    if (ret == 0)
        ret = vult_vault_parse(v, NULL, *plain, *len);
    if (ret == 0)
        ret = epochs_describe(d, v);
    return ret;
}

static void unload_share(uint8_t *plain, struct vult_vault *v, struct epochs_entry *d)
{
    vult_vault_clear(v);
    if (d)
        epochs_entry_clear(d);
    alloc_free(d);
    alloc_secret_free(plain);
}

static void file_time(int64_t *sec, int32_t *nsec, const struct store *store, const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    struct stat st;

    snprintf(name, sizeof(name), "%s.rec", record);
    *sec = 0;
    *nsec = 0;
    if (fstatat(store->sharesfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        *sec = st.st_mtim.tv_sec;
        *nsec = (int32_t)st.st_mtim.tv_nsec;
    }
}

struct orphan_walk {
    struct repair *r;
    struct record_set referenced;
};

/* Each share record no epoch names, by its vault's key. */
static int note_orphan(void *ctx, const char *name)
{
    struct orphan_walk *w = ctx;
    struct repair *r = w->r;
    char record[2 * RECORD_NAME_BYTES + 1], ecdsa[FSCK_KEY_CHARS], vault[256];
    enum fsck_orphan kind;
    int64_t sec;
    int32_t nsec;

    if (!record_of_file(record, name) || record_set_has(&w->referenced, record))
        return 0;
    int ret = fsck_classify_orphan(&kind, ecdsa, sizeof(ecdsa), vault, sizeof(vault), r->store,
                                   record);
    if (ret < 0)
        return ret;
    if (kind == FSCK_ORPHAN_UNREADABLE) {
        r->unreadable++;
        say(r, "share record %s does not open: kept as it is (nothing in it can be read)", name);
        return 0;
    }
    json_t *list = json_object_get(r->orphans, ecdsa);
    if (!list && (!(list = json_array()) || json_object_set_new(r->orphans, ecdsa, list) < 0))
        return -ENOMEM;
    file_time(&sec, &nsec, r->store, record);
    return json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:s}", "record", record,
                                                 "sec", (json_int_t)sec, "nsec", (json_int_t)nsec,
                                                 "name", vault)) < 0
               ? -ENOMEM
               : 0;
}

static int find_orphans(struct repair *r)
{
    struct orphan_walk w = {r, {NULL, 0, 0}};
    int ret;

    r->orphans = json_object();
    if (!r->orphans)
        return -ENOMEM;
    ret = record_set_of(&w.referenced, r->store);
    if (ret == 0)
        ret = io_list_dir(r->store->sharesfd, note_orphan, &w);
    record_set_free(&w.referenced);
    return ret;
}

/* ---- one vault ------------------------------------------------------------------------- */

static bool has_record_problem(const struct store *store, const char *key)
{
    for (size_t i = 0; i < store->problem_count; i++) {
        enum store_problem_kind k = store->problems[i].kind;
        if ((k == STORE_PROBLEM_RECORD_MISSING || k == STORE_PROBLEM_RECORD_DIFFERS ||
             k == STORE_PROBLEM_RECORD_DAMAGED || k == STORE_PROBLEM_RECORD_UNLISTED) &&
            strcmp(store->problems[i].key, key) == 0)
            return true;
    }
    return false;
}

/* Does vault name record, in an epoch or beside one? */
static bool names_record(const json_t *vault, const char *record)
{
    size_t i, j;
    json_t *e, *k;

    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        if (strcmp(jsonx_str(e, "record"), record) == 0)
            return true;
        json_array_foreach(json_object_get(e, "replaced"), j, k)
            if (strcmp(jsonx_str(k, "record"), record) == 0)
                return true;
    }
    return false;
}

static int set_time(json_t *obj, int64_t sec, int32_t nsec)
{
    return json_object_set_new(obj, "imported_sec", json_integer(sec)) < 0 ||
                   json_object_set_new(obj, "imported_nsec", json_integer(nsec)) < 0
               ? -ENOMEM
               : 0;
}

/* The vault from its skeleton: each epoch whose share record is there and
 * is this vault's, with the skeleton's number, time and current flag. */
static int from_skeleton(struct repair *r, json_t **out, const json_t *sk, const char *ecdsa,
                         const char *name)
{
    json_t *vault = json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
    size_t i;
    json_t *e;
    int ret = vault ? 0 : -ENOMEM;

    if (ret == 0 && json_object_get(sk, "dir_name") &&
        json_object_set(vault, "dir_name", json_object_get(sk, "dir_name")) < 0)
        ret = -ENOMEM;
    if (ret == 0 && json_object_get(sk, "forgotten") &&
        json_object_set(vault, "forgotten", json_object_get(sk, "forgotten")) < 0)
        ret = -ENOMEM;
    json_array_foreach(json_object_get(sk, "epochs"), i, e) {
        const char *record = jsonx_str(e, "record");
        uint8_t *plain = NULL;
        size_t len = 0;
        struct vult_vault v = {0};
        struct epochs_entry *d = ret == 0 ? alloc_zeroed(1, sizeof(*d)) : NULL;
        if (ret < 0 || !d) {
            ret = ret < 0 ? ret : -ENOMEM;
            break;
        }
        int loaded = load_share(&plain, &v, d, &len, r->store, record);
        bool ours = loaded == 0 && v.public_key_ecdsa.len == strlen(ecdsa) &&
                    memcmp(v.public_key_ecdsa.ptr, ecdsa, v.public_key_ecdsa.len) == 0;
        if (loaded == -ENOMEM) {
            ret = loaded;
        } else if (!ours) {
            say(r,
                "vault \"%s\": epoch %" PRIu64 "'s share record %s.rec %s: that epoch "
                "cannot be rebuilt",
                name, jsonx_num(e, "number"), record,
                loaded == -ENOENT ? "is missing" : "does not open, or is another vault's");
        } else {
            json_t *epoch =
                import_epoch_json(&v, d, jsonx_num(e, "number"),
                                  json_is_true(json_object_get(e, "current")), record, len);
            ret = epoch ? set_time(epoch, (int64_t)jsonx_num(e, "imported_sec"),
                                   (int32_t)jsonx_num(e, "imported_nsec"))
                        : -ENOMEM;
            if (ret == 0 && json_object_get(e, "replaced") &&
                json_object_set(epoch, "replaced", json_object_get(e, "replaced")) < 0)
                ret = -ENOMEM;
            if (ret == 0 && json_array_append(json_object_get(vault, "epochs"), epoch) < 0)
                ret = -ENOMEM;
            json_decref(epoch);
        }
        unload_share(plain, &v, d);
    }
    if (ret < 0) {
        json_decref(vault);
        return ret;
    }
    *out = vault;
    return 0;
}

/* Is generation among vault's forgotten markers? */
static bool forgotten_generation(const json_t *vault, const struct epochs_entry *d)
{
    char hex[2 * EPOCHS_DIGEST_BYTES + 1];
    size_t i;
    json_t *f;

    hex_encode(hex, d->generation, EPOCHS_DIGEST_BYTES);
    json_array_foreach(json_object_get(vault, "forgotten"), i, f)
        if (strcmp(jsonx_str(f, "generation"), hex) == 0)
            return true;
    return false;
}

/* The epoch of vault whose shares digest is d's, or NULL. */
static json_t *epoch_with_shares(json_t *vault, const struct epochs_entry *d)
{
    char hex[2 * EPOCHS_DIGEST_BYTES + 1];
    size_t i;
    json_t *e;

    hex_encode(hex, d->shares, EPOCHS_DIGEST_BYTES);
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (strcmp(jsonx_str(e, "shares"), hex) == 0)
            return e;
    return NULL;
}

/* Takes in d (the share of record, v's) under the rules, as an import of
 * it would have been. */
static int take_in(struct repair *r, json_t *vault, const json_t *cand, const char *name,
                   const struct vult_vault *v, const struct epochs_entry *d, size_t len)
{
    const char *record = jsonx_str(cand, "record");
    struct epochs_entry *entries = NULL;
    struct entries_unreadable unreadable;
    size_t count = 0, i;
    json_t *e;
    int ret = import_held_entries(&entries, &count, &unreadable, r->store, vault);

    if (ret < 0)
        return ret;
    struct epochs_candidate c = {.complete = completeness_of(v).gap == COMPLETENESS_OK,
                                 .in_its_place = true};
    c.share = *d; /* borrowed */
    struct epochs_decision decision = epochs_decide(entries, count, &c);
    epochs_entries_free(entries, count);
    json_t *held = epoch_with_shares(vault, d);
    int64_t sec = (int64_t)jsonx_num(cand, "sec");
    int32_t nsec = (int32_t)jsonx_num(cand, "nsec");

    if (decision.outcome == EPOCHS_NEW_VAULT || decision.outcome == EPOCHS_NEW_EPOCH) {
        json_array_foreach(json_object_get(vault, "epochs"), i, e)
            if (json_object_set_new(e, "current", json_false()) < 0)
                return -ENOMEM;
        json_t *epoch = import_epoch_json(v, d, decision.epoch, true, record, len);
        if (!epoch || set_time(epoch, sec, nsec) < 0 ||
            json_array_append(json_object_get(vault, "epochs"), epoch) < 0)
            ret = -ENOMEM;
        json_decref(epoch);
        if (ret == 0)
            say(r, "vault \"%s\": share record %s.rec taken in as epoch %" PRIu64 ", the "
                   "current one (import time: the file's)", name, record, decision.epoch);
        return ret;
    }
    if (held) {
        /* the same share in other bytes: kept beside its epoch */
        json_t *replaced = json_object_get(held, "replaced");
        if (!replaced && (!(replaced = json_array()) ||
                          json_object_set_new(held, "replaced", replaced) < 0))
            return -ENOMEM;
        json_t *kept = json_pack("{s:s}", "record", record);
        if (!kept || set_time(kept, sec, nsec) < 0 || json_array_append(replaced, kept) < 0)
            ret = -ENOMEM;
        json_decref(kept);
        if (ret == 0)
            say(r,
                "vault \"%s\": share record %s.rec holds epoch %" PRIu64 "'s share in "
                "other bytes: kept beside it",
                name, record, jsonx_num(held, "number"));
        return ret;
    }
    r->kept++;
    say(r, "vault \"%s\": share record %s.rec kept as it is, not taken in: the rules say %s "
           "(epoch %" PRIu64 "); vultfs forget removes it with the vault",
        name, record, epochs_outcome_name(decision.outcome), decision.epoch);
    return 0;
}

/* One share record no epoch of vault names: removed when its generation
 * was forgotten on purpose, else taken in under the rules. */
static int adopt(struct repair *r, json_t *vault, const json_t *cand, const char *name)
{
    const char *record = jsonx_str(cand, "record");
    struct epochs_entry *d = alloc_zeroed(1, sizeof(*d));
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v = {0};
    int ret = d ? load_share(&plain, &v, d, &len, r->store, record) : -ENOMEM;

    if (ret < 0 && ret != -ENOMEM) {
        r->kept++;
        say(r, "share record %s.rec could not be read again: kept as it is", record);
        ret = 0;
    } else if (ret == 0 && forgotten_generation(vault, d)) {
        say(r, "vault \"%s\": share record %s.rec is of an epoch forgotten on purpose: "
               "removed (vultfs forget --epoch had not finished)", name, record);
        ret = json_object_set_new(r->remove, record, json_true()) < 0 ? -ENOMEM : 0;
    } else if (ret == 0) {
        ret = take_in(r, vault, cand, name, &v, d, len);
    }
    unload_share(plain, &v, d);
    return ret;
}

static int compare_candidates(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    uint64_t xs = jsonx_num(x, "sec"), ys = jsonx_num(y, "sec");
    uint64_t xn = jsonx_num(x, "nsec"), yn = jsonx_num(y, "nsec");

    if (xs != ys)
        return xs < ys ? -1 : 1;
    if (xn != yn)
        return xn < yn ? -1 : 1;
    return strcmp(jsonx_str(x, "record"), jsonx_str(y, "record"));
}

/* The candidates of a vault, oldest file first. */
static int sorted(json_t **out, const json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = alloc_zeroed(n ? n : 1, sizeof(*items));
    json_t *copy = json_array();
    int ret = items && copy ? 0 : -ENOMEM;

    for (size_t i = 0; ret == 0 && i < n; i++)
        items[i] = json_array_get(list, i);
    if (ret == 0 && n)
        qsort(items, n, sizeof(*items), compare_candidates);
    for (size_t i = 0; ret == 0 && i < n; i++)
        if (json_array_append(copy, items[i]) < 0)
            ret = -ENOMEM;
    alloc_free(items);
    if (ret < 0) {
        json_decref(copy);
        return ret;
    }
    *out = copy;
    return 0;
}

/* A vault's name as its shares give it: the first candidate's. */
static const char *name_of(const json_t *vault, const json_t *cands)
{
    const json_t *epochs = json_object_get(vault, "epochs");
    size_t n = json_array_size(epochs);
    if (n)
        return jsonx_str(json_object_get(json_array_get(epochs, n - 1), "facts"), "name");
    return jsonx_str(json_array_get(cands, 0), "name");
}

/* One vault made again: its record's, the manifest's skeleton, and the
 * share records no epoch names. */
static int fix_vault(struct repair *r, const char *ecdsa)
{
    struct store *store = r->store;
    char key[MANIFEST_KEY_BYTES];
    json_t *held = NULL, *vault = NULL, *cands = json_array();
    int ret = cands ? index_vault_get(store, ecdsa, &held) : -ENOMEM;
    uint64_t order = UINT64_MAX;

    index_vault_record_name(key, store, ecdsa);
    const json_t *known = json_object_get(r->skeletons, key);
    const json_t *sk = json_object_get(known, "skeleton");
    bool record_ok = held && !has_record_problem(store, key);
    const json_t *orphans = json_object_get(r->orphans, ecdsa);
    const char *name = jsonx_str(json_array_get(orphans, 0), "name");
    const struct store_vault *view = views_by_ecdsa(store, ecdsa);
    if (view && view->latest)
        name = view->latest->facts.name;

    if (ret == 0 && !held && !sk && strcmp(jsonx_str(known, "state"), "forgotten") == 0) {
        /* the vault was forgotten on purpose and its shares stayed */
        size_t i;
        json_t *o;
        json_array_foreach(orphans, i, o) {
            say(r,
                "share record %s.rec of vault \"%s\", which was forgotten on purpose: "
                "removed (vultfs forget had not finished)",
                jsonx_str(o, "record"), jsonx_str(o, "name"));
            if (json_object_set_new(r->remove, jsonx_str(o, "record"), json_true()) < 0)
                ret = -ENOMEM;
        }
        json_decref(cands);
        return ret;
    }
    if (ret == 0 && !record_ok && sk) {
        ret = from_skeleton(r, &vault, sk, ecdsa, name);
        order = jsonx_num(sk, "order");
        if (ret == 0)
            say(r, "vault \"%s\": its record rebuilt from the manifest (%zu epochs)", name,
                json_array_size(json_object_get(vault, "epochs")));
        /* what the record on disk named beyond the skeleton is taken in too */
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(held, "epochs"), i, e) {
            if (ret == 0 && !names_record(vault, jsonx_str(e, "record")))
                ret = json_array_append_new(
                          cands, json_pack("{s:s, s:I, s:I}", "record", jsonx_str(e, "record"),
                                           "sec", (json_int_t)jsonx_num(e, "imported_sec"), "nsec",
                                           (json_int_t)jsonx_num(e, "imported_nsec"))) < 0
                          ? -ENOMEM
                          : 0;
        }
    } else if (ret == 0 && held) {
        vault = jsonx_copy(held);
        ret = vault ? 0 : -ENOMEM;
    } else if (ret == 0) {
        vault = json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
        ret = vault ? 0 : -ENOMEM;
        if (ret == 0)
            say(r, "vault \"%s\" (ECDSA key %s) had no record: rebuilt from its share records "
                   "alone (epoch numbers by the order its files were written, import times "
                   "the files' times)", name, ecdsa);
    }
    size_t i;
    json_t *o, *list = NULL;
    json_array_foreach(orphans, i, o)
        if (ret == 0 && json_array_append(cands, o) < 0)
            ret = -ENOMEM;
    if (ret == 0)
        ret = sorted(&list, cands);
    json_array_foreach(list, i, o)
        if (ret == 0 && !names_record(vault, jsonx_str(o, "record")))
            ret = adopt(r, vault, o, name_of(vault, list));
    json_decref(list);
    if (ret == 0 && json_array_size(json_object_get(vault, "epochs")) > 0) {
        ret = index_place_vault(store, json_incref(vault), order);
        r->changed++;
    } else if (ret == 0 && held) {
        ret = index_drop_vault(store, ecdsa); /* nothing of it could be read */
        r->changed++;
    }
    json_decref(vault);
    json_decref(held);
    json_decref(cands);
    return ret;
}

/* Every vault to make again: those with a record problem (their key from
 * the manifest's skeleton or from the record itself), and those with
 * share records no epoch names. */
static int vaults_to_fix(struct repair *r, json_t *out)
{
    struct store *store = r->store;
    const char *ecdsa;
    json_t *value;
    int ret = 0;

    json_object_foreach(r->orphans, ecdsa, value)
        if (ret == 0 && json_object_set_new(out, ecdsa, json_true()) < 0)
            ret = -ENOMEM;
    for (size_t i = 0; ret == 0 && i < store->problem_count; i++) {
        const struct store_problem *p = &store->problems[i];
        if (!has_record_problem(store, p->key))
            continue;
        const json_t *sk = json_object_get(json_object_get(r->skeletons, p->key), "skeleton");
        const char *key = jsonx_str(sk, "ecdsa");
        for (size_t j = 0; !*key && j < store->slot_count; j++) {
            json_t *vault = NULL;
            char name[MANIFEST_KEY_BYTES];
            ret = index_vault_at(store, j, &vault);
            if (ret == 0) {
                index_vault_record_name(name, store, jsonx_str(vault, "ecdsa"));
                if (strcmp(name, p->key) == 0 &&
                    json_object_set_new(out, jsonx_str(vault, "ecdsa"), json_true()) < 0)
                    ret = -ENOMEM;
            }
            json_decref(vault);
        }
        if (*key && json_object_set_new(out, key, json_true()) < 0)
            ret = -ENOMEM;
    }
    return ret;
}

static int remove_forgotten(struct repair *r)
{
    const char *record;
    json_t *value;
    bool removed = false;

    json_object_foreach(r->remove, record, value) {
        char name[2 * RECORD_NAME_BYTES + 8];
        snprintf(name, sizeof(name), "%s.rec", record);
        removed |= unlinkat(r->store->sharesfd, name, 0) == 0;
    }
    return removed ? io_sync_dir(r->store->sharesfd) : 0;
}

int store_repair(struct store *store, void (*line)(void *ctx, const char *text), void *ctx,
                 struct store_repair_report *rep)
{
    struct repair r = {store, line, ctx, NULL, false, NULL, json_object(), 0, 0, 0};
    json_t *todo = json_object();
    json_t *index = NULL;
    int ret = store->read_only ? -EROFS : r.remove && todo ? 0 : -ENOMEM;

    memset(rep, 0, sizeof(*rep));
    if (ret == 0)
        ret = read_skeletons(&r);
    if (ret == 0)
        ret = find_orphans(&r);
    if (ret == 0)
        ret = vaults_to_fix(&r, todo);
    const char *ecdsa;
    json_t *value;
    json_object_foreach(todo, ecdsa, value)
        if (ret == 0)
            ret = fix_vault(&r, ecdsa);
    bool needed = ret == 0 && (r.changed || json_object_size(r.remove) ||
                               store->problem_count || !store->manifest.loaded ||
                               json_integer_value(json_object_get(store->config, "format")) <
                                   STORE_FORMAT_VERSION);
    if (needed) {
        /* the new manifest comes after every change seen of this store */
        if (store->seen_known && store->seen > store->manifest.counter)
            store->manifest.counter = store->seen;
        ret = index_whole(store, &index);
        if (ret == 0)
            ret = index_write_all(store, index);
        if (ret == 0 && json_integer_value(json_object_get(store->config, "format")) < 2)
            ret = store_upgrade_config(store, store_id_hex(store));
        if (ret == 0) {
            index_tidy(store);
            ret = remove_forgotten(&r);
        }
        if (ret == 0)
            ret = index_read(store);
        if (ret == 0)
            ret = views_rebuild(store);
        export_free_all(store);
    }
    rep->vaults_rebuilt = r.changed;
    rep->records_removed = json_object_size(r.remove);
    rep->records_kept = r.kept + r.unreadable;
    rep->written = needed && ret == 0;
    json_decref(index);
    json_decref(todo);
    json_decref(r.skeletons);
    json_decref(r.orphans);
    json_decref(r.remove);
    return ret;
}
