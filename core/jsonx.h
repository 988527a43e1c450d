/*
 * jsonx: jansson as the store uses it: typed getters that never fail, and
 * text in both directions checked against a round trip, because jansson
 * 2.14 can write or read wrong JSON after a failed allocation (jsonx.c).
 * Text the store keeps is compact with sorted keys, so equal JSON is
 * equal bytes.
 */
#ifndef VULTFS_JSONX_H
#define VULTFS_JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* obj[key] as a string ("" when absent or not one). */
const char *jsonx_str(const json_t *obj, const char *key);
/* obj[key] as a count (0 when absent, negative or not an integer). */
uint64_t jsonx_num(const json_t *obj, const char *key);

/* json_dumps(json, flags), decoded again and checked equal to json. *out
 * is NUL-terminated, from jansson's allocator. -ENOMEM, or -EIO when the
 * text does not decode to json. */
int jsonx_dumps(char **out, const json_t *json, size_t flags);
/* Compact sorted JSON text decoded and checked to encode back to exactly
 * those bytes: 0, -ENOMEM, -EIO. */
int jsonx_loads(json_t **out, const uint8_t *text, size_t len);
/* json_deep_copy, checked equal to the original; NULL on failure. */
json_t *jsonx_copy(const json_t *json);

#endif
