/*
 * utf8: one step of strict UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF), shared by every check that text is text.
 */
#ifndef VULTFS_UTF8_H
#define VULTFS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length of the well-formed character at p (at most avail bytes
 * there), or 0 when p does not start one. NUL is a character here;
 * callers that refuse it check for it. */
size_t utf8_char_len(const unsigned char *p, size_t avail);

#endif
