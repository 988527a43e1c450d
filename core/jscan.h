/*
 * jscan: JSON read without a tree and without allocating, for text that is
 * secret (a GG20 key share is a JSON object holding the device's Paillier
 * and ECDSA secrets): jansson would copy it into its own, unlocked heap.
 * Strict RFC 8259 syntax; nesting is bounded (JSCAN_MAX_DEPTH) so no
 * input can exhaust the stack.
 */
#ifndef VULTFS_JSCAN_H
#define VULTFS_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSCAN_MAX_DEPTH 64

/* Is text exactly one JSON value (surrounding white space allowed), with
 * valid UTF-8 in its strings and no NUL? */
bool jscan_valid(const char *text, size_t len);

/* The value of member key of the top-level object (the first, when the
 * key repeats), if it is a string: *value points at its first character
 * after the quote and *value_len counts the raw characters up to the
 * closing quote, escapes still escaped. Returns true when found. text
 * must be jscan_valid. */
bool jscan_member_string(const char **value, size_t *value_len, const char *text, size_t len,
                         const char *key);

/* Does the raw string value (escapes still escaped, as
 * jscan_member_string gives it) stand for exactly the bytes of expected? */
bool jscan_string_equals(const char *value, size_t value_len, const char *expected,
                         size_t expected_len);

#endif
