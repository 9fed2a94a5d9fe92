// Plain-text tables for the terminal: aligned columns, a header rule, numbers right-aligned.

export interface Column<Row> {
  header: string;
  value(row: Row): string;
  align?: "left" | "right";
}

export function renderTable<Row>(rows: readonly Row[], columns: ReadonlyArray<Column<Row>>): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => (line[index] ?? "").length)));
  const pad = (text: string, index: number): string => {
    const width = widths[index] ?? 0;
    return columns[index]?.align === "right" ? text.padStart(width) : text.padEnd(width);
  };
  const lines = [columns.map((column, index) => pad(column.header, index)).join("  ")];
  lines.push(widths.map((width) => "─".repeat(width)).join("  "));
  for (const line of cells) lines.push(line.map((cell, index) => pad(cell, index)).join("  "));
  return lines.map((line) => line.trimEnd()).join("\n");
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1_000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${Math.round(seconds % 60)}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
