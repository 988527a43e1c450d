/*
 * test_escape: what fs/escape.c makes of names before they are printed or
 * logged. Control characters, line breaks, bidirectional controls and
 * bytes that are not UTF-8 come out as visible escapes; printable text,
 * UTF-8 included, comes out unchanged; a cut output is never half an
 * escape.
 */
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "escape.h"

static void check_escaped(const char *text, const char *want)
{
    char *got = escape_dup(text);
    CHECK_EQ_STR(got, want);
    CHECK_EQ_INT(escape_text(NULL, 0, text), strlen(want));
    alloc_free(got);
}

static void test_kept(void)
{
    check_escaped("", "");
    check_escaped("Test private key vault", "Test private key vault");
    /* device names hold U+2019; names may be in any script */
    check_escaped("Anna\xe2\x80\x99s iPhone", "Anna\xe2\x80\x99s iPhone");
    check_escaped("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91",
                  "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91");
}

static void test_controls(void)
{
    /* the name of issue 20: a new line, then "clear the screen" */
    check_escaped("x\n\x1b[2Jy", "x\\n\\x1b[2Jy");
    check_escaped("a\rb\tc", "a\\rb\\tc");
    check_escaped("\x01\x7f", "\\x01\\x7f");
    check_escaped("back\\slash", "back\\\\slash");
    /* C1 CSI (U+009B), a line separator, a right-to-left override */
    check_escaped("a\xc2\x9b" "2Jb", "a\\u009b2Jb");
    check_escaped("one\xe2\x80\xa8two", "one\\u2028two");
    check_escaped("\xe2\x80\xae" "cod.exe", "\\u202ecod.exe");
    check_escaped("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
}

static void test_not_utf8(void)
{
    check_escaped("a\xff" "b", "a\\xffb");
    check_escaped("\xc3", "\\xc3");                  /* cut short */
    check_escaped("\xc0\xaf", "\\xc0\\xaf");         /* overlong '/' */
    check_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
    check_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
    check_escaped("\x80", "\\x80");
    CHECK(escape_is_utf8("Anna\xe2\x80\x99s"));
    CHECK(escape_is_utf8("x\n\x1b"));
    CHECK(!escape_is_utf8("a\xff"));
    CHECK(!escape_is_utf8("\xe2\x80"));
}

/* A short buffer holds whole pieces only, always NUL-terminated. */
static void test_cut(void)
{
    char out[8];

    memset(out, 'Z', sizeof(out));
    CHECK_EQ_INT(escape_text(out, sizeof(out), "abcd\x1b" "efg"), 11);
    CHECK_EQ_STR(out, "abcd"); /* "\x1b" does not fit after it: cut before */
    CHECK_EQ_INT(escape_text(out, 5, "abcd"), 4);
    CHECK_EQ_STR(out, "abcd");
    CHECK_EQ_INT(escape_text(out, 4, "abcd"), 4);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(escape_text(out, 3, "\xe2\x80\x99x"), 4);
    CHECK_EQ_STR(out, ""); /* never half a character */
    CHECK_EQ_INT(escape_text(out, 1, "\n"), 2);
    CHECK_EQ_STR(out, "");
}

static void test_json(void)
{
    json_t *s = escape_json_string("x\n\x1b[2Jy");
    CHECK(s && strcmp(json_string_value(s), "x\n\x1b[2Jy") == 0); /* JSON escapes it */
    json_decref(s);
    s = escape_json_string("a\xff" "b");
    CHECK(s && strcmp(json_string_value(s), "a\\xffb") == 0);
    json_decref(s);
}

int main(void)
{
    test_kept();
    test_controls();
    test_not_utf8();
    test_cut();
    test_json();
    return check_done("test_escape");
}
