/*
 * index: the sealed index (index.rec), the store's one source of truth, and
 * the lookups into it. The index is JSON: {"format":1,"vaults":[{"ecdsa",
 * "dir_name"?, "epochs":[{"number","current","record","generation","device",
 * "shares","vault_len","imported_sec","imported_nsec","facts"}]}]}.
 */
#include "store_private.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"

void index_hex_encode(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

int index_hex_decode(uint8_t *out, size_t len, const char *hex)
{
    size_t got = 0;
    if (!hex || strlen(hex) != len * 2 ||
        sodium_hex2bin(out, len, hex, len * 2, NULL, &got, NULL) != 0 || got != len)
        return -EINVAL;
    return 0;
}

const char *index_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

uint64_t index_num(const json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v < 0 ? 0 : (uint64_t)v;
}

/* JSON text is written compact and sorted, so equal indexes are equal bytes. */
int index_write(struct store *store, const json_t *index)
{
    char *text = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
    int ret;
    if (!text)
        return -ENOMEM;
    ret = record_write_sealed(store->dirfd, INDEX_NAME, (const uint8_t *)text, strlen(text),
                       SEAL_KIND_INDEX, INDEX_ID, store->master);
    sodium_memzero(text, strlen(text));
    alloc_free(text);
    return ret;
}

int index_read(json_t **out, struct store *store)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    json_error_t error;
    int ret = record_read_sealed(&plain, &len, store->dirfd, INDEX_NAME, MAX_INDEX_BYTES,
                          SEAL_KIND_INDEX, INDEX_ID, store->master);
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    *out = json_loadb((const char *)plain, len, 0, &error);
    alloc_secret_free(plain);
    if (!*out || !json_is_array(json_object_get(*out, "vaults"))) {
        json_decref(*out);
        *out = NULL;
        return -EIO;
    }
    return 0;
}

/* A vault's entry in an index (the store's, or a copy being changed). */
json_t *index_find_vault(const json_t *index, const char *ecdsa, size_t *position)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(index, "vaults"), i, v) {
        if (strcmp(index_str(v, "ecdsa"), ecdsa) == 0) {
            if (position)
                *position = i;
            return v;
        }
    }
    return NULL;
}

json_t *index_find_epoch(const json_t *vault, uint32_t number)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (index_num(e, "number") == number)
            return e;
    return NULL;
}
