/*
 * fuzz_record: libFuzzer target for sealed records (seal.c's open path and
 * record.c's reader), with a fixed key.
 *
 * Each input is the bytes of a record file. It is opened as each kind,
 * with the id its seeds were sealed under, twice: as it is (checksum, then
 * tag), and with its checksum made right, so mutations also reach the
 * AEAD, which must refuse them cleanly (-EBADMSG), never crash. A record
 * that opens is then read as the store reads it (a share record's Vault
 * parsed, the index's JSON decoded) and must seal and open again.
 *
 * Seeds: tests/fuzz/run.sh has fuzz_seeds seal a real store's index and
 * share records under fuzz_record_key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "alloc.h"
#include "fuzz.h"
#include "store_private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch directory, for sealed_read, which reads a file. */
static int scratch_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_core();
    scratch_fd = open(fuzz_scratch()->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_ASSERT(scratch_fd >= 0);
    return 0;
}

static const struct {
    enum seal_kind kind;
    const char *id;
} kinds[] = {
    {SEAL_KIND_MASTER_KEY, MASTER_KEY_ID},
    {SEAL_KIND_INDEX, INDEX_ID},
    {SEAL_KIND_SHARE, FUZZ_RECORD_ID},
};

/* What the store does with an opened record's bytes. */
static void read_plain(enum seal_kind kind, const uint8_t *plain, size_t len)
{
    struct vult_vault vault;
    json_error_t error;

    if (kind == SEAL_KIND_SHARE) {
        if (vult_vault_parse(&vault, NULL, plain, len) == 0)
            vult_vault_clear(&vault);
    } else if (kind == SEAL_KIND_INDEX) {
        json_t *index = json_loadb((const char *)plain, len, 0, &error);
        json_decref(index);
    }
}

/* Sealing the plain bytes again gives a record that opens to them. */
static void check_reseal(enum seal_kind kind, const char *id, const uint8_t *plain, size_t len)
{
    uint8_t *sealed = NULL, *again = NULL;
    size_t sealed_len = 0, again_len = 0;

    FUZZ_ASSERT(seal_record(&sealed, &sealed_len, plain, len, kind, id, fuzz_record_key) == 0);
    FUZZ_ASSERT(sealed_len == seal_sealed_len(len));
    FUZZ_ASSERT(seal_open_record(&again, &again_len, sealed, sealed_len, kind, id,
                                 fuzz_record_key) == 0);
    FUZZ_ASSERT(again_len == len && memcmp(again, plain, len) == 0);
    alloc_secret_free(again);
    alloc_free(sealed);
}

/* Opens data as one kind; returns the result for the caller's checks. */
static int open_as(enum seal_kind kind, const char *id, const uint8_t *data, size_t size)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int ret = seal_open_record(&plain, &plain_len, data, size, kind, id, fuzz_record_key);

    FUZZ_ASSERT(ret == 0 || ret == -EINVAL || ret == -EIO || ret == -EBADMSG);
    if (ret < 0) {
        FUZZ_ASSERT(plain == NULL);
        return ret;
    }
    FUZZ_ASSERT(size >= SEAL_OVERHEAD && plain_len == size - SEAL_OVERHEAD);
    FUZZ_ASSERT(data[5] == (uint8_t)kind);
    read_plain(kind, plain, plain_len);
    check_reseal(kind, id, plain, plain_len);
    alloc_secret_free(plain);
    return 0;
}

/* record.c's reader, as store's share records are read: from a file. */
static int read_file_as_share(const uint8_t *data, size_t size)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int fd = openat(scratch_fd, FUZZ_RECORD_ID ".rec", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);

    FUZZ_ASSERT(fd >= 0);
    FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
    close(fd);
    int ret = sealed_read(&plain, &plain_len, scratch_fd, FUZZ_RECORD_ID ".rec", MAX_RECORD_BYTES,
                          SEAL_KIND_SHARE, FUZZ_RECORD_ID, fuzz_record_key);
    alloc_secret_free(plain);
    return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *fixed;
    int as_share = -1;

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        int ret = open_as(kinds[k].kind, kinds[k].id, data, size);
        if (kinds[k].kind == SEAL_KIND_SHARE)
            as_share = ret;
    }
    /* Read from a file, the same bytes give the same answer (or too big). */
    int from_file = read_file_as_share(data, size);
    FUZZ_ASSERT(from_file == as_share || (from_file == -EFBIG && size > MAX_RECORD_BYTES));

    /* The same bytes with a right checksum: what is left is the tag. */
    if (size < SEAL_OVERHEAD)
        return 0;
    fixed = malloc(size);
    FUZZ_ASSERT(fixed != NULL);
    memcpy(fixed, data, size);
    /* seal.h's layout: the u64 after the 8-byte prefix, over nonce..end */
    uint64_t sum = XXH3_64bits(fixed + SEAL_HEADER_BYTES, size - SEAL_HEADER_BYTES);
    for (int i = 0; i < 8; i++)
        fixed[8 + i] = (uint8_t)(sum >> (8 * i));
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        FUZZ_ASSERT(open_as(kinds[k].kind, kinds[k].id, fixed, size) != -EIO);
    free(fixed);
    return 0;
}
