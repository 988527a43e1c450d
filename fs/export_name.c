#include "export_name.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "store.h"
#include "vult.h"

/* obj's text at key (obj itself when key is NULL), as a vult_str. */
static struct vult_str str_of(const json_t *obj, const char *key)
{
    const json_t *s = key ? json_object_get(obj, key) : obj;
    return (struct vult_str){json_string_value(s), json_string_length(s)};
}

static bool text_is(const json_t *obj, const char *key, const char *want)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && strcmp(s, want) == 0;
}

/* The listing's epoch (it keeps each signer whole, where the views join
 * them with commas, which a device name may contain). */
static const json_t *find_epoch(const json_t *list, const char *dir_name, uint64_t epoch,
                                const json_t **vault)
{
    size_t i, j;
    json_t *v, *e;
    json_array_foreach(list, i, v) {
        if (!text_is(v, "directory", dir_name))
            continue;
        json_array_foreach(json_object_get(v, "epochs"), j, e) {
            if (json_integer_value(json_object_get(e, "epoch")) == (json_int_t)epoch) {
                *vault = v;
                return e;
            }
        }
    }
    return NULL;
}

int export_name(char **out, const struct store *store, const char *dir_name, uint64_t epoch)
{
    struct vult_vault *facts = NULL; /* only the naming fields are set */
    const json_t *vault = NULL, *e, *signer;
    char *text = NULL;
    json_t *list;
    size_t i;
    int ret = store_list_json(&text, store);

    if (ret < 0)
        return ret;
    list = json_loads(text, 0, NULL);
    free(text);
    if (!list)
        return -ENOMEM;
    e = find_epoch(list, dir_name, epoch, &vault);
    ret = -ENOENT;
    if (!e)
        goto out;
    ret = -ENOMEM;
    facts = alloc_zeroed(1, sizeof(*facts));
    if (!facts)
        goto out;
    facts->name = str_of(vault, "name");
    facts->public_key_ecdsa = str_of(vault, "public_key_ecdsa");
    facts->local_party_id = str_of(e, "device");
    facts->lib_type = text_is(e, "lib_type", "GG20") ? VULT_LIB_GG20 : VULT_LIB_DKLS;
    json_array_foreach(json_object_get(e, "signers"), i, signer) {
        if (i == VULT_MAX_SIGNERS)
            break;
        facts->signers[i] = str_of(signer, NULL);
        facts->signer_count = i + 1;
    }
    *out = vult_suggested_filename(facts);
    ret = *out ? 0 : -ENOMEM;
out:
    alloc_free(facts);
    json_decref(list);
    return ret;
}
