import { describe, expect, it } from "vitest";
import { DEFAULT_LAYOUT, LAYOUT_KEY, columns, loadLayout, page, saveLayout } from "../src/layout";

function memory(): Storage {
  const data = new Map<string, string>();
  return {
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
    clear: () => data.clear(),
    key: (i) => [...data.keys()][i] ?? null,
    get length() {
      return data.size;
    },
  };
}

describe("grid layout", () => {
  it("persists the chosen layout and refuses nonsense", () => {
    const storage = memory();
    expect(loadLayout(storage)).toBe(DEFAULT_LAYOUT);
    saveLayout(storage, 9);
    expect(loadLayout(storage)).toBe(9);
    storage.setItem(LAYOUT_KEY, "7");
    expect(loadLayout(storage)).toBe(DEFAULT_LAYOUT);
    storage.setItem(LAYOUT_KEY, "x");
    expect(loadLayout(storage)).toBe(DEFAULT_LAYOUT);
  });

  it("pages cameras by the layout", () => {
    const cams = Array.from({ length: 10 }, (_, i) => i);
    expect(columns(16)).toBe(4);
    expect(page(cams, 4, 0)).toEqual({ items: [0, 1, 2, 3], pages: 3 });
    expect(page(cams, 4, 2).items).toEqual([8, 9]);
    expect(page(cams, 4, 99).items).toEqual([8, 9]);
    expect(page([], 9, 0)).toEqual({ items: [], pages: 1 });
  });
});
