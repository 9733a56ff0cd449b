// The mesh-compose dashboard page. Everything an agent wrote reaches the page
// through textContent (never innerHTML): agent output is text, never markup.
'use strict';

const TOKEN = document.querySelector('meta[name="mesh-compose-token"]').content;
const SVG = 'http://www.w3.org/2000/svg';
const MAX_LOG_LINES = 5000;
const MAX_EVENTS = 500;

const $ = (selector) => document.querySelector(selector);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// -- state ---------------------------------------------------------------------------

const page = { rows: new Map(), graph: null, snapshot: null, timeline: null, logs: [], held: [] };

// -- agents ----------------------------------------------------------------------------

const COLUMNS = ['name', 'status', 'reason', 'pid', 'uptime', 'restarts', 'cpu', 'memory', 'python', 'mesh',
  'caps', 'actions'];

function agentRow(name) {
  let row = page.rows.get(name);
  if (row) return row;
  row = el('tr');
  row.dataset.agent = name;
  for (const column of COLUMNS) {
    const cell = el('td', column === 'caps' ? 'caps mesh' : column);
    cell.dataset.col = column;
    row.appendChild(cell);
  }
  const nameCell = row.querySelector('[data-col=name]');
  nameCell.appendChild(el('span', 'state'));
  nameCell.appendChild(document.createTextNode(name));
  const actions = row.querySelector('[data-col=actions]');
  for (const verb of ['start', 'stop', 'restart']) {
    const button = el('button', 'act-' + verb, verb);
    button.type = 'button';
    button.addEventListener('click', () => act(verb, [name], button));
    actions.appendChild(button);
  }
  page.rows.set(name, row);
  $('#agents tbody').appendChild(row);
  return row;
}

function setCell(row, column, text) {
  const cell = row.querySelector(`[data-col=${column}]`);
  if (cell.textContent !== text) cell.textContent = text;
}

function renderAgents(snapshot) {
  const seen = new Set();
  for (const agent of snapshot.rows) {
    seen.add(agent.Name);
    const row = agentRow(agent.Name);
    row.className = 's-' + agent.State;
    row.dataset.state = agent.State;
    const health = agent.Health ? agent.Health : '';
    const reason = agent.Message ? (health ? health + ': ' : '') + agent.Message : health;
    setCell(row, 'status', agent.Status);
    setCell(row, 'reason', reason || '-');
    setCell(row, 'pid', agent.Shown.pid);
    setCell(row, 'uptime', agent.Shown.uptime);
    setCell(row, 'restarts', String(agent.Restarts));
    setCell(row, 'cpu', agent.Shown.cpu);
    setCell(row, 'memory', agent.Shown.memory);
    setCell(row, 'python', agent.Shown.python);
    // ps's mesh words: registered or not, and where ps has them, resolved dependencies and the endpoint's port
    const mesh = [agent.Mesh || '—', agent.Deps ? 'deps ' + agent.Deps : '', agent.Port ? 'port ' + agent.Port : ''];
    setCell(row, 'mesh', snapshot.mesh ? mesh.filter(Boolean).join(' · ') : '');
    setCell(row, 'caps', snapshot.mesh && agent.Capabilities !== null ? String(agent.Capabilities) : '');
  }
  for (const [name, row] of page.rows) {
    if (!seen.has(name)) { row.remove(); page.rows.delete(name); }
  }
  for (const cell of document.querySelectorAll('.mesh')) cell.hidden = !snapshot.mesh;
  // the first load's end, as benchmarks/bench_dashboard.py measures it
  if (!performance.getEntriesByName('first-rows').length) performance.mark('first-rows');
  const agents = $('#log-agent');
  for (const agent of snapshot.rows) {
    if (![...agents.options].some((option) => option.value === agent.Name)) {
      const option = el('option', '', agent.Name);
      option.value = agent.Name;
      agents.appendChild(option);
    }
  }
}

function renderSupervisor(snapshot) {
  $('#project').textContent = snapshot.project;
  const badge = $('#supervisor');
  badge.textContent = 'supervisor: ' + snapshot.supervisor;
  badge.className = 'badge ' + (snapshot.supervisor === 'running' ? 'running' : 'gone');
  const gone = $('#gone');
  if (snapshot.error) {
    gone.hidden = false;
    gone.textContent = 'The project\'s state cannot be read: ' + snapshot.error;
  } else if (snapshot.supervisor === 'running') {
    gone.hidden = true;
  } else {
    gone.hidden = false;
    gone.textContent = snapshot.supervisor === 'gone'
      ? 'The supervisor is gone: this project is not running. The table shows the last recorded state' +
        (snapshot.orphaned.length ? '; still running without it (orphaned): ' + snapshot.orphaned.join(', ') +
          ' — `mesh-compose down` stops them.' : '.') + ' `mesh-compose up -d` starts it again.'
      : 'This project has not run here yet: `mesh-compose up -d` starts it.';
  }
  for (const button of document.querySelectorAll('header button, td.actions button')) {
    button.disabled = snapshot.supervisor !== 'running';
  }
}

// -- graph -------------------------------------------------------------------------------

const NODE_W = 150, NODE_H = 34, GAP_X = 90, GAP_Y = 26, PAD = 20;

function nodeBox(node) {
  return { x: PAD + node.level * (NODE_W + GAP_X), y: PAD + node.index * (NODE_H + GAP_Y) };
}

function renderGraph(graph) {
  page.graph = graph;
  const box = $('#graph');
  box.replaceChildren();
  const rows = Math.max(1, ...graph.nodes.map((node) => node.index + 1));
  box.setAttribute('width', PAD * 2 + graph.levels * (NODE_W + GAP_X) - GAP_X);
  box.setAttribute('height', PAD * 2 + rows * (NODE_H + GAP_Y) - GAP_Y);
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: 'auto-start-reverse' });
  marker.appendChild(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a93a6' }));
  defs.appendChild(marker);
  box.appendChild(defs);
  const where = new Map(graph.nodes.map((node) => [node.name, nodeBox(node)]));
  for (const edge of graph.edges) {
    const from = where.get(edge.dependency), to = where.get(edge.dependent);
    if (!from || !to) continue;
    const group = svg('g', { class: 'edge ' + edge.kind });
    group.dataset.from = edge.dependency;
    group.dataset.to = edge.dependent;
    const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2;
    const bend = Math.max(30, (x2 - x1) / 2);
    group.appendChild(svg('path', { d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}` }));
    group.appendChild(svg('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, 'text-anchor': 'middle' }, edge.label));
    group.appendChild(svg('title', {}, `${edge.dependent} waits for ${edge.dependency} (${edge.label})`));
    box.appendChild(group);
  }
  for (const node of graph.nodes) {
    const at = where.get(node.name);
    const group = svg('g', { class: 'node', transform: `translate(${at.x},${at.y})` });
    group.dataset.agent = node.name;
    group.appendChild(svg('rect', { width: NODE_W, height: NODE_H }));
    group.appendChild(svg('text', { x: NODE_W / 2, y: NODE_H / 2 + 4, 'text-anchor': 'middle' }, node.name));
    group.appendChild(svg('title', {}, node.name));
    box.appendChild(group);
  }
  if (page.snapshot) colourGraph(page.snapshot);
}

function colourGraph(snapshot) {
  const states = new Map(snapshot.rows.map((row) => [row.Name, row.State]));
  for (const node of document.querySelectorAll('#graph .node')) {
    node.setAttribute('class', 'node s-' + (states.get(node.dataset.agent) || 'waiting'));
    node.querySelector('title').textContent = node.dataset.agent + ': ' + (states.get(node.dataset.agent) || 'not started');
  }
}

// -- timeline ------------------------------------------------------------------------------

const LANE_H = 22, LABEL_W = 150, CHART_W = 520;

function renderTimeline(timeline) {
  const drawn = JSON.stringify(timeline);
  if (drawn === page.timeline) return;  // most snapshots only move uptime and CPU
  page.timeline = drawn;
  const box = $('#timeline');
  box.replaceChildren();
  const bars = [...timeline.bars].sort((a, b) => (a.started ?? Infinity) - (b.started ?? Infinity));
  const span = Math.max(timeline.span, ...bars.map((bar) => bar.ready ?? 0), 0.5);
  const scale = (seconds) => LABEL_W + (seconds / span) * CHART_W;
  box.setAttribute('width', LABEL_W + CHART_W + 60);
  box.setAttribute('height', PAD + bars.length * LANE_H + 24);
  const critical = new Set(timeline.chain);
  bars.forEach((bar, lane) => {
    const y = PAD + lane * LANE_H;
    const group = svg('g', { class: critical.has(bar.name) ? 'lane critical' : 'lane' });
    group.dataset.agent = bar.name;
    group.appendChild(svg('text', { class: 'name', x: 4, y: y + 14 }, bar.name));
    const started = bar.started, ready = bar.ready;
    const piece = (cls, from, to, tip) => {
      if (from === null || to === null || to < from) return;
      const rect = svg('rect', { class: cls, x: scale(from), y: y + 3, width: Math.max(2, scale(to) - scale(from)),
        height: LANE_H - 6 });
      rect.appendChild(svg('title', {}, tip));
      group.appendChild(rect);
    };
    const waited = bar.waited_for.length ? ' for ' + bar.waited_for.join(', ') : '';
    piece('bar-wait', 0, started ?? span, `${bar.name} waited ${fmt(started ?? span)}${waited}` +
      (bar.decided_by ? `; last: ${bar.decided_by}` : ''));
    bar.runs.forEach(([from, to], index) => {
      const until = to ?? span;
      if (index === 0 && ready !== null && ready <= until) {
        piece('bar-start', from, ready, `${bar.name} started at ${fmt(from)}, ${bar.ready_as} at ${fmt(ready)}`);
        piece('bar-ready', ready, until, `${bar.name} ${bar.ready_as} from ${fmt(ready)}` +
          (to === null ? '' : ` to ${fmt(to)}`));
      } else {
        piece(index === 0 ? 'bar-start' : 'bar-ready', from, until, `${bar.name} ran from ${fmt(from)}` +
          (to === null ? '' : ` to ${fmt(to)}`));
      }
    });
    for (const when of bar.restarts) piece('bar-restart', when, when, `${bar.name} restarted at ${fmt(when)}`);
    for (const [when, code] of bar.exits) piece('bar-exit', when, when, `${bar.name} exited (${code ?? '?'}) at ${fmt(when)}`);
    if (critical.has(bar.name) && started !== null && ready !== null) {
      group.appendChild(svg('rect', { class: 'outline', x: scale(started) - 1, y: y + 2,
        width: Math.max(4, scale(ready) - scale(started) + 2), height: LANE_H - 4 }));
    }
    box.appendChild(group);
  });
  const axisY = PAD + bars.length * LANE_H + 4;
  box.appendChild(svg('line', { class: 'axis', x1: LABEL_W, y1: axisY, x2: LABEL_W + CHART_W, y2: axisY }));
  box.appendChild(svg('text', { x: LABEL_W, y: axisY + 14 }, '0 s'));
  box.appendChild(svg('text', { x: LABEL_W + CHART_W, y: axisY + 14, 'text-anchor': 'end' }, fmt(span)));
}

function fmt(seconds) {
  return seconds === null || seconds === undefined ? '-' : (seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)) + ' s';
}

// -- logs -------------------------------------------------------------------------------------

function logMatches(record) {
  const agent = $('#log-agent').value;
  const filter = $('#log-filter').value.toLowerCase();
  return (!agent || record.agent === agent) &&
    (!filter || record.text.toLowerCase().includes(filter) || record.agent.toLowerCase().includes(filter));
}

function logLine(record) {
  const line = el('div', 'line ' + record.stream);
  line.dataset.agent = record.agent;
  line.appendChild(el('span', 'when', record.when.slice(11, 23) + ' '));
  line.appendChild(el('span', 'who', record.agent + ' | '));
  line.appendChild(el('span', 'text', record.text));
  return line;
}

function addLogs(records) {
  if ($('#log-pause').checked) { page.held.push(...records); return; }
  page.logs.push(...records);
  const box = $('#logs');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const fragment = document.createDocumentFragment();
  for (const record of records) if (logMatches(record)) fragment.appendChild(logLine(record));
  box.appendChild(fragment);
  trimLogs();
  if (atBottom) box.scrollTop = box.scrollHeight;
  $('#log-count').textContent = `${box.childElementCount} lines shown`;
}

function trimLogs() {
  if (page.logs.length > MAX_LOG_LINES) page.logs.splice(0, page.logs.length - MAX_LOG_LINES);
  const box = $('#logs');
  while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove();
}

function redrawLogs() {
  const box = $('#logs');
  box.replaceChildren(...page.logs.filter(logMatches).map(logLine));
  box.scrollTop = box.scrollHeight;
  $('#log-count').textContent = `${box.childElementCount} lines shown`;
}

// -- events ----------------------------------------------------------------------------------------

function addEvents(events) {
  const list = $('#events');
  for (const event of events) {
    const item = el('li', '', `${event.time.slice(11, 23)}  ${event.agent}  ${event.action}` +
      (event.details ? `  (${event.details})` : ''));
    list.insertBefore(item, list.firstChild);
  }
  while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
}

// -- traces ----------------------------------------------------------------------------------------

const TRACE_POLL_MS = 2000;
const SPAN_H = 20;
const WATERFALL_W = 760;
const SPAN_LABEL_W = 300;

function ms(value) {
  return value < 1000 ? `${value.toFixed(1)} ms` : `${(value / 1000).toFixed(2)} s`;
}

function renderTraces(answer) {
  page.traces = answer;
  $('#traces-section').hidden = !answer.enabled;
  if (!answer.enabled) return;
  $('#traces-note').textContent = answer.error || (answer.traces.length ? '' :
    'no traces yet: call a tool of an agent, and its trace shows here');
  const body = $('#traces tbody');
  body.replaceChildren();
  for (const trace of answer.traces) {
    const row = el('tr', trace.TraceId === page.chosenTrace ? 'chosen' : '');
    row.dataset.trace = trace.TraceId;
    const started = new Date(trace.Start * 1000).toISOString().slice(11, 23);
    for (const text of [trace.TraceId.slice(0, 12), started, `${trace.RootAgent}.${trace.Root}`,
      trace.Agents.join(', '), trace.Spans.length, ms(trace.DurationMs)]) row.append(el('td', '', text));
    row.append(el('td', trace.Failed ? 'failed' : '', trace.Failed ? 'failed' : 'ok'));
    row.addEventListener('click', () => { page.chosenTrace = trace.TraceId; renderTraces(page.traces); });
    body.append(row);
  }
  const chosen = answer.traces.find((trace) => trace.TraceId === page.chosenTrace) || answer.traces[0];
  renderWaterfall(chosen);
}

function renderWaterfall(trace) {
  const box = $('#waterfall');
  box.replaceChildren();
  if (!trace) return;
  const total = trace.DurationMs || 1;
  const barW = WATERFALL_W - SPAN_LABEL_W - 10;
  box.setAttribute('width', WATERFALL_W);
  box.setAttribute('height', (trace.Spans.length + 1) * SPAN_H + 10);
  box.append(svg('text', { x: 4, y: 14 }, `trace ${trace.TraceId}  ${ms(trace.DurationMs)}`));
  trace.Spans.forEach((span, index) => {
    const y = (index + 1) * SPAN_H + 4;
    const group = svg('g', { class: 'span', 'data-agent': span.Agent });
    group.append(svg('text', { x: 4 + span.Depth * 12, y: y + 13 }, `${span.Agent}  ${span.Label}`));
    const x = SPAN_LABEL_W + (span.OffsetMs / total) * barW;
    const width = Math.max(2, (span.DurationMs / total) * barW);
    const bar = svg('rect', { x, y: y + 3, width, height: SPAN_H - 6, class: span.Ok ? 'span-ok' : 'span-failed' });
    bar.append(svg('title', {}, `${span.Agent} ${span.Label}: +${ms(span.OffsetMs)}, ${ms(span.DurationMs)}` +
      (span.Error ? `\n${span.Error}` : '')));
    group.append(bar);
    if (span.Error) group.append(svg('text', { x: Math.min(x + width + 4, WATERFALL_W - 60), y: y + 13, class: 'error' },
      span.Error.slice(0, 60)));
    box.append(group);
  });
}

async function pollTraces() {
  try {
    const answer = await fetch('/api/traces?token=' + encodeURIComponent(TOKEN));
    if (answer.ok) renderTraces(await answer.json());
  } catch (error) {
    // the dashboard is going away: the stream's error already says so
  }
  setTimeout(pollTraces, TRACE_POLL_MS);
}

// -- actions ---------------------------------------------------------------------------------------

function notice(text, isError) {
  const box = $('#notice');
  box.hidden = false;
  box.className = isError ? 'notice error' : 'notice';
  box.textContent = text;
}

async function post(path, body, button) {
  if (button) button.disabled = true;
  try {
    const answer = await fetch(path, { method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'X-Mesh-Compose-Token': TOKEN } });
    const result = await answer.json();
    notice(result.ok ? result.message : 'error: ' + result.error + (result.hint ? '\n' + result.hint : ''), !result.ok);
  } catch (error) {
    notice('error: the dashboard did not answer (' + error + ')', true);
  } finally {
    if (button) button.disabled = false;
  }
}

function act(verb, names, button) {
  notice(`${verb}: ${names.length ? names.join(', ') : 'all agents'}…`);
  return post('/api/action', { action: verb, names }, button);
}

function setUpControls() {
  $('#restart-all').addEventListener('click', (event) => act('restart', [], event.target));
  $('#down').addEventListener('click', () => { $('#down-confirm').hidden = false; });
  $('#down-no').addEventListener('click', () => { $('#down-confirm').hidden = true; });
  $('#down-yes').addEventListener('click', (event) => {
    $('#down-confirm').hidden = true;
    notice('down: stopping every agent…');
    post('/api/down', { confirm: true }, event.target);
  });
  $('#log-filter').addEventListener('input', redrawLogs);
  $('#log-agent').addEventListener('change', redrawLogs);
  $('#log-pause').addEventListener('change', () => {
    if (!$('#log-pause').checked) { const held = page.held; page.held = []; addLogs(held); }
  });
}

// -- the live stream ------------------------------------------------------------------------------

function showSnapshot(snapshot) {
  page.snapshot = snapshot;
  renderSupervisor(snapshot);
  renderAgents(snapshot);
  renderTimeline(snapshot.timeline);
  colourGraph(snapshot);
  document.body.dataset.updated = String(snapshot.time);
}

function connect() {
  // the page came with the latest snapshot and the graph, as data
  const initial = JSON.parse(document.getElementById('initial').textContent);
  showSnapshot(initial.snapshot);
  renderGraph(initial.graph);
  const stream = new EventSource('/api/stream?token=' + encodeURIComponent(TOKEN));
  const on = (kind, handle) => stream.addEventListener(kind, (message) => handle(JSON.parse(message.data)));
  on('snapshot', showSnapshot);
  on('graph', renderGraph);
  on('logs', addLogs);
  on('events', addEvents);
  stream.addEventListener('error', () => {
    const badge = $('#supervisor');
    badge.textContent = 'dashboard: disconnected, retrying…';
    badge.className = 'badge gone';
  });
}

setUpControls();
connect();
pollTraces();
