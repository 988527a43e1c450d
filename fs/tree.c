#include "tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

/* Placeholder inode numbers: a range apart from staging's and the store's. */
#define PLACEHOLDER_INO_BASE 0xffe0000000000000ull

void tree_init(struct tree *t, const struct store *store, const struct staging *staging)
{
    memset(t, 0, sizeof(*t));
    t->store = store;
    t->staging = staging;
    t->next_placeholder_ino = PLACEHOLDER_INO_BASE;
}

/* "epoch-" digits ".vult": the digits, else NULL (and *len unset). */
static const char *slot_digits(const char *name, size_t *len)
{
    size_t n = strlen(name);

    if (n < 6 + 5 || strncmp(name, "epoch-", 6) != 0 || strcmp(name + n - 5, ".vult") != 0)
        return NULL;
    *len = n - 6 - 5;
    return name + 6;
}

uint64_t tree_epoch_slot(const char *name)
{
    size_t len = 0;
    const char *p = slot_digits(name, &len);
    uint64_t n = 0;

    /* canonical decimal only: no sign, no leading zero, nothing past the
     * bound (which also keeps n from overflowing) */
    if (!p || len == 0 || p[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        n = n * 10 + (uint64_t)(p[i] - '0');
        if (n > EPOCHS_MAX_SLOT)
            return 0;
    }
    return n;
}

bool tree_is_bad_slot(const char *name)
{
    size_t len = 0;
    return slot_digits(name, &len) && tree_epoch_slot(name) == 0;
}

bool tree_is_dir(enum tree_kind kind)
{
    return kind == TREE_ROOT || kind == TREE_VAULT || kind == TREE_PLACEHOLDER ||
           kind == TREE_HISTORY;
}

int tree_exists(const struct tree_node *n)
{
    if (n->kind != TREE_NONE)
        return 0;
    return n->parent == TREE_IN_FILE ? -ENOTDIR : -ENOENT;
}

static struct tree_placeholder *placeholder_find(const struct tree *t, const char *name)
{
    for (struct tree_placeholder *p = t->placeholders; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* Splits path into at most 4 components; returns their count, or
 * -ENAMETOOLONG. */
static int split(char parts[4][TREE_NAME_MAX + 1], const char *path)
{
    int count = 0;

    while (*path) {
        while (*path == '/')
            path++;
        if (!*path)
            break;
        const char *end = strchr(path, '/');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > TREE_NAME_MAX)
            return -ENAMETOOLONG;
        if (count == 4)
            return 4; /* deeper than anything here: the 4th says enough */
        memcpy(parts[count], path, len);
        parts[count][len] = '\0';
        count++;
        path += len;
    }
    return count;
}

/* The directory level: /<dir>. */
static void resolve_dir(struct tree_node *out, const struct tree *t, const char *name)
{
    out->vault = store_vault_by_dir(t->store, name);
    out->placeholder = placeholder_find(t, name);
    if (out->vault)
        out->kind = TREE_VAULT;
    else if (out->placeholder)
        out->kind = TREE_PLACEHOLDER;
}

/* /<name>: a vault's directory, a placeholder, or a file being written. */
static void resolve_top(struct tree_node *out, const struct tree *t, const char *name,
                        const char *path)
{
    out->parent = TREE_IN_ROOT;
    snprintf(out->dir, sizeof(out->dir), "%s", name);
    resolve_dir(out, t, name);
    if (out->kind == TREE_NONE) {
        out->dir[0] = '\0';
        out->staged = staging_find(t->staging, path);
        if (out->staged)
            out->kind = TREE_STAGED;
    }
}

/* /<dir>/<name> where <dir> exists. */
static void resolve_in_dir(struct tree_node *out, const char *name, bool has_history)
{
    const struct store_vault *v = out->vault;
    const struct tree_placeholder *made = out->placeholder;

    out->parent = TREE_IN_DIR;
    if (strcmp(name, "history") == 0) {
        if (has_history)
            out->kind = TREE_HISTORY;
    } else if (v && v->current && strcmp(name, "share.vult") == 0) {
        out->kind = TREE_SHARE;
        out->epoch = v->current;
    } else if (v && v->latest && strcmp(name, "vault.json") == 0 &&
               (!made || made->json_written)) {
        out->kind = TREE_JSON;
    }
}

/* /<dir>/history/<name>: a superseded epoch, by its number. */
static void resolve_in_history(struct tree_node *out)
{
    const struct store_vault *v = out->vault;
    const struct store_epoch *e = v && out->slot ? store_vault_epoch(v, out->slot) : NULL;

    out->parent = TREE_IN_HISTORY;
    if (e && !e->current) {
        out->kind = TREE_EPOCH;
        out->epoch = e;
    }
}

/* /dir/sub/... where sub is not a directory here, or history/in_history/...
 * where in_history is not: is that a file (ENOTDIR) or nothing (ENOENT)? */
static enum tree_parent parent_below(const struct tree *t, const char *dir, const char *sub,
                                     const char *in_history, const struct store_vault *v,
                                     bool has_history)
{
    char mid[3 * TREE_NAME_MAX + 5];

    if (strcmp(sub, "history") != 0 || !has_history) {
        snprintf(mid, sizeof(mid), "/%s/%s", dir, sub);
        return staging_find(t->staging, mid) ||
                       (v && (strcmp(sub, "share.vult") == 0 || strcmp(sub, "vault.json") == 0))
                   ? TREE_IN_FILE
                   : TREE_IN_NOTHING;
    }
    /* below history/<in_history> */
    snprintf(mid, sizeof(mid), "/%s/history/%s", dir, in_history);
    return staging_find(t->staging, mid) ||
                   (v && tree_epoch_slot(in_history) &&
                    store_vault_epoch(v, tree_epoch_slot(in_history)))
               ? TREE_IN_FILE
               : TREE_IN_NOTHING;
}

int tree_resolve(struct tree_node *out, const struct tree *t, const char *path)
{
    char parts[4][TREE_NAME_MAX + 1];
    int count = split(parts, path);

    memset(out, 0, sizeof(*out));
    if (count < 0)
        return count;
    if (count == 0) {
        out->kind = TREE_ROOT;
        return 0;
    }
    snprintf(out->name, sizeof(out->name), "%s", parts[count - 1]);
    out->temp = staging_is_temp_name(out->name);
    out->slot = tree_epoch_slot(out->name);
    out->bad_slot = tree_is_bad_slot(out->name);
    if (count == 1) {
        resolve_top(out, t, parts[0], path);
        return 0;
    }

    /* the vault directory holding the rest */
    struct tree_node dir;
    memset(&dir, 0, sizeof(dir));
    resolve_dir(&dir, t, parts[0]);
    if (dir.kind == TREE_NONE) {
        char top[TREE_NAME_MAX + 2];
        snprintf(top, sizeof(top), "/%s", parts[0]);
        out->parent = staging_find(t->staging, top) ? TREE_IN_FILE : TREE_IN_NOTHING;
        return 0;
    }
    snprintf(out->dir, sizeof(out->dir), "%s", parts[0]);
    out->vault = dir.vault;
    out->placeholder = dir.placeholder;
    bool has_history = !dir.placeholder || dir.placeholder->history_made;

    if (count == 2) {
        resolve_in_dir(out, parts[1], has_history);
        if (strcmp(parts[1], "history") == 0)
            return 0; /* never a staged file: nothing may be made there */
    } else if (count == 3 && strcmp(parts[1], "history") == 0 && has_history) {
        resolve_in_history(out);
    } else {
        out->parent = parent_below(t, parts[0], parts[1], parts[2], dir.vault, has_history);
        return 0;
    }
    out->staged = staging_find(t->staging, path);
    if (out->staged) {
        out->under = out->kind;
        out->kind = TREE_STAGED;
    }
    return 0;
}

int tree_placeholder_add(struct tree *t, const char *name, pid_t maker)
{
    struct tree_placeholder *p = alloc_zeroed(1, sizeof(*p));
    struct tree_placeholder **tail = &t->placeholders;

    if (!p)
        return -ENOMEM;
    p->name = alloc_strndup(name, strlen(name));
    if (!p->name) {
        alloc_free(p);
        return -ENOMEM;
    }
    p->ino = t->next_placeholder_ino;
    p->maker = maker;
    t->next_placeholder_ino += 2;
    clock_gettime(CLOCK_REALTIME, &p->created);
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    return 0;
}

void tree_placeholder_remove(struct tree *t, struct tree_placeholder *p)
{
    for (struct tree_placeholder **q = &t->placeholders; *q; q = &(*q)->next) {
        if (*q == p) {
            *q = p->next;
            alloc_free(p->name);
            alloc_free(p);
            return;
        }
    }
}

bool tree_placeholder_retire(struct tree *t, const char *name)
{
    struct tree_placeholder *p = placeholder_find(t, name);

    if (!p || !p->other_writer || p->history_made || p->json_written ||
        !store_vault_by_dir(t->store, name))
        return false;
    tree_placeholder_remove(t, p);
    return true;
}

void tree_placeholder_clear(struct tree *t)
{
    while (t->placeholders)
        tree_placeholder_remove(t, t->placeholders);
}
