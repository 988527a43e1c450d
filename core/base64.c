/*
 * base64: see base64.h.
 *
 * Letters are classified with arithmetic on bytes (letters are ASCII, so a
 * range test is the sign bits of c - lo and hi - c on 7-bit values), never
 * with a table or a branch, and the work goes in blocks of 64 letters:
 * loops with a constant trip count over restrict pointers, which the
 * compiler vectorizes at -O2 (16 bytes at a time with SSE2). Decoding
 * checks and converts in the same pass; a bad letter only sets a mask, so
 * the time does not depend on where (or whether) the text is bad.
 */
#include "base64.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define BLOCK_QUANTA 16
#define BLOCK_LETTERS (BLOCK_QUANTA * 4)
#define BLOCK_BYTES (BLOCK_QUANTA * 3)

/* All ones when lo <= c <= hi, for c, lo and hi below 128: then c - lo
 * and hi - c fit in 8 signed bits, and their sign bits tell. */
static inline uint8_t mask_in_range7(uint8_t c, uint8_t lo, uint8_t hi)
{
    return (uint8_t)((((uint8_t)(c - lo) | (uint8_t)(hi - c)) >> 7) - 1);
}

/* The value (0-63) of letter c; *letter is all ones when c is a letter. */
static inline uint8_t letter_value(uint8_t c, uint8_t *letter)
{
    uint8_t low = c & 0x7f; /* bytes 0x80-0xFF are never letters: */
    uint8_t ascii = (uint8_t)((c >> 7) - 1); /* all ones below 0x80 */
    uint8_t upper = mask_in_range7(low, 'A', 'Z');
    uint8_t lower = mask_in_range7(low, 'a', 'z');
    uint8_t digit = mask_in_range7(low, '0', '9');
    uint8_t plus = mask_in_range7(low, '+', '+');
    uint8_t slash = mask_in_range7(low, '/', '/');

    *letter = (upper | lower | digit | plus | slash) & ascii;
    return (uint8_t)((upper & (uint8_t)(low - 'A')) | (lower & (uint8_t)(low - 'a' + 26)) |
                     (digit & (uint8_t)(low + 52 - '0')) | (plus & 62) | (slash & 63));
}

/* The letter of value v (0-63): 'A' plus the offset of v's range. */
static inline char letter_of(uint8_t v)
{
    uint8_t c = (uint8_t)(v + 'A');
    c = (uint8_t)(c + (mask_in_range7(v, 26, 63) & ('a' - 26 - 'A')));
    c = (uint8_t)(c - (mask_in_range7(v, 52, 63) & ('a' - 26 - ('0' - 52))));
    c = (uint8_t)(c - (mask_in_range7(v, 62, 63) & ('0' - 52 - ('+' - 62))));
    c = (uint8_t)(c + (mask_in_range7(v, 63, 63) & ('/' - '+' - 1)));
    return (char)c;
}

/* Values of n letters; the result is nonzero when a byte is no letter. */
static inline uint16_t letters_to_values(uint8_t *restrict values, const char *restrict text,
                                         size_t n)
{
    uint8_t not_letter = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t letter;
        values[i] = letter_value((uint8_t)text[i], &letter);
        not_letter |= (uint8_t)~letter;
    }
    return not_letter;
}

static inline void pack_quanta(uint8_t *restrict out, const uint8_t *restrict values,
                               size_t quanta)
{
    for (size_t q = 0; q < quanta; q++) {
        uint32_t w = (uint32_t)values[4 * q] << 18 | (uint32_t)values[4 * q + 1] << 12 |
                     (uint32_t)values[4 * q + 2] << 6 | values[4 * q + 3];
        out[3 * q] = (uint8_t)(w >> 16);
        out[3 * q + 1] = (uint8_t)(w >> 8);
        out[3 * q + 2] = (uint8_t)w;
    }
}

/* Decodes whole quanta of letters into out (3 bytes each; NULL: check
 * only). Nonzero when a byte is no letter. */
static uint16_t decode_quanta(uint8_t *restrict out, const char *restrict text, size_t quanta)
{
    uint8_t values[BLOCK_LETTERS];
    uint16_t not_letter = 0;

    for (; quanta >= BLOCK_QUANTA; quanta -= BLOCK_QUANTA, text += BLOCK_LETTERS) {
        not_letter |= letters_to_values(values, text, BLOCK_LETTERS);
        if (out) {
            pack_quanta(out, values, BLOCK_QUANTA);
            out += BLOCK_BYTES;
        }
    }
    not_letter |= letters_to_values(values, text, quanta * 4);
    if (out)
        pack_quanta(out, values, quanta);
    sodium_memzero(values, sizeof(values));
    return not_letter;
}

/* '=' at the end: how many bytes the last quantum lacks. A branch on the
 * last two bytes only, and what it tells is the decoded length. */
static size_t padding(const char *text, size_t len)
{
    if (len < 4 || text[len - 1] != '=')
        return 0;
    return text[len - 2] == '=' ? 2 : 1;
}

/* Decodes len letters (a multiple of 4) into out (NULL: check only), which
 * holds the decoded length. 0 or -EINVAL; nothing wiped here. */
static int decode(uint8_t *out, const char *text, size_t len)
{
    size_t pad = padding(text, len);
    size_t whole = len / 4 - (pad ? 1 : 0);
    uint16_t bad = decode_quanta(out, text, whole);

    if (pad) {
        /* The padding reads as 'A' (zero bits): the unused bits are zero
         * exactly when the bytes past the decoded length are. */
        char last[4] = {'A', 'A', 'A', 'A'};
        uint8_t bytes[3];
        memcpy(last, text + len - 4, 4 - pad);
        bad |= decode_quanta(bytes, last, 1);
        bad |= bytes[2];
        if (pad == 2)
            bad |= bytes[1];
        if (out)
            memcpy(out + whole * 3, bytes, 3 - pad);
        sodium_memzero(last, sizeof(last));
        sodium_memzero(bytes, sizeof(bytes));
    }
    return bad ? -EINVAL : 0;
}

size_t base64_encoded_len(size_t bin_len)
{
    return (bin_len + 2) / 3 * 4;
}

bool base64_is_canonical(const char *text, size_t len)
{
    return len % 4 == 0 && decode(NULL, text, len) == 0;
}

int base64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *text, size_t len)
{
    *out_len = 0;
    if (len % 4 != 0)
        return -EINVAL;
    size_t decoded = len / 4 * 3 - padding(text, len);
    if (out_cap < decoded)
        return -EINVAL;
    if (decode(out, text, len) != 0) {
        sodium_memzero(out, decoded);
        return -EINVAL;
    }
    *out_len = decoded;
    return 0;
}

/* Encodes whole triples of bytes into 4 letters each. */
static void encode_quanta(char *restrict out, const uint8_t *restrict bin, size_t quanta)
{
    uint8_t values[BLOCK_LETTERS];

    while (quanta) {
        size_t n = quanta < BLOCK_QUANTA ? quanta : BLOCK_QUANTA;
        for (size_t q = 0; q < n; q++) {
            uint32_t w = (uint32_t)bin[3 * q] << 16 | (uint32_t)bin[3 * q + 1] << 8 |
                         bin[3 * q + 2];
            values[4 * q] = (uint8_t)(w >> 18);
            values[4 * q + 1] = (uint8_t)(w >> 12 & 63);
            values[4 * q + 2] = (uint8_t)(w >> 6 & 63);
            values[4 * q + 3] = (uint8_t)(w & 63);
        }
        if (n == BLOCK_QUANTA) {
            for (size_t i = 0; i < BLOCK_LETTERS; i++)
                out[i] = letter_of(values[i]);
        } else {
            for (size_t i = 0; i < n * 4; i++)
                out[i] = letter_of(values[i]);
        }
        out += n * 4;
        bin += n * 3;
        quanta -= n;
    }
    sodium_memzero(values, sizeof(values));
}

void base64_encode(char *out, const uint8_t *bin, size_t len)
{
    size_t whole = len / 3, rest = len % 3;

    encode_quanta(out, bin, whole);
    if (rest) {
        uint8_t last[3] = {0, 0, 0};
        memcpy(last, bin + whole * 3, rest);
        encode_quanta(out + whole * 4, last, 1);
        memset(out + whole * 4 + 1 + rest, '=', 3 - rest);
        sodium_memzero(last, sizeof(last));
    }
}

/* Non-letters among n bytes (n at most 64, so the count fits). */
static inline uint16_t count_block(const uint8_t *text, size_t n)
{
    uint16_t count = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t letter;
        (void)letter_value(text[i], &letter);
        count = (uint16_t)(count + (~letter & 1));
    }
    return count;
}

size_t base64_count_non_letters(const uint8_t *text, size_t len)
{
    size_t count = 0;

    for (; len >= BLOCK_LETTERS; len -= BLOCK_LETTERS, text += BLOCK_LETTERS)
        count += count_block(text, BLOCK_LETTERS);
    return count + count_block(text, len);
}
