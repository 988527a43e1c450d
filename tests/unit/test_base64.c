/*
 * test_base64: the strict, constant-time base64 codec. Known answers from
 * RFC 4648, then the codec against a plain reference written from the
 * rules in base64.h (a byte-at-a-time decoder with a search of the
 * alphabet), over random inputs of every length up to a few blocks, every
 * byte value at every kind of position, non-canonical tails and padding
 * in the middle.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "check.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- the reference ------------------------------------------------------ */

static int ref_value(unsigned char c)
{
    for (int i = 0; i < 64; i++)
        if ((unsigned char)alphabet[i] == c)
            return i;
    return -1;
}

/* 0 and the bytes, or -1: whole quanta, at most two '=' and only at the
 * end, letters elsewhere, zero unused bits. */
static int ref_decode(uint8_t *out, size_t *out_len, const char *text, size_t len)
{
    size_t pad = 0, n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (len % 4 != 0)
        return -1;
    while (pad < len && text[len - 1 - pad] == '=')
        pad++;
    if (pad > 2)
        return -1;
    for (size_t i = 0; i < len - pad; i++) {
        int v = ref_value((unsigned char)text[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    *out_len = n;
    return 0;
}

static void ref_encode(char *out, const uint8_t *bin, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t w = (uint32_t)bin[i] << 16;
        if (i + 1 < len)
            w |= (uint32_t)bin[i + 1] << 8;
        if (i + 2 < len)
            w |= bin[i + 2];
        out[o++] = alphabet[w >> 18];
        out[o++] = alphabet[w >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[w >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[w & 63] : '=';
    }
}

/* The codec and the reference agree on text: both refuse, or both give
 * the same bytes; is_canonical says the same. */
static bool agrees(const char *text, size_t len)
{
    uint8_t *want = malloc(len + 1), *got = malloc(len + 1);
    size_t want_len = 0, got_len = 99;
    int want_ret = ref_decode(want, &want_len, text, len);
    int got_ret = base64_decode(got, len, &got_len, text, len);
    bool same = (want_ret == 0) == (got_ret == 0) &&
                base64_is_canonical(text, len) == (want_ret == 0) &&
                (got_ret == 0 ? got_len == want_len && memcmp(got, want, want_len) == 0
                              : got_ret == -EINVAL && got_len == 0);
    free(want);
    free(got);
    return same;
}

/* ---- known answers ------------------------------------------------------ */

static void test_rfc4648_vectors(void)
{
    static const char *const vectors[][2] = {
        {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    char text[16];
    uint8_t bytes[16];
    size_t len;

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *bin = vectors[i][0], *b64 = vectors[i][1];
        memset(text, 0, sizeof(text));
        CHECK_EQ_INT(base64_encoded_len(strlen(bin)), strlen(b64));
        base64_encode(text, (const uint8_t *)bin, strlen(bin));
        CHECK_EQ_STR(text, b64);
        CHECK(base64_is_canonical(b64, strlen(b64)));
        CHECK_EQ_INT(base64_decode(bytes, sizeof(bytes), &len, b64, strlen(b64)), 0);
        CHECK(len == strlen(bin) && memcmp(bytes, bin, len) == 0);
    }
    /* every letter in order: 48 bytes, a whole block of 64 letters */
    uint8_t all[48];
    char again[65] = {0};
    CHECK_EQ_INT(base64_decode(all, sizeof(all), &len, alphabet, 64), 0);
    CHECK_EQ_INT(len, 48);
    base64_encode(again, all, 48);
    CHECK_EQ_STR(again, alphabet);
}

/* ---- the rules ---------------------------------------------------------- */

static void test_rules(void)
{
    static const char *const good[] = {"", "QQ==", "QUI=", "QUJD", "+/+/", "AAAAQQ=="};
    static const char *const bad[] = {"Q",    "QQ=",  "QR==",     "QUJ=",  "A===",
                                      "====", "=AAA", "QQ=A",     "QQ==QUJD", "QU I=",
                                      "QUJD\n", "QU-D", "QU_D", "QUJD===="};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(base64_is_canonical(good[i], strlen(good[i])));
        CHECK(agrees(good[i], strlen(good[i])));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!base64_is_canonical(bad[i], strlen(bad[i])));
        CHECK(agrees(bad[i], strlen(bad[i])));
    }
}

/* Every byte value at each kind of position of a 200-letter text (three
 * whole blocks and a tail): inside a block, in the tail, in the last
 * quantum before the padding, and in the padding itself. */
static void test_every_byte_everywhere(void)
{
    static const size_t positions[] = {0, 1, 17, 63, 64, 127, 128, 191, 192, 193, 194, 195,
                                       196, 197, 198, 199};
    char good[200];
    uint8_t bin[148];

    randombytes_buf(bin, sizeof(bin));
    base64_encode(good, bin, sizeof(bin)); /* 148 = 49 * 3 + 1: ends "xx==" */
    CHECK(good[198] == '=' && good[199] == '=');
    for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
        for (unsigned byte = 0; byte <= 0xff; byte++) {
            char text[200];
            memcpy(text, good, sizeof(text));
            text[positions[p]] = (char)byte;
            if (!agrees(text, sizeof(text)))
                fprintf(stderr, "byte 0x%02x at %zu\n", byte, positions[p]);
            CHECK(agrees(text, sizeof(text)));
            /* and the same with one padding byte */
            memcpy(text, good, sizeof(text));
            text[198] = alphabet[16];
            text[positions[p]] = (char)byte;
            CHECK(agrees(text, sizeof(text)));
        }
        /* a byte past 0x7f is never a letter (libsodium 1.0.18 reads '/') */
        char text[200];
        memcpy(text, good, sizeof(text));
        text[positions[p]] = (char)0xaf;
        CHECK(!base64_is_canonical(text, sizeof(text)));
    }
}

/* The unused bits of a padded last quantum must be zero: of the 64
 * letters, 4 may end "xx==" and 16 may end "xxx=". */
static void test_non_canonical_tails(void)
{
    int two = 0, one = 0;
    for (int v = 0; v < 64; v++) {
        char pad2[] = "AAAAQ?==", pad1[] = "AAAAQU?=";
        pad2[5] = alphabet[v];
        pad1[6] = alphabet[v];
        two += base64_is_canonical(pad2, 8);
        one += base64_is_canonical(pad1, 8);
        CHECK(base64_is_canonical(pad2, 8) == ((v & 15) == 0));
        CHECK(base64_is_canonical(pad1, 8) == ((v & 3) == 0));
        CHECK(agrees(pad2, 8) && agrees(pad1, 8));
    }
    CHECK_EQ_INT(two, 4);
    CHECK_EQ_INT(one, 16);
}

/* '=' anywhere but the last two bytes is refused, in a block and after. */
static void test_padding_in_the_middle(void)
{
    char text[136];
    uint8_t bin[102];

    randombytes_buf(bin, sizeof(bin));
    base64_encode(text, bin, sizeof(bin));
    for (size_t i = 0; i < sizeof(text) - 2; i++) {
        char copy[136];
        memcpy(copy, text, sizeof(copy));
        copy[i] = '=';
        CHECK(!base64_is_canonical(copy, sizeof(copy)));
        if (i % 4 == 2) { /* "xx==" in the middle: a whole padded quantum */
            copy[i + 1] = '=';
            CHECK(!base64_is_canonical(copy, sizeof(copy)));
            CHECK(agrees(copy, sizeof(copy)));
        }
    }
}

/* Random bytes of every length up to four blocks and then some, encoded
 * both ways and decoded back; random single-byte damage and random text. */
static void test_against_reference(void)
{
    uint8_t bin[700], back[700];
    char text[936], want[936];

    for (size_t len = 0; len <= sizeof(bin); len++) {
        size_t n = base64_encoded_len(len), back_len = 0;
        randombytes_buf(bin, len);
        base64_encode(text, bin, len);
        ref_encode(want, bin, len);
        CHECK(memcmp(text, want, n) == 0);
        CHECK_EQ_INT(base64_decode(back, len, &back_len, text, n), 0);
        CHECK(back_len == len && memcmp(back, bin, len) == 0);
        if (n) {
            text[randombytes_uniform((uint32_t)n)] = (char)randombytes_uniform(256);
            CHECK(agrees(text, n));
        }
        randombytes_buf(text, n);
        CHECK(agrees(text, n));
        for (size_t i = 0; i < n; i++) /* random letters, sometimes with padding */
            text[i] = alphabet[randombytes_uniform(64)];
        if (n && randombytes_uniform(2))
            text[n - 1] = '=';
        CHECK(agrees(text, n));
    }
}

/* Too small a buffer is refused before anything is written; a refused
 * text leaves zeros where the decoder had written. */
static void test_output_buffer(void)
{
    uint8_t out[96];
    size_t len = 7;
    char text[128];
    uint8_t bin[96];

    randombytes_buf(bin, sizeof(bin));
    base64_encode(text, bin, sizeof(bin));
    memset(out, 0xaa, sizeof(out));
    CHECK_EQ_INT(base64_decode(out, 95, &len, text, sizeof(text)), -EINVAL);
    CHECK_EQ_INT(len, 0);
    CHECK(out[0] == 0xaa);
    text[127] = '*';
    CHECK_EQ_INT(base64_decode(out, sizeof(out), &len, text, sizeof(text)), -EINVAL);
    CHECK(sodium_is_zero(out, sizeof(out)));
    CHECK_EQ_INT(base64_decode(out, sizeof(out), &len, "QUJD", 3), -EINVAL);
}

static void test_count_non_letters(void)
{
    uint8_t text[300];

    for (size_t len = 0; len <= sizeof(text); len += 7) {
        size_t want = 0;
        randombytes_buf(text, len);
        for (size_t i = 0; i < len; i++)
            want += ref_value(text[i]) < 0;
        CHECK_EQ_INT(base64_count_non_letters(text, len), want);
    }
    CHECK_EQ_INT(base64_count_non_letters((const uint8_t *)alphabet, 64), 0);
    CHECK_EQ_INT(base64_count_non_letters((const uint8_t *)"QQ==\r\n", 6), 4);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_rfc4648_vectors();
    test_rules();
    test_every_byte_everywhere();
    test_non_canonical_tails();
    test_padding_in_the_middle();
    test_against_reference();
    test_output_buffer();
    test_count_non_letters();
    return check_done("test_base64");
}
