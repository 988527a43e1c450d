/*
 * pb: the protobuf wire format, read through one bounds-checked cursor and
 * written through one writer, for the few small flat messages of a backup
 * file (vult.c) and the tools that re-encode them (tests/tools/mkvault.c).
 *
 * Reading never copies: bytes fields come back as pointers into the
 * caller's buffer. Every short or malformed input is -EINVAL. Writing into
 * a NULL buffer only counts, so a caller sizes a message with one pass and
 * fills it with a second.
 */
#ifndef VULTFS_PB_H
#define VULTFS_PB_H

#include <stddef.h>
#include <stdint.h>

#include "wur.h"

enum pb_wire {
    PB_VARINT = 0,
    PB_FIXED64 = 1,
    PB_BYTES = 2,
    PB_FIXED32 = 5,
};

/* The unread part of a message: [pos, end). */
struct pb_reader {
    const uint8_t *pos;
    const uint8_t *end;
};

/* A varint of at most ten bytes. */
int pb_read_varint(struct pb_reader *r, uint64_t *out) VULTFS_WUR;

/* A length-delimited field's bytes; *data points into the message. */
int pb_read_bytes(struct pb_reader *r, const uint8_t **data, size_t *len) VULTFS_WUR;

/* The next field's tag; *field is 0 at the end of the message. Field
 * numbers are 1..2^29-1. */
int pb_read_tag(struct pb_reader *r, uint32_t *field, enum pb_wire *type) VULTFS_WUR;

/* Skips a field's value (groups, long deprecated, are -EINVAL). */
int pb_skip(struct pb_reader *r, enum pb_wire type) VULTFS_WUR;

/* buf NULL: only counts len. The caller sizes buf with a counting pass. */
struct pb_writer {
    uint8_t *buf;
    size_t len;
};

void pb_write_raw(struct pb_writer *w, const void *data, size_t len);
void pb_write_varint(struct pb_writer *w, uint64_t value);
void pb_write_tag(struct pb_writer *w, uint32_t field, enum pb_wire type);
/* Tag, length and bytes of a length-delimited field. */
void pb_write_bytes(struct pb_writer *w, uint32_t field, const void *data, size_t len);

/* Bytes a varint of value takes. */
size_t pb_varint_len(uint64_t value);

#endif
