// canary dashboard: the page. Live mode reads /api/config and the /api/events stream; report mode
// (an exported HTML file) reads the view embedded in #report-data and draws the same page without
// the stream or the actions. All text from data goes through textContent, never innerHTML.
(function () {
  'use strict';
  const C = window.CanaryCharts;
  const $ = (sel, root) => (root || document).querySelector(sel);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  const S = {
    report: false,
    config: { allowActions: false, tokenRequired: false },
    groups: [], // [{group, controllable}]
    views: new Map(), // group -> view
    shown: new Map(), // group -> the JSON last drawn, to skip redraws
    selected: null,
    generatedMs: null,
  };

  const TERMINAL = ['promoted', 'rolledBack', 'failed'];
  const PHASE_WORDS = {
    pending: 'pending',
    progressing: 'progressing',
    paused: 'paused',
    promoting: 'promoting',
    promoted: 'promoted',
    rollingBack: 'rolling back',
    rolledBack: 'rolled back',
    failed: 'failed',
  };
  const ACTIONS = [
    { id: 'pause', label: 'Pause', phases: ['progressing'], text: 'Hold the rollout at its current step. Traffic stays as it is.' },
    { id: 'resume', label: 'Resume', phases: ['paused'], text: 'Continue the rollout from where it was held.' },
    { id: 'promote', label: 'Promote step', phases: ['progressing', 'paused'], text: 'Go to the next step now (promote after the last one).' },
    { id: 'promote-full', label: 'Promote fully', phases: ['progressing', 'paused'], text: 'Promote now, skipping the remaining steps and analysis: stable takes the canary’s version.', danger: true },
    { id: 'rollback', label: 'Roll back', phases: ['pending', 'progressing', 'paused', 'promoting'], text: 'Take the canary out of traffic and scale it down. Stable is untouched.', danger: true },
  ];

  function clock(ms) {
    if (!ms) return '–';
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  function when(ms) {
    if (!ms) return '–';
    return new Date(ms).toLocaleString([], { hour12: false });
  }
  // A distance to a limit: "+0.01" inside, "−0.4167" outside.
  function signed(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    return (v < 0 ? '−' : '+') + C.fmtNum(Math.abs(v));
  }
  function phaseBadge(phase, id) {
    return el('span', { class: 'phase phase-' + (phase || 'none'), id, text: PHASE_WORDS[phase] || 'no rollout' });
  }

  // ---- live mode: config, stream, selection -----------------------------------------------------

  async function startLive() {
    try {
      const r = await fetch('/api/config', { cache: 'no-store' });
      if (r.ok) S.config = await r.json();
    } catch (_) {
      /* the stream's errors say it */
    }
    const mode = $('#mode');
    if (mode) {
      mode.textContent = S.config.allowActions ? 'actions allowed' : 'read-only';
      mode.className = 'badge ' + (S.config.allowActions ? 'warn' : 'muted');
    }
    const es = new EventSource('/api/events');
    es.addEventListener('open', () => setConn('live'));
    es.addEventListener('error', () => setConn(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
    es.addEventListener('groups', (e) => {
      try {
        S.groups = JSON.parse(e.data) || [];
      } catch (_) {
        return;
      }
      const names = new Set(S.groups.map((g) => g.group));
      for (const k of [...S.views.keys()]) if (!names.has(k)) S.views.delete(k);
      render();
    });
    es.addEventListener('group', (e) => {
      let v;
      try {
        v = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      if (!v || typeof v.group !== 'string') return;
      S.views.set(v.group, v);
      if (!S.groups.some((g) => g.group === v.group)) S.groups.push({ group: v.group, controllable: !!v.controllable });
      render();
    });
    window.addEventListener('hashchange', render);
    // Relative times and the weight chart's "now" move even without news.
    setInterval(() => {
      S.shown.clear();
      render();
    }, 5000);
  }

  function setConn(state) {
    const c = $('#conn');
    if (!c) return;
    c.className = 'conn ' + state;
    c.textContent = { live: '● live', reconnecting: '● reconnecting…', closed: '● disconnected' }[state] || state;
  }

  function selected() {
    const m = /^#\/g\/(.+)$/.exec(location.hash);
    const want = m ? decodeURIComponent(m[1]) : null;
    if (want && S.views.has(want)) return want;
    if (S.selected && S.views.has(S.selected) && !want) return S.selected;
    const first = S.groups.find((g) => S.views.has(g.group));
    return first ? first.group : null;
  }

  function render() {
    renderNav();
    const g = selected();
    S.selected = g;
    const main = $('#main');
    if (!main) return;
    if (!g) {
      if (!main.dataset.empty) {
        main.replaceChildren(el('p', { class: 'muted', text: S.groups.length ? 'Loading…' : 'No rollout known yet: give the dashboard a spec (-f) or start one with canary run.' }));
        main.dataset.empty = '1';
      }
      return;
    }
    delete main.dataset.empty;
    const v = S.views.get(g);
    const key = JSON.stringify(v);
    if (S.shown.get(g) === key && main.dataset.group === g) return;
    S.shown.set(g, key);
    main.dataset.group = g;
    main.replaceChildren(renderGroup(v));
  }

  function renderNav() {
    const nav = $('#groups');
    if (!nav) return;
    const items = S.groups.map((g) => {
      const v = S.views.get(g.group);
      const st = v && v.status && v.status.state;
      return el(
        'a',
        { href: '#/g/' + encodeURIComponent(g.group), 'data-group': g.group, class: 'group' + (g.group === S.selected ? ' selected' : '') },
        el('span', { class: 'name', text: g.group }),
        phaseBadge(st && st.phase),
        el('span', { class: 'w', text: st ? st.weight + '%' : '' }),
        g.controllable ? null : el('span', { class: 'ro', title: 'no spec given: read-only, from the saved state', text: 'read-only' })
      );
    });
    nav.replaceChildren(el('h2', { text: 'Groups' }), ...(items.length ? items : [el('p', { class: 'muted', text: 'none yet' })]));
  }

  // ---- one group ---------------------------------------------------------------------------------

  function stepsOf(v) {
    if (v.spec && v.spec.steps && v.spec.steps.length) return v.spec.steps;
    if (v.status && v.status.steps && v.status.steps.length) return v.status.steps;
    // A group without a spec: the weights its events went through.
    const n = Math.max(0, ...(v.events || []).map((e) => e.steps || 0));
    const w = new Array(n).fill(null);
    for (const e of v.events || []) if (e.kind === 'weightSet' && e.step < n) w[e.step] = e.weight;
    return w;
  }

  function renderGroup(v) {
    const st = v.status && v.status.state;
    const steps = stepsOf(v);
    const frag = document.createDocumentFragment();
    const head = el(
      'section',
      { class: 'summary card' },
      el('h2', {}, v.group, ' ', v.controllable ? null : el('span', { class: 'badge muted', text: 'read-only: saved state only' })),
      el(
        'div',
        { class: 'facts' },
        fact('phase', phaseBadge(st && st.phase, 'phase')),
        fact('step', el('span', { id: 'step', text: st ? `${st.step + 1} / ${steps.length || '?'}` : '–' })),
        fact('canary weight', el('span', { id: 'weight', class: 'big', text: st ? st.weight + '%' : '–' })),
        fact('driven', el('span', { id: 'driven', text: v.status ? (v.status.driven ? 'yes, ' + ((st && st.lease && st.lease.owner) || '') : 'no controller') : '–' })),
        fact('failed / inconclusive', st ? `${st.failures} / ${st.inconclusive}` : '–'),
        fact('started', st ? when(st.startedMs) : '–')
      ),
      st && st.cause ? el('p', { class: 'cause' + (st.phase === 'paused' ? ' held' : ''), id: 'cause' }, el('b', { text: st.phase === 'paused' ? 'why: ' : 'cause: ' }), st.cause) : null,
      st && st.command ? el('p', { class: 'muted', text: `command waiting for the controller: ${st.command} (from ${st.commandBy || '?'})` }) : null,
      v.error ? el('p', { class: 'error', text: 'cannot read the status now: ' + v.error }) : null,
      driftBox(v),
      S.report ? null : actions(v, st),
      timeline(v, st, steps)
    );
    frag.appendChild(head);

    const wc = C.weightChart(v, S.report ? S.generatedMs || Date.now() : Date.now());
    frag.appendChild(el('section', { class: 'card' }, el('h3', { text: 'Canary weight over time' }), wc ? el('div', { id: 'weight-chart' }, wc) : el('p', { class: 'muted', text: 'no events yet' }), legend()));

    frag.appendChild(analysisSection(v));
    frag.appendChild(splitsSection(v));
    frag.appendChild(eventsSection(v));
    if (!S.report) {
      frag.appendChild(
        el('p', { class: 'export' }, el('a', { href: `/api/groups/${encodeURIComponent(v.group)}/report`, download: `canary-report-${v.group}.html`, id: 'report-link', text: 'Export an HTML report of this rollout' }))
      );
    }
    return frag;
  }

  function driftBox(v) {
    const drift = (v.status && v.status.drift) || [];
    if (!drift.length) return null;
    return el(
      'div',
      { class: 'drift', id: 'drift' },
      el('b', { text: 'Drift: stable does not run what it should' }),
      el('ul', {}, drift.map((d) => el('li', { class: 'won-' + d.won, text: d.message })))
    );
  }

  function fact(label, value) {
    return el('div', { class: 'fact' }, el('span', { class: 'label', text: label }), typeof value === 'string' ? el('span', { text: value }) : value);
  }

  function legend() {
    return el(
      'p',
      { class: 'legend' },
      el('span', { class: 'key weight' }), ' canary weight  ',
      el('span', { class: 'key v-pass' }), ' analysis passed  ',
      el('span', { class: 'key v-fail' }), ' failed  ',
      el('span', { class: 'key v-inconclusive' }), ' inconclusive  ',
      el('span', { class: 'key mark' }), ' command or pause'
    );
  }

  function timeline(v, st, steps) {
    const phase = st && st.phase;
    const boxes = steps.map((w, i) => {
      let cls = 'pending';
      if (st) {
        if (phase === 'promoted' || i < st.step) cls = 'done';
        else if (i === st.step && !TERMINAL.includes(phase) && phase !== 'pending') cls = phase === 'paused' ? 'current paused' : 'current';
        if ((phase === 'rolledBack' || phase === 'failed' || phase === 'rollingBack') && i === st.step) cls = 'failed';
      }
      const a = (v.analyses || []).filter((x) => x.step === i).pop();
      return el(
        'li',
        { class: 'stepbox ' + cls, 'data-step': i },
        el('span', { class: 'n', text: `step ${i + 1}` }),
        el('span', { class: 'w', text: w === null ? '?' : w + '%' }),
        a ? el('span', { class: 'v v-' + a.verdict, text: a.verdict }) : null
      );
    });
    const end = el('li', { class: 'stepbox end ' + (phase === 'promoted' ? 'done' : phase === 'rolledBack' ? 'failed' : 'pending') }, el('span', { class: 'n', text: phase === 'rolledBack' ? 'rolled back' : 'promote' }), el('span', { class: 'w', text: phase === 'rolledBack' ? '0%' : '100%' }));
    return el('ol', { class: 'timeline', id: 'timeline' }, boxes, end);
  }

  function actions(v, st) {
    const phase = st && st.phase;
    const allowed = S.config.allowActions && v.controllable;
    const why = !S.config.allowActions ? 'read-only dashboard: start it with --allow-actions' : !v.controllable ? 'no spec given for this group' : '';
    return el(
      'div',
      { class: 'actions', id: 'actions' },
      ACTIONS.map((a) => {
        const enabled = allowed && phase && a.phases.includes(phase);
        return el('button', {
          type: 'button',
          class: 'action' + (a.danger ? ' danger' : ''),
          'data-action': a.id,
          disabled: !enabled,
          title: why || a.text,
          text: a.label,
          onclick: () => act(v.group, a),
        });
      }),
      why ? el('span', { class: 'muted', text: why }) : null
    );
  }

  function analysisSection(v) {
    const sec = el('section', { class: 'card' }, el('h3', { text: 'Analysis' }));
    const analyses = v.analyses || [];
    if (v.spec && v.spec.checks && v.spec.checks.length) {
      sec.appendChild(
        el('p', { class: 'muted' }, 'checks: ', v.spec.checks.map((c) => `${c.name} (${c.metric}${c.limits.length ? ' ' + c.limits.join(', ') : ''}${c.critical ? ', critical' : ''})`).join('; '), `; at least ${v.spec.minRequests} canary requests per window`)
      );
    }
    if (!analyses.length) {
      sec.appendChild(el('p', { class: 'muted', text: 'no analysis yet' }));
      return sec;
    }
    const last = analyses[analyses.length - 1];
    sec.appendChild(el('p', {}, el('span', { class: 'v v-' + last.verdict, text: last.verdict }), ` step ${last.step + 1} at ${last.weight}% (${clock(last.atMs)}): ${last.summary}`));
    // The latest analysis, closest to a limit first.
    const rows = [...last.checks].sort((a, b) => (a.margin ?? Infinity) - (b.margin ?? Infinity));
    sec.appendChild(checksTable(rows));
    // Each check of each app over the steps.
    const byCheck = new Map();
    for (const a of analyses) {
      for (const c of a.checks) {
        const k = c.name + '\u0000' + c.app;
        if (!byCheck.has(k)) byCheck.set(k, { name: c.name, app: c.app, rows: [] });
        byCheck.get(k).rows.push({ step: a.step, weight: a.weight, check: c });
      }
    }
    const grid = el('div', { class: 'charts' });
    for (const { name, app, rows: r } of byCheck.values()) {
      const last = r[r.length - 1].check;
      grid.appendChild(
        el(
          'figure',
          { class: 'check v-' + last.verdict, 'data-check': name, 'data-app': app },
          el('figcaption', {}, el('b', { text: name }), ` · ${app} · `, el('span', { class: 'muted', text: (last.limits || []).map((l) => l.text).join(', ') || 'no limit known' })),
          C.checkChart(name, app, r)
        )
      );
    }
    sec.appendChild(grid);
    sec.appendChild(el('p', { class: 'legend' }, el('span', { class: 'key canary' }), ' canary (dots coloured by verdict)  ', el('span', { class: 'key stable' }), ' stable  ', el('span', { class: 'key limit' }), ' limit'));
    for (const a of analyses) {
      for (const j of a.judges || []) {
        sec.appendChild(el('p', { class: 'muted', text: `judge, step ${a.step + 1}, ${j.app}: score ${C.fmtNum(j.score)} — ${j.verdict}: ${j.reason}` }));
      }
    }
    return sec;
  }

  function checksTable(rows) {
    return el(
      'table',
      { class: 'checks', id: 'checks' },
      el('thead', {}, el('tr', {}, ['check', 'app', 'canary', 'stable', 'limit', 'margin', 'verdict', 'why'].map((h) => el('th', { text: h })))),
      el(
        'tbody',
        {},
        rows.map((c) =>
          el(
            'tr',
            { class: 'v-' + c.verdict, 'data-check': c.name, 'data-app': c.app },
            el('td', { text: c.name + (c.critical ? ' (critical)' : '') }),
            el('td', { text: c.app }),
            el('td', { class: 'num', text: C.fmtNum(c.canary) }),
            el('td', { class: 'num', text: C.fmtNum(c.stable) }),
            el('td', { text: (c.limits || []).map((l) => l.text).join(', ') || '–' }),
            el('td', { class: 'num' + (c.margin !== null && c.margin !== undefined && c.margin < 0 ? ' over' : ''), title: c.margin === null || c.margin === undefined ? '' : `${(c.margin * 100).toFixed(1)}% of the limit`, text: signed(c.distance) }),
            el('td', {}, el('span', { class: 'v v-' + c.verdict, text: c.verdict })),
            el('td', { class: 'reason', text: c.reason })
          )
        )
      )
    );
  }

  function splitsSection(v) {
    const sec = el('section', { class: 'card' }, el('h3', { text: 'Traffic in force (as Traefik reports it)' }));
    const s = v.status;
    if (s && s.splitsError) sec.appendChild(el('p', { class: 'muted', text: s.splitsError }));
    const splits = (s && s.splits) || [];
    if (splits.length) {
      sec.appendChild(
        el(
          'div',
          { class: 'splits', id: 'splits' },
          splits.map((a) => {
            const total = a.stable + a.canary || 1;
            const bar = el('div', { class: 'bar' }, el('span', { class: 'stable' }), el('span', { class: 'canary' }));
            bar.children[0].style.width = (100 * a.stable) / total + '%';
            bar.children[1].style.width = (100 * a.canary) / total + '%';
            return el(
              'div',
              { class: 'split', 'data-app': a.app },
              el('span', { class: 'app', text: a.app }),
              bar,
              el('span', { class: 'nums', text: `stable ${a.stable} · canary ${a.canary}` }),
              el('span', { class: 'muted', text: (a.headerRoute ? 'header route on' : 'header route off') + (a.healthy ? '' : ' · NOT ENABLED') })
            );
          })
        )
      );
    }
    const services = (s && s.services) || [];
    if (services.length) {
      sec.appendChild(
        el(
          'table',
          { class: 'services' },
          el('thead', {}, el('tr', {}, ['service', 'running', 'state', 'image'].map((h) => el('th', { text: h })))),
          el('tbody', {}, services.map((x) => el('tr', {}, el('td', { text: x.name }), el('td', { class: 'num', text: `${x.running}/${x.desired}` }), el('td', { text: x.converged ? 'converged' : 'updating' }), el('td', { class: 'image', text: x.image }))))
        )
      );
    }
    return sec;
  }

  function eventsSection(v) {
    const events = [...(v.events || [])].reverse();
    return el(
      'section',
      { class: 'card' },
      el('h3', { text: `Events (${events.length})` }),
      el(
        'ol',
        { class: 'events', id: 'events', reversed: true },
        events.map((e) =>
          el('li', { class: 'ev ev-' + e.kind, 'data-kind': e.kind }, el('time', { text: clock(e.atMs), title: when(e.atMs) }), el('b', { text: e.kind }), el('span', { class: 'w', text: e.weight + '%' }), el('span', { class: 'msg', text: e.message }))
        )
      )
    );
  }

  // ---- actions -----------------------------------------------------------------------------------

  function confirmAction(group, a) {
    const d = $('#confirm');
    $('#confirm-title').textContent = `${a.label}: ${group}?`;
    $('#confirm-text').textContent = a.text;
    const tokenRow = $('#confirm-token-row');
    const needToken = S.config.tokenRequired && !sessionStorage.getItem('canary-dashboard-token');
    tokenRow.hidden = !needToken;
    const ok = $('#confirm-ok');
    ok.textContent = a.label;
    ok.className = a.danger ? 'danger' : 'primary';
    return new Promise((resolve) => {
      const done = (yes) => {
        ok.onclick = null;
        $('#confirm-cancel').onclick = null;
        d.onclose = null;
        if (d.open) d.close();
        resolve(yes);
      };
      ok.onclick = () => done(true);
      $('#confirm-cancel').onclick = () => done(false);
      d.onclose = () => done(false);
      d.showModal();
      $('#confirm-cancel').focus();
    });
  }

  async function act(group, a) {
    if (!(await confirmAction(group, a))) return;
    const headers = { 'X-Canary-Dashboard': '1' };
    const typed = $('#confirm-token').value;
    const token = sessionStorage.getItem('canary-dashboard-token') || typed;
    if (token) headers.Authorization = 'Bearer ' + token;
    let r;
    let body = {};
    try {
      r = await fetch(`/api/groups/${encodeURIComponent(group)}/actions/${a.id}`, { method: 'POST', headers, cache: 'no-store', credentials: 'same-origin' });
      body = await r.json().catch(() => ({}));
    } catch (e) {
      toast(`${a.label}: the dashboard did not answer (${e})`, true);
      return;
    }
    $('#confirm-token').value = '';
    if (r.ok) {
      if (typed) sessionStorage.setItem('canary-dashboard-token', typed);
      const d = body.detail || {};
      const what = body.result === 'delivered' ? `delivered to the controller driving ${group} (${d.owner})` : body.result === 'applied' ? `applied here; the rollout is now ${PHASE_WORDS[d.phase] || d.phase}` : 'under way';
      toast(`${a.label}: ${what}`, false);
    } else {
      if (r.status === 401) sessionStorage.removeItem('canary-dashboard-token');
      toast(`${a.label} refused (${r.status}): ${body.message || r.statusText}`, true);
    }
  }

  let toastTimer = null;
  function toast(text, error) {
    const t = $('#toast');
    if (!t) return;
    t.textContent = text;
    t.className = error ? 'error' : 'ok';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 8000);
  }

  // ---- report mode -------------------------------------------------------------------------------

  function startReport(node) {
    let data;
    try {
      data = JSON.parse(node.textContent);
    } catch (_) {
      return;
    }
    const v = data && data.view;
    if (!v) return;
    S.report = true;
    S.generatedMs = data.generatedMs;
    S.groups = [{ group: v.group, controllable: v.controllable }];
    S.views.set(v.group, v);
    S.selected = v.group;
    const main = $('#main');
    main.replaceChildren(renderGroup(v));
    const stat = $('#static');
    if (stat) stat.hidden = true;
  }

  function start() {
    const data = document.getElementById('report-data');
    if (data) startReport(data);
    else startLive();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
