/*
 * table: the aligned text tables `vultfs check` and `vultfs audit` print
 * for people. Cells are copied, escaped (escape.h: names and paths come
 * from files); the last column is not padded.
 */
#ifndef VULTFS_TABLE_H
#define VULTFS_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLUMNS 8

struct table;

/* A table with these column headers (at most TABLE_MAX_COLUMNS). NULL on
 * out of memory. */
struct table *table_new(const char *const *headers, size_t columns);

/* Appends one row of `columns` cells (NULL is shown as "-"). 0 or -ENOMEM. */
int table_add(struct table *table, const char *const *cells);

/* Prints the header and every row, columns aligned by characters. */
void table_print(const struct table *table, FILE *out);

void table_free(struct table *table);

#endif
