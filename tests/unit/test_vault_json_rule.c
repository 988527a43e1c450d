/*
 * test_vault_json_rule: when a write of vault.json is a no-op and when it
 * is refused (core/vault_json_rule.c), every branch, with no store and no
 * mount.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "vault_json_rule.h"

static const char shown[] = "{\"name\": \"Alpha\", \"epochs\": [1]}\n";

static struct vault_json_write write_of(const char *data, bool made_in_mount, bool has_share)
{
    struct vault_json_write w = {
        .made_in_mount = made_in_mount,
        .has_share = has_share,
        .data = (const uint8_t *)data,
        .len = strlen(data),
    };
    if (vault_json_rule_needs_shown(&w)) {
        w.shown = shown;
        w.shown_len = strlen(shown);
    }
    return w;
}

static void test_restore_in_progress_keeps_anything(void)
{
    /* a directory made by mkdir in this mount: vault.json may come before
     * the shares it lists, with any content */
    struct vault_json_write w = write_of("anything at all", true, false);
    CHECK(!vault_json_rule_needs_shown(&w));
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_KEEP_RESTORING);
    CHECK_EQ_INT(vault_json_rule_errno(vault_json_rule(&w)), 0);

    /* even once a share has turned it into a vault's directory */
    w = write_of("anything at all", true, true);
    CHECK(!vault_json_rule_needs_shown(&w));
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_KEEP_RESTORING);
}

static void test_no_share_yet_keeps_anything(void)
{
    struct vault_json_write w = write_of("{}", false, false);
    CHECK(!vault_json_rule_needs_shown(&w));
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_KEEP_NO_SHARE);
    CHECK_EQ_INT(vault_json_rule_errno(vault_json_rule(&w)), 0);
}

static void test_same_bytes_are_a_no_op(void)
{
    struct vault_json_write w = write_of(shown, false, true);
    CHECK(vault_json_rule_needs_shown(&w));
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_KEEP_SAME);
    CHECK_EQ_INT(vault_json_rule_errno(vault_json_rule(&w)), 0);
}

static void test_other_bytes_are_refused(void)
{
    char changed[sizeof(shown)];
    char longer[sizeof(shown) + 1];

    memcpy(changed, shown, sizeof(shown));
    changed[10] ^= 1; /* one bit */
    struct vault_json_write w = write_of(changed, false, true);
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_REFUSE);
    CHECK_EQ_INT(vault_json_rule_errno(vault_json_rule(&w)), -EPERM);

    /* a prefix, a longer text and nothing at all */
    w = write_of(shown, false, true);
    w.len--;
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_REFUSE);
    snprintf(longer, sizeof(longer), "%s ", shown);
    w = write_of(longer, false, true);
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_REFUSE);
    w = write_of("", false, true);
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_REFUSE);
}

static void test_unknown_content_is_refused(void)
{
    /* a caller that could not say what vault.json shows never gets a no-op */
    struct vault_json_write w = write_of(shown, false, true);
    w.shown = NULL;
    w.shown_len = 0;
    CHECK_EQ_INT(vault_json_rule(&w), VAULT_JSON_REFUSE);
}

int main(void)
{
    test_restore_in_progress_keeps_anything();
    test_no_share_yet_keeps_anything();
    test_same_bytes_are_a_no_op();
    test_other_bytes_are_refused();
    test_unknown_content_is_refused();
    return check_done("test_vault_json_rule");
}
