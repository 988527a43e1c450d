/*
 * jscan: a recursive-descent JSON checker over a bounded cursor (see
 * jscan.h). Recursion stops at JSCAN_MAX_DEPTH, so a hostile input costs
 * at most that many small frames.
 */
#include "jscan.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

struct cursor {
    const unsigned char *p, *end;
};

static int peek(const struct cursor *c)
{
    return c->p < c->end ? *c->p : -1;
}

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller). */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* One escape after the backslash at c->p: its code point into *cp (a
 * surrogate pair as one), the cursor past it. */
static bool escape(struct cursor *c, uint32_t *cp)
{
    static const char simple[] = "\"\\/bfnrt";
    static const char value[] = "\"\\/\b\f\n\r\t";

    if (c->end - c->p < 2)
        return false;
    const char *at = memchr(simple, c->p[1], sizeof(simple) - 1);
    if (at && c->p[1] != '\0') {
        *cp = (unsigned char)value[at - simple];
        c->p += 2;
        return true;
    }
    if (c->p[1] != 'u' || c->end - c->p < 6)
        return false;
    long high = hex4(c->p + 2);
    if (high < 0)
        return false;
    c->p += 6;
    if (high < 0xd800 || high > 0xdfff) {
        *cp = (uint32_t)high;
        return true;
    }
    /* a high surrogate must be followed by a low one */
    if (high > 0xdbff || c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
        return false;
    long low = hex4(c->p + 2);
    if (low < 0xdc00 || low > 0xdfff)
        return false;
    c->p += 6;
    *cp = 0x10000 + (((uint32_t)high - 0xd800) << 10) + ((uint32_t)low - 0xdc00);
    return true;
}

/* A string at c->p (its opening quote); on success the cursor is past
 * the closing quote. */
static bool string(struct cursor *c)
{
    uint32_t cp;

    c->p++;
    while (c->p < c->end) {
        unsigned char ch = *c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false; /* control characters must be escaped; NUL too */
        if (ch == '\\') {
            if (!escape(c, &cp) || cp == 0)
                return false;
            continue;
        }
        size_t n = utf8_char_len(c->p, (size_t)(c->end - c->p));
        if (n == 0)
            return false;
        c->p += n;
    }
    return false;
}

static bool digits(struct cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

static bool number(struct cursor *c)
{
    if (peek(c) == '-')
        c->p++;
    if (peek(c) == '0')
        c->p++;
    else if (!digits(c))
        return false;
    if (peek(c) == '.') {
        c->p++;
        if (!digits(c))
            return false;
    }
    if (peek(c) == 'e' || peek(c) == 'E') {
        c->p++;
        if (peek(c) == '+' || peek(c) == '-')
            c->p++;
        if (!digits(c))
            return false;
    }
    return true;
}

static bool literal(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool value(struct cursor *c, int depth);

/* The members or elements of a container opened at c->p, up to close. */
static bool container(struct cursor *c, int depth, int close)
{
    c->p++;
    skip_space(c);
    if (peek(c) == close) {
        c->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (peek(c) != '"' || !string(c))
                return false;
            skip_space(c);
            if (peek(c) != ':')
                return false;
            c->p++;
            skip_space(c);
        }
        if (!value(c, depth + 1))
            return false;
        skip_space(c);
        if (peek(c) == close) {
            c->p++;
            return true;
        }
        if (peek(c) != ',')
            return false;
        c->p++;
        skip_space(c);
    }
}

static bool value(struct cursor *c, int depth)
{
    if (depth > JSCAN_MAX_DEPTH)
        return false;
    switch (peek(c)) {
    case '{':
        return container(c, depth, '}');
    case '[':
        return container(c, depth, ']');
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

bool jscan_valid(const char *text, size_t len)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};

    skip_space(&c);
    if (!value(&c, 1))
        return false;
    skip_space(&c);
    return c.p == c.end;
}

/* The code point of the character at p, advancing p (raw UTF-8, already
 * valid; jscan_valid checked it). */
static uint32_t next_raw(const unsigned char **p, const unsigned char *end)
{
    size_t n = utf8_char_len(*p, (size_t)(end - *p));
    uint32_t cp = n == 1 ? **p : (uint32_t)(**p & (0x7f >> n));

    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | ((*p)[k] & 0x3f);
    *p += n ? n : 1;
    return cp;
}

bool jscan_string_equals(const char *value, size_t value_len, const char *expected,
                         size_t expected_len)
{
    struct cursor c = {(const unsigned char *)value, (const unsigned char *)value + value_len};
    const unsigned char *e = (const unsigned char *)expected, *e_end = e + expected_len;

    while (c.p < c.end) {
        uint32_t cp;
        if (*c.p == '\\') {
            if (!escape(&c, &cp))
                return false;
        } else {
            cp = next_raw(&c.p, c.end);
        }
        if (e >= e_end || next_raw(&e, e_end) != cp)
            return false;
    }
    return e == e_end;
}

bool jscan_member_string(const char **out, size_t *out_len, const char *text, size_t len,
                         const char *key)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};

    skip_space(&c);
    if (peek(&c) != '{')
        return false;
    c.p++;
    for (;;) {
        skip_space(&c);
        if (peek(&c) != '"')
            return false; /* '}': no such member */
        const unsigned char *name = c.p + 1;
        if (!string(&c))
            return false;
        size_t name_len = (size_t)(c.p - 1 - name);
        skip_space(&c);
        if (peek(&c) != ':')
            return false;
        c.p++;
        skip_space(&c);
        const unsigned char *start = c.p + 1;
        bool is_string = peek(&c) == '"';
        if (!value(&c, 2))
            return false;
        if (is_string && jscan_string_equals((const char *)name, name_len, key, strlen(key))) {
            *out = (const char *)start;
            *out_len = (size_t)(c.p - 1 - start);
            return true;
        }
        skip_space(&c);
        if (peek(&c) != ',')
            return false;
        c.p++;
    }
}
