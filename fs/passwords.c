/*
 * passwords: candidate passwords for reading backups (see passwords.h).
 */
#include "passwords.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "cli.h"

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

static int add_line(void *ctx, const struct secret *line)
{
    return passwords_add(ctx, line);
}

int passwords_add_lines(struct passwords *set, const char *path)
{
    return cli_each_password_line(path, add_line, set);
}

void passwords_free(struct passwords *set)
{
    for (size_t i = 0; i < set->count; i++)
        secret_free(&set->owned[i]);
    sodium_memzero(set, sizeof(*set));
}
