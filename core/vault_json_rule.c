#include "vault_json_rule.h"

#include <errno.h>
#include <string.h>

bool vault_json_rule_needs_shown(const struct vault_json_write *w)
{
    return !w->made_in_mount && w->has_share;
}

enum vault_json_verdict vault_json_rule(const struct vault_json_write *w)
{
    if (w->made_in_mount)
        return VAULT_JSON_KEEP_RESTORING;
    if (!w->has_share)
        return VAULT_JSON_KEEP_NO_SHARE;
    if (w->shown && w->shown_len == w->len &&
        (w->len == 0 || memcmp(w->shown, w->data, w->len) == 0))
        return VAULT_JSON_KEEP_SAME;
    return VAULT_JSON_REFUSE;
}

int vault_json_rule_errno(enum vault_json_verdict verdict)
{
    return verdict == VAULT_JSON_REFUSE ? -EPERM : 0;
}
