// Renders rows as an aligned table for a terminal, docker-style: columns padded with spaces, the
// last column cut to the terminal's width. Cells are made printable (printable.ts: another
// client's control characters shown, not obeyed) and padded as plain text before they are
// colored, so escape codes never upset the alignment.
import { printable } from './printable.ts';

export interface TableOptions {
  readonly columns: number;
  /** Colors a padded cell; `row` is -1 for the header. */
  readonly style?: (row: number, column: number, text: string) => string;
}

const GAP = '   ';

export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions,
): string {
  const printed = rows.map((row) => row.map((cell) => printable(cell)));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...printed.map((row) => (row[column] ?? '').length)),
  );
  const style = options.style ?? ((_row, _column, text) => text);
  const render = (cells: readonly string[], row: number): string => {
    let used = 0;
    const parts = cells.map((cell, column) => {
      const last = column === cells.length - 1;
      const text = last
        ? fit(cell, options.columns - used)
        : cell.padEnd(widths[column] ?? cell.length);
      used += text.length + GAP.length;
      return style(row, column, text);
    });
    return parts.join(GAP).trimEnd();
  };
  return [render(headers, -1), ...printed.map(render)].map((line) => `${line}\n`).join('');
}

function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? '…' : `${text.slice(0, width - 1)}…`;
}
