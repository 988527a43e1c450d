/*
 * forget: removes a vault and all its epochs, or one superseded epoch: the
 * deliberate ways to destroy shares. The index goes first, then the
 * records.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "io.h"

/* Removes a share record the index no longer references; one already gone
 * is fine. */
static int remove_record(struct store *store, const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    snprintf(name, sizeof(name), "%s.rec", record);
    int ret = io_remove(store->sharesfd, name);
    return ret == -ENOENT ? 0 : ret;
}

/* An epoch's share record and those a replace kept beside it. */
static int remove_epoch_records(struct store *store, const json_t *epoch)
{
    size_t i;
    json_t *r;
    int ret = remove_record(store, jsonx_str(epoch, "record"));

    json_array_foreach(json_object_get(epoch, "replaced"), i, r) {
        int err = remove_record(store, jsonx_str(r, "record"));
        if (err < 0 && ret == 0)
            ret = err;
    }
    return ret;
}

/* Is the vault still in the index? (Yes when that cannot be told.) */
static bool still_held(const struct store *store, const char *ecdsa)
{
    json_t *vault = NULL;
    int ret = index_vault_get(store, ecdsa, &vault);

    json_decref(vault);
    return ret < 0 || vault != NULL;
}

int store_forget(struct store *store, const char *dir_name)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    size_t i;
    json_t *e;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (!view)
        return -ENOENT;
    json_t *vault = NULL;
    ret = index_vault_get(store, view->public_key_ecdsa, &vault);
    if (ret == 0 && !vault)
        ret = -EIO; /* the views and the index disagree */
    if (ret < 0)
        return ret;

    /* index first: a crash after it leaves unreferenced records, which
     * fsck reports (and --repair, seeing the vault forgotten in the
     * manifest, removes), never a reference to a missing one */
    store_tidy_before_change(store);
    ret = index_remove_vault(store, jsonx_str(vault, "ecdsa"));
    if (ret < 0 && still_held(store, jsonx_str(vault, "ecdsa"))) {
        json_decref(vault);
        return ret; /* still in the index: its records stay */
    }
    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        int err = remove_epoch_records(store, e);
        if (err < 0 && ret == 0)
            ret = err;
    }
    json_decref(vault);
    export_free_all(store);
    return ret;
}

/* Takes epoch number out of vault (an object of index) and leaves its
 * marker in "forgotten": the number and the generation digest, which are
 * public facts. *removed gets the epoch's object (its records' names; the
 * caller's reference). */
static int replace_by_marker(json_t *vault, uint64_t number, json_t **removed)
{
    json_t *epochs = json_object_get(vault, "epochs");
    json_t *epoch = index_find_epoch(vault, number);
    json_t *forgotten = json_object_get(vault, "forgotten");
    size_t i;
    json_t *e;

    if (!epoch)
        return -EIO; /* the views and the index disagree */
    if (!forgotten) {
        forgotten = json_array();
        if (json_object_set_new(vault, "forgotten", forgotten) < 0)
            return -ENOMEM;
    }
    /* lib_type too: it is part of the generation (a GG20 to DKLS migration) */
    json_t *marker = json_pack("{s:I, s:s, s:s}", "number", (json_int_t)number, "generation",
                               jsonx_str(epoch, "generation"), "lib_type",
                               jsonx_str(json_object_get(epoch, "facts"), "lib_type"));
    *removed = json_incref(epoch);
    if (!marker || json_array_append_new(forgotten, marker) < 0)
        return -ENOMEM;
    json_array_foreach(epochs, i, e)
        if (e == epoch)
            return json_array_remove(epochs, i) < 0 ? -ENOMEM : 0;
    return -EIO;
}

int store_forget_epoch(struct store *store, const char *dir_name, uint64_t number)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    const struct store_epoch *epoch = view ? store_vault_epoch(view, number) : NULL;
    json_t *removed = NULL;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (!epoch)
        return -ENOENT;
    if (epoch->current)
        return -EPERM; /* the share this location keeps: forget the vault instead */
    json_t *vault = NULL;
    ret = index_vault_get(store, view->public_key_ecdsa, &vault);
    if (ret == 0 && vault) {
        json_t *held = vault; /* the copy is changed: a slot may hold the tree itself */
        vault = jsonx_copy(held);
        json_decref(held);
        ret = vault ? replace_by_marker(vault, number, &removed) : -ENOMEM;
    } else if (ret == 0) {
        ret = -EIO;
    }
    if (ret == 0) {
        /* the vault's record first, as store_forget: a crash leaves an
         * unreferenced share record */
        bool intact; /* the share record stays either way */
        store_tidy_before_change(store);
        ret = index_change_vault(store, vault, &intact);
    }
    if (ret < 0) {
        json_decref(removed);
        json_decref(vault);
        return ret;
    }
    ret = index_set_vault(store, vault); /* takes vault */
    int gone = remove_epoch_records(store, removed);
    ret = ret < 0 ? ret : gone;
    json_decref(removed);
    export_free_all(store);
    return ret;
}
