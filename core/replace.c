/*
 * replace: an epoch's file replaced by another backup of the same vault,
 * generation and device (vultfs replace), for when the file the store
 * holds is the damaged one: an import of the good file is refused as a
 * conflict, since a damaged or altered file must never replace a good one
 * by itself. The user says which is good; nothing is destroyed: the
 * replaced file stays in the store, named beside its epoch ("replaced"),
 * checked by fsck, shown by list, removed only by vultfs forget with its
 * epoch or vault.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "completeness.h"

static bool same_digest(const char *hex, const uint8_t digest[EPOCHS_DIGEST_BYTES])
{
    uint8_t bin[EPOCHS_DIGEST_BYTES];
    return hex_decode(bin, sizeof(bin), hex) == 0 && memcmp(bin, digest, EPOCHS_DIGEST_BYTES) == 0;
}

/* Does d reuse a key share of any epoch of vault but number? */
static int reuses_key_share(bool *reuses, const struct store *store, const json_t *vault,
                            uint64_t number, const struct epochs_entry *d)
{
    struct epochs_entry *entries = NULL;
    struct entries_unreadable unreadable;
    size_t count = 0;
    int ret = entries_of(&entries, &count, &unreadable, store, vault);

    *reuses = false;
    if (ret < 0)
        return ret;
    if (unreadable.any)
        ret = -EIO; /* an epoch whose key shares cannot be read: never guess */
    for (size_t i = 0; ret == 0 && i < count; i++) {
        if (entries[i].number == number)
            continue;
        for (size_t j = 0; j < entries[i].key_share_count; j++)
            for (size_t k = 0; k < d->key_share_count; k++)
                *reuses |= memcmp(entries[i].key_shares[j].share, d->key_shares[k].share,
                                  EPOCHS_DIGEST_BYTES) == 0;
    }
    epochs_entries_free(entries, count);
    return ret;
}

/* The vault with epoch's file now record (v's, d's digests), the one it
 * held kept in "replaced". */
static int with_new_file(json_t *vault, json_t *epoch, const char *record,
                         const struct vult_vault *v, const struct epochs_entry *d, size_t len)
{
    json_t *fresh = import_epoch_json(v, d, jsonx_num(epoch, "number"),
                                      json_is_true(json_object_get(epoch, "current")), record, len);
    int ret = fresh ? 0 : -ENOMEM;

    if (ret == 0 && json_object_get(epoch, "replaced"))
        ret = json_object_set(fresh, "replaced", json_object_get(epoch, "replaced")) < 0
                  ? -ENOMEM
                  : 0;
    if (ret == 0)
        ret = entries_keep_replaced(fresh, epoch);
    /* the epoch's object replaced in place: the others and their order stay */
    size_t i;
    json_t *e;
    json_t *epochs = json_object_get(vault, "epochs");
    json_array_foreach(epochs, i, e)
        if (ret == 0 && e == epoch)
            ret = json_array_set(epochs, i, fresh) < 0 ? -ENOMEM : 0;
    json_decref(fresh);
    return ret < 0 ? -ENOMEM : 0;
}

int store_replace_share(struct store *store, const char *dir_name, uint64_t number,
                        const struct store_decoded *decoded, enum store_replace_refusal *why)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    const struct vult_file *file = store_decoded_file(decoded);
    const struct vult_vault *v = store_decoded_vault(decoded);
    struct epochs_entry *d = alloc_zeroed(1, sizeof(*d));
    char record[2 * RECORD_NAME_BYTES + 1];
    json_t *held = NULL, *vault = NULL;
    bool reuses = false;
    int ret = d ? 0 : -ENOMEM;

    *why = STORE_REPLACE_OK;
    if (store->read_only)
        ret = -EROFS;
    if (ret == 0 && (!view || (number && !store_vault_epoch(view, number)) ||
                     (!number && !view->current)))
        ret = -ENOENT;
    if (ret < 0)
        goto out;
    if (!number)
        number = view->current->number;
    if (v->public_key_ecdsa.len != strlen(view->public_key_ecdsa) ||
        memcmp(v->public_key_ecdsa.ptr, view->public_key_ecdsa, v->public_key_ecdsa.len) != 0) {
        *why = STORE_REPLACE_OTHER_VAULT;
        ret = -EINVAL;
        goto out;
    }
    ret = index_vault_get(store, view->public_key_ecdsa, &held);
    if (ret == 0 && !held)
        ret = -EIO;
    if (ret == 0 && !(vault = jsonx_copy(held)))
        ret = -ENOMEM;
    if (ret < 0)
        goto out;
    json_t *epoch = index_find_epoch(vault, number);
    uint64_t lib = 0;
    if ((ret = epochs_describe(d, v)) < 0)
        goto out;
    if (!epoch ||
        entries_lib_type(&lib, jsonx_str(json_object_get(epoch, "facts"), "lib_type")) < 0) {
        ret = -EIO;
        goto out;
    }
    if (lib != d->lib_type || !same_digest(jsonx_str(epoch, "generation"), d->generation))
        *why = STORE_REPLACE_OTHER_GENERATION;
    else if (!same_digest(jsonx_str(epoch, "device"), d->device))
        *why = STORE_REPLACE_OTHER_DEVICE;
    else if (completeness_of(v).gap != COMPLETENESS_OK)
        *why = STORE_REPLACE_INCOMPLETE;
    else if (same_digest(jsonx_str(epoch, "shares"), d->shares))
        *why = STORE_REPLACE_SAME;
    if (*why != STORE_REPLACE_OK) {
        ret = *why == STORE_REPLACE_SAME ? -EALREADY : -EINVAL;
        goto out;
    }
    ret = reuses_key_share(&reuses, store, vault, number, d);
    if (ret == 0 && reuses) {
        *why = STORE_REPLACE_REUSES;
        ret = -EEXIST;
    }
    if (ret == 0)
        ret = record_name(record, store, file->vault_bytes, file->vault_len);
    if (ret == 0)
        ret = with_new_file(vault, epoch, record, v, d, file->vault_len);
    if (ret == 0) {
        ret = record_commit(store, record, file->vault_bytes, file->vault_len, vault);
        if (ret == 0) {
            ret = index_set_vault(store, vault); /* takes vault */
            vault = NULL;
            export_free_all(store);
        }
    }
out:
    json_decref(vault);
    json_decref(held);
    if (d)
        epochs_entry_clear(d);
    alloc_free(d);
    return ret;
}
