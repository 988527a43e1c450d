#include "xattr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "op.h"
#include "vultfs.h"

enum xattr_id {
    XATTR_EPOCH,
    XATTR_DEVICE,
    XATTR_RESHARE_PREFIX,
    XATTR_PUBKEY_ECDSA,
    XATTR_PUBKEY_EDDSA,
    XATTR_SIGNERS,
    XATTR_LIB_TYPE,
    XATTR_CREATED_AT,
    XATTR_SUPERSEDED,
    XATTR_PUBKEY_MLDSA44,
    XATTR_CHAINS,
    XATTR_COUNT,
};

static const char *const xattr_names[XATTR_COUNT] = {
    "user.vult.epoch",          "user.vult.device",        "user.vult.reshare_prefix",
    "user.vult.pubkey.ecdsa",   "user.vult.pubkey.eddsa",  "user.vult.signers",
    "user.vult.lib_type",       "user.vult.created_at",    "user.vult.superseded",
    "user.vult.pubkey.mldsa44", "user.vult.chains",
};

static int xattr_id(const char *name)
{
    for (int i = 0; i < XATTR_COUNT; i++)
        if (strcmp(name, xattr_names[i]) == 0)
            return i;
    return -1;
}

/* The epoch whose facts n shows: a vault directory shows its current
 * epoch, else its latest; *superseded for history files. */
static const struct store_epoch *facts_epoch(const struct tree_node *n, bool *superseded)
{
    /* a store file being written over shows its own until an import */
    enum tree_kind kind = n->kind == TREE_STAGED ? n->under : n->kind;

    *superseded = kind == TREE_EPOCH;
    if (kind == TREE_VAULT)
        return n->vault->current ? n->vault->current : n->vault->latest;
    if (kind == TREE_SHARE || kind == TREE_EPOCH)
        return n->epoch;
    return NULL;
}

/* The value of attribute id on n; number is scratch space. -ENODATA. */
static int xattr_value(const char **value, char number[24], const struct tree_node *n, int id)
{
    bool superseded;
    const struct store_epoch *e = facts_epoch(n, &superseded);

    if (!e)
        return -ENODATA;
    switch (id) {
    case XATTR_EPOCH:
        snprintf(number, 24, "%" PRIu64, e->number);
        *value = number;
        return 0;
    case XATTR_DEVICE:
        *value = e->facts.device;
        return 0;
    case XATTR_RESHARE_PREFIX:
        *value = e->facts.reshare_prefix;
        return 0;
    case XATTR_PUBKEY_ECDSA:
        *value = e->facts.public_key_ecdsa;
        return 0;
    case XATTR_PUBKEY_EDDSA:
        *value = e->facts.public_key_eddsa;
        return 0;
    case XATTR_SIGNERS:
        *value = e->facts.signers;
        return 0;
    case XATTR_LIB_TYPE:
        *value = e->facts.lib_type;
        return 0;
    case XATTR_CREATED_AT:
        *value = e->facts.created_at;
        return 0;
    case XATTR_SUPERSEDED:
        *value = "true";
        return superseded ? 0 : -ENODATA;
    /* the 2026 facts, only where the share has them */
    case XATTR_PUBKEY_MLDSA44:
        *value = e->facts.public_key_mldsa44;
        return **value ? 0 : -ENODATA;
    case XATTR_CHAINS:
        *value = e->facts.chains;
        return **value ? 0 : -ENODATA;
    }
    return -ENODATA;
}

/* The value's length, copied into buf when size is non-zero. */
static int copy_value(char *buf, size_t size, const char *value)
{
    size_t len = strlen(value);

    if (size && size < len)
        return -ERANGE;
    if (size)
        memcpy(buf, value, len);
    return (int)len;
}

int xattr_op_get(const char *path, const char *name, char *buf, size_t size)
{
    int id = xattr_id(name);
    const char *value = NULL;
    char number[24];
    struct op op;
    int ret;

    if (id < 0)
        return -ENOTSUP;
    ret = op_begin_existing(&op, path);
    if (ret == 0)
        ret = xattr_value(&value, number, &op.node, id);
    if (ret == 0)
        ret = copy_value(buf, size, value);
    return op_end(&op, ret);
}

int xattr_op_list(const char *path, char *buf, size_t size)
{
    const char *value;
    char number[24];
    size_t total = 0;
    struct op op;
    int ret = op_begin_existing(&op, path);

    for (int id = 0; ret == 0 && id < XATTR_COUNT; id++) {
        if (xattr_value(&value, number, &op.node, id) < 0)
            continue;
        size_t len = strlen(xattr_names[id]) + 1;
        if (size && total + len > size) {
            ret = -ERANGE;
            break;
        }
        if (size)
            memcpy(buf + total, xattr_names[id], len);
        total += len;
    }
    return op_end(&op, ret < 0 ? ret : (int)total);
}

/* Files still being written and directories not yet holding a share
 * accept any value: the import decides. */
static bool accepts_anything(const struct tree_node *n)
{
    return n->kind == TREE_STAGED || n->kind == TREE_PLACEHOLDER;
}

/* Read-only, except that restoring a value that is already there works
 * (cp -a, rsync -X, tar). */
int xattr_op_set(const char *path, const char *name, const char *value, size_t size, int flags)
{
    int id = xattr_id(name);
    const char *have = NULL;
    char number[24];
    struct op op;
    int ret;

    (void)flags;
    if (id < 0)
        return -ENOTSUP;
    ret = op_begin_existing(&op, path);
    if (ret == 0 && !accepts_anything(&op.node) &&
        (xattr_value(&have, number, &op.node, id) < 0 || strlen(have) != size ||
         memcmp(have, value, size) != 0))
        ret = -EPERM;
    return op_end(&op, ret);
}

int xattr_op_remove(const char *path, const char *name)
{
    struct op op;
    int ret;

    if (xattr_id(name) < 0)
        return -ENOTSUP;
    ret = op_begin_existing(&op, path);
    if (ret == 0 && !accepts_anything(&op.node))
        ret = -EPERM;
    return op_end(&op, ret);
}
