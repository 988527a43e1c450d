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

int store_forget(struct store *store, const char *dir_name)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    size_t index_pos;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (!view)
        return -ENOENT;
    json_t *index = index_copy(store->index);
    if (!index)
        return -ENOMEM;
    json_t *vault = index_find_vault(index, view->public_key_ecdsa, &index_pos);
    json_t *records = json_array();
    size_t i;
    json_t *e;
    ret = records && vault ? 0 : -ENOMEM;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (ret == 0 && json_array_append_new(records, json_string(index_str(e, "record"))) < 0)
            ret = -ENOMEM;
    if (ret == 0 && json_array_remove(json_object_get(index, "vaults"), index_pos) < 0)
        ret = -EIO;
    if (ret < 0) {
        json_decref(records);
        json_decref(index);
        return ret;
    }

    /* index first: a crash after it leaves unreferenced records, which
     * fsck reports, never a reference to a missing one */
    if (!store->tidied)
        record_remove_unreferenced(store);
    store_tidy_before_change(store);
    ret = index_write(store, index);
    if (ret < 0) {
        json_decref(records);
        json_decref(index);
        return ret;
    }
    json_decref(store->index);
    store->index = index;
    json_array_foreach(records, i, e) {
        int err = remove_record(store, json_string_value(e));
        if (err < 0 && ret == 0)
            ret = err;
    }
    json_decref(records);
    export_free_all(store);
    int rebuilt = views_rebuild(store);
    return ret < 0 ? ret : rebuilt;
}

/* Takes epoch number out of vault (an object of index) and leaves its
 * marker in "forgotten": the number and the generation digest, which are
 * public facts. *record gets the record's name (freed by the caller). */
static int replace_by_marker(json_t *vault, uint64_t number, char **record)
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
                               index_str(epoch, "generation"), "lib_type",
                               index_str(json_object_get(epoch, "facts"), "lib_type"));
    *record = alloc_strndup(index_str(epoch, "record"), strlen(index_str(epoch, "record")));
    if (!marker || !*record || json_array_append_new(forgotten, marker) < 0)
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
    char *record = NULL;
    int ret;

    if (store->read_only)
        return -EROFS;
    if (!epoch)
        return -ENOENT;
    if (epoch->current)
        return -EPERM; /* the share this location keeps: forget the vault instead */
    json_t *index = index_copy(store->index);
    ret = index ? replace_by_marker(index_find_vault(index, view->public_key_ecdsa, NULL),
                                    number, &record)
                : -ENOMEM;
    if (ret == 0) {
        /* index first, as store_forget: a crash leaves an unreferenced record */
        store_tidy_before_change(store);
        ret = index_write(store, index);
    }
    if (ret < 0) {
        alloc_free(record);
        json_decref(index);
        return ret;
    }
    json_decref(store->index);
    store->index = index;
    ret = remove_record(store, record);
    alloc_free(record);
    export_free_all(store);
    int rebuilt = views_rebuild(store);
    return ret < 0 ? ret : rebuilt;
}
