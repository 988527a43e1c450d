/*
 * entries: a vault's epochs in the index as the rules see them (struct
 * epochs_entry): digests, lib_type and signers from each epoch's stored
 * facts, and each key share's digest. The key-share digests are stored per
 * epoch ("key_shares") since the rules needed them; an epoch imported
 * before has none, so its record is read once, when its vault is next
 * imported into, and the result is stored with the next change.
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

static int signers_of(struct epochs_entry *e, const json_t *signers)
{
    size_t i;
    json_t *s;

    if (json_array_size(signers) > EPOCHS_MAX_SIGNERS)
        return -EIO;
    json_array_foreach(signers, i, s) {
        const char *name = json_string_value(s);
        if (!name)
            return -EIO;
        epochs_device_digest(e->signers[i], name, json_string_length(s));
    }
    e->signer_count = json_array_size(signers);
    return 0;
}

/* The stored key-share digests; 1 when the epoch has none stored. */
static int stored_key_shares(struct epochs_entry *e, const json_t *epoch)
{
    const json_t *list = json_object_get(epoch, "key_shares");
    size_t i;
    json_t *hex;

    if (!list)
        return 1;
    if (!json_is_array(list) || json_array_size(list) > EPOCHS_MAX_KEY_SHARES)
        return -EIO;
    json_array_foreach(list, i, hex)
        if (index_hex_decode(e->key_shares[i], EPOCHS_DIGEST_BYTES, json_string_value(hex)) < 0)
            return -EIO;
    e->key_share_count = json_array_size(list);
    return 0;
}

/* An epoch imported before key-share digests were stored: they come from
 * its record, which must still describe the epoch the index says. */
static int key_shares_from_record(struct epochs_entry *e, const struct store *store,
                                  const json_t *epoch)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    struct vult_vault v;
    struct epochs_entry *d = alloc_zeroed(1, sizeof(*d));
    int ret = d ? record_load_share(&plain, &len, store, index_str(epoch, "record")) : -ENOMEM;

    if (ret == 0 && (ret = vult_vault_parse(&v, plain, len)) == 0) {
        epochs_describe(d, &v);
        sodium_memzero(&v, sizeof(v));
        if (memcmp(d->generation, e->generation, EPOCHS_DIGEST_BYTES) != 0 ||
            memcmp(d->shares, e->shares, EPOCHS_DIGEST_BYTES) != 0) {
            ret = -EBADMSG; /* a record of something else than its epoch */
        } else {
            memcpy(e->key_shares, d->key_shares, sizeof(e->key_shares));
            e->key_share_count = d->key_share_count;
        }
    } else if (ret == -EINVAL) {
        ret = -EBADMSG; /* it decrypted, so the damage is not the disk's */
    }
    alloc_free(d);
    alloc_secret_free(plain);
    return ret;
}

static int entry_of(struct epochs_entry *e, const struct store *store, const json_t *epoch,
                    struct entries_unreadable *unreadable)
{
    const json_t *facts = json_object_get(epoch, "facts");
    int ret;

    e->number = index_num(epoch, "number");
    e->current = json_is_true(json_object_get(epoch, "current"));
    if (index_hex_decode(e->generation, EPOCHS_DIGEST_BYTES, index_str(epoch, "generation")) <
            0 ||
        index_hex_decode(e->device, EPOCHS_DIGEST_BYTES, index_str(epoch, "device")) < 0 ||
        index_hex_decode(e->shares, EPOCHS_DIGEST_BYTES, index_str(epoch, "shares")) < 0 ||
        entries_lib_type(&e->lib_type, index_str(facts, "lib_type")) < 0 ||
        signers_of(e, json_object_get(facts, "signers")) < 0)
        return -EIO;
    ret = stored_key_shares(e, epoch);
    if (ret <= 0)
        return ret;
    ret = key_shares_from_record(e, store, epoch);
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
        alloc_free(list);
        return ret;
    }
    *out = list;
    *count = n;
    return 0;
}

json_t *entries_key_shares_json(const struct epochs_entry *e)
{
    char hex[2 * EPOCHS_DIGEST_BYTES + 1];
    json_t *list = json_array();

    for (size_t i = 0; list && i < e->key_share_count; i++) {
        index_hex_encode(hex, e->key_shares[i], EPOCHS_DIGEST_BYTES);
        if (json_array_append_new(list, json_string(hex)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int entries_store_key_shares(json_t *vault, const struct epochs_entry *list, size_t count)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        if (json_object_get(e, "key_shares") || i >= count ||
            list[i].number != index_num(e, "number"))
            continue;
        if (json_object_set_new(e, "key_shares", entries_key_shares_json(&list[i])) < 0)
            return -ENOMEM;
    }
    return 0;
}
