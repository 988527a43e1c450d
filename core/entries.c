/*
 * entries: a vault's epochs in the index as the rules see them (struct
 * epochs_entry): digests, lib_type and signers from each epoch's stored
 * facts, and each key share's digests. Those are stored per epoch since
 * the rules needed them: "key_shares" (each share's value), and, since
 * backups can grow within a generation, "key_share_keys" (the key each
 * share is listed under) and "declared_keys" (every key the file
 * declares). An epoch imported before has some of them missing, so its
 * record is read once, when its vault is next imported into, and the
 * result is stored with the next change.
 */
#include "store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

int entries_lib_type(uint64_t *out, const char *text)
{
    char *end = NULL;

    for (uint64_t t = VULT_LIB_GG20; t <= VULT_LIB_KEYIMPORT; t++) {
        if (strcmp(vult_lib_type_name(t), text) == 0) {
            *out = t;
            return 0;
        }
    }
    if (text[0] < '0' || text[0] > '9')
        return -EIO;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno || *end)
        return -EIO;
    *out = n;
    return 0;
}

/* A stored list of hex digests into out (count entries of stride bytes,
 * the digest first): 0, or -EIO when it is not one. */
static int digests_of(uint8_t *out, size_t stride, const json_t *list, size_t count)
{
    size_t i;
    json_t *hex;

    if (!json_is_array(list) || json_array_size(list) != count)
        return -EIO;
    json_array_foreach(list, i, hex)
        if (hex_decode(out + i * stride, EPOCHS_DIGEST_BYTES, json_string_value(hex)) < 0)
            return -EIO;
    return 0;
}

static int signers_of(struct epochs_entry *e, const json_t *signers)
{
    size_t i;
    json_t *s;

    json_array_foreach(signers, i, s) {
        const char *name = json_string_value(s);
        if (!name)
            return -EIO;
        epochs_device_digest(e->signers[i], name, json_string_length(s));
    }
    return 0;
}

/* The entry from what the index stores: 0, 1 when the key digests are not
 * all stored (the record has them), or -EIO / -ENOMEM. */
static int stored_entry(struct epochs_entry *e, const json_t *epoch)
{
    const json_t *facts = json_object_get(epoch, "facts");
    const json_t *signers = json_object_get(facts, "signers");
    const json_t *shares = json_object_get(epoch, "key_shares");
    const json_t *keys = json_object_get(epoch, "key_share_keys");
    const json_t *declared = json_object_get(epoch, "declared_keys");
    bool have_keys = shares && keys && declared; /* an index of this build's */
    size_t n_shares = json_array_size(shares);
    int ret;

    if (!json_is_array(signers) || (shares && !json_is_array(shares)))
        return -EIO;
    ret = epochs_entry_alloc(e, json_array_size(signers), n_shares,
                             have_keys ? json_array_size(declared) : 0);
    if (ret < 0)
        return ret;
    if (signers_of(e, signers) < 0 ||
        (shares && digests_of(e->key_shares[0].share, sizeof(*e->key_shares), shares,
                              n_shares) < 0) ||
        (have_keys && (digests_of(e->key_shares[0].key, sizeof(*e->key_shares), keys,
                                  n_shares) < 0 ||
                       digests_of(e->declared[0], EPOCHS_DIGEST_BYTES, declared,
                                  e->declared_count) < 0)))
        return -EIO;
    e->has_keys = have_keys;
    epochs_entry_index(e);
    return have_keys ? 0 : 1;
}

/* An epoch imported before its key digests were stored: they come from its
 * record, which must still describe the epoch the index says. On success
 * the record's description replaces e's arrays. */
static int entry_from_record(struct epochs_entry *e, const struct store *store,
                             const json_t *epoch)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    struct epochs_entry d;
    int ret = record_load_share(&plain, &len, store, jsonx_str(epoch, "record"));

    if (ret == 0 && (ret = vult_vault_parse(&v, NULL, plain, len)) == 0) {
        ret = epochs_describe(&d, &v);
        vult_vault_clear(&v);
        if (ret == 0 && (memcmp(d.generation, e->generation, EPOCHS_DIGEST_BYTES) != 0 ||
                         memcmp(d.shares, e->shares, EPOCHS_DIGEST_BYTES) != 0)) {
            epochs_entry_clear(&d);
            ret = -EBADMSG; /* a record of something else than its epoch */
        }
        if (ret == 0) {
            d.number = e->number;
            d.current = e->current;
            epochs_entry_clear(e);
            *e = d;
        }
    } else if (ret == -EINVAL) {
        ret = -EBADMSG; /* it decrypted, so the damage is not the disk's */
    }
    alloc_secret_free(plain);
    return ret;
}

static int entry_of(struct epochs_entry *e, const struct store *store, const json_t *epoch,
                    struct entries_unreadable *unreadable)
{
    const json_t *facts = json_object_get(epoch, "facts");
    int ret;

    e->number = jsonx_num(epoch, "number");
    e->current = json_is_true(json_object_get(epoch, "current"));
    if (hex_decode(e->generation, EPOCHS_DIGEST_BYTES, jsonx_str(epoch, "generation")) < 0 ||
        hex_decode(e->device, EPOCHS_DIGEST_BYTES, jsonx_str(epoch, "device")) < 0 ||
        hex_decode(e->shares, EPOCHS_DIGEST_BYTES, jsonx_str(epoch, "shares")) < 0 ||
        entries_lib_type(&e->lib_type, jsonx_str(facts, "lib_type")) < 0)
        return -EIO;
    ret = stored_entry(e, epoch);
    if (ret <= 0)
        return ret;
    ret = entry_from_record(e, store, epoch);
    if (ret == -ENOMEM)
        return ret;
    if (ret < 0 && !unreadable->any) {
        unreadable->any = true;
        unreadable->epoch = e->number;
        unreadable->err = ret;
    }
    return 0;
}

int entries_of(struct epochs_entry **out, size_t *count, struct entries_unreadable *unreadable,
               const struct store *store, const json_t *vault)
{
    const json_t *epochs = json_object_get(vault, "epochs");
    size_t n = json_array_size(epochs), i;
    json_t *e;
    struct epochs_entry *list = alloc_zeroed(n ? n : 1, sizeof(*list));
    int ret = 0;

    memset(unreadable, 0, sizeof(*unreadable));
    if (!list)
        return -ENOMEM;
    json_array_foreach(epochs, i, e)
        if (ret == 0)
            ret = entry_of(&list[i], store, e, unreadable);
    if (ret < 0) {
        epochs_entries_free(list, n);
        return ret;
    }
    *out = list;
    *count = n;
    return 0;
}

/* A new array of count hex digests, each at base + i * stride; NULL on
 * failure. */
static json_t *hex_list(const uint8_t *base, size_t stride, size_t count)
{
    char hex[2 * EPOCHS_DIGEST_BYTES + 1];
    json_t *list = json_array();

    for (size_t i = 0; list && i < count; i++) {
        hex_encode(hex, base + i * stride, EPOCHS_DIGEST_BYTES);
        if (json_array_append_new(list, json_string(hex)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int entries_set_key_digests(json_t *epoch, const struct epochs_entry *e)
{
    if (!e->has_keys)
        return 0; /* never a list that claims to be whole and is not */
    if (json_object_set_new(epoch, "key_shares",
                            hex_list(e->key_shares[0].share, sizeof(*e->key_shares),
                                     e->key_share_count)) < 0 ||
        json_object_set_new(epoch, "key_share_keys",
                            hex_list(e->key_shares[0].key, sizeof(*e->key_shares),
                                     e->key_share_count)) < 0 ||
        json_object_set_new(epoch, "declared_keys",
                            hex_list(e->declared[0], EPOCHS_DIGEST_BYTES, e->declared_count)) <
            0)
        return -ENOMEM;
    return 0;
}

int entries_store_key_digests(json_t *vault, const struct epochs_entry *list, size_t count)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        if ((json_object_get(e, "key_share_keys") && json_object_get(e, "declared_keys") &&
             json_object_get(e, "key_shares")) ||
            i >= count || list[i].number != jsonx_num(e, "number"))
            continue;
        if (entries_set_key_digests(e, &list[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

int entries_keep_replaced(json_t *epoch, const json_t *held)
{
    json_t *replaced = json_object_get(epoch, "replaced");
    json_t *kept = json_pack("{s:s, s:O, s:O}", "record", jsonx_str(held, "record"), "imported_sec",
                             json_object_get(held, "imported_sec"), "imported_nsec",
                             json_object_get(held, "imported_nsec"));
    int ret = kept ? 0 : -ENOMEM;

    if (ret == 0 && json_is_array(replaced))
        ret = json_array_append(replaced, kept);
    else if (ret == 0)
        ret = json_object_set_new(epoch, "replaced", json_pack("[O]", kept));
    json_decref(kept);
    return ret < 0 ? -ENOMEM : 0;
}
