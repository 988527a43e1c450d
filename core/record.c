/*
 * record: sealed files (seal.h's records written with io_write_atomic) and
 * the share records in shares/, named by a keyed hash of their Vault bytes.
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>

#include <sodium.h>

#include "alloc.h"
#include "io.h"

int record_write_sealed(int dirfd, const char *name, const uint8_t *plain, size_t len,
                        enum seal_kind kind, const char *id, const uint8_t *key)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret = seal_record(&sealed, &sealed_len, plain, len, kind, id, key);
    if (ret < 0)
        return ret;
    ret = io_write_atomic(dirfd, name, sealed, sealed_len, 0600);
    alloc_free(sealed);
    return ret;
}

int record_read_sealed(uint8_t **plain, size_t *len, int dirfd, const char *name, size_t max_len,
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

int record_load_share(uint8_t **vault_bytes, size_t *len, struct store *store, const char *record)
{
    char name[2 * RECORD_NAME_BYTES + 8];
    snprintf(name, sizeof(name), "%s.rec", record);
    return record_read_sealed(vault_bytes, len, store->sharesfd, name, MAX_RECORD_BYTES,
                              SEAL_KIND_SHARE, record, store->master);
}

int record_name(char *out, const struct store *store, const uint8_t *vault, size_t len)
{
    uint8_t digest[RECORD_NAME_BYTES];
    if (crypto_generichash(digest, sizeof(digest), vault, len, store->record_key,
                           SEAL_KEY_BYTES) != 0)
        return -EINVAL;
    index_hex_encode(out, digest, sizeof(digest));
    return 0;
}
