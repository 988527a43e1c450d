/*
 * import: applies epochs_decide's rules to one backup file. A change is
 * made on a deep copy of the vault's part of the index; the share record
 * is written first and the vault's index record last, and only then does
 * the copy replace the vault in memory.
 */
#include "store_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "io.h"

static void now(int64_t *sec, int32_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *nsec = (int32_t)ts.tv_nsec;
}

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

/* Records that the store could not do its part; returns err. */
static int failed(struct store_import_result *result, int err)
{
    result->outcome = EPOCHS_FAILED;
    snprintf(result->reason, sizeof(result->reason), "%s", strerror(-err));
    return err;
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
    for (size_t i = 0; signers && i < v->signer_count; i++) {
        if (json_array_append_new(signers, json_stringn(v->signers[i].ptr, v->signers[i].len)) <
            0) {
            json_decref(signers);
            return NULL; /* a signer lost here would be a wrong generation later */
        }
    }
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
        if (index_hex_decode(list[i].generation, EPOCHS_DIGEST_BYTES,
                             index_str(e, "generation")) < 0 ||
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

/* The vault after an accepted change, as a new object (the old is kept). */
static json_t *changed_vault(const struct store *store, const struct epochs_decision *d,
                             const char *ecdsa, const struct store_target *target,
                             json_t *new_epoch)
{
    const json_t *old = index_vault_of(store, ecdsa);
    json_t *vault;
    size_t i;
    json_t *e;

    if (old) {
        vault = index_copy(old);
        if (!vault)
            return NULL;
    } else {
        vault = json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
        if (!vault)
            return NULL;
        /* a restore names the directory first: remember it (see names_assign) */
        if (target && target->dir_name &&
            json_object_set_new(vault, "dir_name", json_string(target->dir_name)) < 0)
            goto out_fail;
    }
    json_t *epochs = json_object_get(vault, "epochs");
    json_array_foreach(epochs, i, e) {
        bool current = json_is_true(json_object_get(e, "current"));
        if (d->outcome == EPOCHS_NEW_EPOCH && current &&
            json_object_set_new(e, "current", json_false()) < 0)
            goto out_fail;
        if (d->renumber_current && current &&
            json_object_set_new(e, "number", json_integer(d->renumber_current)) < 0)
            goto out_fail;
    }
    if (json_array_append(epochs, new_epoch) < 0)
        goto out_fail;
    return vault;
out_fail:
    json_decref(vault);
    return NULL;
}

/* Writes the record and the vault's new index record; on failure removes a
 * record it created, so the store is as it was. */
static int commit(struct store *store, const char *record, const uint8_t *vault, size_t len,
                  const json_t *vault_json)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    struct stat st;
    int ret;

    store_tidy_before_change(store);
    snprintf(name, sizeof(name), "%s.rec", record);
    bool existed = fstatat(store->sharesfd, name, &st, 0) == 0;
    ret = record_write_sealed(store->sharesfd, name, vault, len, SEAL_KIND_SHARE, record,
                              store->master);
    if (ret < 0)
        return ret;
    ret = index_save_vault(store, vault_json);
    if (ret < 0) {
        /* A failed directory fsync comes after the rename, so the new
         * record may be in place: put the old one back before removing the
         * share record it would reference. If that fails too, keep the
         * share record: an unreferenced record is harmless, a missing one
         * is not. */
        int restored = index_restore_vault(store, index_str(vault_json, "ecdsa"));
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
    const struct store_vault *v = views_by_ecdsa(store, ecdsa);
    if (v)
        snprintf(result->dir_name, sizeof(result->dir_name), "%s", v->dir_name);
}

/* What each outcome tells the user. Every reason takes the device, then the
 * epoch ("%.0s" skips the device where only the epoch is said), except the
 * co-location refusal, which names the epoch first. */
static const struct outcome_text {
    const char *reason;
    bool epoch_first;
} outcome_texts[] = {
    [EPOCHS_NEW_VAULT] = {"device %s, epoch %u", false},
    [EPOCHS_NEW_EPOCH] = {"device %s, epoch %u; the previous epoch moved to history", false},
    [EPOCHS_HISTORY_INSERT] = {"device %s, history epoch %u", false},
    [EPOCHS_UNCHANGED] = {"the store already holds this share (device %s)", false},
    [EPOCHS_STALE] = {"%.0san older share: its generation is epoch %u, kept in history; the "
                      "vault has been reshared since", false},
    [EPOCHS_COLOCATION] = {"this store already holds another device's share of this vault "
                           "(epoch %u); two devices' shares must never be kept in one place "
                           "(this one is %s's)", true},
    [EPOCHS_CONFLICT] = {"the store holds a different share for device %s in epoch %u: a "
                         "damaged or altered file must not replace a good one", false},
    [EPOCHS_SLOT_TAKEN] = {"%.0sepoch %u of this vault holds another generation, or this "
                           "generation is already held as another epoch", false},
    [EPOCHS_INCOMPLETE] = {"incomplete backup: it lacks a key share for its ECDSA or EdDSA "
                           "public key, so it could not sign", false},
    [EPOCHS_WRONG_PLACE] = {"this is a share of another vault than the directory it was "
                            "written into", false},
};

/* Fills in the outcome and its reason; returns the outcome's errno. */
static int describe_outcome(struct store_import_result *result, const struct epochs_decision *d,
                            const char *device)
{
    size_t rows = sizeof(outcome_texts) / sizeof(outcome_texts[0]);
    const struct outcome_text *text = (size_t)d->outcome < rows ? &outcome_texts[d->outcome] : NULL;

    result->outcome = d->outcome;
    result->epoch = d->epoch;
    if (!text || !text->reason) {
        result->reason[0] = '\0'; /* epochs_decide gives none of the others */
        return epochs_errno(d->outcome);
    }
    /* the formats are this table's, checked by the tests of each outcome */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    if (text->epoch_first)
        snprintf(result->reason, sizeof(result->reason), text->reason, d->epoch, device);
    else
        snprintf(result->reason, sizeof(result->reason), text->reason, device, d->epoch);
#pragma GCC diagnostic pop
    return epochs_errno(d->outcome);
}

/* Does this accepted outcome write anything? */
static bool changes_store(enum epochs_outcome outcome)
{
    return outcome == EPOCHS_NEW_VAULT || outcome == EPOCHS_NEW_EPOCH ||
           outcome == EPOCHS_HISTORY_INSERT;
}

/* Writes an accepted change: the share record, then the new index, which
 * then replaces the index in memory. On failure result says why. */
static int write_change(struct store *store, const struct vult_file *file,
                        const struct vult_vault *v, const struct epochs_candidate *candidate,
                        const struct epochs_decision *d, const char *ecdsa,
                        const struct store_target *target, struct store_import_result *result)
{
    char record[2 * RECORD_NAME_BYTES + 1];
    json_t *new_epoch = NULL, *vault = NULL;
    int ret = record_name(record, store, file->vault_bytes, file->vault_len);

    if (ret < 0)
        return failed(result, ret);
    ret = -ENOMEM;
    new_epoch = epoch_json(&candidate->share, d->epoch, d->outcome != EPOCHS_HISTORY_INSERT,
                           record, file->vault_len, facts_of(v));
    if (!new_epoch)
        goto out;
    vault = changed_vault(store, d, ecdsa, target, new_epoch);
    if (!vault)
        goto out;
    ret = commit(store, record, file->vault_bytes, file->vault_len, vault);
    if (ret < 0) {
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "the store could not be written: %s",
                 strerror(-ret));
        goto out;
    }
    ret = index_set_vault(store, vault);
    vault = NULL;
    if (ret < 0) {
        /* durable on disk; the views come back on the next open */
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "%s", "out of memory after import");
    }
out:
    if (ret < 0 && result->outcome != EPOCHS_FAILED)
        failed(result, ret);
    json_decref(vault);
    json_decref(new_epoch);
    return ret;
}

static int apply(struct store *store, const struct vult_file *file, const struct vult_vault *v,
                 const struct store_target *target, struct store_import_result *result)
{
    struct epochs_candidate candidate = {0};
    struct epochs_entry *entries = NULL;
    size_t count = 0;
    char *ecdsa = alloc_strndup(v->public_key_ecdsa.ptr, v->public_key_ecdsa.len);
    char *device = alloc_strndup(v->local_party_id.ptr, v->local_party_id.len);
    int ret = -ENOMEM;

    if (!ecdsa || !device)
        goto out_failed;
    epochs_describe(&candidate.share, v);
    candidate.complete = vult_vault_is_complete(v);
    ret = names_in_its_place(&candidate.in_its_place, store, target, v, ecdsa);
    if (ret < 0)
        goto out_failed;
    candidate.history_slot = target ? target->history_slot : 0;
    const json_t *vault_json = index_vault_of(store, ecdsa);
    if (vault_json && (ret = entries_of(&entries, &count, vault_json)) < 0)
        goto out_failed;

    struct epochs_decision d = epochs_decide(entries, count, &candidate);
    result->outcome = d.outcome;
    result->epoch = d.epoch;
    describe_vault_dir(result, store, ecdsa);
    if (changes_store(d.outcome)) {
        ret = write_change(store, file, v, &candidate, &d, ecdsa, target, result);
        if (ret < 0)
            goto out;
        describe_vault_dir(result, store, ecdsa);
    }
    ret = describe_outcome(result, &d, device);
    goto out;
out_failed:
    failed(result, ret);
out:
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
        return failed(result, ret);
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
