/*
 * lastseen: the last change of a store this user has seen, kept outside
 * the store ($XDG_STATE_HOME/vultfs/store-<id>: the caller names the
 * directory). The manifest seals each vault record's digest, so a record
 * rolled back alone is seen; a whole store restored from an older copy is
 * whole and consistent, and only this file, which the restore did not
 * touch, remembers that a newer one was seen. CryFS keeps the same kind of
 * local state for the same reason.
 *
 * The file is small JSON with a checksum (it detects damage, not an
 * attacker who can write the user's files: that one could delete it as
 * well, and a deleted file only means "never seen here"):
 *   {"change":N,"checksum":"<xxh3-64 hex of the rest>","store":"<id>"}
 * It is replaced with a rename and never fsynced: a crash may lose the
 * last few changes it noted (the check is then weaker for a while), never
 * leave a half-written file. An empty file, which some filesystems leave
 * after a crash, counts as none.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "alloc.h"
#include "io.h"

#define MAX_STATE_BYTES 4096

static uint64_t checksum_of(const char *store_id, uint64_t change)
{
    char text[128];
    int n = snprintf(text, sizeof(text), "%" PRIu64 " %s", change, store_id);
    return XXH3_64bits(text, n > 0 ? (size_t)n : 0);
}

static void id_hex(char out[2 * MANIFEST_ID_BYTES + 1], const struct store *store)
{
    hex_encode(out, store->manifest.id, MANIFEST_ID_BYTES);
}

/* The change the file says: 0, -ENOENT (none, or empty), -EBADMSG
 * (damaged, or another store's), -ENOMEM, -errno. */
static int read_state(uint64_t *change, const struct store *store)
{
    char id[2 * MANIFEST_ID_BYTES + 1], sum[24];
    uint8_t *text = NULL;
    size_t len = 0;
    int ret = io_read_file(&text, &len, store->statefd, store->state_name, MAX_STATE_BYTES);

    if (ret == -EFBIG)
        return -EBADMSG;
    if (ret < 0)
        return ret;
    if (len == 0) {
        alloc_free(text);
        return -ENOENT;
    }
    json_error_t error = {0};
    json_t *state = json_loadb((const char *)text, len, 0, &error);
    alloc_free(text);
    if (!state)
        return json_error_code(&error) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
    id_hex(id, store);
    const json_t *n = json_object_get(state, "change");
    ret = -EBADMSG;
    if (json_is_integer(n) && json_integer_value(n) >= 0 &&
        strcmp(json_string_value(json_object_get(state, "store")) ?: "", id) == 0) {
        *change = (uint64_t)json_integer_value(n);
        snprintf(sum, sizeof(sum), "%016" PRIx64, checksum_of(id, *change));
        if (strcmp(json_string_value(json_object_get(state, "checksum")) ?: "", sum) == 0)
            ret = 0;
    }
    json_decref(state);
    return ret;
}

static int write_state(const struct store *store, uint64_t change)
{
    char id[2 * MANIFEST_ID_BYTES + 1], text[256];

    id_hex(id, store);
    int n = snprintf(text, sizeof(text),
                     "{\"change\":%" PRIu64 ",\"checksum\":\"%016" PRIx64 "\",\"store\":\"%s\"}\n",
                     change, checksum_of(id, change), id);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -EINVAL;
    return io_replace_unsynced(store->statefd, store->state_name, text, (size_t)n, 0600);
}

/* store-<id>: the store's file in the state directory. */
static void name_state(struct store *store)
{
    char id[2 * MANIFEST_ID_BYTES + 1];
    id_hex(id, store);
    snprintf(store->state_name, sizeof(store->state_name), "store-%s", id);
}

void lastseen_note(struct store *store)
{
    if (store->statefd < 0 || !store->manifest.loaded || store->read_only)
        return;
    name_state(store);
    /* best effort: a change is whole whether or not the note is written */
    if (write_state(store, store->manifest.counter) == 0) {
        store->seen = store->manifest.counter;
        store->seen_known = true;
    }
}

void lastseen_load(struct store *store)
{
    uint64_t seen = 0;

    store->seen_known = false;
    store->seen_status = -ENOENT;
    if (store->statefd < 0 || !store->manifest.loaded)
        return;
    name_state(store);
    store->seen_status = read_state(&seen, store);
    if (store->seen_status == 0) {
        store->seen = seen;
        store->seen_known = true;
    }
}

int lastseen_check(struct store *store, bool may_write, bool accept)
{
    const struct manifest *m = &store->manifest;
    int ret = store->seen_status;

    if (store->statefd < 0 || !m->loaded)
        return 0;
    if (ret == -ENOMEM)
        return ret;
    if (ret == -EBADMSG && !accept)
        return store_note_problem(store, STORE_PROBLEM_STATE_DAMAGED, "", 0, 0);
    if (ret == 0 && store->seen > m->counter && !accept)
        return store_note_problem(store, STORE_PROBLEM_ROLLBACK, "", m->counter, store->seen);
    /* other errors (unreadable, a link): the check is skipped, never the store */
    if (may_write && (ret != 0 || store->seen != m->counter))
        lastseen_note(store);
    return 0;
}
