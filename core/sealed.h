/*
 * sealed: a file that is one sealed record (seal.h): the store's config
 * key, its records and its export stamp. Writing seals the plain bytes
 * and hands them to an io.h writer; reading opens them (the record's kind
 * and id must match, else -EBADMSG as seal_open_record says).
 */
#ifndef VULTFS_SEALED_H
#define VULTFS_SEALED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seal.h"
#include "wur.h"

/* plain sealed under key and handed to write (io_write_atomic,
 * io_write_temp, io_write_unsynced) as dirfd/name, mode 0600. */
int sealed_write_with(int dirfd, const char *name, const uint8_t *plain, size_t len,
                      enum seal_kind kind, const char *id, const uint8_t *key,
                      int (*write)(int dirfd, const char *name, const void *data, size_t len,
                                   mode_t mode)) VULTFS_WUR;
/* sealed_write_with io_write_atomic: in place, durably. */
int sealed_write(int dirfd, const char *name, const uint8_t *plain, size_t len, enum seal_kind kind,
                 const char *id, const uint8_t *key) VULTFS_WUR;
/* The file (at most max_len bytes) opened into *plain (alloc_secret). */
int sealed_read(uint8_t **plain, size_t *len, int dirfd, const char *name, size_t max_len,
                enum seal_kind kind, const char *id, const uint8_t *key) VULTFS_WUR;

#endif
