// A small SVG line chart for benchmark output (memory against sessions): enough to see
// flat or growing lines at a glance, with no plotting dependency.

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Horizontal reference lines, e.g. the memory limit. */
  rules?: { y: number; label: string }[];
  width?: number;
  height?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
}

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 960;
  const height = options.height ?? 480;
  const m = { left: 70, right: 200, top: 40, bottom: 50 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = options.series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map(([x]) => x));
  const yMax = Math.max(1, ...all.map(([, y]) => y), ...(options.rules ?? []).map((r) => r.y)) * 1.08;
  const sx = (x: number): number => m.left + (x / xMax) * plotW;
  const sy = (y: number): number => m.top + plotH - (y / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(options.title)}</text>`,
  ];
  const yStep = niceStep(yMax, 6);
  for (let y = 0; y <= yMax; y += yStep) {
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${sy(y) + 4}" text-anchor="end">${y}</text>`);
  }
  const xStep = niceStep(xMax, 8);
  for (let x = 0; x <= xMax; x += xStep) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${m.top}" y2="${m.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${sx(x)}" y="${m.top + plotH + 18}" text-anchor="middle">${x >= 1000 ? `${x / 1000}k` : x}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  for (const rule of options.rules ?? []) {
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${sy(rule.y)}" y2="${sy(rule.y)}" stroke="#c00" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${m.left + 6}" y="${sy(rule.y) - 5}" fill="#c00">${esc(rule.label)}</text>`);
  }
  options.series.forEach((s, i) => {
    const path = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    const ly = m.top + 10 + i * 20;
    out.push(
      `<line x1="${width - m.right + 15}" x2="${width - m.right + 45}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${width - m.right + 52}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
