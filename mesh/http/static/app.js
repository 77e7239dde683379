// The dashboard of a jinad edge: reads GET /nodes, /flows, /flow/{id} every 2 s and follows
// /logs/{id} and /events/{id} as server-sent events. Plain JavaScript, no build step.
"use strict";

const POLL_MS = 2000;
const MAX_LINES = 500;
const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
const $ = (id) => document.getElementById(id);
const state = { flow: null, pods: new Set(), logs: null, events: null, timer: null };

class Unauthorized extends Error {}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) throw new Unauthorized(path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function badge(status) { return el("span", { class: `status s-${status}` }, status); }
function clock(epoch_s) { return new Date(epoch_s * 1000).toLocaleTimeString([], { hour12: false }); }

function showLogin(message) {
  stopStreams();
  clearInterval(state.timer);
  $("dashboard").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

async function login(event) {
  event.preventDefault();
  const body = new URLSearchParams({ token: $("token").value });
  const r = await fetch("/ui/login", { method: "POST", body, credentials: "same-origin" });
  if (!r.ok) {
    const err = await r.json().catch(() => ({}));
    $("login-error").textContent = err.message || `login failed (${r.status})`;
    return;
  }
  $("token").value = "";
  $("login").hidden = true;
  $("logout").hidden = false;
  start();
}

async function logout() {
  await fetch("/ui/logout", { method: "POST", credentials: "same-origin" });
  showLogin("logged out");
}

// ---- nodes and flows -------------------------------------------------------------------

function renderNodes(body) {
  const now = Date.now() / 1000;
  const rows = body.nodes.map((n) => {
    const status = now - n.heartbeat > 10 ? "stale" : "up";
    const labels = el("td");
    for (const [k, v] of Object.entries(n.labels || {})) labels.append(el("span", { class: "label" }, `${k}=${v}`));
    const version = n.version_mismatch ? `${n.version} (differs)` : n.version;
    const failed = n.failed && n.failed.length ? ` ${n.failed.length} failed` : "";
    return el("tr", { "data-node": n.name }, el("td", {}, n.name), el("td", {}, badge(status), failed),
      el("td", {}, `${n.address}:${n.port}`), labels, el("td", {}, n.cpu_count),
      el("td", {}, n.load1.toFixed(2)), el("td", {}, `${n.mem_available_mb} / ${n.mem_total_mb}`),
      el("td", {}, n.peas), el("td", {}, version));
  });
  $("nodes").tBodies[0].replaceChildren(...rows);
  $("node-count").textContent = `(${body.count})`;
}

function renderFlows(body) {
  const rows = body.flows.map((f) => {
    const gw = f.host ? `${f.host}:${f.port}` + (f.port_http ? ` (http ${f.port_http})` : "") : "";
    const row = el("tr", { "data-flow": f.flow_id }, el("td", {}, f.flow_id), el("td", {}, badge(f.status)),
      el("td", {}, f.pods.map((p) => p.name).join(", ")), el("td", {}, gw), el("td", {}, f.origin),
      el("td", {}, clock(f.created)));
    if (f.flow_id === state.flow) row.classList.add("selected");
    row.addEventListener("click", () => selectFlow(f.flow_id));
    return row;
  });
  $("flows").tBodies[0].replaceChildren(...rows);
  $("flow-count").textContent = `(${body.flows.length})`;
  $("no-flows").hidden = body.flows.length > 0;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("flow");
  const ids = body.flows.map((f) => f.flow_id);
  if (!state.flow && ids.length) selectFlow(ids.includes(wanted) ? wanted : ids[0]);
}

// ---- one flow as a graph ------------------------------------------------------------------

// The pods' `needs` from the Flow's YAML (a pod without them needs the one before it).
function parseNeeds(yaml, names) {
  const items = [];
  let inPods = false, indent = null;
  for (const raw of (yaml || "").split("\n")) {
    const line = raw.replace(/\s+#.*$/, "");
    if (/^pods\s*:/.test(line)) { inPods = true; continue; }
    if (!inPods || !line.trim()) continue;
    if (/^\S/.test(line)) { inPods = false; continue; }
    const m = line.match(/^(\s*)-\s/);
    if (m && (indent === null || m[1].length === indent)) { indent = m[1].length; items.push([]); }
    if (items.length) items[items.length - 1].push(line);
  }
  const needs = {};
  items.forEach((lines, i) => {
    const text = lines.join("\n");
    const name = (text.match(/(?:^|\n)[\s-]*name\s*:\s*['"]?([^'"\s\]]+)/) || [])[1] || names[i];
    const inline = text.match(/(?:^|\n)[\s-]*needs\s*:\s*(\S.*)/);
    let list = null;
    if (inline) list = inline[1].replace(/[[\]'"]/g, "").split(",").map((s) => s.trim()).filter(Boolean);
    else if (/(?:^|\n)[\s-]*needs\s*:\s*(\n|$)/.test(text)) {
      const after = text.split(/needs\s*:\s*\n/)[1] || "";
      list = [];
      for (const l of after.split("\n")) { const n = l.match(/^\s*-\s*['"]?([^'"\s]+)/); if (!n || /:/.test(l)) break; list.push(n[1]); }
    }
    needs[name] = list;
  });
  return needs;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawGraph(flow) {
  const names = flow.pods.map((p) => p.name);
  const needs = parseNeeds(flow.yaml, names);
  const boxes = [{ name: "gateway", node: flow.gateway ? flow.gateway.node : "", replicas: 1,
                   status: flow.gateway ? flow.gateway.status : "starting", uses: "", needs: [] }];
  flow.pods.forEach((p, i) => {
    const n = needs[p.name];
    boxes.push({ ...p, needs: n && n.length ? n : [i === 0 ? "gateway" : names[i - 1]] });
  });
  const byName = Object.fromEntries(boxes.map((b) => [b.name, b]));
  const level = (b, seen = new Set()) => {
    if (b.level !== undefined) return b.level;
    if (seen.has(b.name)) return 0;
    seen.add(b.name);
    const ups = b.needs.map((n) => byName[n]).filter(Boolean);
    b.level = ups.length ? 1 + Math.max(...ups.map((u) => level(u, seen))) : 0;
    return b.level;
  };
  boxes.forEach((b) => level(b));
  const W = 170, H = 66, GX = 50, GY = 18, TOP = 40, rows = {};
  for (const b of boxes) { b.row = rows[b.level] = (rows[b.level] ?? -1) + 1; b.x = 10 + b.level * (W + GX); b.y = TOP + b.row * (H + GY); }
  const g = $("graph");
  const height = TOP + 10 + (Math.max(...Object.values(rows)) + 1) * (H + GY);
  const width = 20 + (Math.max(...boxes.map((b) => b.level)) + 1) * (W + GX);
  g.setAttribute("height", height);
  g.setAttribute("viewBox", `0 0 ${Math.max(width, 400)} ${height}`);
  g.setAttribute("preserveAspectRatio", "xMinYMin meet");
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8797a8" }));
  defs.append(marker);
  const parts = [defs];
  for (const b of boxes) for (const n of b.needs) {
    const u = byName[n];
    if (!u) continue;
    const x1 = u.x + W, y1 = u.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    // an edge that skips a level arcs over the boxes between (from the top edges)
    const d = b.level - u.level > 1
      ? `M${u.x + W / 2},${u.y} C${u.x + W / 2},${u.y - 30} ${b.x + W / 2},${b.y - 30} ${b.x + W / 2},${b.y}`
      : `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    parts.push(svg("path", { class: "edge", "data-from": u.name, "data-to": b.name, d }));
  }
  for (const b of boxes) {
    const box = svg("g", { class: `pod s-${b.status}`, "data-pod": b.name, transform: `translate(${b.x},${b.y})` });
    box.append(svg("rect", { width: W, height: H, rx: 6 }),
      svg("text", { class: "name", x: 10, y: 18 }, b.name),
      svg("text", { x: 10, y: 36 }, `${b.status} · ×${b.replicas}`),
      svg("text", { x: 10, y: 54 }, `on ${b.node}${b.uses ? " · " + b.uses : ""}`.slice(0, 26)),
      svg("title", {}, `${b.name}: ${b.status}, ${b.replicas} replica(s) on ${b.node}${b.uses ? ", uses " + b.uses : ""}`));
    parts.push(box);
  }
  g.replaceChildren(...parts);
  const pods = ["gateway", ...names];
  if (pods.join() !== [...state.pods].join()) {
    state.pods = new Set(pods);
    const select = $("log-pod"), keep = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"), ...pods.map((p) => el("option", { value: p }, p)));
    select.value = pods.includes(keep) ? keep : "";
  }
}

// ---- one flow's logs and events ---------------------------------------------------------

function stopStreams() {
  for (const k of ["logs", "events"]) if (state[k]) { state[k].close(); state[k] = null; }
}

function append(list, item) {
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(item);
  while (list.children.length > MAX_LINES) list.firstChild.remove();
  if (stick) list.scrollTop = list.scrollHeight;
}

function logVisible(li) {
  const pod = $("log-pod").value, min = Number($("log-level").value);
  return (!pod || li.dataset.pod === pod) && Number(li.dataset.level) >= min;
}

function applyLogFilter() {
  let shown = 0;
  for (const li of $("logs").children) { li.hidden = !logVisible(li); shown += li.hidden ? 0 : 1; }
  $("log-count").textContent = `${shown} shown`;
  $("logs").scrollTop = $("logs").scrollHeight;
}

function follow(flow) {
  stopStreams();
  $("logs").replaceChildren();
  $("events").replaceChildren();
  const id = encodeURIComponent(flow);
  state.logs = new EventSource(`/logs/${id}?follow=1`);
  state.logs.onmessage = (m) => {
    const r = JSON.parse(m.data);
    const li = el("li", { class: `lvl-${r.level}`, "data-pod": r.pod, "data-level": LEVELS[r.level] ?? 20 },
      `${clock(r.time)} ${(r.level || "").padEnd(7)} ${r.pod}/${r.pea}@${r.node}  ${r.message}`);
    li.hidden = !logVisible(li);
    append($("logs"), li);
    $("log-count").textContent = `${[...$("logs").children].filter((c) => !c.hidden).length} shown`;
  };
  state.events = new EventSource(`/events/${id}?follow=1`);
  state.events.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const code = e.exit_code === null || e.exit_code === undefined ? "" : ` exit ${e.exit_code}`;
    append($("events"), el("li", { class: `k-${e.kind}`, "data-kind": e.kind, "data-pod": e.pod },
      `${clock(e.time)} ${e.kind.padEnd(7)} ${e.pod}/${e.pea}@${e.node}${code}${e.detail ? " " + e.detail : ""}`));
  };
}

function selectFlow(id) {
  state.flow = id;
  history.replaceState(null, "", `#flow=${encodeURIComponent(id)}`);
  for (const tr of $("flows").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.flow === id);
  $("flow").hidden = false;
  $("flow-id").textContent = id;
  state.pods = new Set();
  follow(id);
  refreshFlow();
}

async function refreshFlow() {
  if (!state.flow) return;
  try {
    const flow = await api(`/flow/${encodeURIComponent(state.flow)}`);
    $("flow-status").className = `badge s-${flow.status}`;
    $("flow-status").textContent = flow.status;
    drawGraph(flow);
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    $("flow-status").className = "badge s-lost";
    $("flow-status").textContent = "gone";
  }
}

async function refresh() {
  try {
    const [nodes, flows] = await Promise.all([api("/nodes"), api("/flows")]);
    renderNodes(nodes);
    renderFlows(flows);
    if (!state.rendered) { state.rendered = true; performance.mark("dashboard-rendered"); }
    await refreshFlow();
    $("status").textContent = `updated ${clock(Date.now() / 1000)}`;
  } catch (err) {
    if (err instanceof Unauthorized) { showLogin(); return; }
    $("status").textContent = `error: ${err.message}`;
  }
}

async function start() {
  $("dashboard").hidden = false;
  clearInterval(state.timer);
  await refresh();
  if ($("login").hidden) state.timer = setInterval(refresh, POLL_MS);
}

async function main() {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("log-pod").addEventListener("change", applyLogFilter);
  $("log-level").addEventListener("change", applyLogFilter);
  try {
    const alive = await api("/alive");
    $("edge").textContent = `node ${alive.node} · ${alive.address} · v${alive.version}`;
  } catch (err) { /* the node's name is a nicety */ }
  await start();
  if ($("login").hidden) {
    // the cookie is HttpOnly (unreadable here): offer a log-out when this edge needs a token
    $("logout").hidden = !(await fetch("/ui/login", { method: "POST", body: new URLSearchParams({}) })
      .then((r) => r.status === 401).catch(() => false));
  }
}

main();
