extension HTMLAssets {
    /// The report's script: draws every chart and flame graph from the embedded JSON.
    ///
    /// It must never contain a closing script tag or an HTML comment opener, and it builds all
    /// data-derived text with textContent so names are never parsed as markup.
    static let script = #"""

        (() => {
          'use strict';

          const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
          // Parsing markup yields the SVG namespace without spelling its URI out in this file.
          const probe = document.createElement('div');
          probe.innerHTML = '<svg></svg>';
          const SVG_NS = probe.firstChild.namespaceURI;
          const tooltip = document.getElementById('md-tooltip');

          const num = (v) => {
            const x = typeof v === 'number' ? v : Number(v);
            return Number.isFinite(x) ? x : NaN;
          };
          const trimZeros = (s) => (s.indexOf('.') >= 0 ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

          function fmtBytes(b) {
            if (!Number.isFinite(b)) return '–';
            let x = Math.abs(b);
            let i = 0;
            while (x >= 1024 && i < UNITS.length - 1) { x /= 1024; i++; }
            const digits = i === 0 ? 0 : x < 10 ? 2 : x < 100 ? 1 : 0;
            return (b < 0 ? '−' : '') + x.toFixed(digits) + ' ' + UNITS[i];
          }

          function fmtShare(f) {
            if (!Number.isFinite(f)) return '–';
            const p = f * 100;
            return (p === 0 || p >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
          }

          function fmtDuration(seconds) {
            if (!Number.isFinite(seconds)) return '–';
            const s = Math.abs(seconds);
            const sign = seconds < 0 ? '−' : '';
            if (s < 60) return sign + trimZeros(s.toFixed(s < 10 ? 1 : 0)) + ' s';
            if (s < 3600) {
              const total = Math.round(s);
              const rest = total % 60;
              return sign + Math.floor(total / 60) + ' min' + (rest ? ' ' + rest + ' s' : '');
            }
            const minutes = Math.round(s / 60);
            const rest = minutes % 60;
            return sign + Math.floor(minutes / 60) + ' h' + (rest ? ' ' + rest + ' min' : '');
          }

          function svg(name, attrs, parent) {
            const e = document.createElementNS(SVG_NS, name);
            if (attrs) for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]);
            if (parent) parent.appendChild(e);
            return e;
          }

          function html(name, className, text, parent) {
            const e = document.createElement(name);
            if (className) e.className = className;
            if (text !== undefined) e.textContent = text;
            if (parent) parent.appendChild(e);
            return e;
          }

          // Tooltip shared by every chart and flame graph; rows are [text, className] pairs.
          function showTip(event, title, rows) {
            tooltip.textContent = '';
            html('div', 'tip-title', title, tooltip);
            for (const [text, cls] of rows) html('div', cls || 'tip-row', text, tooltip);
            tooltip.hidden = false;
            const pad = 14;
            const w = tooltip.offsetWidth;
            const h = tooltip.offsetHeight;
            let x = event.clientX + pad;
            let y = event.clientY + pad;
            if (x + w > window.innerWidth - 6) x = Math.max(6, event.clientX - pad - w);
            if (y + h > window.innerHeight - 6) y = Math.max(6, event.clientY - pad - h);
            tooltip.style.left = x + 'px';
            tooltip.style.top = y + 'px';
          }
          const hideTip = () => { tooltip.hidden = true; };

          // Step of about `raw` from 1, 2, 2.5 or 5 times a power of ten.
          function niceStep(raw, bases) {
            if (!(raw > 0)) return 1;
            const mag = Math.pow(10, Math.floor(Math.log10(raw)));
            for (const b of bases) if (b * mag >= raw * 0.999) return b * mag;
            return 10 * mag;
          }

          // Byte ticks in one binary unit for the whole axis, so labels read "50 MiB, 100 MiB".
          function byteAxis(lo, hi) {
            const span = Math.max(Math.abs(hi), Math.abs(lo));
            let i = 0;
            while (i < UNITS.length - 1 && span >= Math.pow(1024, i + 1)) i++;
            const unit = Math.pow(1024, i);
            const step = Math.max(niceStep((hi - lo) / unit / 5, [1, 2, 2.5, 5]) * unit, 1);
            const start = Math.floor(lo / step) * step;
            const end = Math.ceil(hi / step - 1e-9) * step;
            const ticks = [];
            for (let k = 0; start + k * step <= end + step / 2; k++) ticks.push(start + k * step);
            const label = (v) => (Math.abs(v) < step / 2 ? '0' : trimZeros((v / unit).toFixed(2)) + ' ' + UNITS[i]);
            return { lo: start, hi: Math.max(end, start + step), ticks, label };
          }

          // Time ticks in seconds, minutes, hours or days depending on the span, at round steps.
          function timeAxis(lo, hi) {
            const span = hi - lo;
            const [unit, name, steps] =
              span <= 180 ? [1, 's', [1, 2, 5, 10, 15, 20, 30, 60]] :
              span <= 3 * 3600 ? [60, 'min', [1, 2, 5, 10, 15, 20, 30, 60]] :
              span <= 4 * 86400 ? [3600, 'h', [1, 2, 3, 6, 12, 24]] : [86400, 'd', [1, 2, 5, 7, 14, 30]];
            const raw = span / unit / 7;
            let step = steps.find((s) => s >= raw);
            if (step === undefined) step = niceStep(raw, [1, 2, 5]);
            if (raw < 1) step = niceStep(raw, [1, 2, 2.5, 5]);
            step *= unit;
            const ticks = [];
            for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k++) ticks.push(k * step);
            const label = (v) => (Math.abs(v) < step / 2 ? '0' : trimZeros((v / unit).toFixed(2)) + ' ' + name);
            return { ticks, label };
          }

          function points(times, values) {
            const out = [];
            const n = Math.min(times.length, values.length);
            for (let i = 0; i < n; i++) {
              const t = num(times[i]);
              const v = num(values[i]);
              if (Number.isFinite(t) && Number.isFinite(v)) out.push([t, v]);
            }
            return out;
          }

          // Index of the point whose time is closest to t, in points sorted by time.
          function nearest(pts, t) {
            let lo = 0;
            let hi = pts.length - 1;
            while (hi - lo > 1) {
              const mid = (lo + hi) >> 1;
              if (pts[mid][0] < t) lo = mid; else hi = mid;
            }
            return Math.abs(pts[lo][0] - t) <= Math.abs(pts[hi][0] - t) ? lo : hi;
          }

          function drawChart(box, p) {
            box.textContent = '';
            const times = Array.isArray(p.times) ? p.times : [];
            const heap = points(times, Array.isArray(p.heapBytes) ? p.heapBytes : []);
            const rss = points(times, Array.isArray(p.rssBytes) ? p.rssBytes : []);
            if (!heap.length && !rss.length) {
              html('p', 'empty', 'No snapshots were recorded for this process.', box);
              box.dataset.rendered = 'true';
              return;
            }
            let tLo = 0;
            let tHi = -Infinity;
            let vLo = 0;
            let vHi = 0;
            for (const [t, v] of heap.concat(rss)) {
              tLo = Math.min(tLo, t); tHi = Math.max(tHi, t);
              vLo = Math.min(vLo, v); vHi = Math.max(vHi, v);
            }
            if (!(tHi > tLo)) tHi = tLo + 1;
            const warmup = Math.max(0, num(p.warmupSeconds) || 0);
            const slope = num(p.heapSlopeBytesPerSecond);
            const intercept = num(p.heapInterceptBytes);
            const fitFrom = Math.max(warmup, heap.length ? heap[0][0] : tLo);
            const fitTo = heap.length ? heap[heap.length - 1][0] : tHi;
            let trend = null;
            if (Number.isFinite(slope) && Number.isFinite(intercept) && fitTo > fitFrom) {
              trend = [[fitFrom, intercept + slope * fitFrom], [fitTo, intercept + slope * fitTo]];
              for (const [, v] of trend) { vLo = Math.min(vLo, v); vHi = Math.max(vHi, v); }
            }
            if (!(vHi > vLo)) vHi = vLo + 1024;
            const yAxis = byteAxis(vLo, vHi * 1.04);
            const xAxis = timeAxis(tLo, tHi);

            const W = Math.max(360, Math.floor(box.clientWidth || 800));
            const H = 300;
            const m = { left: 78, right: 18, top: 12, bottom: 48 };
            const pw = W - m.left - m.right;
            const ph = H - m.top - m.bottom;
            const X = (t) => m.left + ((t - tLo) / (tHi - tLo)) * pw;
            const Y = (v) => m.top + ph - ((v - yAxis.lo) / (yAxis.hi - yAxis.lo)) * ph;

            const root = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}` }, box);
            if (warmup > tLo) {
              const wx = X(Math.min(warmup, tHi));
              svg('rect', { class: 'warmup', x: m.left, y: m.top, width: wx - m.left, height: ph }, root);
              if (wx - m.left > 56) svg('text', { class: 'warmup-label', x: m.left + 6, y: m.top + 14 }, root).textContent = 'warm-up';
            }
            for (const v of yAxis.ticks) {
              const y = Math.round(Y(v)) + 0.5;
              svg('line', { class: 'grid', x1: m.left, x2: W - m.right, y1: y, y2: y }, root);
              svg('text', { class: 'tick', x: m.left - 8, y: y + 4, 'text-anchor': 'end' }, root).textContent = yAxis.label(v);
            }
            for (const t of xAxis.ticks) {
              const x = Math.round(X(t)) + 0.5;
              svg('line', { class: 'axis', x1: x, x2: x, y1: m.top + ph, y2: m.top + ph + 5 }, root);
              svg('text', { class: 'tick', x, y: m.top + ph + 18, 'text-anchor': 'middle' }, root).textContent = xAxis.label(t);
            }
            svg('line', { class: 'axis', x1: m.left, x2: W - m.right, y1: m.top + ph + 0.5, y2: m.top + ph + 0.5 }, root);
            svg('line', { class: 'axis', x1: m.left + 0.5, x2: m.left + 0.5, y1: m.top, y2: m.top + ph }, root);
            svg('text', { class: 'axis-title', x: m.left + pw / 2, y: H - 6, 'text-anchor': 'middle' }, root).textContent = 'Time since start';
            svg('text', {
              class: 'axis-title', x: 0, y: 0, 'text-anchor': 'middle',
              transform: `translate(14 ${m.top + ph / 2}) rotate(-90)`,
            }, root).textContent = 'Memory';

            const path = (pts) => pts.map(([t, v], i) => (i ? 'L' : 'M') + X(t).toFixed(1) + ' ' + Y(v).toFixed(1)).join('');
            for (const [pts, cls] of [[rss, 'rss'], [heap, 'heap']]) {
              if (!pts.length) continue;
              svg('path', { class: 'series ' + cls, d: path(pts) }, root);
              if (pts.length <= 150) {
                for (const [t, v] of pts) svg('circle', { class: 'dot ' + cls, cx: X(t).toFixed(1), cy: Y(v).toFixed(1), r: 2.2 }, root);
              }
            }
            if (trend) svg('path', { class: 'trend', d: path(trend) }, root);

            const cursor = svg('g', { visibility: 'hidden' }, root);
            const cursorLine = svg('line', { class: 'cursor', y1: m.top, y2: m.top + ph }, cursor);
            const heapDot = svg('circle', { class: 'cursor-dot dot heap', r: 4.5 }, cursor);
            const rssDot = svg('circle', { class: 'cursor-dot dot rss', r: 4.5 }, cursor);
            const overlay = svg('rect', { class: 'overlay', x: m.left, y: m.top, width: pw, height: ph }, root);
            const basis = heap.length ? heap : rss;
            overlay.addEventListener('pointermove', (event) => {
              const rect = root.getBoundingClientRect();
              const t = tLo + ((event.clientX - rect.left - m.left) / pw) * (tHi - tLo);
              const at = basis[nearest(basis, t)][0];
              const h = heap.length ? heap[nearest(heap, at)] : null;
              const r = rss.length ? rss[nearest(rss, at)] : null;
              const x = X(at);
              cursorLine.setAttribute('x1', x);
              cursorLine.setAttribute('x2', x);
              heapDot.setAttribute('visibility', h ? 'visible' : 'hidden');
              rssDot.setAttribute('visibility', r ? 'visible' : 'hidden');
              if (h) { heapDot.setAttribute('cx', X(h[0])); heapDot.setAttribute('cy', Y(h[1])); }
              if (r) { rssDot.setAttribute('cx', X(r[0])); rssDot.setAttribute('cy', Y(r[1])); }
              cursor.setAttribute('visibility', 'visible');
              const rows = [];
              if (h) rows.push(['Heap: ' + fmtBytes(h[1])]);
              if (r) rows.push(['RSS: ' + fmtBytes(r[1])]);
              if (trend && at >= fitFrom) rows.push(['Fitted heap: ' + fmtBytes(intercept + slope * at)]);
              if (at < warmup) rows.push(['in warm-up, excluded from the fit', 'tip-note']);
              showTip(event, 't = ' + fmtDuration(at), rows);
            });
            overlay.addEventListener('pointerleave', () => { cursor.setAttribute('visibility', 'hidden'); hideTip(); });
            box.dataset.rendered = 'true';
          }

          // Flattens the tree without recursion, since stacks can be hundreds of frames deep.
          function flatten(rootNode) {
            const nodes = [];
            const stack = [[rootNode, -1, 0]];
            while (stack.length) {
              const [n, parent, depth] = stack.pop();
              const i = nodes.length;
              const value = Math.max(0, num(n && n.value) || 0);
              nodes.push({ name: String(n && n.name !== undefined ? n.name : ''), value, parent, depth, kids: [] });
              if (parent >= 0) nodes[parent].kids.push(i);
              const children = n && Array.isArray(n.children) ? n.children : [];
              for (let c = children.length - 1; c >= 0; c--) stack.push([children[c], i, depth + 1]);
            }
            for (const node of nodes) {
              node.kids.sort((a, b) => nodes[b].value - nodes[a].value || (nodes[a].name < nodes[b].name ? -1 : nodes[a].name > nodes[b].name ? 1 : 0));
            }
            // A root whose value undercounts its children would make them overflow its box.
            const kidsTotal = nodes[0].kids.reduce((s, k) => s + nodes[k].value, 0);
            nodes[0].value = Math.max(nodes[0].value, kidsTotal);
            return nodes;
          }

          // Warm hues keyed by name, so a function keeps its colour across zooms and processes.
          function frameColor(name) {
            let h = 2166136261;
            for (let i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 16777619); }
            h >>>= 0;
            return `hsl(${8 + (h % 42)}, ${72 + ((h >>> 8) % 18)}%, ${60 + ((h >>> 16) % 12)}%)`;
          }

          const measureCtx = document.createElement('canvas').getContext('2d');
          function fitLabel(text, width, font) {
            measureCtx.font = font;
            if (measureCtx.measureText(text).width <= width) return text;
            let lo = 0;
            let hi = text.length;
            while (lo < hi) {
              const mid = (lo + hi + 1) >> 1;
              if (measureCtx.measureText(text.slice(0, mid) + '…').width <= width) lo = mid; else hi = mid - 1;
            }
            return lo >= 2 ? text.slice(0, lo) + '…' : '';
          }

          function setupFlame(section, box, rootNode) {
            const nodes = flatten(rootNode || { name: 'all', value: 0, children: [] });
            const total = nodes[0].value;
            const search = section.querySelector('.flame-search');
            const reset = section.querySelector('.flame-reset');
            const matchLabel = section.querySelector('.flame-match');
            const crumbs = section.querySelector('.flame-crumbs');
            const ROW = 20;
            const font = '11.5px ' + (getComputedStyle(box).getPropertyValue('--mono').trim() || 'monospace');
            let zoom = 0;
            let query = '';
            let matched = new Uint8Array(nodes.length);

            if (!(total > 0)) {
              box.textContent = '';
              html('p', 'empty', 'No growth was attributed to any call site.', box);
              if (search) search.disabled = true;
              box.dataset.rendered = 'true';
              return { render() {} };
            }

            // Share of growth under matching frames, counting a match inside another match once.
            function updateMatches() {
              matched = new Uint8Array(nodes.length);
              if (!query) {
                matchLabel.textContent = '';
                matchLabel.classList.remove('hit');
                box.dataset.matches = '0';
                return;
              }
              let bytes = 0;
              let frames = 0;
              const stack = [[0, false]];
              while (stack.length) {
                const [i, covered] = stack.pop();
                const hit = nodes[i].name.toLowerCase().includes(query);
                if (hit) { matched[i] = 1; frames++; if (!covered) bytes += nodes[i].value; }
                for (const k of nodes[i].kids) stack.push([k, covered || hit]);
              }
              box.dataset.matches = String(frames);
              matchLabel.classList.toggle('hit', frames > 0);
              matchLabel.textContent = frames
                ? `${frames} frame${frames === 1 ? '' : 's'} match: ${fmtBytes(bytes)} of ${fmtBytes(total)} (${fmtShare(bytes / total)} of growth)`
                : 'No frame matches.';
            }

            function zoomTo(i) {
              zoom = i;
              render();
            }

            function renderCrumbs() {
              crumbs.textContent = '';
              const path = [];
              for (let i = zoom; i >= 0; i = nodes[i].parent) path.unshift(i);
              if (path.length === 1) {
                crumbs.textContent = `Total growth ${fmtBytes(total)}. Click a frame to zoom in.`;
                return;
              }
              html('span', null, 'Zoomed into: ', crumbs);
              path.forEach((i, k) => {
                if (k) html('span', 'sep', '›', crumbs);
                if (i === zoom) {
                  html('span', 'current', nodes[i].name, crumbs);
                } else {
                  const b = html('button', null, nodes[i].name, crumbs);
                  b.type = 'button';
                  b.addEventListener('click', () => zoomTo(i));
                }
              });
              html('span', null, ` (${fmtBytes(nodes[zoom].value)}, ${fmtShare(nodes[zoom].value / total)} of growth)`, crumbs);
            }

            function render() {
              const W = Math.max(320, Math.floor(box.clientWidth || 800));
              const items = [];
              const path = [];
              for (let i = zoom; i >= 0; i = nodes[i].parent) path.unshift(i);
              path.forEach((i, row) => items.push({ i, x: 0, w: W, row, ancestor: i !== zoom }));
              // Children share their parent's box in proportion to value; slivers under half a pixel are dropped.
              const stack = [items[items.length - 1]];
              while (stack.length) {
                const it = stack.pop();
                const node = nodes[it.i];
                const sum = node.kids.reduce((s, k) => s + nodes[k].value, 0);
                const denom = Math.max(node.value, sum);
                if (!(denom > 0)) continue;
                let x = it.x;
                for (const k of node.kids) {
                  const w = (it.w * nodes[k].value) / denom;
                  if (w >= 0.5) {
                    const child = { i: k, x, w, row: it.row + 1, ancestor: false };
                    items.push(child);
                    stack.push(child);
                  }
                  x += w;
                }
              }
              const rows = items.reduce((r, it) => Math.max(r, it.row), 0) + 1;
              const H = rows * ROW;
              box.textContent = '';
              const root = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Growth flame graph' }, box);
              for (const it of items) {
                const node = nodes[it.i];
                const g = svg('g', { class: 'frame' + (it.ancestor ? ' ancestor' : '') + (matched[it.i] ? ' matched' : ''), 'data-i': it.i }, root);
                const fill = matched[it.i] ? '#e26ee8' : it.i === 0 ? '#c9ced8' : frameColor(node.name);
                svg('rect', { x: it.x.toFixed(2), y: it.row * ROW, width: Math.max(it.w - 0.5, 0.5).toFixed(2), height: ROW - 1, rx: 2, fill }, g);
                if (it.w > 24) {
                  const label = fitLabel(node.name, it.w - 8, font);
                  if (label) svg('text', { x: (it.x + 4).toFixed(2), y: it.row * ROW + 14 }, g).textContent = label;
                }
              }
              reset.disabled = zoom === 0;
              box.dataset.zoomDepth = String(nodes[zoom].depth);
              box.dataset.zoom = nodes[zoom].name;
              box.dataset.frames = String(items.length);
              renderCrumbs();
              box.dataset.rendered = 'true';
            }

            const frameAt = (event) => {
              const g = event.target.closest ? event.target.closest('g.frame') : null;
              return g ? Number(g.getAttribute('data-i')) : -1;
            };
            box.addEventListener('click', (event) => {
              const i = frameAt(event);
              if (i >= 0 && i !== zoom) { hideTip(); zoomTo(i); }
            });
            box.addEventListener('pointermove', (event) => {
              const i = frameAt(event);
              if (i < 0) { hideTip(); return; }
              const node = nodes[i];
              const rows = [[fmtBytes(node.value) + ' · ' + fmtShare(node.value / total) + ' of growth']];
              if (zoom !== 0 && node.depth >= nodes[zoom].depth) rows.push([fmtShare(node.value / nodes[zoom].value) + ' of the zoomed frame']);
              if (node.parent >= 0 && nodes[node.parent].value > 0) rows.push([fmtShare(node.value / nodes[node.parent].value) + ' of its caller', 'tip-note']);
              rows.push([i === zoom ? (i === 0 ? 'the whole graph' : 'zoomed frame') : 'click to zoom', 'tip-note']);
              showTip(event, node.name, rows);
            });
            box.addEventListener('pointerleave', hideTip);
            reset.addEventListener('click', () => zoomTo(0));
            search.addEventListener('input', () => {
              query = search.value.trim().toLowerCase();
              updateMatches();
              render();
            });
            section.addEventListener('keydown', (event) => {
              if (event.key !== 'Escape') return;
              if (search.value) { search.value = ''; query = ''; updateMatches(); }
              zoom = 0;
              render();
            });
            updateMatches();
            render();
            return { render };
          }

          function fail(box, message, error) {
            box.textContent = '';
            html('p', 'error', message, box);
            console.error('memdrift report: ' + message, error);
          }

          let data;
          try {
            data = JSON.parse(document.getElementById('memdrift-data').textContent);
          } catch (error) {
            console.error('memdrift report: the embedded data is not valid JSON', error);
            return;
          }
          const processes = data && Array.isArray(data.processes) ? data.processes : [];
          const redraws = [];
          processes.forEach((p, index) => {
            const section = document.getElementById('process-' + index);
            if (!section) return;
            const chart = section.querySelector('.chart');
            const flame = section.querySelector('.flame');
            const drawThisChart = () => {
              try { drawChart(chart, p); } catch (error) { fail(chart, 'The chart could not be drawn.', error); }
            };
            drawThisChart();
            redraws.push(drawThisChart);
            try {
              const graph = setupFlame(section, flame, p.flame);
              redraws.push(() => graph.render());
            } catch (error) {
              fail(flame, 'The flame graph could not be drawn.', error);
            }
          });
          let pending = 0;
          let lastWidth = window.innerWidth;
          window.addEventListener('resize', () => {
            if (window.innerWidth === lastWidth) return;
            lastWidth = window.innerWidth;
            clearTimeout(pending);
            pending = setTimeout(() => redraws.forEach((f) => f()), 120);
          });
          document.body.dataset.reportRendered = 'true';
        })();

        """#
}
