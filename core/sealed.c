/*
 * sealed: files whose bytes are one sealed record (seal.h), written and
 * read whole through io.h.
 */
#include "sealed.h"

#include "alloc.h"
#include "io.h"

int sealed_write_with(int dirfd, const char *name, const uint8_t *plain, size_t len,
                      enum seal_kind kind, const char *id, const uint8_t *key,
                      int (*write)(int dirfd, const char *name, const void *data, size_t len,
                                   mode_t mode))
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = seal_record(&sealed, &sealed_len, plain, len, kind, id, key);
    if (ret < 0)
        return ret;
    ret = write(dirfd, name, sealed, sealed_len, 0600);
    alloc_free(sealed);
    return ret;
}

int sealed_write(int dirfd, const char *name, const uint8_t *plain, size_t len, enum seal_kind kind,
                 const char *id, const uint8_t *key)
{
    return sealed_write_with(dirfd, name, plain, len, kind, id, key, io_write_atomic);
}

int sealed_read(uint8_t **plain, size_t *len, int dirfd, const char *name, size_t max_len,
                enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = io_read_file(&sealed, &sealed_len, dirfd, name, max_len);
    if (ret < 0)
        return ret;
    ret = seal_open_record(plain, len, sealed, sealed_len, kind, id, key);
    alloc_free(sealed);
    return ret;
}
