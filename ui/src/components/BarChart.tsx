// A small stacked bar chart in SVG (no chart library needed for this).

export interface Bar {
  label: string;
  parts: { key: string; value: number; colour: string }[];
}

export function BarChart({ bars, height = 160, format }: { bars: Bar[]; height?: number; format: (v: number) => string }) {
  const max = Math.max(1, ...bars.map((b) => b.parts.reduce((s, p) => s + p.value, 0)));
  const width = 960;
  const slot = width / Math.max(1, bars.length);
  const barWidth = Math.min(36, Math.max(3, slot - 4));
  return (
    <svg className="chart" viewBox={`-24 0 ${width + 48} ${height + 24}`} role="img">
      {bars.map((bar, i) => {
        let y = height;
        const x = i * slot + (slot - barWidth) / 2;
        const total = bar.parts.reduce((s, p) => s + p.value, 0);
        return (
          <g key={bar.label + i}>
            <title>{`${bar.label}: ${format(total)}`}</title>
            {bar.parts.map((part) => {
              const h = (part.value / max) * height;
              y -= h;
              return <rect key={part.key} x={x} y={y} width={barWidth} height={h} fill={part.colour} rx={2} />;
            })}
            {(bars.length <= 12 || i % Math.ceil(bars.length / 12) === 0) && (
              <text x={x + barWidth / 2} y={height + 16} textAnchor="middle" className="chart-label">
                {bar.label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
