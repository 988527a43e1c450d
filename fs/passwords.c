/*
 * passwords: candidate passwords for reading backups (see passwords.h).
 */
#include "passwords.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "log.h"

int passwords_add(struct passwords *set, const struct secret *secret)
{
    if (set->count == PASSWORDS_MAX)
        return -ENOSPC;
    char *copy = alloc_secret(secret->len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, secret->text, secret->len);
    copy[secret->len] = '\0';
    set->owned[set->count] = (struct secret){copy, secret->len};
    set->views[set->count] = (struct vult_password){copy, secret->len};
    set->count++;
    return 0;
}

int passwords_add_lines(struct passwords *set, const char *path)
{
    struct secret *lines = NULL;
    size_t count = 0;
    int ret;

    if (!path)
        return 0;
    ret = secret_lines_from_file(&lines, &count, path);
    for (size_t i = 0; ret == 0 && i < count; i++)
        ret = passwords_add(set, &lines[i]);
    secret_free_list(lines, count);
    if (ret < 0)
        log_err("cannot read the passwords in %s: %s", path,
                ret == -ENOSPC ? "more than 64" : strerror(-ret));
    return ret;
}

void passwords_free(struct passwords *set)
{
    for (size_t i = 0; i < set->count; i++)
        secret_free(&set->owned[i]);
    sodium_memzero(set, sizeof(*set));
}
