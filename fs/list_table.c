#include "list_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "escape.h"

enum column { COL_VAULT, COL_EPOCHS, COL_DEVICE, COL_KEYS, COL_SIGNERS, COL_IMPORT, COLUMNS };

static const char *const headers[COLUMNS] = {"VAULT", "EPOCHS", "DEVICE", "KEYS", "SIGNERS",
                                             "LAST IMPORT"};

/* One vault's line: the cells' texts, made once and printed padded. */
struct row {
    char cells[COLUMNS][512];
    size_t superseded;
    size_t replaced; /* files vultfs replace kept */
    bool has_current;
};

/* Columns line up by characters, not bytes (device names carry U+2019). */
static size_t display_width(const char *text)
{
    size_t width = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        width += (*p & 0xC0) != 0x80;
    return width;
}

static const char *text_of(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* "2026-11-26T14:01:04Z" -> "2026-11-26 14:01:04 UTC" */
static void human_time(char *out, size_t cap, const char *rfc3339)
{
    size_t n = strlen(rfc3339);
    if (n == 20 && rfc3339[10] == 'T' && rfc3339[19] == 'Z')
        snprintf(out, cap, "%.10s %.8s UTC", rfc3339, rfc3339 + 11);
    else
        snprintf(out, cap, "%s", rfc3339);
}

static void join_signers(char *out, size_t cap, const json_t *signers)
{
    size_t i, used = 0;
    json_t *s;
    out[0] = '\0';
    json_array_foreach(signers, i, s) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "",
                         json_string_value(s) ? json_string_value(s) : "");
        if (n < 0 || (size_t)n >= cap - used)
            break; /* a very long list is cut; --json has it whole */
        used += (size_t)n;
    }
}

/* Names come from backup files: no control character of theirs reaches
 * the terminal (JSON escapes them; the table shows escape.h's form, cut
 * to the cell when it is longer). */
static void make_printable(char *cell, size_t cap)
{
    char escaped[sizeof(((struct row *)0)->cells[0])];

    escape_text(escaped, sizeof(escaped) < cap ? sizeof(escaped) : cap, cell);
    memcpy(cell, escaped, strlen(escaped) + 1);
}

/* What the share signs with: "ECDSA+EdDSA", "+ML-DSA", "20 chains". */
static void describe_keys(char *out, size_t cap, const json_t *epoch)
{
    size_t chains = json_array_size(json_object_get(epoch, "chains"));
    bool mldsa = *text_of(epoch, "public_key_mldsa44") != '\0';
    char count[32] = "";

    if (chains)
        snprintf(count, sizeof(count), ", %zu chain%s", chains, chains == 1 ? "" : "s");
    snprintf(out, cap, "ECDSA+EdDSA%s%s", mldsa ? "+ML-DSA" : "", count);
}

static int fill_row(struct row *r, const json_t *vault)
{
    const json_t *epochs = json_object_get(vault, "epochs");
    const json_t *shown = NULL, *e;
    const char *last = "";
    size_t i;

    if (!json_is_object(vault) || !json_is_array(epochs))
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    json_array_foreach(epochs, i, e) {
        if (json_is_true(json_object_get(e, "current"))) {
            shown = e;
            r->has_current = true;
        } else {
            r->superseded++;
        }
        if (strcmp(text_of(e, "imported_at"), last) > 0)
            last = text_of(e, "imported_at");
        r->replaced += (size_t)json_integer_value(json_object_get(e, "replaced_files"));
    }
    if (!shown) /* only history held: the newest says who */
        shown = json_array_get(epochs, json_array_size(epochs) - 1);
    snprintf(r->cells[COL_VAULT], sizeof(r->cells[0]), "%s", text_of(vault, "directory"));
    if (shown && r->has_current)
        snprintf(r->cells[COL_EPOCHS], sizeof(r->cells[0]), "%zu (current %lld)",
                 json_array_size(epochs),
                 (long long)json_integer_value(json_object_get(shown, "epoch")));
    else
        snprintf(r->cells[COL_EPOCHS], sizeof(r->cells[0]), "%zu (no current)",
                 json_array_size(epochs));
    snprintf(r->cells[COL_DEVICE], sizeof(r->cells[0]), "%s", text_of(shown, "device"));
    describe_keys(r->cells[COL_KEYS], sizeof(r->cells[0]), shown);
    join_signers(r->cells[COL_SIGNERS], sizeof(r->cells[0]), json_object_get(shown, "signers"));
    human_time(r->cells[COL_IMPORT], sizeof(r->cells[0]), last);
    for (int c = 0; c < COLUMNS; c++)
        make_printable(r->cells[c], sizeof(r->cells[c]));
    return 0;
}

static void print_line(FILE *out, const char *const cells[COLUMNS], const size_t widths[COLUMNS])
{
    for (int c = 0; c < COLUMNS; c++) {
        if (c == COLUMNS - 1) {
            fprintf(out, "%s\n", cells[c]);
            break;
        }
        fprintf(out, "%s%*s", cells[c], (int)(widths[c] - display_width(cells[c]) + 2), "");
    }
}

/* What a person should know that the columns do not say. */
static void print_warnings(FILE *out, const struct row *r)
{
    if (r->superseded)
        fprintf(out, "  warning: history holds %zu superseded epoch%s: old shares can still "
                     "sign with each other\n", r->superseded, r->superseded == 1 ? "" : "s");
    if (!r->has_current)
        fprintf(out, "  warning: no current share: only history/ is held (a restore in "
                     "progress, or the current share was never imported)\n");
    if (r->replaced)
        fprintf(out, "  note: the store keeps %zu file%s that vultfs replace put aside (vultfs "
                     "list --json says of which epochs; vultfs forget removes them)\n",
                r->replaced, r->replaced == 1 ? "" : "s");
}

int list_table_print(FILE *out, const char *json_text)
{
    json_t *list = json_loads(json_text, 0, NULL);
    size_t count = json_array_size(list), widths[COLUMNS], i;
    struct row *rows = NULL;
    int ret = -EINVAL;

    if (!json_is_array(list))
        goto out;
    if (count == 0) {
        fprintf(out, "no vaults in this store\n");
        ret = 0;
        goto out;
    }
    ret = -ENOMEM;
    rows = alloc_zeroed(count, sizeof(*rows));
    if (!rows)
        goto out;
    for (int c = 0; c < COLUMNS; c++)
        widths[c] = display_width(headers[c]);
    for (i = 0; i < count; i++) {
        ret = fill_row(&rows[i], json_array_get(list, i));
        if (ret < 0)
            goto out;
        for (int c = 0; c < COLUMNS; c++)
            if (display_width(rows[i].cells[c]) > widths[c])
                widths[c] = display_width(rows[i].cells[c]);
    }
    print_line(out, headers, widths);
    for (i = 0; i < count; i++) {
        const char *cells[COLUMNS];
        for (int c = 0; c < COLUMNS; c++)
            cells[c] = rows[i].cells[c];
        print_line(out, cells, widths);
        print_warnings(out, &rows[i]);
    }
    ret = 0;
out:
    alloc_free(rows);
    json_decref(list);
    return ret;
}
