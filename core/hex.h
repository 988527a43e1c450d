/*
 * hex: lowercase hexadecimal text of bytes (names, digests, ids), and back.
 */
#ifndef VULTFS_HEX_H
#define VULTFS_HEX_H

#include <stddef.h>
#include <stdint.h>

/* 2 * len digits and a NUL into out. */
void hex_encode(char *out, const uint8_t *bin, size_t len);
/* Exactly 2 * len hex digits (NULL or another length: -EINVAL) into out. */
int hex_decode(uint8_t *out, size_t len, const char *hex);

#endif
