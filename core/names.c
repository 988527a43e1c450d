/*
 * names: the directory name of each vault, and whether a directory name is
 * where a share belongs (a restore makes the directory before the share).
 */
#include "store_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"

/* "a/b" -> "a_b"; "." and ".." are not names; long names are cut at a
 * character boundary so a suffix still fits in NAME_MAX. */
static char *sanitize_name(const char *name, const char *suffix)
{
    size_t len = strlen(name);
    if (len > 200) {
        len = 200;
        while (len && ((unsigned char)name[len] & 0xc0) == 0x80)
            len--;
    }
    size_t cap = len + (suffix ? strlen(suffix) + 1 : 0) + 2;
    char *out = alloc_bytes(cap);
    if (!out)
        return NULL;
    memcpy(out, name, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (out[i] == '/')
            out[i] = '_';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || !*out)
        snprintf(out, cap, "%s", "_");
    if (suffix) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "-%s", suffix);
    }
    return out;
}

static const char *last4(const char *ecdsa)
{
    size_t len = strlen(ecdsa);
    return len >= 4 ? ecdsa + len - 4 : ecdsa;
}

static bool name_taken(const struct store *store, const char *dir)
{
    return strmap_get(&store->by_dir, dir) != NULL;
}

/* The directory a vault was restored under (mkdir, then a share written
 * into it), when it is still one of the vault's own names: a restore in
 * any order then rebuilds the same tree. NULL otherwise. */
static char *remembered_name(const struct store *store, const struct store_vault *v)
{
    const char *hint = v->dir_hint;
    const char *name = v->latest ? v->latest->facts.name : "vault";
    char *plain, *suffixed;

    if (!hint || name_taken(store, hint))
        return NULL;
    plain = sanitize_name(name, NULL);
    suffixed = sanitize_name(name, last4(v->public_key_ecdsa));
    bool own = (plain && strcmp(plain, hint) == 0) || (suffixed && strcmp(suffixed, hint) == 0);
    alloc_free(plain);
    alloc_free(suffixed);
    return own ? alloc_strndup(hint, strlen(hint)) : NULL;
}

/* The name from the vault's own name: plain, or with more and more of the
 * key when that is taken. */
static char *derived_name(const struct store *store, const struct store_vault *v)
{
    const char *name = v->latest ? v->latest->facts.name : "vault";
    size_t klen = strlen(v->public_key_ecdsa);
    size_t suffix_len = 4;
    char *dir = sanitize_name(name, NULL);

    while (dir && name_taken(store, dir)) {
        size_t take = suffix_len < klen ? suffix_len : klen;
        alloc_free(dir);
        dir = sanitize_name(name, v->public_key_ecdsa + klen - take);
        if (take == klen)
            break; /* the whole key: cannot clash with another key */
        suffix_len += 4;
    }
    return dir;
}

static int take_name(struct store *store, struct store_vault *v, char *dir)
{
    v->dir_name = dir;
    return dir && strmap_put(&store->by_dir, dir, v) == 0 ? 0 : -ENOMEM;
}

/* Directory names: a vault keeps the name it was restored under; otherwise
 * the first vault with a name keeps it, and later ones with the same name
 * get "-<last 4 hex of the ECDSA key>" (more hex if needed). */
int names_assign(struct store *store)
{
    int ret = 0;

    strmap_clear(&store->by_dir);
    for (size_t i = 0; i < store->vault_count; i++) {
        alloc_free((char *)store->vaults[i]->dir_name);
        store->vaults[i]->dir_name = NULL;
    }
    for (size_t i = 0; ret == 0 && i < store->vault_count; i++) {
        char *dir = remembered_name(store, store->vaults[i]);
        if (dir)
            ret = take_name(store, store->vaults[i], dir);
    }
    for (size_t i = 0; ret == 0 && i < store->vault_count; i++)
        if (!store->vaults[i]->dir_name)
            ret = take_name(store, store->vaults[i], derived_name(store, store->vaults[i]));
    return ret;
}

/* The vault appended last gets what names_assign would give it: the others
 * keep theirs. Its remembered name is one no vault has (an import into a
 * vault's directory is that vault's, names_in_its_place), so it takes no
 * name from an earlier vault, and earlier vaults never look at later ones. */
int names_assign_last(struct store *store)
{
    size_t last = store->vault_count - 1;
    struct store_vault *v = store->vaults[last];
    char *dir = remembered_name(store, v);
    return take_name(store, v, dir ? dir : derived_name(store, v));
}

/* Is dir_name where this share belongs? Its own vault's directory, or a
 * new directory (mkdir during a restore) with the name it would get. */
int names_in_its_place(bool *out, const struct store *store, const struct store_target *target,
                       const struct vult_vault *v, const char *ecdsa)
{
    *out = true;
    if (!target || !target->dir_name)
        return 0;
    const struct store_vault *existing = store_vault_by_dir(store, target->dir_name);
    if (existing) {
        *out = strcmp(existing->public_key_ecdsa, ecdsa) == 0;
        return 0;
    }
    char *name = alloc_strndup(v->name.ptr, v->name.len);
    char *plain = name ? sanitize_name(name, NULL) : NULL;
    char *suffixed = name ? sanitize_name(name, last4(ecdsa)) : NULL;
    int ret = plain && suffixed ? 0 : -ENOMEM; /* never "another vault's" for want of memory */
    *out = (plain && strcmp(plain, target->dir_name) == 0) ||
           (suffixed && strcmp(suffixed, target->dir_name) == 0);
    alloc_free(suffixed);
    alloc_free(plain);
    alloc_free(name);
    return ret;
}
