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
/* jansson 2.14 can emit or parse wrong JSON after one failed allocation
 * instead of failing (upstream issue 655). The store trusts neither
 * direction: what it encodes is decoded again and compared, and what it
 * decodes is encoded again and compared with the bytes it read. */

static int json_failure(const json_error_t *error)
{
    return json_error_code(error) == json_error_out_of_memory ? -ENOMEM : -EIO;
}

int index_dumps(char **out, const json_t *json, size_t flags)
{
    json_error_t error;
    char *text = json_dumps(json, flags);
    json_t *back;
    int ret = 0;

    if (!text)
        return -ENOMEM;
    back = json_loads(text, 0, &error);
    if (!back)
        ret = json_failure(&error);
    else if (!json_equal(back, json))
        ret = -EIO; /* the encoder wrote something else than it was given */
    json_decref(back);
    if (ret < 0) {
        sodium_memzero(text, strlen(text));
        alloc_free(text);
        return ret;
    }
    *out = text;
    return 0;
}

/* The index's text: compact and sorted, so equal indexes are equal bytes. */
static int encode_checked(char **out, const json_t *index)
{
    return index_dumps(out, index, JSON_COMPACT | JSON_SORT_KEYS);
}

int index_write(struct store *store, const json_t *index)
{
    char *text = NULL;
    int ret = encode_checked(&text, index);

    if (ret < 0)
        return ret;
    ret = record_write_sealed(store->dirfd, INDEX_NAME, (const uint8_t *)text, strlen(text),
                              SEAL_KIND_INDEX, INDEX_ID, store->master);
    sodium_memzero(text, strlen(text));
    alloc_free(text);
    return ret;
}

/* Decodes the index and checks that it encodes back to the same bytes. */
static int decode_checked(json_t **out, const uint8_t *plain, size_t len)
{
    json_error_t error;
    json_t *index = json_loadb((const char *)plain, len, 0, &error);
    char *again = NULL;
    int ret;

    if (!index)
        return json_failure(&error);
    if (!json_is_array(json_object_get(index, "vaults"))) {
        json_decref(index);
        return -EIO;
    }
    ret = encode_checked(&again, index);
    if (ret == 0 && (strlen(again) != len || memcmp(again, plain, len) != 0))
        ret = -EIO; /* the parser read something else than was written */
    if (again) {
        sodium_memzero(again, strlen(again));
        alloc_free(again);
    }
    if (ret < 0) {
        json_decref(index);
        return ret;
    }
    *out = index;
    return 0;
}

int index_read(json_t **out, struct store *store)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    int ret = record_read_sealed(&plain, &len, store->dirfd, INDEX_NAME, MAX_INDEX_BYTES,
                                 SEAL_KIND_INDEX, INDEX_ID, store->master);
    *out = NULL;
    if (ret < 0)
        return ret == -ENOENT ? -EIO : ret;
    ret = decode_checked(out, plain, len);
    alloc_secret_free(plain);
    return ret;
}

/* A deep copy to change, checked against the original (see above). */
json_t *index_copy(const json_t *index)
{
    json_t *copy = json_deep_copy(index);
    if (copy && !json_equal(copy, index)) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

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

json_t *index_find_epoch(const json_t *vault, uint64_t number)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vault, "epochs"), i, e)
        if (index_num(e, "number") == number)
            return e;
    return NULL;
}
