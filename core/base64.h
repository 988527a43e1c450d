/*
 * base64: the strict base64 the apps write (RFC 4648 original alphabet,
 * padded), decoded and encoded in constant time: no branch and no table
 * lookup depends on a letter or a byte, because the text is often a key
 * share itself. Only the length and the padding (which the decoded length
 * gives away anyway) steer the code.
 *
 * Strict means: the text is whole quanta of four letters from
 * A-Za-z0-9+/; '=' appears only as one or two final padding bytes; the
 * bits a padded final quantum leaves unused are zero (otherwise several
 * texts decode to the same bytes and a changed letter would pass
 * unnoticed; every encoder writes zeros there). Bytes 0x80-0xFF are never
 * letters (libsodium 1.0.18 decodes them as '/').
 */
#ifndef VULTFS_BASE64_H
#define VULTFS_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wur.h"

/* Letters that encode bin_len bytes, padding included. */
size_t base64_encoded_len(size_t bin_len);

/* True when text is strict base64 (see above). The empty text is. */
bool base64_is_canonical(const char *text, size_t len);

/* Decodes strict base64 in one pass into out, which must hold the decoded
 * length (at most len / 4 * 3). Returns 0 and sets *out_len, or -EINVAL
 * (not strict base64, or out_cap too small); on error out holds zeros where
 * the decoder wrote and *out_len is 0. */
int base64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *text,
                  size_t len) VULTFS_WUR;

/* Writes exactly base64_encoded_len(len) letters to out, padded, without
 * a terminating NUL. */
void base64_encode(char *out, const uint8_t *bin, size_t len);

/* How many bytes of text are not letters of the alphabet ('=' and line
 * breaks count as not letters). Constant time, like the rest. */
size_t base64_count_non_letters(const uint8_t *text, size_t len);

#endif
