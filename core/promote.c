/*
 * promote: a superseded epoch made current again (vultfs promote). A
 * backup file does not say which generation came later, so import order
 * decides which one is current: `vultfs import S new.vult old.vult` makes
 * the older share current. This is the way back, and it loses nothing:
 * the epoch becomes the newest, numbered as a new epoch would be (after
 * every epoch and forgotten marker), the others keep their numbers and
 * files, and every import time stays. The device-line invariant of DESIGN
 * must hold with it there, else the promote is refused.
 */
#include "store_private.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"

/* The highest number held or forgotten in vault. */
static uint64_t highest_number(const json_t *vault)
{
    uint64_t top = 0;
    const char *lists[] = {"epochs", "forgotten"};
    size_t i;
    json_t *e;

    for (size_t k = 0; k < 2; k++)
        json_array_foreach(json_object_get(vault, lists[k]), i, e)
            if (jsonx_num(e, "number") > top)
                top = jsonx_num(e, "number");
    return top;
}

/* Does the vault keep the device line with number's epoch as renumbered? */
static int line_holds(bool *holds, uint64_t *later, const struct store *store,
                      const json_t *vault)
{
    struct epochs_entry *entries = NULL;
    struct entries_unreadable unreadable;
    size_t count = 0;
    int ret = entries_of(&entries, &count, &unreadable, store, vault);

    if (ret < 0)
        return ret;
    *holds = epochs_line_holds(entries, count, later);
    epochs_entries_free(entries, count);
    return 0;
}

int store_promote_epoch(struct store *store, const char *dir_name, uint64_t number,
                        uint64_t *new_number, uint64_t *later)
{
    const struct store_vault *view = store_vault_by_dir(store, dir_name);
    const struct store_epoch *epoch = view ? store_vault_epoch(view, number) : NULL;
    json_t *held = NULL, *vault = NULL;
    bool holds = false, intact;
    size_t i;
    json_t *e;
    int ret;

    *new_number = 0;
    *later = 0;
    if (store->read_only)
        return -EROFS;
    if (!epoch)
        return -ENOENT;
    if (epoch->current)
        return -EALREADY;
    ret = index_vault_get(store, view->public_key_ecdsa, &held);
    if (ret == 0 && !held)
        ret = -EIO; /* the views and the index disagree */
    if (ret == 0 && !(vault = jsonx_copy(held)))
        ret = -ENOMEM;
    json_decref(held);
    if (ret < 0)
        return ret;
    uint64_t next = highest_number(vault) + 1;
    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        bool promoted = jsonx_num(e, "number") == number;
        if (json_object_set_new(e, "current", json_boolean(promoted)) < 0 ||
            (promoted && json_object_set_new(e, "number", json_integer((json_int_t)next)) < 0))
            ret = -ENOMEM;
    }
    if (ret == 0)
        ret = line_holds(&holds, later, store, vault);
    if (ret == 0 && !holds)
        ret = -EPERM;
    if (ret == 0) {
        store_tidy_before_change(store);
        ret = index_change_vault(store, vault, &intact);
    }
    if (ret == 0) {
        ret = index_set_vault(store, vault); /* takes vault */
        vault = NULL;
        *new_number = next;
        export_free_all(store);
    }
    json_decref(vault);
    return ret;
}
