/*
 * export_stamp: when the mount's exports last changed because the export
 * settings did. A new export password (vultfs passwd changes the default
 * one) or scheme gives every share.vult new bytes of the same size; if its
 * mtime and ctime stayed the import time, rsync's quick check, restic and
 * borg would keep the old bytes without a word. So the store remembers a
 * fingerprint of the settings it last served (a keyed hash of the scheme
 * and the derived export key: never the password, and useless without the
 * master key) and when that fingerprint last changed; an export's times
 * are the later of that and its import.
 *
 * On disk: export-stamp.rec, sealed under the master key (kind INDEX, id
 * "export-stamp", so it can stand for neither the index nor a share):
 *   u8 version (1) | fingerprint(32) | u64 changed_sec | u32 changed_nsec
 * A store without one (new, or from before this record) has never changed
 * settings that anyone could have backed up under vultfs's watch: the
 * first settings are recorded as unchanged (time 0).
 *
 * The manifest holds its digest (a change of its own): a stamp that does
 * not open, is gone, or is not the one last written (an older copy) is
 * not trusted and is written again with the time now, so exports show as
 * changed once rather than keep times nobody can vouch for; the caller
 * says so (store_export_stamp_said), and fsck reports it.
 */
#include "store_private.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"

#define STAMP_ID "export-stamp"
#define STAMP_VERSION 1
#define STAMP_FP_BYTES 32
#define STAMP_BYTES (1 + STAMP_FP_BYTES + 8 + 4)
#define STAMP_SUBKEY_CONTEXT "vfstamp1" /* its own context: no clash with store.c's ids */

struct stamp {
    uint8_t fingerprint[STAMP_FP_BYTES];
    int64_t sec;
    int32_t nsec;
};

static void fingerprint(uint8_t out[STAMP_FP_BYTES], const struct store *store)
{
    uint8_t key[SEAL_KEY_BYTES];
    uint8_t scheme = (uint8_t)store->export_scheme;
    crypto_generichash_state st;

    seal_subkey(key, 1, STAMP_SUBKEY_CONTEXT, store->master);
    crypto_generichash_init(&st, key, sizeof(key), STAMP_FP_BYTES);
    crypto_generichash_update(&st, &scheme, 1);
    if (store->export_key)
        crypto_generichash_update(&st, store->export_key, BACKUP_CRYPTO_KEY_BYTES);
    crypto_generichash_final(&st, out, STAMP_FP_BYTES);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(&st, sizeof(st));
}

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

/* The remembered stamp, sealed under master: 0, -ENOENT (none yet),
 * -EINVAL (not one this build reads, or times out of range), or
 * sealed_read's errors. */
static int read_stamp_under(struct stamp *out, const struct store *store, const uint8_t *master)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    int ret = sealed_read(&plain, &len, store->dirfd, STAMP_NAME, SEAL_OVERHEAD + 64,
                          SEAL_KIND_INDEX, STAMP_ID, master);
    if (ret < 0)
        return ret;
    ret = -EINVAL;
    if (len == STAMP_BYTES && plain[0] == STAMP_VERSION) {
        uint64_t sec = get_le(plain + 1 + STAMP_FP_BYTES, 8);
        uint32_t nsec = (uint32_t)get_le(plain + 1 + STAMP_FP_BYTES + 8, 4);
        if (sec <= INT64_MAX && nsec < 1000000000u) {
            memcpy(out->fingerprint, plain + 1, STAMP_FP_BYTES);
            out->sec = (int64_t)sec;
            out->nsec = (int32_t)nsec;
            ret = 0;
        }
    }
    alloc_secret_free(plain);
    return ret;
}

static int read_stamp(struct stamp *out, const struct store *store)
{
    return read_stamp_under(out, store, store->master);
}

/* The stamp written, its digest in the manifest first (manifest.c's order:
 * the frame is durable before the file it names changes). */
static int write_stamp(struct store *store, const struct stamp *s)
{
    uint8_t plain[STAMP_BYTES], *sealed = NULL;
    size_t sealed_len = 0;
    struct manifest_item item = {.key = MANIFEST_STAMP_KEY, .state = {.present = true}};
    bool framed = false;

    plain[0] = STAMP_VERSION;
    memcpy(plain + 1, s->fingerprint, STAMP_FP_BYTES);
    put_le(plain + 1 + STAMP_FP_BYTES, (uint64_t)s->sec, 8);
    put_le(plain + 1 + STAMP_FP_BYTES + 8, (uint64_t)s->nsec, 4);
    int ret = seal_record(&sealed, &sealed_len, plain, sizeof(plain), SEAL_KIND_INDEX, STAMP_ID,
                          store->master);
    if (ret < 0)
        return ret;
    manifest_digest(item.state.digest, sealed, sealed_len);
    if (store->manifest.loaded)
        framed = (ret = manifest_change(store, &item, 1)) == 0;
    if (ret == 0)
        ret = io_write_atomic(store->dirfd, STAMP_NAME, sealed, sealed_len, 0600);
    if (framed)
        manifest_end(store, ret, true);
    alloc_free(sealed);
    return ret;
}

/* Does the manifest say the stamp on disk is not the one last written? */
static bool stamp_distrusted(const struct store *store)
{
    for (size_t i = 0; i < store->problem_count; i++) {
        enum store_problem_kind k = store->problems[i].kind;
        if (k == STORE_PROBLEM_STAMP_MISSING || k == STORE_PROBLEM_STAMP_DIFFERS ||
            k == STORE_PROBLEM_STAMP_DAMAGED)
            return true;
    }
    return false;
}

void export_stamp_rekeyed(struct store *store, const uint8_t *old_master)
{
    struct stamp held;

    /* best effort: a stamp that cannot be moved reads as changed settings,
     * which they are (exports change with the master key) */
    if (read_stamp_under(&held, store, old_master) == 0) {
        int written = write_stamp(store, &held);
        (void)written;
    }
}

int export_stamp_check(const struct store *store)
{
    struct stamp held;
    return read_stamp(&held, store);
}

enum store_stamp_said store_export_stamp_said(const struct store *store)
{
    return store->stamp_said;
}

int store_export_stamp(struct store *store)
{
    struct stamp held, now_stamp = {0};
    struct timespec ts;
    int ret;

    if (!store->export_set)
        return -EINVAL;
    fingerprint(now_stamp.fingerprint, store);
    ret = read_stamp(&held, store);
    bool distrusted = stamp_distrusted(store);
    if (ret == 0 && !distrusted &&
        sodium_memcmp(held.fingerprint, now_stamp.fingerprint, STAMP_FP_BYTES) == 0) {
        store->exports_changed_sec = held.sec;
        store->exports_changed_nsec = held.nsec;
        store->stamp_said = STORE_STAMP_KEPT;
        return 0;
    }
    if (ret == -ENOMEM)
        return ret;
    store->stamp_said = ret == -ENOENT && !distrusted ? STORE_STAMP_FIRST
                        : ret == 0 && !distrusted    ? STORE_STAMP_SETTINGS_CHANGED
                                                     : STORE_STAMP_DISTRUSTED;
    if (ret != -ENOENT || distrusted) {
        /* other settings than last time, or a stamp that cannot be read
         * or trusted: the exports are new as of now */
        clock_gettime(CLOCK_REALTIME, &ts);
        now_stamp.sec = ts.tv_sec;
        now_stamp.nsec = (int32_t)ts.tv_nsec;
    }
    /* shown even when it cannot be written (read-only media): then the
     * next mount says "changed" once more, which costs one more copy */
    store->exports_changed_sec = now_stamp.sec;
    store->exports_changed_nsec = now_stamp.nsec;
    store_tidy_before_change(store);
    return write_stamp(store, &now_stamp);
}

void store_export_time(int64_t *sec, int32_t *nsec, const struct store *store,
                       const struct store_epoch *epoch)
{
    bool settings_later = store->exports_changed_sec > epoch->imported_sec ||
                          (store->exports_changed_sec == epoch->imported_sec &&
                           store->exports_changed_nsec > epoch->imported_nsec);
    *sec = settings_later ? store->exports_changed_sec : epoch->imported_sec;
    *nsec = settings_later ? store->exports_changed_nsec : epoch->imported_nsec;
}
