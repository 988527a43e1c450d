/*
 * table: aligned text output (see table.h).
 */
#include "table.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "escape.h"

struct table {
    size_t columns;
    size_t rows; /* including the header */
    size_t cap;
    char **cells; /* rows * columns */
};

struct table *table_new(const char *const *headers, size_t columns)
{
    struct table *table = alloc_zeroed(1, sizeof(*table));
    if (!table || columns == 0 || columns > TABLE_MAX_COLUMNS) {
        alloc_free(table);
        return NULL;
    }
    table->columns = columns;
    if (table_add(table, headers) < 0) {
        table_free(table);
        return NULL;
    }
    return table;
}

int table_add(struct table *table, const char *const *cells)
{
    if (table->rows == table->cap) {
        size_t cap = table->cap ? 2 * table->cap : 16;
        char **bigger = alloc_resize(table->cells, cap * table->columns * sizeof(char *));
        if (!bigger)
            return -ENOMEM;
        table->cells = bigger;
        table->cap = cap;
    }
    char **row = &table->cells[table->rows * table->columns];
    for (size_t c = 0; c < table->columns; c++) {
        row[c] = escape_dup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c > 0)
                alloc_free(row[--c]);
            return -ENOMEM;
        }
    }
    table->rows++;
    return 0;
}

/* Characters, not bytes: device names hold U+2019 and the like. */
static size_t width_of(const char *text)
{
    size_t width = 0;
    for (; *text; text++)
        width += ((unsigned char)*text & 0xC0) != 0x80;
    return width;
}

void table_print(const struct table *table, FILE *out)
{
    size_t widths[TABLE_MAX_COLUMNS] = {0};
    for (size_t r = 0; r < table->rows; r++)
        for (size_t c = 0; c < table->columns; c++) {
            size_t w = width_of(table->cells[r * table->columns + c]);
            widths[c] = w > widths[c] ? w : widths[c];
        }
    for (size_t r = 0; r < table->rows; r++) {
        for (size_t c = 0; c < table->columns; c++) {
            const char *text = table->cells[r * table->columns + c];
            bool last = c + 1 == table->columns;
            fputs(text, out);
            for (size_t pad = width_of(text); !last && pad < widths[c] + 2; pad++)
                fputc(' ', out);
        }
        fputc('\n', out);
    }
}

void table_free(struct table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->rows * table->columns; i++)
        alloc_free(table->cells[i]);
    alloc_free(table->cells);
    alloc_free(table);
}
