/*
 * forget: removes a vault and all its epochs, the one deliberate way to
 * destroy shares. The index goes first, then the records.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>

#include <jansson.h>

#include "io.h"

int store_forget(struct store *store, const char *dir_name)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    size_t index_pos;
    int ret;

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
        char name[2 * RECORD_NAME_BYTES + 8];
        snprintf(name, sizeof(name), "%s.rec", json_string_value(e));
        int err = io_remove(store->sharesfd, name);
        if (err < 0 && err != -ENOENT && ret == 0)
            ret = err;
    }
    json_decref(records);
    export_free_all(store);
    int rebuilt = views_rebuild(store);
    return ret < 0 ? ret : rebuilt;
}
