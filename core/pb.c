/*
 * pb: the protobuf wire format (see pb.h).
 */
#include "pb.h"

#include <errno.h>
#include <string.h>

int pb_read_varint(struct pb_reader *r, uint64_t *out)
{
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->pos == r->end)
            return -EINVAL;
        uint8_t byte = *r->pos++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return -EINVAL; /* more than ten bytes */
}

int pb_read_bytes(struct pb_reader *r, const uint8_t **data, size_t *len)
{
    uint64_t n;
    if (pb_read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->pos))
        return -EINVAL;
    *data = r->pos;
    *len = (size_t)n;
    r->pos += n;
    return 0;
}

int pb_read_tag(struct pb_reader *r, uint32_t *field, enum pb_wire *type)
{
    uint64_t tag;
    if (r->pos == r->end) {
        *field = 0;
        return 0;
    }
    if (pb_read_varint(r, &tag) < 0)
        return -EINVAL;
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return -EINVAL;
    *field = (uint32_t)(tag >> 3);
    *type = (enum pb_wire)(tag & 7);
    return 0;
}

int pb_skip(struct pb_reader *r, enum pb_wire type)
{
    uint64_t ignored;
    const uint8_t *data;
    size_t width;

    switch (type) {
    case PB_VARINT:
        return pb_read_varint(r, &ignored);
    case PB_BYTES:
        return pb_read_bytes(r, &data, &width);
    case PB_FIXED64:
        width = 8;
        break;
    case PB_FIXED32:
        width = 4;
        break;
    default:
        return -EINVAL; /* groups are long deprecated; no Vault uses them */
    }
    if ((size_t)(r->end - r->pos) < width)
        return -EINVAL;
    r->pos += width;
    return 0;
}

void pb_write_raw(struct pb_writer *w, const void *data, size_t len)
{
    if (w->buf)
        memcpy(w->buf + w->len, data, len);
    w->len += len;
}

void pb_write_varint(struct pb_writer *w, uint64_t value)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(value & 0x7f);
        value >>= 7;
        if (value)
            tmp[n] |= 0x80;
        n++;
    } while (value);
    pb_write_raw(w, tmp, n);
}

void pb_write_tag(struct pb_writer *w, uint32_t field, enum pb_wire type)
{
    pb_write_varint(w, ((uint64_t)field << 3) | type);
}

void pb_write_bytes(struct pb_writer *w, uint32_t field, const void *data, size_t len)
{
    pb_write_tag(w, field, PB_BYTES);
    pb_write_varint(w, len);
    pb_write_raw(w, data, len);
}

size_t pb_varint_len(uint64_t value)
{
    size_t n = 1;
    while (value >>= 7)
        n++;
    return n;
}
