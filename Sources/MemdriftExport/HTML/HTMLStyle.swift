/// The inline style sheet and script of the HTML report.
enum HTMLAssets {
    /// The report's style sheet; chart and flame colours are variables so the dark theme can swap them.
    static let css = #"""

        :root {
          --bg: #f4f6f9; --card: #ffffff; --fg: #1c2230; --muted: #5d6778; --border: #dfe3ea;
          --grid: #e8ebf0; --axis: #8b94a3; --accent: #2f5fd0;
          --heap: #2563eb; --rss: #e8710a; --trend: #c0264f; --warmup: rgba(100, 116, 139, 0.16);
          --row-alt: #f8f9fb; --tip-bg: #1f2533; --tip-fg: #f3f5f9;
          --good: #16794a; --good-bg: #dcf3e6; --bad: #b4232f; --bad-bg: #fde2e4;
          --warn: #a54a06; --warn-bg: #fdebd3; --info: #3a4fb0; --info-bg: #e2e7fb;
          --neutral: #4f5968; --neutral-bg: #e8ebf0;
          --sans: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
          --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace;
          color-scheme: light dark;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #12151c; --card: #1b1f29; --fg: #e3e7ef; --muted: #9aa3b2; --border: #2d3340;
            --grid: #2a303c; --axis: #6d7686; --accent: #7aa2ff;
            --heap: #5b8dff; --rss: #ff9838; --trend: #ff5c86; --warmup: rgba(148, 163, 184, 0.14);
            --row-alt: #1f2430; --tip-bg: #eef1f6; --tip-fg: #161a22;
            --good: #6fdc9f; --good-bg: #173527; --bad: #ff8a92; --bad-bg: #3d1b20;
            --warn: #ffb36b; --warn-bg: #3b2714; --info: #a7b5ff; --info-bg: #232b4a;
            --neutral: #b6bdc9; --neutral-bg: #2a303c;
          }
        }
        * { box-sizing: border-box; }
        .reason { margin: 0 0 12px; color: var(--muted); }
        .warning { color: var(--warn); }
        .folded { color: var(--muted); margin: 10px 0 0; }
        html { background: var(--bg); }
        body { margin: 0; color: var(--fg); font: 14px/1.45 var(--sans); -webkit-text-size-adjust: 100%; }
        code, kbd, .fn, .loc, .command { font-family: var(--mono); }
        kbd { font-size: 0.85em; padding: 0 4px; border: 1px solid var(--border); border-radius: 3px; background: var(--bg); }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        h1 { font-size: 22px; margin: 0 0 4px; font-weight: 650; overflow-wrap: anywhere; }
        h2 { font-size: 17px; margin: 0; font-weight: 650; }
        h3 { font-size: 14px; margin: 22px 0 8px; font-weight: 650; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
        .page-header { display: flex; justify-content: space-between; align-items: center; gap: 24px;
          padding: 20px 28px; background: var(--card); border-bottom: 1px solid var(--border); }
        .page-header .meta { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
        .session-verdict { display: flex; flex-direction: column; align-items: flex-end; gap: 4px; flex: none; }
        .session-verdict .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
        .session-verdict .badge { font-size: 16px; padding: 4px 14px; }
        main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 8px; }
        .card { background: var(--card); border: 1px solid var(--border); border-radius: 10px; padding: 18px 22px 20px; margin-bottom: 20px;
          box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05); }
        .overview h2 { margin-bottom: 12px; }
        .process-head { display: flex; align-items: center; justify-content: space-between; gap: 16px; }
        .process-head h2 { overflow-wrap: anywhere; }
        .process-head .command { font-size: 15px; }
        .pid { color: var(--muted); font-weight: 400; font-size: 14px; margin-left: 6px; white-space: nowrap; }
        .badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 650; overflow-wrap: break-word;
          letter-spacing: 0.02em; max-width: 28em; }
        .tone-good { color: var(--good); background: var(--good-bg); }
        .tone-bad { color: var(--bad); background: var(--bad-bg); }
        .tone-warn { color: var(--warn); background: var(--warn-bg); }
        .tone-info { color: var(--info); background: var(--info-bg); }
        .tone-neutral { color: var(--neutral); background: var(--neutral-bg); }
        .facts { display: flex; flex-wrap: wrap; gap: 10px 28px; margin: 14px 0 0; }
        .facts div { min-width: 110px; }
        .facts dt { font-size: 12px; color: var(--muted); }
        .facts dd { margin: 2px 0 0; font-weight: 600; font-variant-numeric: tabular-nums; }
        .table-wrap { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--border); vertical-align: top; }
        th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap; }
        tbody tr:nth-child(even) { background: var(--row-alt); }
        .num { text-align: right; white-space: nowrap; }
        td.command { overflow-wrap: anywhere; min-width: 14em; }
        .stack { margin: 0; padding-left: 22px; font-size: 12.5px; }
        .stack li { margin: 1px 0; overflow-wrap: anywhere; }
        .stack li::marker { color: var(--muted); }
        .fn { color: var(--fg); }
        .loc, .muted { color: var(--muted); }
        details summary { cursor: pointer; color: var(--accent); font-size: 12px; margin: 2px 0; }
        .empty { color: var(--muted); margin: 4px 0; }
        .legend { display: flex; flex-wrap: wrap; gap: 6px 20px; font-size: 12.5px; color: var(--muted); margin-bottom: 6px; }
        .key { display: inline-flex; align-items: center; gap: 7px; }
        .swatch { display: inline-block; width: 22px; height: 0; }
        .line-heap { border-top: 3px solid var(--heap); }
        .line-rss { border-top: 3px solid var(--rss); }
        .line-trend { border-top: 2px dashed var(--trend); }
        .area-warmup { height: 12px; width: 16px; background: var(--warmup); border: 1px solid var(--border); }
        .chart { position: relative; width: 100%; min-height: 300px; }
        .chart svg { display: block; overflow: visible; }
        .chart .grid { stroke: var(--grid); stroke-width: 1; shape-rendering: crispEdges; }
        .chart .axis { stroke: var(--axis); stroke-width: 1; shape-rendering: crispEdges; }
        .chart .tick { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
        .chart .axis-title { fill: var(--muted); font-size: 12px; font-weight: 600; }
        .chart .warmup { fill: var(--warmup); }
        .chart .warmup-label { fill: var(--muted); font-size: 11px; font-style: italic; }
        .chart .series { fill: none; stroke-width: 2.25; stroke-linejoin: round; stroke-linecap: round; }
        .chart .series.heap { stroke: var(--heap); }
        .chart .series.rss { stroke: var(--rss); }
        .chart .dot.heap { fill: var(--heap); }
        .chart .dot.rss { fill: var(--rss); }
        .chart .trend { stroke: var(--trend); stroke-width: 2; stroke-dasharray: 7 5; fill: none; }
        .chart .cursor { stroke: var(--axis); stroke-width: 1; stroke-dasharray: 3 3; }
        .chart .cursor-dot { stroke: var(--card); stroke-width: 2; }
        .chart .overlay { fill: transparent; cursor: crosshair; }
        .flame-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; margin-bottom: 8px; }
        .flame-search { font: inherit; padding: 5px 10px; width: 280px; max-width: 100%; border: 1px solid var(--border); border-radius: 6px;
          background: var(--card); color: var(--fg); }
        .flame-search:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
        .flame-reset { font: inherit; padding: 5px 12px; border: 1px solid var(--border); border-radius: 6px; background: var(--bg); color: var(--fg); cursor: pointer; }
        .flame-reset:disabled { opacity: 0.5; cursor: default; }
        .flame-match { color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
        .flame-match.hit { color: var(--fg); }
        .flame-crumbs { font-size: 12.5px; color: var(--muted); margin-bottom: 6px; overflow-wrap: anywhere; min-height: 19px; }
        .flame-crumbs button { font: inherit; font-family: var(--mono); color: var(--accent); background: none; border: 0; padding: 0; cursor: pointer; }
        .flame-crumbs button:hover { text-decoration: underline; }
        .flame-crumbs .sep { margin: 0 6px; }
        .flame-crumbs .current { font-family: var(--mono); color: var(--fg); }
        .flame { position: relative; width: 100%; min-height: 24px; }
        .flame:focus { outline: none; }
        .flame:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
        .flame svg { display: block; }
        .flame g.frame { cursor: pointer; }
        .flame g.frame rect { stroke: var(--card); stroke-width: 1; }
        .flame g.frame:hover rect { stroke: var(--fg); }
        .flame g.frame.ancestor rect { opacity: 0.55; }
        .flame text { font-family: var(--mono); font-size: 11.5px; fill: #1b1d22; pointer-events: none; }
        .hint { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
        .tooltip { position: fixed; z-index: 10; max-width: 520px; padding: 7px 10px; border-radius: 6px; background: var(--tip-bg); color: var(--tip-fg);
          font-size: 12.5px; line-height: 1.4; pointer-events: none; box-shadow: 0 4px 14px rgba(0, 0, 0, 0.25); }
        .tooltip .tip-title { font-family: var(--mono); font-weight: 600; overflow-wrap: anywhere; margin-bottom: 2px; }
        .tooltip .tip-row { font-variant-numeric: tabular-nums; }
        .tooltip .tip-note { opacity: 0.75; font-size: 11.5px; }
        .error { color: var(--bad); font-weight: 600; }
        .noscript { text-align: center; color: var(--bad); }
        footer { text-align: center; color: var(--muted); font-size: 12px; padding: 6px 0 24px; }
        @media print {
          .flame-toolbar, .hint, .tooltip { display: none; }
          .card { break-inside: avoid; box-shadow: none; }
        }

        """#
}
