import { isoDay } from "../format";

/** A month of days; those with footage can be chosen. Weeks start on Monday. */
export function Calendar({ month, days, selected, onSelect, onMonth }: {
  month: Date;
  days: Set<string>;
  selected: string;
  onSelect: (day: string) => void;
  onMonth: (d: Date) => void;
}) {
  const first = new Date(month.getFullYear(), month.getMonth(), 1);
  const offset = (first.getDay() + 6) % 7;
  const count = new Date(month.getFullYear(), month.getMonth() + 1, 0).getDate();
  const cells = [...Array(offset).fill(null), ...Array.from({ length: count }, (_, i) => i + 1)];
  return (
    <div className="calendar">
      <div className="calendar-head">
        <button onClick={() => onMonth(new Date(month.getFullYear(), month.getMonth() - 1, 1))} aria-label="Previous month">‹</button>
        <span>{month.toLocaleDateString([], { month: "long", year: "numeric" })}</span>
        <button onClick={() => onMonth(new Date(month.getFullYear(), month.getMonth() + 1, 1))} aria-label="Next month">›</button>
      </div>
      <div className="calendar-grid">
        {["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map((d) => (
          <span key={d} className="weekday">{d}</span>
        ))}
        {cells.map((n, i) => {
          if (n === null) return <span key={`e${i}`} />;
          const day = isoDay(new Date(month.getFullYear(), month.getMonth(), n));
          const cls = [days.has(day) ? "has" : "", day === selected ? "selected" : ""].join(" ");
          return (
            <button key={day} className={`day ${cls}`} onClick={() => onSelect(day)} disabled={!days.has(day)} data-day={day}>
              {n}
            </button>
          );
        })}
      </div>
    </div>
  );
}
