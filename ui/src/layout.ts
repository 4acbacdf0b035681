// The live grid's layout (1, 4, 9 or 16 tiles), persisted in localStorage.

export const LAYOUTS = [1, 4, 9, 16] as const;
export type Layout = (typeof LAYOUTS)[number];
export const LAYOUT_KEY = "ronin.layout";
export const DEFAULT_LAYOUT: Layout = 4;

export function isLayout(value: unknown): value is Layout {
  return LAYOUTS.includes(value as Layout);
}

export function loadLayout(storage: Pick<Storage, "getItem">): Layout {
  const stored = Number(storage.getItem(LAYOUT_KEY));
  return isLayout(stored) ? stored : DEFAULT_LAYOUT;
}

export function saveLayout(storage: Pick<Storage, "setItem">, layout: Layout): void {
  storage.setItem(LAYOUT_KEY, String(layout));
}

export function columns(layout: Layout): number {
  return Math.sqrt(layout);
}

/** The cameras shown on ``page`` (0-based) of a grid, and how many pages there are. */
export function page<T>(items: readonly T[], layout: Layout, index: number): { items: T[]; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / layout));
  const p = Math.min(Math.max(0, index), pages - 1);
  return { items: items.slice(p * layout, (p + 1) * layout), pages };
}
