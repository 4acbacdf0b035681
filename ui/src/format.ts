// Formatting for people (pure).

export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

export function clock(t: number | string | Date): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function shortTime(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(t: string | number): string {
  return new Date(t).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function isoDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function percent(x: number): string {
  return `${Math.round(x * 100)}%`;
}

export const LABEL_COLOURS: Record<string, string> = {
  person: "#f5a524",
  car: "#3ea6ff",
  truck: "#7aa2ff",
  motorcycle: "#c084fc",
  bicycle: "#34d399",
  dog: "#f472b6",
  cat: "#fb7185",
};

export function labelColour(label: string): string {
  if (LABEL_COLOURS[label]) return LABEL_COLOURS[label];
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 70% 60%)`;
}

export function timezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
