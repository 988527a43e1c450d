/*
 * jsonx: jansson, checked (see jsonx.h).
 *
 * jansson 2.14 can emit or parse wrong JSON after one failed allocation
 * instead of failing (upstream issue 655). The store trusts neither
 * direction: what it encodes is decoded again and compared, and what it
 * decodes is encoded again and compared with the bytes it read.
 */
#include "jsonx.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"

const char *jsonx_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

uint64_t jsonx_num(const json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));
    return v < 0 ? 0 : (uint64_t)v;
}

/* Why jansson refused text the store wrote (its own encoder's, or a record
 * that verified). jansson 2.14 may leave error unset after a failed
 * allocation (callers zero it first) or call it a syntax error: when memory
 * is short now, say so rather than call the store damaged. */
static int json_failure(const json_error_t *error, size_t len)
{
    if (json_error_code(error) == json_error_out_of_memory)
        return -ENOMEM;
    void *probe = alloc_bytes(len + 4096);
    alloc_free(probe);
    return probe ? -EIO : -ENOMEM;
}

int jsonx_dumps(char **out, const json_t *json, size_t flags)
{
    json_error_t error = {0};
    char *text = json_dumps(json, flags);
    json_t *back;
    int ret = 0;

    if (!text)
        return -ENOMEM;
    back = json_loads(text, 0, &error);
    if (!back)
        ret = json_failure(&error, strlen(text));
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

/* json_dump_callback's sink that compares what is dumped with text. */
struct same_text {
    const uint8_t *text;
    size_t len, at;
    bool differs;
};

static int compare_dumped(const char *chunk, size_t size, void *data)
{
    struct same_text *c = data;

    if (size > c->len - c->at || memcmp(c->text + c->at, chunk, size) != 0) {
        c->differs = true;
        return -1;
    }
    c->at += size;
    return 0;
}

/* Checked against encoding as the encoder writes it (no copy of the
 * text): were the encoder wrong, its text would not be the bytes read
 * either. */
int jsonx_loads(json_t **out, const uint8_t *plain, size_t len)
{
    json_error_t error = {0};
    json_t *json = json_loadb((const char *)plain, len, 0, &error);
    struct same_text c = {plain, len, 0, false};
    int ret = 0;

    if (!json)
        return json_failure(&error, len);
    if (json_dump_callback(json, compare_dumped, &c, JSON_COMPACT | JSON_SORT_KEYS) < 0)
        ret = c.differs ? -EIO : -ENOMEM;
    else if (c.at != len)
        ret = -EIO; /* the parser read something else than was written */
    if (ret < 0) {
        json_decref(json);
        return ret;
    }
    *out = json;
    return 0;
}

json_t *jsonx_copy(const json_t *index)
{
    json_t *copy = json_deep_copy(index);
    if (copy && !json_equal(copy, index)) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}
