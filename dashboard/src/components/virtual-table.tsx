// A table that renders only the rows in view (plus a few), so 100 nodes or 100,000 tasks scroll smoothly.
// It stays a real <table> with header cells and sortable header buttons; spacer rows keep the scroll height.

import type { ComponentChild } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

export interface Column<T> {
  key: string;
  header: string;
  /** CSS width, e.g. "8rem" or "20%"; columns without one share what is left. */
  width?: string;
  align?: "left" | "right" | "center";
  render: (row: T, index: number) => ComponentChild;
  /** Sort comparator; columns without one are not sortable. */
  compare?: (a: T, b: T) => number;
  title?: string;
}

export interface SortState {
  key: string;
  descending: boolean;
}

interface Props<T> {
  rows: readonly T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  label: string;
  rowHeightPx?: number;
  /** Changes whenever rows change in place (the array identity may stay the same). */
  version?: number;
  onRowClick?: (row: T) => void;
  rowClass?: (row: T) => string;
  initialSort?: SortState | null;
  empty?: ComponentChild;
  /** Scroll to the bottom when rows are added (follow mode). */
  stickToBottom?: boolean;
  overscanRows?: number;
}

export function VirtualTable<T>(props: Props<T>) {
  const rowHeight = props.rowHeightPx ?? 34;
  const overscan = props.overscanRows ?? 8;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewportHeight, setViewportHeight] = useState(600);
  const [sort, setSort] = useState<SortState | null>(props.initialSort ?? null);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    // Capped by the window: a table whose box grows with its content must still render only a screenful.
    const measure = (): void => setViewportHeight(Math.min(element.clientHeight, Math.max(window.innerHeight, 400) * 1.5));
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    measure();
    return () => observer.disconnect();
  }, []);

  const sorted = useMemo(() => {
    if (!sort) return props.rows;
    const column = props.columns.find((candidate) => candidate.key === sort.key);
    if (!column?.compare) return props.rows;
    const compare = column.compare;
    const copy = props.rows.slice();
    copy.sort(sort.descending ? (a, b) => compare(b, a) : compare);
    return copy;
  }, [props.rows, props.version, sort, props.columns]);

  useEffect(() => {
    const element = scroller.current;
    if (props.stickToBottom && element) element.scrollTop = element.scrollHeight;
  }, [props.stickToBottom, sorted.length, props.version]);

  const frame = useRef(0);
  const onScroll = (): void => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      if (scroller.current) setScrollTop(scroller.current.scrollTop);
    });
  };

  const headerHeight = rowHeight;
  const first = Math.max(0, Math.floor((scrollTop - headerHeight) / rowHeight) - overscan);
  const last = Math.min(sorted.length, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  const visible: ComponentChild[] = [];
  for (let index = first; index < last; index += 1) {
    const row = sorted[index]!;
    visible.push(
      <tr
        key={props.rowKey(row)}
        class={`row${props.onRowClick ? " clickable" : ""} ${props.rowClass?.(row) ?? ""}`}
        style={{ height: `${rowHeight}px` }}
        onClick={props.onRowClick ? (event) => onRowClick(event, row, props.onRowClick!) : undefined}
      >
        {props.columns.map((column) => (
          <td key={column.key} class={column.align ? `align-${column.align}` : undefined}>
            {column.render(row, index)}
          </td>
        ))}
      </tr>,
    );
  }

  const toggleSort = (key: string): void => {
    setSort((current) =>
      current?.key === key ? (current.descending ? null : { key, descending: true }) : { key, descending: false },
    );
  };

  return (
    <div class="vt-scroll" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label={props.label} role="region">
      <table class="vt" aria-rowcount={sorted.length + 1}>
        <colgroup>
          {props.columns.map((column) => (
            <col key={column.key} style={column.width ? { width: column.width } : undefined} />
          ))}
        </colgroup>
        <thead>
          <tr style={{ height: `${headerHeight}px` }}>
            {props.columns.map((column) => (
              <th
                key={column.key}
                scope="col"
                class={column.align ? `align-${column.align}` : undefined}
                title={column.title}
                aria-sort={sort?.key === column.key ? (sort.descending ? "descending" : "ascending") : undefined}
              >
                {column.compare ? (
                  <button type="button" class="sort" onClick={() => toggleSort(column.key)}>
                    {column.header}
                    <span class="sort-mark" aria-hidden="true">
                      {sort?.key === column.key ? (sort.descending ? "▼" : "▲") : ""}
                    </span>
                  </button>
                ) : (
                  column.header
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr class="spacer" style={{ height: `${first * rowHeight}px` }} aria-hidden="true" />}
          {visible}
          {last < sorted.length && (
            <tr class="spacer" style={{ height: `${(sorted.length - last) * rowHeight}px` }} aria-hidden="true" />
          )}
        </tbody>
      </table>
      {sorted.length === 0 && <div class="vt-empty">{props.empty ?? "Nothing to show."}</div>}
    </div>
  );
}

/** Row clicks open the row, except clicks on the links and buttons inside it (they do their own thing). */
function onRowClick<T>(event: MouseEvent, row: T, open: (row: T) => void): void {
  const target = event.target as HTMLElement | null;
  if (target?.closest("a, button, input, select, label")) return;
  if (window.getSelection()?.toString()) return;
  open(row);
}
