/*
 * test_alloc: the fail-after and fail-once hooks count and fail allocations on both
 * heaps and, once installed, jansson's; -1 turns it off again.
 */
#include "alloc.h"
#include "check.h"
#include "locked.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_plain_heap(void)
{
    void *a, *b, *c;
    char *s;

    alloc_fail_after(2);
    a = alloc_bytes(16);
    b = alloc_zeroed(4, 4);
    c = alloc_bytes(16);
    CHECK(a != NULL);
    CHECK(b != NULL && ((uint8_t *)b)[15] == 0);
    CHECK(c == NULL);
    CHECK_EQ_INT(alloc_failures(), 1);
    /* Sticky: everything after the first injected failure fails too. */
    CHECK(alloc_resize(a, 64) == NULL);
    CHECK(alloc_strndup("abc", 3) == NULL);
    CHECK_EQ_INT(alloc_failures(), 3);

    alloc_fail_after(-1);
    CHECK_EQ_INT(alloc_failures(), 0);
    a = alloc_resize(a, 64);
    CHECK(a != NULL);
    s = alloc_strndup("abcdef", 3);
    CHECK_EQ_STR(s, "abc");
    alloc_free(s);
    alloc_free(a);
    alloc_free(b);
    alloc_free(NULL);
    CHECK_EQ_INT(alloc_failures(), 0);
}

static void test_fail_once(void)
{
    void *a, *b, *c, *d;

    alloc_fail_once(1);
    a = alloc_bytes(16);
    b = alloc_secret(16);
    c = alloc_zeroed(2, 8);
    d = alloc_strndup("abc", 3);
    CHECK(a != NULL);
    CHECK(b == NULL); /* the second allocation, on the secret heap */
    /* only that one: the next ones succeed again */
    CHECK(c != NULL);
    CHECK(d != NULL);
    CHECK_EQ_INT(alloc_failures(), 1);
    alloc_fail_after(-1);
    CHECK_EQ_INT(alloc_failures(), 0);
    alloc_free(a);
    alloc_free(c);
    alloc_free(d);
}

static void test_zero_and_overflow(void)
{
    void *p = alloc_bytes(0);

    CHECK(p != NULL);
    alloc_free(p);
    p = alloc_zeroed(0, 8);
    CHECK(p != NULL);
    alloc_free(p);
    CHECK(alloc_zeroed(SIZE_MAX / 2, 3) == NULL);
    CHECK(alloc_zeroed(3, SIZE_MAX / 2) == NULL);
    /* Overflow is refused before the hook is consulted. */
    CHECK_EQ_INT(alloc_failures(), 0);
}

static void test_secret_heap(void)
{
    uint8_t *k;

    alloc_fail_after(0);
    CHECK(alloc_secret(32) == NULL);
    CHECK(alloc_bytes(1) == NULL);
    CHECK_EQ_INT(alloc_failures(), 2);

    /* One countdown for both heaps. */
    alloc_fail_after(1);
    k = alloc_secret(32);
    CHECK(k != NULL);
    CHECK(alloc_bytes(1) == NULL);
    CHECK_EQ_INT(alloc_failures(), 1);
    alloc_fail_after(-1);

    if (k)
        memset(k, 0xa5, 32);
    alloc_secret_free(k);
    alloc_secret_free(NULL);
    k = alloc_secret(0);
    CHECK(k != NULL);
    alloc_secret_free(k);
}

/* True when writing the byte just past ptr[0..size) kills a child with a
 * fault: the guard page is still right behind the block. */
static bool overrun_faults(uint8_t *ptr, size_t size)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2); /* a sanitizer's report of the fault is expected */
        signal(SIGSEGV, SIG_DFL);
        ((volatile uint8_t *)ptr)[size] = 1;
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Freed secret blocks are kept for reuse: a reused one comes back wiped,
 * with the guard page right after the caller's last byte, the failure hook
 * still decides first, and what is kept stays within its bound. */
static void test_secret_reuse(void)
{
    static const size_t sizes[][2] = {{5000, 4900}, {100000, 90000}, {32, 32}, {1, 0}};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *first = alloc_secret(sizes[i][0]);
        CHECK(first != NULL);
        if (!first)
            continue;
        memset(first, 0xa5, sizes[i][0]);
        alloc_secret_free(first);
        size_t size = sizes[i][1] ? sizes[i][1] : 1;
        uint8_t *again = alloc_secret(sizes[i][1]);
        CHECK(again != NULL);
        if (!again)
            continue;
        CHECK(memchr(again, 0xa5, size) == NULL);
        CHECK(overrun_faults(again, size));
        memset(again, 0x5a, size);
        alloc_secret_free(again);
    }

    alloc_fail_once(0);
    CHECK(alloc_secret(5000) == NULL);
    uint8_t *k = alloc_secret(5000);
    CHECK(k != NULL);
    alloc_secret_free(k);
    CHECK_EQ_INT(alloc_failures(), 1);

    /* 40 blocks of 200 KB freed: at most 1 MiB (and a page per block of
     * sodium's canary) stays locked. */
    long before = locked_bytes();
    uint8_t *blocks[40];
    for (size_t i = 0; i < 40; i++) {
        blocks[i] = alloc_secret(200000 + i * 4096);
        CHECK(blocks[i] != NULL);
    }
    for (size_t i = 0; i < 40; i++)
        alloc_secret_free(blocks[i]);
    long after = locked_bytes();
    CHECK(before >= 0 && after >= 0 && after - before <= (1024 + 8 * 4) * 1024);
}

static void test_jansson(void)
{
    json_t *obj;

    alloc_install_jansson();
    alloc_fail_after(0);
    CHECK(json_object() == NULL);
    CHECK(json_string("x") == NULL);
    CHECK(alloc_failures() >= 2);

    alloc_fail_after(-1);
    obj = json_object();
    CHECK(obj != NULL);
    CHECK_EQ_INT(json_object_set_new(obj, "k", json_integer(7)), 0);

    /* A failing set leaves the object as it was and leaks nothing. */
    alloc_fail_after(0);
    CHECK(json_object_set_new(obj, "other", json_string("v")) != 0);
    alloc_fail_after(-1);
    CHECK_EQ_INT(json_object_size(obj), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(obj, "k")), 7);
    json_decref(obj);
    CHECK_EQ_INT(alloc_failures(), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 99;
    test_plain_heap();
    test_fail_once();
    test_zero_and_overflow();
    test_secret_heap();
    test_secret_reuse();
    test_jansson();
    return check_done("alloc");
}
