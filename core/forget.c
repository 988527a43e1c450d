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
    size_t i;
    json_t *e;
    int ret;

    if (!view)
        return -ENOENT;
    json_t *vault = json_incref(index_vault_of(store, view->public_key_ecdsa));
    if (!vault)
        return -EIO;

    /* index first: a crash after it leaves unreferenced records, which
     * fsck reports, never a reference to a missing one */
    store_tidy_before_change(store);
    ret = index_remove_vault(store, index_str(vault, "ecdsa"));
    if (ret < 0 && index_vault_of(store, index_str(vault, "ecdsa"))) {
        json_decref(vault);
        return ret; /* still in the index: its records stay */
    }
    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        char name[2 * RECORD_NAME_BYTES + 8];
        snprintf(name, sizeof(name), "%s.rec", index_str(e, "record"));
        int err = io_remove(store->sharesfd, name);
        if (err < 0 && err != -ENOENT && ret == 0)
            ret = err;
    }
    json_decref(vault);
    export_free_all(store);
    return ret;
}
