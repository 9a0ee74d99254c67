/** The report page's inline stylesheet: system fonts only, print-friendly. */
export const PAGE_STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #fafafa; color: #1d1d1f; font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 32px 56px; background: #fff; box-shadow: 0 0 0 1px #e6e6e6; }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e3e3e3; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.lede, p.note, figcaption { color: #555; font-size: 13.5px; margin: 4px 0 10px; }
figure { margin: 8px 0 18px; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; }
svg .chart-title { font-size: 14px; font-weight: 600; fill: #1d1d1f; }
svg .tick { fill: #444; font-size: 11.5px; font-variant-numeric: tabular-nums; }
svg .legend { fill: #1d1d1f; font-size: 12.5px; }
svg .axis-label { fill: #333; font-size: 12.5px; }
svg .grid { stroke: #ececec; stroke-width: 1; }
svg .axis, svg .tick-mark { stroke: #888; stroke-width: 1; }
div.table-scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 9px; white-space: nowrap; border-bottom: 1px solid #e6e6e6; text-align: right; vertical-align: top; }
th { font-weight: 600; border-bottom: 1.5px solid #999; background: #f6f6f6; }
th:first-child, td:first-child { text-align: left; }
td.times { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; white-space: nowrap; }
.unsolved { color: #aaa; }
.sep { color: #c4c4c4; }
.public-only { color: #b35900; }
.solved-all { color: #006b4f; font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.charts-2 { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 20px; }
ul.warnings { color: #8a4b00; font-size: 13.5px; }
table.config th:last-child { text-align: left; }
table.config td:last-child { text-align: left; white-space: normal; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; word-break: break-all; }
table.protocols th, table.protocols td { text-align: left; white-space: normal; }
table.protocols td:nth-child(2), table.protocols td:nth-child(3) { text-align: right; white-space: nowrap; }
table.protocols td:nth-child(5) { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; min-width: 14em; }
table.protocols .note { color: #555; font-size: 13px; }
@media print { body { background: #fff; } main { box-shadow: none; } }
`;
