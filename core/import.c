/*
 * import: applies epochs_decide's rules to one backup file. A change is
 * made on a deep copy of the vault's part of the index; the share record
 * is written first and the vault's index record last, and only then does
 * the copy replace the vault in memory.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "completeness.h"
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
    json_t *facts = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:I}", "name",
                              S(v->name), "device", S(v->local_party_id), "reshare_prefix",
                              S(v->reshare_prefix), "public_key_ecdsa", S(v->public_key_ecdsa),
                              "public_key_eddsa", S(v->public_key_eddsa), "hex_chain_code",
                              S(v->hex_chain_code), "lib_type", lib, "created_at", created,
                              "signers", signers, "key_share_count",
                              (json_int_t)v->key_share_count);
    /* the 2026 facts only where a file has them: older vaults' records
     * stay as they were */
    const struct {
        const char *key;
        struct vult_str value;
    } keys[] = {{"public_key_mldsa44", v->public_key_mldsa44},
                {"public_key_frozt", v->public_key_frozt},
                {"public_key_fromt", v->public_key_fromt}};
    for (size_t i = 0; facts && i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (keys[i].value.len && json_object_set_new(facts, keys[i].key, S(keys[i].value)) < 0) {
            json_decref(facts);
            return NULL;
        }
    }
    json_t *chains = v->chain_count ? json_array() : NULL;
    for (size_t i = 0; chains && i < v->chain_count; i++) {
        const struct vult_chain_key *ck = &v->chains[i];
        if (json_array_append_new(chains, json_pack("{s:o, s:o, s:b}", "chain", S(ck->chain),
                                                    "public_key", S(ck->public_key),
                                                    "is_eddsa", ck->is_eddsa)) < 0) {
            json_decref(chains);
            json_decref(facts);
            return NULL;
        }
    }
    if (facts && v->chain_count && json_object_set_new(facts, "chains", chains) < 0) {
        json_decref(facts);
        return NULL;
    }
#undef S
    return facts;
}

/* What the store holds of the vault a file belongs to, for the rules. */
struct held {
    json_t *vault; /* its index object (a reference); NULL for a new vault */
    struct epochs_entry *entries;
    size_t count;
    struct entries_unreadable unreadable;
};

/* Appends the epochs destroyed with store_forget_epoch: superseded epochs
 * known by their number and generation only. With them the same generation
 * stays stale and their numbers are not given again. */
static int add_forgotten(struct epochs_entry **list, size_t *count, const json_t *vault)
{
    const json_t *forgotten = json_object_get(vault, "forgotten");
    size_t n = json_array_size(forgotten), i;
    json_t *e;

    if (!n)
        return 0;
    struct epochs_entry *grown = alloc_resize(*list, (*count + n) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    *list = grown;
    memset(grown + *count, 0, n * sizeof(*grown));
    json_array_foreach(forgotten, i, e) {
        grown[*count + i].number = jsonx_num(e, "number");
        if (hex_decode(grown[*count + i].generation, EPOCHS_DIGEST_BYTES,
                       jsonx_str(e, "generation")) < 0)
            return -EIO;
        /* markers made before they kept lib_type (GG20 then) have none */
        const char *lib = jsonx_str(e, "lib_type");
        if (*lib && entries_lib_type(&grown[*count + i].lib_type, lib) < 0)
            return -EIO;
    }
    *count += n;
    return 0;
}

/* Every epoch held of a vault, forgotten ones too. */
static int held_entries(struct epochs_entry **out, size_t *count,
                        struct entries_unreadable *unreadable, const struct store *store,
                        const json_t *vault)
{
    int ret = entries_of(out, count, unreadable, store, vault);
    if (ret == 0 && (ret = add_forgotten(out, count, vault)) < 0) {
        epochs_entries_free(*out, *count);
        *out = NULL;
    }
    return ret;
}

int store_vault_entries(struct epochs_entry **out, size_t *count, const struct store *store,
                        const struct store_vault *vault)
{
    struct entries_unreadable unreadable; /* its epochs lack key-share digests only */
    json_t *found = NULL;
    int ret = index_vault_get(store, vault->public_key_ecdsa, &found);

    if (ret == 0)
        ret = found ? held_entries(out, count, &unreadable, store, found) : -ENOENT;
    json_decref(found);
    return ret;
}

/* A share of a forgotten epoch's generation stays stale for good: 0, or
 * the refusal's errno with result filled in. */
static int refuse_forgotten(struct store_import_result *result, const json_t *vault,
                            const struct epochs_entry *share)
{
    char generation[2 * EPOCHS_DIGEST_BYTES + 1];
    size_t i;
    json_t *e;

    hex_encode(generation, share->generation, EPOCHS_DIGEST_BYTES);
    json_array_foreach(json_object_get(vault, "forgotten"), i, e) {
        if (strcmp(jsonx_str(e, "generation"), generation) != 0)
            continue;
        result->epoch = jsonx_num(e, "number");
        return set_outcome(result, EPOCHS_STALE,
                           "an older share: its generation was epoch %" PRIu64 ", destroyed on "
                           "purpose "
                           "(vultfs forget --epoch); the vault has been reshared since",
                           result->epoch);
    }
    return 0;
}

static json_t *epoch_json(const struct epochs_entry *d, uint64_t number, bool current,
                          const char *record, size_t vault_len, json_t *facts)
{
    char gen[2 * EPOCHS_DIGEST_BYTES + 1], dev[sizeof(gen)], shares[sizeof(gen)];
    int64_t sec;
    int32_t nsec;

    now(&sec, &nsec);
    hex_encode(gen, d->generation, EPOCHS_DIGEST_BYTES);
    hex_encode(dev, d->device, EPOCHS_DIGEST_BYTES);
    hex_encode(shares, d->shares, EPOCHS_DIGEST_BYTES);
    json_t *epoch = json_pack("{s:I, s:b, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:o}", "number",
                              (json_int_t)number, "current", current, "record", record,
                              "imported_sec", (json_int_t)sec, "imported_nsec", (json_int_t)nsec,
                              "generation", gen, "device", dev, "shares", shares, "vault_len",
                              (json_int_t)vault_len, "facts", facts);
    if (epoch && entries_set_key_digests(epoch, d) < 0) {
        json_decref(epoch);
        return NULL;
    }
    return epoch;
}

/* The vault after an accepted change, as a new object (the old is kept). */
static json_t *changed_vault(const struct store *store, const struct epochs_decision *d,
                             const char *ecdsa, const struct store_target *target,
                             const struct held *held, json_t *new_epoch)
{
    const json_t *old = held->vault;
    json_t *vault;
    size_t i;
    json_t *e;

    vault = old ? jsonx_copy(old) : json_pack("{s:s, s:[]}", "ecdsa", ecdsa, "epochs");
    if (!vault)
        return NULL;
    if (!old) {
        /* a restore names the directory first: remember it (see names_assign) */
        if (target && target->dir_name &&
            json_object_set_new(vault, "dir_name", json_string(target->dir_name)) < 0)
            goto out_fail;
    } else if (entries_store_key_digests(vault, held->entries, held->count) < 0) {
        goto out_fail; /* read from old epochs' records once, kept from now on */
    }
    json_t *epochs = json_object_get(vault, "epochs");
    json_array_foreach(epochs, i, e) {
        bool current = json_is_true(json_object_get(e, "current"));
        if (d->outcome == EPOCHS_NEW_EPOCH && current &&
            json_object_set_new(e, "current", json_false()) < 0)
            goto out_fail;
        if (d->renumber_current && current &&
            json_object_set_new(e, "number", json_integer((json_int_t)d->renumber_current)) < 0)
            goto out_fail;
    }
    if (json_array_append(epochs, new_epoch) < 0)
        goto out_fail;
    return vault;
out_fail:
    json_decref(vault);
    return NULL;
}

static void describe_vault_dir(struct store_import_result *result, const struct store *store,
                               const char *ecdsa)
{
    const struct store_vault *v = views_by_ecdsa(store, ecdsa);
    if (v)
        snprintf(result->dir_name, sizeof(result->dir_name), "%s", v->dir_name);
}

/* What each outcome tells the user: {vault} is the vault's name, {device}
 * this file's device, {held} the device whose share the store keeps in
 * {epoch}, the epoch it became or matched. */
static const char *const outcome_texts[] = {
    [EPOCHS_NEW_VAULT] = "device {device}, epoch {epoch}",
    [EPOCHS_NEW_EPOCH] = "device {device}, epoch {epoch}; the previous epoch moved to history",
    [EPOCHS_HISTORY_INSERT] = "device {device}, history epoch {epoch}",
    [EPOCHS_UNCHANGED] = "the store already holds this share (device {device})",
    [EPOCHS_STALE] = "an older share of vault \"{vault}\": its generation is epoch {epoch}, "
                     "kept in history; the vault has been reshared since",
    [EPOCHS_COLOCATION] = "the store keeps device \"{held}\"'s share of vault \"{vault}\" "
                          "(epoch {epoch}); this file is device \"{device}\"'s, and two "
                          "devices' shares of a vault must never be kept in one place",
    [EPOCHS_CONFLICT] = "the store holds a different share of vault \"{vault}\" for device "
                        "\"{device}\" in epoch {epoch}: a damaged or altered file must not "
                        "replace a good one",
    [EPOCHS_SLOT_TAKEN] = "epoch {epoch} of vault \"{vault}\" holds another generation, or this "
                          "generation is already held as another epoch",
    [EPOCHS_GREW] = "device {device}, epoch {epoch}: this backup holds every key share of the "
                    "epoch's file and {gained}, so it replaced that file (the same epoch; "
                    "the replaced file is kept until forget removes it)",
    [EPOCHS_OUTGROWN] = "an out-of-date backup of vault \"{vault}\": the store holds a newer "
                        "backup of epoch {epoch} for device \"{device}\" with every key share "
                        "of this one and more (a key was added since, such as an ML-DSA key)",
    [EPOCHS_INCOMPLETE] = "incomplete backup of vault \"{vault}\": {gap}",
    [EPOCHS_WRONG_PLACE] = "this is a share of vault \"{vault}\", not of the vault whose "
                           "directory it was written into",
};

struct outcome_words {
    const char *vault, *device, *held;
    char epoch[24];
    char gap[256];    /* INCOMPLETE: completeness_describe's phrase */
    char gained[96];  /* GREW: what the file added */
};

/* text with each {word} replaced by its value; cut at cap. */
static void expand(char *out, size_t cap, const char *text, const struct outcome_words *w)
{
    const struct {
        const char *key, *value;
    } words[] = {{"{vault}", w->vault}, {"{device}", w->device}, {"{held}", w->held},
                 {"{epoch}", w->epoch},  {"{gap}", w->gap},       {"{gained}", w->gained}};
    size_t used = 0;

    while (*text && used + 1 < cap) {
        size_t i = 0, n = sizeof(words) / sizeof(words[0]);
        while (i < n && strncmp(text, words[i].key, strlen(words[i].key)) != 0)
            i++;
        if (i == n) {
            out[used++] = *text++;
            continue;
        }
        used += (size_t)snprintf(out + used, cap - used, "%s", words[i].value);
        used = used < cap ? used : cap - 1;
        text += strlen(words[i].key);
    }
    out[used] = '\0';
}

/* The name and the kept device of epoch in the vault the store holds under
 * ecdsa, when it holds one. */
static void held_words(struct outcome_words *w, const struct store *store, const char *ecdsa,
                       uint64_t epoch)
{
    const struct store_vault *v = views_by_ecdsa(store, ecdsa);
    const struct store_epoch *e = v ? store_vault_epoch(v, epoch) : NULL;

    if (v && !e)
        e = v->latest;
    if (v && v->latest)
        w->vault = v->latest->facts.name;
    if (e)
        w->held = e->facts.device;
}

/* What a grown backup added, for its message: "a key share for its
 * ML-DSA key" when that is what it gained. */
static void describe_gain(char *out, size_t cap, const struct vult_vault *v,
                          const struct store_vault *held, uint64_t epoch)
{
    const struct store_epoch *e = held ? store_vault_epoch(held, epoch) : NULL;
    size_t more = e && v->key_share_count > e->facts.key_share_count
                      ? v->key_share_count - e->facts.key_share_count
                      : 0;

    if (v->public_key_mldsa44.len && e && !*e->facts.public_key_mldsa44)
        snprintf(out, cap, "a key share for its new ML-DSA key");
    else if (more)
        snprintf(out, cap, "%zu more key share%s, for keys it did not declare", more,
                 more == 1 ? "" : "s");
    else
        snprintf(out, cap, "key shares for keys it did not declare");
}

/* Fills in the outcome and its reason; returns the outcome's errno. */
static int describe_outcome(struct store_import_result *result, const struct epochs_decision *d,
                            const struct store *store, const char *ecdsa, const char *name,
                            const char *device, const struct outcome_words *extra)
{
    size_t rows = sizeof(outcome_texts) / sizeof(outcome_texts[0]);
    const char *text = (size_t)d->outcome < rows ? outcome_texts[d->outcome] : NULL;
    struct outcome_words w = *extra;

    w.vault = name;
    w.device = device;
    w.held = "";

    result->outcome = d->outcome;
    result->epoch = d->epoch;
    result->reason[0] = '\0'; /* epochs_decide gives none of the others */
    if (text) {
        snprintf(w.epoch, sizeof(w.epoch), "%" PRIu64, d->epoch);
        held_words(&w, store, ecdsa, d->epoch);
        expand(result->reason, sizeof(result->reason), text, &w);
    }
    return epochs_errno(d->outcome);
}

/* Does this accepted outcome write anything? */
static bool changes_store(enum epochs_outcome outcome)
{
    return outcome == EPOCHS_NEW_VAULT || outcome == EPOCHS_NEW_EPOCH ||
           outcome == EPOCHS_HISTORY_INSERT || outcome == EPOCHS_GREW;
}

/* The change staged into the store's open batch (batch.c), vault taken. */
static int stage_change(struct store *store, const char *record, const struct vult_file *file,
                        json_t *vault, json_t *old, struct store_ticket *ticket)
{
    struct record_share w = {0};
    int ret;

    record_tidy_before_change(store);
    ret = record_stage_share(store, &w, record, file->vault_bytes, file->vault_len);
    if (ret == 0 && !batch_can_stage(store, &w)) {
        record_undo_share(store, &w, true);
        ret = -EIO; /* a new share's record is never one the index refers to */
    }
    if (ret < 0) {
        json_decref(vault);
        return ret;
    }
    return batch_stage(store, &w, vault, old, ticket);
}

/* Writes an accepted change: the share record, then the new index, which
 * then replaces the index in memory; with a ticket, staged into the open
 * batch instead (durable once it is settled). On failure result says
 * why. */
static int write_change(struct store *store, const struct vult_file *file,
                        const struct vult_vault *v, const struct epochs_candidate *candidate,
                        const struct epochs_decision *d, const char *ecdsa,
                        const struct store_target *target, const struct held *held,
                        struct store_import_result *result, struct store_ticket *ticket)
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
    vault = changed_vault(store, d, ecdsa, target, held, new_epoch);
    if (!vault)
        goto out;
    if (ticket && store->per_vault) {
        ret = stage_change(store, record, file, vault, held->vault, ticket);
        vault = NULL;
    } else if ((ret = record_commit(store, record, file->vault_bytes, file->vault_len,
                                    vault)) == 0) {
        ret = index_set_vault(store, vault);
        vault = NULL;
        if (ret < 0) {
            /* durable on disk; the views come back on the next open */
            result->outcome = EPOCHS_FAILED;
            snprintf(result->reason, sizeof(result->reason), "%s",
                     "out of memory after import");
            goto out;
        }
    }
    if (ret < 0) {
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "the store could not be written: %s",
                 strerror(-ret));
    }
out:
    if (ret < 0 && result->outcome != EPOCHS_FAILED)
        failed(result, ret);
    json_decref(vault);
    json_decref(new_epoch);
    return ret;
}

/* Vault `ecdsa` with its epoch `number` now in record `record`, as a new
 * object: the same share in other bytes (other non-secret fields, or its
 * key shares listed in another order), or the epoch's backup grown by a
 * key (then `imported` is true: its export changes, so its time does). */
static json_t *vault_with_record(const json_t *held, uint64_t number, const char *record,
                                 const struct vult_vault *v, size_t len,
                                 const struct epochs_entry *d, bool imported)
{
    char shares[2 * EPOCHS_DIGEST_BYTES + 1];
    json_t *index = held ? jsonx_copy(held) : NULL;
    json_t *e = index_find_epoch(index, number);
    int64_t sec;
    int32_t nsec;

    now(&sec, &nsec);
    hex_encode(shares, d->shares, EPOCHS_DIGEST_BYTES);
    if (!e || json_object_set_new(e, "record", json_string(record)) < 0 ||
        json_object_set_new(e, "vault_len", json_integer((json_int_t)len)) < 0 ||
        json_object_set_new(e, "facts", facts_of(v)) < 0 ||
        json_object_set_new(e, "shares", json_string(shares)) < 0 ||
        entries_set_key_digests(e, d) < 0 ||
        (imported && (json_object_set_new(e, "imported_sec", json_integer(sec)) < 0 ||
                      json_object_set_new(e, "imported_nsec", json_integer(nsec)) < 0))) {
        json_decref(index);
        return NULL;
    }
    return index;
}

/* EPOCHS_GREW: the epoch's file is replaced by this fuller one (every key
 * share of the held file is in it). The held file stays in the store,
 * kept in the epoch's "replaced" as `vultfs replace` keeps one: no import
 * removes a share record. Done at once, not in a batch: it replaces what
 * an epoch refers to. */
static int replace_grown(struct store *store, const struct vult_file *file,
                         const struct vult_vault *v, const struct epochs_entry *d,
                         const json_t *held_vault, uint64_t number,
                         struct store_import_result *result)
{
    char record[2 * RECORD_NAME_BYTES + 1];
    const json_t *held = index_find_epoch(held_vault, number);
    json_t *vault = NULL;
    int ret = record_name(record, store, file->vault_bytes, file->vault_len);

    if (ret < 0)
        return failed(result, ret);
    vault = vault_with_record(held_vault, number, record, v, file->vault_len, d, true);
    if (!vault || (strcmp(jsonx_str(held, "record"), record) != 0 &&
                   entries_keep_replaced(index_find_epoch(vault, number), held) < 0)) {
        json_decref(vault);
        return failed(result, -ENOMEM);
    }
    ret = record_commit(store, record, file->vault_bytes, file->vault_len, vault);
    if (ret == 0) {
        ret = index_set_vault(store, vault); /* takes vault */
        vault = NULL;
    }
    json_decref(vault);
    if (ret < 0) {
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason), "the store could not be written: %s",
                 strerror(-ret));
    }
    return ret;
}

/* The same share again (DESIGN: re-importing a good copy is the repair):
 * when its epoch's record is damaged or missing, it is rewritten from the
 * file. *repaired says whether it was. */
static int repair_if_damaged(bool *repaired, struct store *store, const struct vult_file *file,
                             const struct vult_vault *v, const struct epochs_entry *d,
                             const json_t *held_vault, uint64_t number,
                             struct store_import_result *result)
{
    char record[2 * RECORD_NAME_BYTES + 1];
    const json_t *e = NULL;
    json_t *vault = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    int ret;

    *repaired = false;
    e = index_find_epoch(held_vault, number);
    const char *held = jsonx_str(e, "record");
    ret = record_load_share(&plain, &len, store, held);
    alloc_secret_free(plain);
    if (ret == 0 || ret == -ENOMEM)
        return ret == 0 ? 0 : failed(result, ret);
    if ((ret = record_name(record, store, file->vault_bytes, file->vault_len)) < 0)
        return failed(result, ret);
    if (strcmp(record, held) != 0 &&
        !(vault = vault_with_record(held_vault, number, record, v, file->vault_len, d, false)))
        return failed(result, -ENOMEM);
    ret = record_commit(store, record, file->vault_bytes, file->vault_len, vault);
    if (ret == 0 && vault) {
        ret = index_set_vault(store, vault); /* takes vault */
        vault = NULL;
        record_remove_superseded(store, held); /* the damaged record, now named by none */
    }
    json_decref(vault);
    if (ret < 0) {
        result->outcome = EPOCHS_FAILED;
        snprintf(result->reason, sizeof(result->reason),
                 "the store's record of this share is damaged and could not be rewritten: %s",
                 strerror(-ret));
        return ret;
    }
    *repaired = true;
    return 0;
}

/* Does the held epoch lack 2026 facts this file (the same bytes) has?
 * Epochs stored by a build before them show none until then. */
static bool facts_behind(const struct store *store, const char *ecdsa, uint64_t number,
                         const struct vult_vault *v)
{
    const struct store_vault *view = views_by_ecdsa(store, ecdsa);
    const struct store_epoch *e = view ? store_vault_epoch(view, number) : NULL;

    return e && ((v->chain_count && !e->facts.chain_count) ||
                 (v->public_key_mldsa44.len && !*e->facts.public_key_mldsa44) ||
                 (v->public_key_frozt.len && !*e->facts.public_key_frozt) ||
                 (v->public_key_fromt.len && !*e->facts.public_key_fromt));
}

/* The same file again, byte for byte, while its epoch was stored by a build
 * that did not keep the 2026 facts: they are written now (the vault's
 * record only; the share record is this file already). */
static int refresh_facts(struct store *store, const struct vult_file *file,
                         const struct vult_vault *v, const struct epochs_entry *d,
                         const json_t *held_vault, uint64_t number, const char *ecdsa)
{
    char record[2 * RECORD_NAME_BYTES + 1];
    bool intact = true;
    json_t *vault;
    int ret = record_name(record, store, file->vault_bytes, file->vault_len);

    if (ret < 0 || strcmp(record, jsonx_str(index_find_epoch(held_vault, number), "record")) ||
        !facts_behind(store, ecdsa, number, v))
        return ret < 0 ? ret : 0;
    if (!(vault = vault_with_record(held_vault, number, record, v, file->vault_len, d, false)))
        return -ENOMEM;
    record_tidy_before_change(store);
    ret = index_change_vault(store, vault, &intact);
    if (ret == 0)
        return index_set_vault(store, vault); /* takes vault */
    json_decref(vault);
    return ret;
}

/* A change the rules accept needs every held epoch's key shares (no two
 * epochs share one): without them it is refused, never guessed. A refusal
 * stands without them: what it found is there, the rest could only add
 * another reason. */
static int refuse_unreadable(struct store_import_result *result,
                             const struct entries_unreadable *u)
{
    result->outcome = EPOCHS_FAILED;
    snprintf(result->reason, sizeof(result->reason),
             "the store's record of epoch %" PRIu64 " of this vault cannot be read (%s), so "
             "this share cannot be checked against it; run vultfs fsck",
             u->epoch, u->err == -EIO ? "checksum mismatch" : strerror(-u->err));
    return -EIO;
}

static int apply(struct store *store, const struct vult_file *file, const struct vult_vault *v,
                 const struct store_target *target, struct store_import_result *result,
                 struct store_ticket *ticket)
{
    struct epochs_candidate candidate = {0};
    struct held held = {0};
    struct outcome_words words = {0};
    char *ecdsa = alloc_strndup(v->public_key_ecdsa.ptr, v->public_key_ecdsa.len);
    char *device = alloc_strndup(v->local_party_id.ptr, v->local_party_id.len);
    char *name = alloc_strndup(v->name.ptr ? v->name.ptr : "", v->name.len);
    bool repaired = false;
    int ret = -ENOMEM;

    if (!ecdsa || !device || !name || epochs_describe(&candidate.share, v) < 0)
        goto out_failed;
    struct completeness gap = completeness_of(v);
    candidate.complete = gap.gap == COMPLETENESS_OK;
    completeness_describe(words.gap, sizeof(words.gap), &gap);
    ret = names_in_its_place(&candidate.in_its_place, store, target, v, ecdsa);
    if (ret < 0)
        goto out_failed;
    candidate.history_slot = target ? target->history_slot : 0;
    if ((ret = index_vault_get(store, ecdsa, &held.vault)) < 0)
        goto out_failed;
    if (held.vault && (ret = held_entries(&held.entries, &held.count, &held.unreadable, store,
                                          held.vault)) < 0)
        goto out_failed;
    describe_vault_dir(result, store, ecdsa);
    if ((ret = refuse_forgotten(result, held.vault, &candidate.share)) < 0)
        goto out;

    struct epochs_decision d = epochs_decide(held.entries, held.count, &candidate);
    result->outcome = d.outcome;
    result->epoch = d.epoch;
    if (changes_store(d.outcome) && held.unreadable.any) {
        ret = refuse_unreadable(result, &held.unreadable);
        goto out;
    }
    if (d.outcome == EPOCHS_GREW) {
        describe_gain(words.gained, sizeof(words.gained), v, views_by_ecdsa(store, ecdsa),
                      d.epoch);
        ret = replace_grown(store, file, v, &candidate.share, held.vault, d.epoch, result);
        if (ret < 0)
            goto out;
    } else if (changes_store(d.outcome)) {
        ret = write_change(store, file, v, &candidate, &d, ecdsa, target, &held, result,
                           ticket);
        if (ret < 0)
            goto out;
        describe_vault_dir(result, store, ecdsa);
    } else if (d.outcome == EPOCHS_UNCHANGED) {
        ret = repair_if_damaged(&repaired, store, file, v, &candidate.share, held.vault,
                                d.epoch, result);
        if (ret < 0)
            goto out;
        /* nothing lost if this fails: the facts come with a later import */
        if (!repaired && !store->read_only &&
            refresh_facts(store, file, v, &candidate.share, held.vault, d.epoch, ecdsa) == 0)
            describe_vault_dir(result, store, ecdsa);
    }
    ret = describe_outcome(result, &d, store, ecdsa, name, device, &words);
    if (repaired)
        snprintf(result->reason + strlen(result->reason),
                 sizeof(result->reason) - strlen(result->reason),
                 "; its damaged record was rewritten from this file");
    goto out;
out_failed:
    failed(result, ret);
out:
    json_decref(held.vault);
    epochs_entries_free(held.entries, held.count);
    epochs_entry_clear(&candidate.share);
    alloc_free(name);
    alloc_free(device);
    alloc_free(ecdsa);
    return ret;
}

/* What store_import_decode makes of a file: its Vault bytes and their
 * parse (views into them). */
struct store_decoded {
    struct vult_file file; /* its vault: the parse */
};

void store_decoded_free(struct store_decoded *decoded)
{
    if (!decoded)
        return;
    vult_file_clear(&decoded->file);
    alloc_free(decoded);
}

/* "32 MiB", "18.7 MiB", or the bytes below one MiB. */
static void size_text(char *out, size_t cap, size_t bytes)
{
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
        snprintf(out, cap, "%zu MiB", bytes >> 20);
    else if (bytes >= (1u << 20))
        snprintf(out, cap, "%.1f MiB", (double)bytes / (1u << 20));
    else
        snprintf(out, cap, "%zu bytes", bytes);
}

/* vult_decode, trying every password the store has. */
static int decode_with_passwords(struct vult_file *out, const struct store *store,
                                 const uint8_t *file, size_t file_len)
{
    struct vult_password candidates[MAX_PASSWORDS];
    int ret;

    for (size_t i = 0; i < store->password_count; i++)
        candidates[i] = (struct vult_password){store->passwords[i].text, store->passwords[i].len};
    ret = vult_decode(out, file, file_len, candidates, store->password_count, store->keycache);
    sodium_memzero(candidates, sizeof(candidates));
    return ret;
}

/* A backup too large for the memory-lock limit: never decoded into memory
 * that could be swapped, and the message names the remedy. */
static int refuse_unlockable(struct store_import_result *result, size_t file_len)
{
    char size[32], limit[32];
    size_t lock = alloc_lock_limit();

    size_text(size, sizeof(size), file_len);
    if (lock == SIZE_MAX)
        snprintf(limit, sizeof(limit), "%s", "unlimited, yet refused");
    else
        snprintf(limit, sizeof(limit), "%zu KiB", lock >> 10);
    result->outcome = EPOCHS_FAILED;
    snprintf(result->reason, sizeof(result->reason),
             "this %s backup does not fit in locked memory, and key shares are never left "
             "where they could be swapped: the memory-lock limit (RLIMIT_MEMLOCK) is %s; "
             "raise it (ulimit -l, or LimitMEMLOCK= in the systemd unit) and import it again",
             size, limit);
    return -ENOMEM;
}

/* Reads only what is fixed once the store is open and its passwords and
 * limits are set (the mount sets them before it serves), and the key
 * cache, which has its own lock: any number of these may run at once,
 * alongside anything else the store does. */
int store_import_decode(struct store_decoded **out, const struct store *store,
                        const uint8_t *file, size_t file_len, struct store_import_result *result)
{
    struct store_decoded *d;
    int ret;

    *out = NULL;
    memset(result, 0, sizeof(*result));
    if (store->read_only) {
        set_outcome(result, EPOCHS_FAILED, "the store was opened read-only");
        return -EROFS;
    }
    if (file_len > store->max_import) {
        char limit[32];
        size_text(limit, sizeof(limit), store->max_import);
        return set_outcome(result, EPOCHS_TOO_LARGE,
                           "larger than the import limit of %s (max_import); --max-import "
                           "BYTES raises it (mount: -o max_import=BYTES)",
                           limit);
    }
    if (!(d = alloc_zeroed(1, sizeof(*d))))
        return failed(result, -ENOMEM);
    ret = decode_with_passwords(&d->file, store, file, file_len);
    switch (ret) {
    case 0:
        break;
    case -EACCES:
        ret = set_outcome(result, EPOCHS_WRONG_PASSWORD,
                      "encrypted, and none of the passwords fits (export password, store "
                      "passphrase, --import-passwords): put its password in a file, one per "
                      "line, and pass --import-passwords FILE (mount: -o import_passwords=FILE)");
        goto out_fail;
    case -EFBIG:
        ret = set_outcome(result, EPOCHS_TOO_LARGE,
                          "larger than %zu MiB, more than any Vultisig backup can be",
                          VULT_MAX_FILE_BYTES >> 20);
        goto out_fail;
    case -EINVAL:
        if (d->file.problem)
            ret = set_outcome(result, EPOCHS_UNREADABLE,
                              "not a Vultisig backup, or truncated or corrupt: %s",
                              d->file.problem);
        else
            ret = set_outcome(result, EPOCHS_UNREADABLE,
                              "not a Vultisig backup, or truncated or corrupt");
        goto out_fail;
    default:
        if (ret == -ENOMEM && alloc_secret_lock_refused())
            ret = refuse_unlockable(result, file_len);
        else
            ret = failed(result, ret);
        goto out_fail;
    }
    *out = d;
    return 0;
out_fail:
    store_decoded_free(d);
    return ret;
}

int store_import_apply(struct store *store, const struct store_decoded *decoded,
                       const struct store_target *target, struct store_import_result *result)
{
    memset(result, 0, sizeof(*result));
    return apply(store, &decoded->file, &decoded->file.vault, target, result, NULL);
}

int store_import_stage(struct store *store, const struct store_decoded *decoded,
                       const struct store_target *target, struct store_import_result *result,
                       struct store_ticket *ticket)
{
    const struct vult_vault *v = &decoded->file.vault;
    char *ecdsa = alloc_strndup(v->public_key_ecdsa.ptr, v->public_key_ecdsa.len);

    *ticket = (struct store_ticket){.settled = true};
    memset(result, 0, sizeof(*result));
    if (!ecdsa)
        return failed(result, -ENOMEM);
    bool pending = batch_vault_pending(store, ecdsa);
    alloc_free(ecdsa);
    if (pending)
        return -EAGAIN;
    return apply(store, &decoded->file, v, target, result, ticket);
}

int store_import(struct store *store, const uint8_t *file, size_t file_len,
                 const struct store_target *target, struct store_import_result *result)
{
    struct store_decoded *decoded = NULL;
    int ret = store_import_decode(&decoded, store, file, file_len, result);

    if (ret == 0)
        ret = store_import_apply(store, decoded, target, result);
    store_decoded_free(decoded);
    return ret;
}

/* ---- an epoch as an import makes it, for fsck --repair, replace, promote ---- */

json_t *import_epoch_json(const struct vult_vault *v, const struct epochs_entry *d,
                          uint64_t number, bool current, const char *record, size_t vault_len)
{
    return epoch_json(d, number, current, record, vault_len, facts_of(v));
}

int import_held_entries(struct epochs_entry **out, size_t *count,
                        struct entries_unreadable *unreadable, const struct store *store,
                        const json_t *vault)
{
    return held_entries(out, count, unreadable, store, vault);
}

const struct vult_file *store_decoded_file(const struct store_decoded *decoded)
{
    return &decoded->file;
}

const struct vult_vault *store_decoded_vault(const struct store_decoded *decoded)
{
    return &decoded->file.vault;
}
