/*
 * config: what vultfs.json may hold, checked before any of it is used, and
 * its checksum. The checksum (xxh3-64 over the config's other fields, as
 * compact sorted JSON) needs no passphrase: a changed salt or cost then
 * reads as a damaged config, not as a wrong passphrase, and no
 * out-of-range cost ever reaches Argon2id. It detects damage, not an
 * attacker (who can recompute it); the sealed master key is what
 * authenticates. Configs written before it existed (format 1) have none
 * and are accepted without; the next config write adds it. Format 2 adds
 * the store's id (32 hex digits), which its manifest holds too.
 */
#include "store_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <xxhash.h>

#include "alloc.h"
#include "base64.h"

#define CHECKSUM_KEY "checksum"
#define CHECKSUM_HEX 16

/* The checksum of config's fields but CHECKSUM_KEY, as hex. */
static int config_sum(char out[CHECKSUM_HEX + 1], const json_t *config)
{
    json_t *fields = json_deep_copy(config);
    char *text = NULL;
    int ret = fields ? 0 : -ENOMEM;

    if (ret == 0 && json_object_get(fields, CHECKSUM_KEY) &&
        json_object_del(fields, CHECKSUM_KEY) != 0)
        ret = -ENOMEM;
    if (ret == 0)
        ret = jsonx_dumps(&text, fields, JSON_COMPACT | JSON_SORT_KEYS);
    if (ret == 0)
        snprintf(out, CHECKSUM_HEX + 1, "%016" PRIx64, (uint64_t)XXH3_64bits(text, strlen(text)));
    alloc_free(text);
    json_decref(fields);
    return ret;
}

int config_add_checksum(json_t *config)
{
    char sum[CHECKSUM_HEX + 1];
    int ret = config_sum(sum, config);

    if (ret == 0 && json_object_set_new(config, CHECKSUM_KEY, json_string(sum)) != 0)
        ret = -ENOMEM;
    return ret;
}

/* A base64 field that decodes to exactly want bytes (at most 96). */
static bool is_b64_of_len(const json_t *value, size_t want)
{
    uint8_t buf[96];
    const char *text = json_string_value(value);
    size_t len = text ? strlen(text) : 0, got = 0;
    bool ok = text && len / 4 * 3 <= sizeof(buf) &&
              base64_decode(buf, sizeof(buf), &got, text, len) == 0 && got == want;

    sodium_memzero(buf, sizeof(buf));
    return ok;
}

static bool is_bounded(const json_t *value, uint64_t min, uint64_t max)
{
    json_int_t v = json_integer_value(value);
    return json_is_integer(value) && v >= 0 && (uint64_t)v >= min && (uint64_t)v <= max;
}

static bool kdf_is_valid(const json_t *kdf)
{
    return json_is_object(kdf) && strcmp(jsonx_str(kdf, "algorithm"), "argon2id13") == 0 &&
           is_bounded(json_object_get(kdf, "opslimit"), SEAL_KDF_OPSLIMIT_MIN,
                      SEAL_KDF_OPSLIMIT_MAX) &&
           is_bounded(json_object_get(kdf, "memlimit"), SEAL_KDF_MEMLIMIT_MIN,
                      SEAL_KDF_MEMLIMIT_MAX) &&
           is_b64_of_len(json_object_get(kdf, "salt"), SEAL_KDF_SALT_BYTES);
}

int config_verify(const json_t *config)
{
    const json_t *stored = json_object_get(config, CHECKSUM_KEY);
    char sum[CHECKSUM_HEX + 1];
    int ret;

    if (!json_is_object(config) ||
        !is_bounded(json_object_get(config, "format"), 1, STORE_FORMAT_VERSION))
        return -EBADMSG;
    /* format 2 names the store (its manifest holds the same id) */
    const json_t *id = json_object_get(config, "id");
    uint8_t id_bin[MANIFEST_ID_BYTES];
    if ((id || json_integer_value(json_object_get(config, "format")) >= 2) &&
        hex_decode(id_bin, sizeof(id_bin), json_string_value(id)) < 0)
        return -EBADMSG;
    if (stored) {
        ret = config_sum(sum, config);
        if (ret < 0)
            return ret;
        if (!json_is_string(stored) || strcmp(json_string_value(stored), sum) != 0)
            return -EBADMSG;
    }
    _Static_assert(SEAL_OVERHEAD + SEAL_KEY_BYTES <= 96, "a sealed key fits is_b64_of_len");
    if (!kdf_is_valid(json_object_get(config, "kdf")) ||
        !is_b64_of_len(json_object_get(config, "master_key"), seal_sealed_len(SEAL_KEY_BYTES)))
        return -EBADMSG;
    const json_t *pending = json_object_get(config, PENDING_KEY_FIELD);
    if (pending && !is_b64_of_len(pending, seal_sealed_len(SEAL_KEY_BYTES)))
        return -EBADMSG;
    return 0;
}
