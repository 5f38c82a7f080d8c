// canary dashboard: small SVG charts, no library. Used by the live page and by the HTML report.
// Everything is built with createElementNS and textContent: no markup from data is ever parsed.
(function () {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    }
    for (const c of children || []) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function finite(v) {
    return typeof v === 'number' && Number.isFinite(v);
  }

  // Round numbers for axis ticks between lo and hi, about n of them.
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, n);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
      if (out.length > 50) break;
    }
    return out;
  }

  function fmtNum(v) {
    if (!finite(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
    if (a >= 0.001 || a === 0) return String(Number(v.toFixed(4)));
    return v.toExponential(2);
  }

  // A line chart.
  //   opts.series: [{points: [{x, y, title, cls}], cls, step, dots, label}]
  //   opts.x: {min, max, ticks: [{v, label}]}   opts.y: {min, max, format, unit}
  //   opts.hlines: [{y, cls, label}]            opts.title: the chart's accessible name
  function lineChart(opts) {
    const W = opts.width || 640;
    const H = opts.height || 200;
    const m = { l: 48, r: 12, t: 12, b: 28 };
    const series = (opts.series || []).map((s) => ({
      ...s,
      points: (s.points || []).filter((p) => finite(p.x) && finite(p.y)),
    }));
    const ys = [];
    for (const s of series) for (const p of s.points) ys.push(p.y);
    for (const h of opts.hlines || []) if (finite(h.y)) ys.push(h.y);
    const yopt = opts.y || {};
    let ylo = finite(yopt.min) ? yopt.min : Math.min(...ys, Infinity);
    let yhi = finite(yopt.max) ? yopt.max : Math.max(...ys, -Infinity);
    if (!finite(ylo) || !finite(yhi)) {
      ylo = 0;
      yhi = 1;
    }
    if (yhi === ylo) {
      const pad = Math.abs(yhi) * 0.1 || 1;
      ylo -= pad;
      yhi += pad;
    } else if (!finite(yopt.min) || !finite(yopt.max)) {
      const pad = (yhi - ylo) * 0.12;
      if (!finite(yopt.min)) ylo -= pad;
      if (!finite(yopt.max)) yhi += pad;
    }
    const xo = opts.x || {};
    let xlo = finite(xo.min) ? xo.min : 0;
    let xhi = finite(xo.max) ? xo.max : 1;
    if (!(xhi > xlo)) xhi = xlo + 1;
    const sx = (x) => m.l + ((x - xlo) / (xhi - xlo)) * (W - m.l - m.r);
    const sy = (y) => H - m.b - ((y - ylo) / (yhi - ylo)) * (H - m.t - m.b);
    const fmt = yopt.format || fmtNum;

    const root = svg('svg', {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart ' + (opts.cls || ''),
      role: 'img',
      'aria-label': opts.title || 'chart',
      preserveAspectRatio: 'xMidYMid meet',
    });
    if (opts.title) root.appendChild(svg('title', {}, [opts.title]));
    const grid = svg('g', { class: 'grid' });
    for (const t of ticks(ylo, yhi, 4)) {
      grid.appendChild(svg('line', { x1: m.l, x2: W - m.r, y1: sy(t), y2: sy(t) }));
      grid.appendChild(
        svg('text', { x: m.l - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, [fmt(t)])
      );
    }
    for (const t of xo.ticks || []) {
      if (!(t.v >= xlo && t.v <= xhi)) continue;
      grid.appendChild(svg('line', { x1: sx(t.v), x2: sx(t.v), y1: m.t, y2: H - m.b, class: 'v' }));
      grid.appendChild(
        svg('text', { x: sx(t.v), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, [
          t.label,
        ])
      );
    }
    root.appendChild(grid);
    root.appendChild(
      svg('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: 'frame' })
    );
    for (const h of opts.hlines || []) {
      if (!finite(h.y)) continue;
      root.appendChild(
        svg('line', { x1: m.l, x2: W - m.r, y1: sy(h.y), y2: sy(h.y), class: 'hline ' + (h.cls || '') }, [
          svg('title', {}, [h.label || fmt(h.y)]),
        ])
      );
    }
    for (const s of series) {
      if (!s.points.length) continue;
      if (s.line !== false) {
        let d = '';
        s.points.forEach((p, i) => {
          const X = sx(p.x).toFixed(1);
          const Y = sy(p.y).toFixed(1);
          if (i === 0) d += `M${X},${Y}`;
          else if (s.step) d += `H${X}V${Y}`;
          else d += `L${X},${Y}`;
        });
        if (s.extendTo !== undefined && finite(s.extendTo)) d += `H${sx(s.extendTo).toFixed(1)}`;
        root.appendChild(svg('path', { d, class: 'series ' + (s.cls || '') }, [svg('title', {}, [s.label || ''])]));
      }
      if (s.dots !== false) {
        for (const p of s.points) {
          root.appendChild(
            svg('circle', { cx: sx(p.x), cy: sy(p.y), r: p.r || 3.5, class: 'dot ' + (s.cls || '') + ' ' + (p.cls || '') }, [
              svg('title', {}, [p.title || fmt(p.y)]),
            ])
          );
        }
      }
    }
    return root;
  }

  // Weight over time: the canary weight as a step line, analyses as dots coloured by verdict,
  // manual commands as marks on the time axis.
  function weightChart(view, now) {
    const events = view.events || [];
    const st = view.status && view.status.state;
    if (!events.length && !st) return null;
    const t0 = events.length ? events[0].atMs : st.startedMs;
    const terminal = st && ['promoted', 'rolledBack', 'failed'].includes(st.phase);
    const tEnd = Math.max(
      events.length ? events[events.length - 1].atMs : t0,
      st ? st.updatedMs : t0,
      terminal ? 0 : now
    );
    const pts = [];
    for (const e of events) pts.push({ x: e.atMs - t0, y: e.weight, title: `${e.kind}: ${e.weight}%` });
    if (st && !pts.length) pts.push({ x: st.updatedMs - t0, y: st.weight });
    const analyses = (view.analyses || []).map((a) => ({
      x: a.atMs - t0,
      y: a.weight,
      cls: 'v-' + a.verdict,
      r: 5,
      title: `step ${a.step + 1} at ${a.weight}%: ${a.verdict} — ${a.summary}`,
    }));
    const span = Math.max(1000, tEnd - t0);
    const xt = timeTicks(span).map((v) => ({ v, label: fmtDur(v) }));
    const hlines = [];
    const steps = (view.spec && view.spec.steps) || [];
    // A line per step helps with a few steps and clutters with many.
    if (steps.length <= 8) for (const w of steps) hlines.push({ y: w, cls: 'step', label: `step at ${w}%` });
    const marks = events
      .filter((e) => e.kind === 'command' || e.kind === 'paused')
      .map((e) => ({ x: e.atMs - t0, y: 0, cls: 'mark-' + e.kind, r: 4, title: e.message }));
    return lineChart({
      title: `canary weight over time for ${view.group}`,
      cls: 'weight-chart',
      width: 720,
      height: 220,
      x: { min: 0, max: span, ticks: xt },
      y: { min: 0, max: 100, format: (v) => v + '%' },
      hlines,
      series: [
        { points: pts, cls: 'weight', step: true, dots: false, label: 'canary weight', extendTo: span },
        { points: analyses, cls: 'analysis', line: false, label: 'analyses' },
        { points: marks, cls: 'marks', line: false, label: 'commands and pauses' },
      ],
    });
  }

  // One check of one app across the analysed steps: canary, stable, and its limit line(s).
  function checkChart(name, app, rows) {
    const n = rows.length;
    const canary = [];
    const stable = [];
    const limits = {};
    rows.forEach((r, i) => {
      const c = r.check;
      if (finite(c.canary)) {
        canary.push({ x: i, y: c.canary, cls: 'v-' + c.verdict, title: `step ${r.step + 1} (${r.weight}%): canary ${fmtNum(c.canary)} — ${c.verdict}: ${c.reason}` });
      }
      if (finite(c.stable)) stable.push({ x: i, y: c.stable, title: `stable ${fmtNum(c.stable)}` });
      (c.limits || []).forEach((l, j) => {
        const k = l.kind + j;
        (limits[k] = limits[k] || []).push({ x: i, y: l.value, title: `limit ${l.text}` });
      });
    });
    const series = [];
    for (const [k, pts] of Object.entries(limits)) {
      series.push({ points: pts, cls: 'limit', dots: false, label: 'limit' });
    }
    series.push({ points: stable, cls: 'stable', label: 'stable' });
    series.push({ points: canary, cls: 'canary', label: 'canary' });
    // A single point still gets a visible limit: draw limits as horizontal lines then.
    const hlines = [];
    if (n === 1) {
      for (const pts of Object.values(limits)) hlines.push({ y: pts[0].y, cls: 'limit', label: pts[0].title });
    }
    return lineChart({
      title: `${name} of ${app} per step: canary, stable and limit`,
      cls: 'check-chart',
      width: 340,
      height: 170,
      x: {
        min: -0.5,
        max: n - 0.5,
        ticks: rows.map((r, i) => ({ v: i, label: `s${r.step + 1}·${r.weight}%` })),
      },
      hlines,
      series: n === 1 ? series.filter((s) => s.cls !== 'limit') : series,
    });
  }

  // Time ticks on whole seconds, minutes or hours, about six of them.
  function timeTicks(span) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600].map((s) => s * 1000);
    const step = steps.find((s) => span / s <= 7) || Math.ceil(span / 7 / 3600000) * 3600000;
    const out = [];
    for (let v = 0; v <= span && out.length < 50; v += step) out.push(v);
    return out;
  }

  function fmtDur(ms) {
    const s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
  }

  window.CanaryCharts = { lineChart, weightChart, checkChart, fmtNum, fmtDur, svg };
})();
