/*
 * manifest: vaults/manifest, the sealed journal of what each vault record
 * (and export-stamp.rec) must hold. Vault records are derived from the
 * share records, and a lost or older one must never pass for the truth:
 * the manifest names the digest of every vault record's bytes, so a
 * record that is missing, older or altered is seen, one record at a time
 * (each is checked against its own entry, not against the others).
 *
 * On disk: frames, one after the other, each
 *   "VFMN" | u8 kind (1 snapshot, 2 change) | u8 0 | u16 0 | u64 change
 *   | u32 sealed length | sealed (seal.h, kind INDEX)
 * sealed under the master key with the id "manifest-<kind>-<change>-<hex
 * of the previous frame's hash>": a frame cannot be moved, reordered or
 * taken from another file. The first frame is a snapshot,
 *   u8 version (1) | store id (16) | u32 count | items
 * and each later frame one change (the next number),
 *   u32 count | items
 * an item being
 *   u8 what (1 vault record, 2 export stamp) | [16 bytes: the vault
 *   record's name] | u8 present (0 no, 1 yes, 2 no: forgotten on purpose)
 *   | [32 bytes when present: BLAKE2b of its sealed bytes]
 *   | u32 length | the vault's skeleton (JSON: its epochs' numbers,
 *   records, import times and current flag, its forgotten markers, its
 *   directory hint and order; what a vault record holds that its share
 *   records cannot tell, for fsck --repair)
 * An import appends one frame (O(1) whatever the store's size); the file
 * is written again as one snapshot now and then, at an open that may
 * write or after a mount's batch (manifest_compact_if_due).
 *
 * Crash safety: a change's frame is written with its files and made
 * durable by the same flush, before the renames that make the change; so
 * the manifest is never behind the records. The last frame may be ahead
 * of them (a crash before a rename, or a change undone): each of its
 * files then holds its state before that frame, which is allowed, and the
 * next open that may write says so in a new frame (manifest_settle). A
 * torn last frame is bytes after the last whole one, ignored and cut by
 * the next append. At most one frame is in flight at a time (the caller's
 * lock, and batch.c, see to it).
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "io.h"

#define FRAME_MAGIC "VFMN"
#define FRAME_HEADER_BYTES 20
#define FRAME_SNAPSHOT 1
#define FRAME_CHANGE 2
#define SNAPSHOT_VERSION 1
#define ITEM_VAULT 1
#define ITEM_STAMP 2
#define HASH_BYTES 16
/* a vault item's fixed part: what, name, present, digest, length */
#define ITEM_MIN_BYTES (1 + 1 + 4)
#define MAX_MANIFEST_BYTES ((size_t)256 << 20)
#define MAX_SKELETON_BYTES ((size_t)1 << 20)

size_t manifest_compact_min = MANIFEST_COMPACT_MIN;

/* ---- bytes in and out ------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* A bounds-checked reader: every short read fails the same way. */
struct cursor {
    const uint8_t *p;
    size_t len, at;
};

static bool take(struct cursor *c, const uint8_t **out, size_t n)
{
    if (n > c->len - c->at)
        return false;
    *out = c->p + c->at;
    c->at += n;
    return true;
}

static bool take_le(struct cursor *c, uint64_t *v, size_t n)
{
    const uint8_t *p;
    if (!take(c, &p, n))
        return false;
    *v = get_le(p, n);
    return true;
}

/* A growing output buffer; failed stays set after the first failure. */
struct out {
    uint8_t *bytes;
    size_t len, cap;
    bool failed;
};

static void out_put(struct out *o, const void *data, size_t n)
{
    if (o->failed)
        return;
    if (alloc_reserve((void **)&o->bytes, &o->cap, o->len + n, 1) < 0) {
        o->failed = true;
        return;
    }
    if (n)
        memcpy(o->bytes + o->len, data, n);
    o->len += n;
}

static void out_le(struct out *o, uint64_t v, size_t n)
{
    uint8_t b[8];
    put_le(b, v, n);
    out_put(o, b, n);
}

/* ---- items and entries ------------------------------------------------------- */

void manifest_digest(uint8_t out[MANIFEST_DIGEST_BYTES], const uint8_t *bytes, size_t len)
{
    crypto_generichash(out, MANIFEST_DIGEST_BYTES, bytes, len, NULL, 0);
}

/* The same file on disk (forgotten or lost, an absent one is absent). */
static bool same_state(const struct manifest_state *a, const struct manifest_state *b)
{
    return a->present == b->present &&
           (!a->present || memcmp(a->digest, b->digest, MANIFEST_DIGEST_BYTES) == 0);
}

bool manifest_is_vault_key(const char *key)
{
    return strcmp(key, MANIFEST_STAMP_KEY) != 0;
}

static void put_item(struct out *o, const struct manifest_item *item)
{
    uint8_t name[RECORD_NAME_BYTES];

    if (manifest_is_vault_key(item->key)) {
        out_le(o, ITEM_VAULT, 1);
        if (hex_decode(name, sizeof(name), item->key) < 0)
            o->failed = true; /* a key this module never makes */
        out_put(o, name, sizeof(name));
    } else {
        out_le(o, ITEM_STAMP, 1);
    }
    out_le(o, item->state.present ? 1 : item->state.forgotten ? 2 : 0, 1);
    if (item->state.present)
        out_put(o, item->state.digest, MANIFEST_DIGEST_BYTES);
    out_le(o, item->state.present ? item->skeleton_len : 0, 4);
    if (item->state.present && item->skeleton_len)
        out_put(o, item->skeleton, item->skeleton_len);
}

/* One item at c; its skeleton is a view into c's bytes. */
static bool get_item(struct cursor *c, struct manifest_item *item)
{
    const uint8_t *p;
    uint64_t what, present, len;

    memset(item, 0, sizeof(*item));
    if (!take_le(c, &what, 1))
        return false;
    if (what == ITEM_VAULT) {
        if (!take(c, &p, RECORD_NAME_BYTES))
            return false;
        hex_encode(item->key, p, RECORD_NAME_BYTES);
    } else if (what == ITEM_STAMP) {
        snprintf(item->key, sizeof(item->key), "%s", MANIFEST_STAMP_KEY);
    } else {
        return false;
    }
    if (!take_le(c, &present, 1) || present > 2)
        return false;
    item->state.present = present == 1;
    item->state.forgotten = present == 2;
    if (item->state.present) {
        if (!take(c, &p, MANIFEST_DIGEST_BYTES))
            return false;
        memcpy(item->state.digest, p, MANIFEST_DIGEST_BYTES);
    }
    if (!take_le(c, &len, 4) || len > MAX_SKELETON_BYTES || (!item->state.present && len) ||
        !take(c, &p, (size_t)len))
        return false;
    item->skeleton = (const char *)p;
    item->skeleton_len = (size_t)len;
    return true;
}

static struct manifest_entry *entry_of(const struct manifest *m, const char *key)
{
    return strmap_get(&m->by_key, key);
}

/* The entry of key, made (absent) when new. NULL: out of memory. */
static struct manifest_entry *entry_for(struct manifest *m, const char *key)
{
    struct manifest_entry *e = entry_of(m, key);

    if (e)
        return e;
    if (alloc_reserve((void **)&m->entries, &m->entry_cap, m->entry_count + 1,
                      sizeof(*m->entries)) < 0)
        return NULL;
    e = alloc_zeroed(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->key, sizeof(e->key), "%s", key);
    if (strmap_put(&m->by_key, e->key, e) < 0) {
        alloc_free(e);
        return NULL;
    }
    m->entries[m->entry_count++] = e;
    return e;
}

void manifest_clear(struct manifest *m)
{
    for (size_t i = 0; i < m->entry_count; i++)
        alloc_free(m->entries[i]);
    alloc_free(m->entries);
    alloc_free(m->older);
    alloc_free(m->flight);
    strmap_free(&m->by_key);
    memset(m, 0, sizeof(*m));
}

/* Was e set by the last whole frame, a change (not a snapshot)? Then the
 * file may still hold its state before (a crash before the renames). */
static bool in_last_change(const struct manifest *m, const struct manifest_entry *e)
{
    return m->last_is_change && e->changed == m->counter;
}

/* The items of a frame applied: each entry's state before is kept, for
 * while this frame is the last (in_last_change). */
static int apply_frame(struct manifest *m, const struct manifest_item *items, size_t count,
                       uint64_t change, bool keep_older)
{
    for (size_t i = 0; i < count; i++) {
        struct manifest_entry *e = entry_for(m, items[i].key);
        if (!e)
            return -ENOMEM;
        if (keep_older && e->now.present) {
            if (alloc_reserve((void **)&m->older, &m->older_cap, m->older_count + 1,
                              sizeof(*m->older)) < 0)
                return -ENOMEM;
            struct manifest_older *o = &m->older[m->older_count++];
            snprintf(o->key, sizeof(o->key), "%s", e->key);
            memcpy(o->digest, e->now.digest, MANIFEST_DIGEST_BYTES);
            o->until = change;
        }
        e->prior = e->now;
        e->now = items[i].state;
        e->changed = change;
    }
    return 0;
}

/* ---- frames ------------------------------------------------------------------ */

static void frame_id(char *out, size_t cap, unsigned kind, uint64_t change,
                     const uint8_t prev[HASH_BYTES])
{
    char hex[2 * HASH_BYTES + 1];
    hex_encode(hex, prev, HASH_BYTES);
    snprintf(out, cap, "manifest-%u-%" PRIu64 "-%s", kind, change, hex);
}

static void frame_hash(uint8_t out[HASH_BYTES], const uint8_t *frame, size_t len)
{
    crypto_generichash(out, HASH_BYTES, frame, len, NULL, 0);
}

/* A frame of plain into *o (alloc_bytes via struct out). */
static int seal_frame(struct out *o, unsigned kind, uint64_t change,
                      const uint8_t prev[HASH_BYTES], const struct out *plain,
                      const uint8_t *master)
{
    char id[96];
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int ret;

    if (plain->failed)
        return -ENOMEM;
    frame_id(id, sizeof(id), kind, change, prev);
    ret = seal_record(&sealed, &sealed_len, plain->bytes, plain->len, SEAL_KIND_INDEX, id,
                      master);
    if (ret < 0)
        return ret;
    if (sealed_len > UINT32_MAX) {
        alloc_free(sealed);
        return -EFBIG;
    }
    out_put(o, FRAME_MAGIC, 4);
    out_le(o, kind, 1);
    out_le(o, 0, 3);
    out_le(o, change, 8);
    out_le(o, sealed_len, 4);
    out_put(o, sealed, sealed_len);
    alloc_free(sealed);
    return o->failed ? -ENOMEM : 0;
}

/* One frame at c: its kind, number and plain text (into buf, grown), or
 * false when the bytes there are not a whole frame that opens. *err: 0
 * for such bytes, or -ENOMEM. */
static bool read_frame(struct cursor *c, unsigned *kind, uint64_t *change, struct out *buf,
                       size_t *plain_len, const uint8_t prev[HASH_BYTES],
                       uint8_t hash[HASH_BYTES], const uint8_t *master, int *err)
{
    size_t start = c->at;
    const uint8_t *head, *sealed;
    char id[96];

    *err = 0;
    if (!take(c, &head, FRAME_HEADER_BYTES) || memcmp(head, FRAME_MAGIC, 4) != 0 ||
        head[5] || head[6] || head[7] || (head[4] != FRAME_SNAPSHOT && head[4] != FRAME_CHANGE))
        return false;
    *kind = head[4];
    *change = get_le(head + 8, 8);
    size_t sealed_len = (size_t)get_le(head + 16, 4);
    if (sealed_len < SEAL_OVERHEAD || !take(c, &sealed, sealed_len))
        return false;
    if (alloc_reserve((void **)&buf->bytes, &buf->cap, sealed_len, 1) < 0) {
        *err = -ENOMEM;
        return false;
    }
    frame_id(id, sizeof(id), *kind, *change, prev);
    int opened = seal_open_into(buf->bytes, buf->cap, plain_len, sealed, sealed_len,
                                SEAL_KIND_INDEX, id, master);
    if (opened == -ENOMEM)
        *err = opened; /* memory, not damage: never a frame called torn */
    if (opened < 0)
        return false;
    frame_hash(hash, c->p + start, c->at - start);
    return true;
}

/* ---- reading -------------------------------------------------------------------- */

/* A frame's items, parsed (views into plain), into *items. */
static int items_of(struct manifest_item **items, size_t *count, struct cursor *c)
{
    uint64_t n;

    *items = NULL;
    *count = 0;
    if (!take_le(c, &n, 4) || n > (c->len - c->at) / ITEM_MIN_BYTES)
        return -EBADMSG;
    *items = alloc_zeroed(n ? (size_t)n : 1, sizeof(**items));
    if (!*items)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!get_item(c, &(*items)[i])) {
            alloc_free(*items);
            *items = NULL;
            return -EBADMSG;
        }
    }
    *count = (size_t)n;
    return c->at == c->len ? 0 : -EBADMSG;
}

int manifest_walk(const uint8_t *file, size_t len, const uint8_t *master,
                  int (*each)(void *ctx, unsigned kind, uint64_t change, const uint8_t *id,
                              const struct manifest_item *items, size_t count),
                  void *ctx, size_t *whole_len)
{
    struct cursor c = {file, len, 0};
    struct out plain = {0};
    uint8_t prev[HASH_BYTES] = {0}, hash[HASH_BYTES];
    uint64_t expect = 0;
    int ret = 0;

    *whole_len = 0;
    for (bool first = true; c.at < c.len; first = false) {
        unsigned kind;
        uint64_t change;
        size_t plain_len = 0, at = c.at;
        int err;
        if (!read_frame(&c, &kind, &change, &plain, &plain_len, prev, hash, master, &err) ||
            (first ? kind != FRAME_SNAPSHOT : kind != FRAME_CHANGE || change != expect)) {
            ret = err ? err : first ? -EBADMSG : 0;
            c.at = at;
            break; /* after the first: a torn append, cut by the next one */
        }
        struct cursor body = {plain.bytes, plain_len, 0};
        const uint8_t *id = NULL, *p;
        uint64_t version;
        if (kind == FRAME_SNAPSHOT &&
            (!take_le(&body, &version, 1) || version != SNAPSHOT_VERSION ||
             !take(&body, &p, MANIFEST_ID_BYTES))) {
            ret = -EBADMSG;
            break;
        }
        if (kind == FRAME_SNAPSHOT)
            id = p;
        struct manifest_item *items = NULL;
        size_t count = 0;
        ret = items_of(&items, &count, &body);
        if (ret == 0)
            ret = each(ctx, kind, change, id, items, count);
        alloc_free(items);
        if (ret < 0) {
            if (ret == -EBADMSG && !first)
                ret = 0, c.at = at; /* a frame that opens but does not parse: as torn */
            break;
        }
        memcpy(prev, hash, HASH_BYTES);
        expect = change + 1;
        *whole_len = c.at;
    }
    if (plain.bytes)
        sodium_memzero(plain.bytes, plain.cap);
    alloc_free(plain.bytes);
    return ret;
}

struct reading {
    struct manifest *m;
};

static int take_frame(void *ctx, unsigned kind, uint64_t change, const uint8_t *id,
                      const struct manifest_item *items, size_t count)
{
    struct manifest *m = ((struct reading *)ctx)->m;

    if (kind == FRAME_SNAPSHOT) {
        memcpy(m->id, id, MANIFEST_ID_BYTES);
        m->journal_items = 0;
        m->counter = change;
        m->last_is_change = false; /* a snapshot is settled */
        return apply_frame(m, items, count, change, false);
    }
    m->journal_items += count;
    m->counter = change;
    m->last_is_change = true;
    return apply_frame(m, items, count, change, true);
}

/* The hash of the last whole frame (the next one's link). */
static void last_frame_hash(uint8_t out[HASH_BYTES], const uint8_t *file, size_t whole)
{
    struct cursor c = {file, whole, 0};
    size_t start = 0;
    const uint8_t *head, *skip;

    while (c.at < c.len) {
        start = c.at;
        if (!take(&c, &head, FRAME_HEADER_BYTES) || !take(&c, &skip, (size_t)get_le(head + 16, 4)))
            break;
    }
    frame_hash(out, file + start, whole - start);
}

int manifest_read(struct manifest *m, int vaultsfd, const uint8_t *master)
{
    uint8_t *file = NULL;
    size_t len = 0, whole = 0;
    struct reading r = {m};
    int ret = io_read_file(&file, &len, vaultsfd, MANIFEST_NAME, MAX_MANIFEST_BYTES);

    manifest_clear(m);
    if (ret == -EFBIG)
        ret = -EBADMSG;
    if (ret < 0)
        return ret;
    ret = manifest_walk(file, len, master, take_frame, &r, &whole);
    if (ret == 0 && whole == 0)
        ret = -EBADMSG; /* an empty file: never one this store wrote */
    if (ret == 0) {
        m->loaded = true;
        m->end = whole;
        m->tail = len - whole;
        last_frame_hash(m->last_hash, file, whole);
    } else {
        manifest_clear(m);
    }
    alloc_free(file);
    return ret;
}

/* ---- checking the files against it ------------------------------------------------ */

/* An older state of key the journal still holds: its change, or 0. */
static uint64_t older_change(const struct manifest *m, const char *key, const uint8_t *digest)
{
    for (size_t i = m->older_count; i-- > 0;)
        if (strcmp(m->older[i].key, key) == 0 &&
            memcmp(m->older[i].digest, digest, MANIFEST_DIGEST_BYTES) == 0)
            return m->older[i].until;
    return 0;
}

/* A vault record already reported as one that does not open. */
static bool reported_damaged(const struct store *store, const char *key)
{
    for (size_t i = 0; i < store->problem_count; i++)
        if (store->problems[i].kind == STORE_PROBLEM_RECORD_DAMAGED &&
            strcmp(store->problems[i].key, key) == 0)
            return true;
    return false;
}

static void note(struct store *store, enum store_problem_kind kind, const char *key,
                 uint64_t a, uint64_t b, int *ret)
{
    if (*ret == 0)
        *ret = store_note_problem(store, kind, key, a, b);
}

int manifest_verify(struct store *store, const struct manifest_item *found, size_t count)
{
    struct manifest *m = &store->manifest;
    struct strmap on_disk = {0};
    /* a change the state file saw was whole: its files are not let off */
    bool last_whole = store->seen_known && store->seen >= m->counter;
    int ret = 0;

    for (size_t i = 0; ret == 0 && i < count; i++)
        if (strmap_put(&on_disk, found[i].key, (void *)&found[i]) < 0)
            ret = -ENOMEM;
    for (size_t i = 0; ret == 0 && i < m->entry_count; i++) {
        struct manifest_entry *e = m->entries[i];
        const struct manifest_item *f = strmap_get(&on_disk, e->key);
        struct manifest_state actual = f ? f->state : (struct manifest_state){0};
        bool vault = manifest_is_vault_key(e->key);
        e->unapplied = false;
        if (same_state(&e->now, &actual) || (actual.present && reported_damaged(store, e->key)))
            continue;
        if (in_last_change(m, e) && !last_whole && same_state(&e->prior, &actual)) {
            e->unapplied = true; /* the last change stopped before this file */
            note(store, STORE_PROBLEM_UNAPPLIED, e->key, 0, 0, &ret);
            continue;
        }
        if (!actual.present)
            note(store, vault ? STORE_PROBLEM_RECORD_MISSING : STORE_PROBLEM_STAMP_MISSING,
                 e->key, e->changed, 0, &ret);
        else if (!vault)
            note(store, STORE_PROBLEM_STAMP_DIFFERS, e->key, 0, 0, &ret);
        else if (!e->now.present)
            note(store, STORE_PROBLEM_RECORD_UNLISTED, e->key, e->changed, 0, &ret);
        else
            note(store, STORE_PROBLEM_RECORD_DIFFERS, e->key,
                 older_change(m, e->key, actual.digest), e->changed, &ret);
    }
    for (size_t i = 0; ret == 0 && i < count; i++)
        if (!entry_of(m, found[i].key) && found[i].state.present &&
            !reported_damaged(store, found[i].key))
            note(store,
                 manifest_is_vault_key(found[i].key) ? STORE_PROBLEM_RECORD_UNLISTED
                                                     : STORE_PROBLEM_STAMP_DIFFERS,
                 found[i].key, 0, 0, &ret);
    if (ret == 0 && m->tail)
        ret = store_note_problem(store, STORE_PROBLEM_MANIFEST_TAIL, "", m->tail, 0);
    strmap_free(&on_disk);
    alloc_free(m->older); /* only fsck's messages needed them */
    m->older = NULL;
    m->older_count = m->older_cap = 0;
    return ret;
}

/* ---- writing ------------------------------------------------------------------------ */

static int check_items(const struct manifest_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (items[i].skeleton_len > MAX_SKELETON_BYTES)
            return -EFBIG;
    return 0;
}

int manifest_begin(struct store *store, const struct manifest_item *items, size_t count)
{
    struct manifest *m = &store->manifest;
    struct out plain = {0}, frame = {0};
    uint8_t hash[HASH_BYTES];
    int ret;

    if (m->broken || !m->loaded)
        return -EIO; /* reopen: the open settles what a failed undo left */
    if (m->in_flight || !count)
        return -EINVAL;
    ret = check_items(items, count);
    /* every entry made now (absent, as the files are before the change),
     * so that taking the frame in (manifest_end) cannot fail */
    for (size_t i = 0; ret == 0 && i < count; i++)
        if (!entry_for(m, items[i].key))
            ret = -ENOMEM;
    if (ret < 0)
        return ret;
    out_le(&plain, count, 4);
    for (size_t i = 0; i < count; i++)
        put_item(&plain, &items[i]);
    ret = seal_frame(&frame, FRAME_CHANGE, m->counter + 1, m->last_hash, &plain, store->master);
    alloc_free(plain.bytes);
    struct manifest_item *copy = ret == 0 ? alloc_zeroed(count, sizeof(*copy)) : NULL;
    if (ret == 0 && !copy)
        ret = -ENOMEM;
    if (ret == 0) {
        frame_hash(hash, frame.bytes, frame.len);
        ret = io_write_at(store->vaultsfd, MANIFEST_NAME, m->end, frame.bytes, frame.len);
    }
    alloc_free(frame.bytes);
    if (ret < 0) {
        alloc_free(copy);
        int cut = io_truncate(store->vaultsfd, MANIFEST_NAME, m->end);
        (void)cut; /* bytes after the last whole frame are ignored anyway */
        return ret;
    }
    for (size_t i = 0; i < count; i++) {
        snprintf(copy[i].key, sizeof(copy[i].key), "%s", items[i].key);
        copy[i].state = items[i].state; /* the skeletons are written: not kept */
    }
    m->flight = copy;
    m->flight_count = count;
    m->flight_len = frame.len;
    memcpy(m->flight_hash, hash, HASH_BYTES);
    m->in_flight = true;
    return 0;
}

void manifest_flush_add(struct store *store, struct io_flush *f)
{
    io_flush_add(f, store->vaultsfd, MANIFEST_NAME, false);
}

void manifest_end(struct store *store, int err, bool intact)
{
    struct manifest *m = &store->manifest;

    if (!m->in_flight)
        return;
    if (err == 0) {
        m->counter++;
        m->end += m->flight_len;
        m->tail = 0;
        memcpy(m->last_hash, m->flight_hash, HASH_BYTES);
        m->journal_items += m->flight_count;
        m->last_is_change = true;
        if (apply_frame(m, m->flight, m->flight_count, m->counter, false) < 0)
            m->broken = true; /* memory no longer says what is on disk: reopen */
        else
            lastseen_note(store);
    } else if (intact) {
        int cut = io_truncate(store->vaultsfd, MANIFEST_NAME, m->end);
        (void)cut; /* the next frame is written over it anyway */
    } else {
        m->broken = true; /* the frame may be on disk, a file not put back */
    }
    alloc_free(m->flight);
    m->flight = NULL;
    m->flight_count = 0;
    m->in_flight = false;
}

int manifest_change(struct store *store, const struct manifest_item *items, size_t count)
{
    struct io_flush f;
    int ret = manifest_begin(store, items, count);

    if (ret < 0)
        return ret;
    io_flush_begin(&f);
    manifest_flush_add(store, &f);
    ret = io_flush_end(&f, store->vaultsfd);
    if (ret < 0)
        manifest_end(store, ret, true);
    return ret;
}

/* A snapshot of items at change into *o. */
static int snapshot_bytes(struct out *o, const struct manifest_item *items, size_t count,
                          uint64_t change, const uint8_t id[MANIFEST_ID_BYTES],
                          const uint8_t *master)
{
    static const uint8_t no_link[HASH_BYTES];
    struct out plain = {0};
    int ret = check_items(items, count);

    if (ret < 0)
        return ret;
    out_le(&plain, SNAPSHOT_VERSION, 1);
    out_put(&plain, id, MANIFEST_ID_BYTES);
    out_le(&plain, count, 4);
    for (size_t i = 0; i < count; i++)
        put_item(&plain, &items[i]);
    ret = seal_frame(o, FRAME_SNAPSHOT, change, no_link, &plain, master);
    alloc_free(plain.bytes);
    return ret;
}

int manifest_write_snapshot(struct manifest *m, int dirfd, const struct manifest_item *items,
                            size_t count, uint64_t change, const uint8_t id[MANIFEST_ID_BYTES],
                            const uint8_t *master)
{
    struct out o = {0};
    struct manifest fresh = {0};
    int ret = snapshot_bytes(&o, items, count, change, id, master);

    if (ret == 0)
        ret = apply_frame(&fresh, items, count, change, false);
    if (ret == 0)
        ret = io_write_atomic(dirfd, MANIFEST_NAME, o.bytes, o.len, 0600);
    if (ret == 0) {
        fresh.loaded = true;
        fresh.counter = change;
        fresh.end = o.len;
        memcpy(fresh.id, id, MANIFEST_ID_BYTES);
        frame_hash(fresh.last_hash, o.bytes, o.len);
        manifest_clear(m);
        *m = fresh;
    } else {
        manifest_clear(&fresh);
    }
    alloc_free(o.bytes);
    return ret;
}

/* ---- what the journal must say of every file: compaction, settling ---------------- */

/* Every entry as an item: a vault record's skeleton from the index in
 * memory (the durable state: nothing is staged), the others' as they
 * are. *items and each skeleton are the caller's to free
 * (manifest_items_free). */
static int items_now(struct store *store, struct manifest_item **items, size_t *count)
{
    struct manifest *m = &store->manifest;
    struct manifest_item *vaults = NULL, *list = NULL;
    size_t n = 0, extra = 0;
    int ret = index_skeletons(store, &vaults, &n);
    bool *listed = ret == 0 ? alloc_zeroed(m->entry_count + 1, sizeof(*listed)) : NULL;

    if (ret == 0 && !listed)
        ret = -ENOMEM;
    for (size_t i = 0; ret == 0 && i < m->entry_count; i++) {
        for (size_t j = 0; j < n && !listed[i]; j++)
            listed[i] = strcmp(vaults[j].key, m->entries[i]->key) == 0;
        extra += !listed[i];
    }
    list = ret == 0 ? alloc_zeroed(n + extra + 1, sizeof(*list)) : NULL;
    if (ret == 0 && !list)
        ret = -ENOMEM;
    if (ret < 0) {
        alloc_free(listed);
        manifest_items_free(vaults, n);
        return ret;
    }
    memcpy(list, vaults, n * sizeof(*list));
    alloc_free(vaults); /* the skeletons moved to list */
    for (size_t j = 0; j < n; j++) {
        /* the digest is the journal's: a record in memory the journal
         * does not hold is left absent, which compaction refuses */
        const struct manifest_entry *e = entry_of(m, list[j].key);
        list[j].state = e ? e->now : (struct manifest_state){0};
    }
    /* a removed vault's tombstone, and the export stamp, as they are */
    for (size_t i = 0; i < m->entry_count; i++) {
        if (listed[i])
            continue;
        snprintf(list[n].key, sizeof(list[n].key), "%s", m->entries[i]->key);
        list[n++].state = m->entries[i]->now;
    }
    alloc_free(listed);
    *items = list;
    *count = n;
    return 0;
}

void manifest_items_free(struct manifest_item *items, size_t count)
{
    for (size_t i = 0; items && i < count; i++)
        alloc_free((char *)items[i].skeleton);
    alloc_free(items);
}

int manifest_compact(struct store *store)
{
    struct manifest *m = &store->manifest;
    struct manifest_item *items = NULL;
    size_t count = 0;
    int ret;

    if (!m->loaded || m->in_flight || m->broken || store->batch_open || store->batch_flushing)
        return 0;
    ret = items_now(store, &items, &count);
    for (size_t i = 0; ret == 0 && i < count; i++) {
        /* every vault in memory is one the journal holds, and no other */
        bool in_memory = items[i].skeleton != NULL;
        if (manifest_is_vault_key(items[i].key) && in_memory != items[i].state.present)
            ret = -EIO;
    }
    if (ret == 0)
        ret = manifest_write_snapshot(m, store->vaultsfd, items, count, m->counter, m->id,
                                      store->master);
    manifest_items_free(items, count);
    return ret;
}

void manifest_compact_if_due(struct store *store)
{
    struct manifest *m = &store->manifest;
    size_t due = manifest_compact_min;

    if (due < m->entry_count / 2)
        due = m->entry_count / 2;
    if (m->journal_items <= due || m->journal_items <= m->compact_after)
        return;
    if (manifest_compact(store) < 0)
        /* the journal stays whole; trying again at every change would make
         * every change pay for a compaction that fails */
        m->compact_after = m->journal_items + due / 2;
}

int manifest_settle(struct store *store)
{
    struct manifest *m = &store->manifest;
    struct manifest_item *now = NULL, *items = NULL;
    size_t count = 0, n = 0;
    int ret = 0;

    for (size_t i = 0; i < m->entry_count; i++)
        n += m->entries[i]->unapplied;
    if (!n)
        return 0;
    ret = items_now(store, &now, &count);
    items = ret == 0 ? alloc_zeroed(n, sizeof(*items)) : NULL;
    if (ret == 0 && !items)
        ret = -ENOMEM;
    n = 0;
    for (size_t i = 0; ret == 0 && i < m->entry_count; i++) {
        const struct manifest_entry *e = m->entries[i];
        if (!e->unapplied)
            continue;
        items[n] = (struct manifest_item){.state = e->prior};
        snprintf(items[n].key, sizeof(items[n].key), "%s", e->key);
        for (size_t j = 0; j < count; j++)
            if (strcmp(now[j].key, e->key) == 0 && now[j].state.present) {
                items[n].skeleton = now[j].skeleton;
                items[n].skeleton_len = now[j].skeleton_len;
            }
        n++;
    }
    if (ret == 0)
        ret = manifest_change(store, items, n);
    if (ret == 0)
        manifest_end(store, 0, true);
    if (ret == 0)
        for (size_t i = 0; i < m->entry_count; i++)
            m->entries[i]->unapplied = false;
    alloc_free(items);
    manifest_items_free(now, count);
    return ret;
}

/* ---- skeletons ------------------------------------------------------------------------ */

int manifest_skeleton(char **out, size_t *len, const json_t *vault, uint64_t order)
{
    json_t *sk = json_pack("{s:O, s:I, s:[]}", "ecdsa", json_object_get(vault, "ecdsa"),
                           "order", (json_int_t)order, "epochs");
    json_t *epochs = json_object_get(sk, "epochs");
    static const char *const kept[] = {"number", "record", "current", "imported_sec",
                                       "imported_nsec", "replaced"};
    size_t i;
    json_t *e;
    int ret = sk ? 0 : -ENOMEM;

    if (ret == 0 && json_object_get(vault, "dir_name") &&
        json_object_set(sk, "dir_name", json_object_get(vault, "dir_name")) < 0)
        ret = -ENOMEM;
    if (ret == 0 && json_object_get(vault, "forgotten") &&
        json_object_set(sk, "forgotten", json_object_get(vault, "forgotten")) < 0)
        ret = -ENOMEM;
    json_array_foreach(json_object_get(vault, "epochs"), i, e) {
        json_t *copy = ret == 0 ? json_object() : NULL;
        if (ret == 0 && !copy)
            ret = -ENOMEM;
        for (size_t k = 0; ret == 0 && k < sizeof(kept) / sizeof(kept[0]); k++) {
            json_t *v = json_object_get(e, kept[k]);
            if (v && json_object_set(copy, kept[k], v) < 0)
                ret = -ENOMEM;
        }
        if (ret == 0 && json_array_append(epochs, copy) < 0)
            ret = -ENOMEM;
        json_decref(copy);
    }
    char *text = NULL;
    if (ret == 0)
        ret = jsonx_dumps(&text, sk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sk);
    if (ret < 0)
        return ret;
    *out = text;
    *len = strlen(text);
    return 0;
}
