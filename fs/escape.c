/*
 * escape: names made safe to print and log (see escape.h).
 */
#include "escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

/* The length of the well-formed UTF-8 sequence at p (1 to 4) and its code
 * point, or 0 when p does not start one: a stray continuation byte, a cut
 * sequence, an overlong form, a surrogate, or a value past U+10FFFF. */
static size_t utf8_sequence(uint32_t *cp, const unsigned char *p)
{
    size_t extra;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        extra = 1;
        *cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        extra = 2;
        *cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        extra = 3;
        *cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t k = 1; k <= extra; k++) {
        if ((p[k] & 0xc0) != 0x80) /* the NUL at the end stops here too */
            return 0;
        *cp = (*cp << 6) | (p[k] & 0x3f);
    }
    if ((extra == 2 && *cp < 0x800) || (extra == 3 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
        (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return extra + 1;
}

/* Characters that are well-formed but act on the display, not shown. */
static bool is_invisible_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape for the character at p (length *len), into esc; 0 when it
 * is shown as it is. */
static size_t escape_one(char esc[8], size_t *len, const unsigned char *p)
{
    uint32_t cp;

    *len = utf8_sequence(&cp, p);
    if (*len == 0) {
        *len = 1;
        return (size_t)snprintf(esc, 8, "\\x%02x", p[0]);
    }
    switch (cp) {
    case '\\':
        return (size_t)snprintf(esc, 8, "\\\\");
    case '\n':
        return (size_t)snprintf(esc, 8, "\\n");
    case '\r':
        return (size_t)snprintf(esc, 8, "\\r");
    case '\t':
        return (size_t)snprintf(esc, 8, "\\t");
    default:
        break;
    }
    if (cp < 0x20 || cp == 0x7f)
        return (size_t)snprintf(esc, 8, "\\x%02x", (unsigned)cp);
    if (is_invisible_control(cp))
        return (size_t)snprintf(esc, 8, "\\u%04x", (unsigned)cp);
    return 0;
}

size_t escape_text(char *out, size_t cap, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t used = 0; /* the whole escaped length so far */
    bool cut = false;

    while (*p) {
        char esc[8];
        size_t len;
        size_t esc_len = escape_one(esc, &len, p);
        const char *piece = esc_len ? esc : (const char *)p;
        size_t piece_len = esc_len ? esc_len : len;

        /* a piece goes in whole or not at all, and nothing after a cut */
        if (!cut && cap && used + piece_len < cap)
            memcpy(out + used, piece, piece_len);
        else if (!cut && cap)
            cut = true, out[used] = '\0';
        used += piece_len;
        p += len;
    }
    if (cap && !cut)
        out[used] = '\0';
    return used;
}

char *escape_dup(const char *text)
{
    size_t len = escape_text(NULL, 0, text);
    char *out = alloc_bytes(len + 1);

    if (out)
        escape_text(out, len + 1, text);
    return out;
}

bool escape_is_utf8(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p) {
        uint32_t cp;
        size_t len = utf8_sequence(&cp, p);
        if (len == 0)
            return false;
        p += len;
    }
    return true;
}

json_t *escape_json_string(const char *text)
{
    if (escape_is_utf8(text))
        return json_string(text);
    char *escaped = escape_dup(text);
    json_t *s = escaped ? json_string(escaped) : NULL;
    alloc_free(escaped);
    return s;
}
