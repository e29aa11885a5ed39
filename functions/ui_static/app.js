// The Observatory dashboard: a hash-routed single page over the JSON API (no framework, no external assets).

const API = "/api/observatory";
const V1 = "/api/v1";
const store = {
  get: (k) => localStorage.getItem(`observatory.${k}`) || "",
  set: (k, v) => (v ? localStorage.setItem(`observatory.${k}`, v) : localStorage.removeItem(`observatory.${k}`)),
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// -- DOM helpers: data always goes in as text nodes, never as HTML ------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM, which the page's CSP allows (style attributes it does not)
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// -- formatting ---------------------------------------------------------------------------------------------
const nf = new Intl.NumberFormat("en-US");
const num = (v) => (v === null || v === undefined ? "–" : nf.format(Math.round(v)));
const usd = (v) => (v === null || v === undefined ? "–" : `$${Number(v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 4 : 2)}`);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
function ms(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(1)} s`;
  return `${(v / 60000).toFixed(1)} min`;
}
const when = (t) => (t ? new Date(t).toISOString().replace("T", " ").slice(0, 19) : "–");
const short = (id) => (id && id.length > 14 ? `${id.slice(0, 12)}…` : id || "–");
const badge = (text) => h("span", { class: `badge s-${text || "none"}` }, text || "–");
const link = (href, text) => h("a", { href }, text);

// -- the API ------------------------------------------------------------------------------------------------
async function api(path, { method = "GET", body, write = false, params } = {}) {
  const url = new URL(store.get("base") || window.location.origin);
  const [p, q] = path.split("?");
  url.pathname = url.pathname.replace(/\/$/, "") + p;
  url.search = q || "";
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  const key = store.get(write ? "write" : "read") || (write ? "" : store.get("write"));
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, `network error: ${err.message}`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = (data && data.error) || `HTTP ${response.status}`;
    // A call sent with a key the user has since replaced says nothing about the new one: no prompt for it.
    const stale = key !== (store.get(write ? "write" : "read") || (write ? "" : store.get("write")));
    if (!stale && (response.status === 401 || (response.status === 403 && write))) {
      askKeys(`${response.status === 401 ? "This call needs an API key" : "This action needs a write key"}: ${message}`);
    }
    throw new ApiError(response.status, message);
  }
  return data;
}

function askKeys(reason) {
  const dialog = document.getElementById("keys-dialog");
  if (dialog.open) return; // already asking: never overwrite what the user is typing
  document.getElementById("keys-reason").textContent = reason || "Keys stay in this browser only (local storage).";
  document.getElementById("read-key").value = store.get("read");
  document.getElementById("write-key").value = store.get("write");
  document.getElementById("api-base").value = store.get("base");
  dialog.showModal();
}

// -- states -------------------------------------------------------------------------------------------------
const loading = (what) => h("p", { class: "state loading", role: "status" }, `Loading ${what}…`);
const empty = (text) => h("p", { class: "state empty" }, text);
function failure(err, what) {
  const hint = err.status === 401 ? " Enter an API key (button above)." : err.status === 503 ? " (the store or analytics is unavailable)" : "";
  return h("p", { class: "state error", role: "alert" }, `Could not load ${what}: ${err.message}.${hint}`);
}
// A section that shows its loading state at once, then its content, empty state or error.
function section(title, what, load, { optional = false } = {}) {
  const body = h("div", {}, loading(what));
  const card = h("section", { class: "card", "aria-label": title }, title ? h("h2", {}, title) : null, body);
  load().then((content) => body.replaceChildren(content || empty(`No ${what}.`)))
    .catch((err) => {
      if (optional) body.replaceChildren(empty(`${what} are not available here (${err.message}).`));
      else body.replaceChildren(failure(err, what));
    });
  return card;
}
function table(columns, rows, emptyText) {
  if (!rows.length) return empty(emptyText);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: [c.num ? "num" : "", c.narrow ? "hide-narrow" : ""].join(" ").trim() || null, scope: "col" }, c.title)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: [c.num ? "num" : "", c.narrow ? "hide-narrow" : ""].join(" ").trim() || null }, c.cell(r)))))));
}

// -- routing: #/page/id?filters ----------------------------------------------------------------------------
function current() {
  const raw = window.location.hash.replace(/^#/, "") || "/overview";
  const [path, query] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "overview", id: parts[1] || null, params: new URLSearchParams(query || "") };
}
function go(page, params, id) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const qs = q.toString();
  window.location.hash = `#/${page}${id ? `/${encodeURIComponent(id)}` : ""}${qs ? `?${qs}` : ""}`;
}
const pick = (params, names) => Object.fromEntries(names.map((n) => [n, params.get(n) || ""]));

// A filter form: each field a query parameter of the page's hash; Apply rewrites the hash (so the view is shareable).
function filterForm(page, params, fields, { id, keep = [] } = {}) {
  const form = h("form", { class: "filters card", role: "search", "aria-label": "Filters" });
  for (const f of fields) {
    let input;
    if (f.options) {
      input = h("select", { name: f.name }, h("option", { value: "" }, "any"),
        f.options.map((o) => h("option", { value: o, selected: params.get(f.name) === o }, o)));
    } else {
      input = h("input", { name: f.name, type: f.type || "text", value: params.get(f.name) || "", list: f.list || null, placeholder: f.placeholder || null });
    }
    form.append(h("label", {}, f.label, input));
  }
  form.append(h("button", { type: "submit" }, "Apply"), h("button", { type: "button", class: "secondary", onclick: () => go(page, pick(params, keep), id) }, "Reset"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const values = pick(params, keep);
    for (const [k, v] of new FormData(form).entries()) values[k] = String(v).trim();
    go(page, values, id);
  });
  return form;
}
const CONTROL = ["start_date", "end_date", "provider", "model", "workspace", "source_type"];
function controlFields() {
  return [
    { name: "start_date", label: "From", type: "date" },
    { name: "end_date", label: "To", type: "date" },
    { name: "provider", label: "Provider", list: "dl-providers", placeholder: "any" },
    { name: "model", label: "Model", list: "dl-models", placeholder: "any" },
    { name: "workspace", label: "Workspace", list: "dl-workspaces", placeholder: "any" },
    { name: "source_type", label: "Source", options: ["claude_code", "gemini_cli", "eval", "coordinator", "other"] },
    // The agent-session analytics (top tools, activity) filter by project; the insights have no project facet.
    { name: "project_name", label: "Project", placeholder: "any" },
  ];
}
function datalists(params) {
  const wrap = h("div", { hidden: true });
  const window_ = pick(params, ["start_date", "end_date"]);
  const fill = (id, items) => wrap.append(h("datalist", { id }, items.map((v) => h("option", { value: v }))));
  api(`${API}/breakdowns/model`, { params: window_ }).then((d) => fill("dl-models", d.items.map((i) => i.id))).catch(() => fill("dl-models", []));
  api(`${API}/breakdowns/provider`, { params: window_ }).then((d) => fill("dl-providers", d.items.map((i) => i.id))).catch(() => fill("dl-providers", []));
  api(`${API}/workspaces`, { params: { limit: 200 } }).then((d) => fill("dl-workspaces", d.workspaces.map((w) => w.path || w.id))).catch(() => fill("dl-workspaces", []));
  return wrap;
}

// -- charts (inline SVG) ------------------------------------------------------------------------------------
function barChart(points, { label, format = num, cls = "bar" }) {
  const W = 640, H = 180, pad = 28, n = Math.max(points.length, 1);
  const max = Math.max(...points.map((p) => p.value), 0) || 1;
  const bw = (W - pad) / n;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + 20}`, role: "img", "aria-label": `${label}: bar chart, highest ${format(max)}` });
  svg.append(s("line", { x1: pad, y1: H, x2: W, y2: H, stroke: "#c9ced6" }));
  svg.append(s("text", { x: 0, y: 12 }, format(max)), s("text", { x: 0, y: H }, "0"));
  points.forEach((p, i) => {
    const bh = (p.value / max) * (H - 16);
    const rect = s("rect", { class: cls, x: pad + i * bw + 1, y: H - bh, width: Math.max(bw - 2, 1), height: bh });
    rect.append(s("title", {}, `${p.label}: ${format(p.value)}`));
    svg.append(rect);
  });
  const every = Math.ceil(n / 8);
  points.forEach((p, i) => { if (i % every === 0) svg.append(s("text", { x: pad + i * bw, y: H + 14 }, p.label.slice(5))); });
  return h("figure", { class: "chart", "data-chart": label }, svg, h("figcaption", { class: "legend" }, label));
}
function hbars(items, value, format, name) {
  const max = Math.max(...items.map(value), 0) || 1;
  return h("div", {}, items.map((it) => h("div", { class: "hbar" },
    h("span", { class: "wf-name", title: name(it) }, name(it)),
    h("span", { class: "track", role: "presentation" }, h("span", { class: "fill", style: `display:block;width:${(value(it) / max) * 100}%` })),
    h("span", {}, format(value(it))))));
}
function weekHeatmap(cells) {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const max = Math.max(...cells.map((c) => c.session_count), 0) || 1;
  const grid = h("div", { class: "heat", role: "img", "aria-label": "Sessions by day of week and hour" }, h("span", {}));
  for (let hr = 0; hr < 24; hr += 1) grid.append(h("span", { class: "muted" }, hr % 6 === 0 ? String(hr) : ""));
  for (let d = 0; d < 7; d += 1) {
    grid.append(h("span", { class: "muted" }, days[d]));
    for (let hr = 0; hr < 24; hr += 1) {
      // ClickHouse's toDayOfWeek: 1 = Monday .. 7 = Sunday.
      const c = cells.find((x) => x.day_of_week % 7 === d && x.hour === hr);
      const v = c ? c.session_count : 0;
      grid.append(h("span", { class: "cell", title: `${days[d]} ${hr}:00 — ${v} sessions`, style: v ? `background: rgba(40,87,197,${0.2 + 0.8 * (v / max)})` : null }));
    }
  }
  return grid;
}

// -- pages --------------------------------------------------------------------------------------------------
function overview({ params }) {
  const filters = pick(params, CONTROL);
  const stat = (label, value, key) => h("div", { class: "card stat", "data-stat": key }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  const statsBody = h("div", { class: "grid", "aria-live": "polite" }, loading("summary"));
  api(`${API}/metrics/summary`, { params: filters }).then((m) => {
    const errorRate = m.total_spans ? 1 - m.success_rate : 0;
    statsBody.replaceChildren(
      stat("Spend", usd(m.total_cost_usd), "cost"),
      stat("Tokens in", num(m.total_tokens_in), "tokens_in"),
      stat("Tokens out", num(m.total_tokens_out), "tokens_out"),
      stat("Cache reads", num(m.total_cache_read_tokens), "cache_read"),
      stat("Cache savings", usd(m.cache_savings_usd), "cache_savings"),
      stat("Sessions", num(m.total_sessions), "sessions"),
      stat("Turns", num(m.turn_count), "turns"),
      stat("Tool calls", num(m.tool_calls), "tool_calls"),
      stat("Error rate", pct(errorRate), "error_rate"),
      stat("Errors", num(m.error_count), "errors"),
      stat("Unpriced calls", num(m.unpriced_calls), "unpriced"),
    );
  }).catch((err) => statsBody.replaceChildren(failure(err, "the summary")));
  const heat = api(`${API}/heatmap`, { params: filters });
  const daily = (title, what, pick_, format, cls) => section(title, what, async () => {
    const d = await heat;
    if (!d.days.some((x) => pick_(x) > 0)) return empty(`No ${what} in this window.`);
    return barChart(d.days.map((x) => ({ label: x.date, value: pick_(x) })), { label: title, format, cls });
  });
  return [
    h("h1", {}, "Overview"),
    filterForm("overview", params, controlFields()), datalists(params),
    statsBody,
    h("div", { class: "cols" },
      daily("Spend per day", "spend", (x) => x.cost, usd, "bar"),
      daily("Tokens per day", "tokens", (x) => x.tokens_in + x.tokens_out, num, "bar2"),
      daily("LLM calls per day", "LLM calls", (x) => x.calls, num, "bar"),
      daily("Sessions per day", "sessions", (x) => x.session_count, num, "bar2")),
    h("div", { class: "cols" },
      section("Per model", "models", async () => {
        const d = await api(`${API}/breakdowns/model`, { params: filters });
        if (!d.items.length) return null;
        return h("div", {}, hbars(d.items, (i) => i.cost_usd, usd, (i) => i.label),
          table([{ title: "Model", cell: (i) => i.label }, { title: "Calls", num: true, cell: (i) => num(i.calls) },
            { title: "Tokens in", num: true, cell: (i) => num(i.tokens_in), narrow: true }, { title: "Tokens out", num: true, cell: (i) => num(i.tokens_out), narrow: true },
            { title: "Cost", num: true, cell: (i) => usd(i.cost_usd) }, { title: "Cache savings", num: true, cell: (i) => usd(i.cache_savings_usd) }], d.items, ""));
      }),
      section("Top tools", "top tools", async () => {
        const tools = await api(`${V1}/analytics/tools`, { params: { date_from: filters.start_date, date_to: filters.end_date, project_name: params.project_name } });
        if (!tools.length) return null;
        return hbars(tools, (t) => t.usage_count, num, (t) => t.tool_name);
      }, { optional: true }),
      section("Activity (day of week × hour)", "activity", async () => {
        const cells = await api(`${V1}/analytics/heatmap`, { params: { date_from: filters.start_date, date_to: filters.end_date, project_name: params.project_name } });
        return cells.length ? weekHeatmap(cells) : null;
      }, { optional: true })),
  ];
}

function sessionsPage({ params }) {
  const q = params.get("q") || "";
  const searchForm = h("form", { class: "filters card", role: "search", "aria-label": "Search messages" },
    h("label", {}, "Search messages and tool calls", h("input", { type: "search", name: "q", value: q, id: "search-input" })),
    h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go("sessions", { ...pick(params, ["date_from", "date_to", "project_name", "agent_type"]), q: new FormData(searchForm).get("q").trim() });
  });
  const parts = [h("h1", {}, "Sessions"), searchForm];
  if (q) {
    parts.push(section(`Search results for “${q}”`, "matches", async () => {
      const d = await api(`${V1}/search`, { params: { q, limit: 50 } });
      if (!d.results.length) return empty(`Nothing matches “${q}”.`);
      return h("div", { class: "results" }, h("p", { class: "muted" }, `${d.total} matches`), d.results.map((r) => h("div", { class: "result" },
        h("div", {}, link(`#/sessions/${encodeURIComponent(r.session_id)}`, r.project_name || short(r.session_id)), " ", badge(r.role), " ",
          h("span", { class: "muted" }, `${r.agent_type} · ${when(r.started_at)}`)),
        h("p", { class: "snippet" }, highlighted(r.snippet, r.highlights)))));
    }));
  }
  parts.push(filterForm("sessions", params, [
    { name: "date_from", label: "From", type: "date" }, { name: "date_to", label: "To", type: "date" },
    { name: "project_name", label: "Project" }, { name: "agent_type", label: "Agent" },
  ], { keep: ["q"] }));
  parts.push(section("Browsable sessions", "sessions", async () => {
    const d = await api(`${V1}/sessions`, { params: { ...pick(params, ["date_from", "date_to", "project_name", "agent_type", "cursor"]), limit: 25 } });
    if (!d.sessions.length) return null;
    const pager = h("div", { class: "pager" }, h("span", { class: "muted" }, `${d.total} sessions`));
    if (params.get("cursor")) pager.append(h("button", { type: "button", class: "secondary", onclick: () => go("sessions", { ...Object.fromEntries(params), cursor: "" }) }, "First page"));
    if (d.next_cursor) pager.append(h("button", { type: "button", onclick: () => go("sessions", { ...Object.fromEntries(params), cursor: d.next_cursor }) }, "Next page"));
    return h("div", {}, table([
      { title: "Session", cell: (r) => link(`#/sessions/${encodeURIComponent(r.id)}`, r.display_name || r.first_message.slice(0, 60) || short(r.id)) },
      { title: "Project", cell: (r) => r.project_name || "–" }, { title: "Agent", cell: (r) => r.agent_type || "–", narrow: true },
      { title: "Started", cell: (r) => when(r.started_at) }, { title: "Messages", num: true, cell: (r) => num(r.message_count), narrow: true },
      { title: "Output tokens", num: true, cell: (r) => num(r.total_output_tokens) }, { title: "Commits", num: true, cell: (r) => num(r.commit_count), narrow: true },
    ], d.sessions, ""), pager);
  }, { optional: true }));
  parts.push(section("Telemetry sessions", "telemetry sessions", async () => {
    const d = await api(`${API}/sessions`, { params: { limit: 50 } });
    return table([
      { title: "Session", cell: (r) => link(`#/sessions/${encodeURIComponent(r.session_id)}`, short(r.session_id)) },
      { title: "Source", cell: (r) => r.source_type, narrow: true }, { title: "Workspace", cell: (r) => r.workspace || "–", narrow: true },
      { title: "Models", cell: (r) => (r.models || []).join(", "), narrow: true }, { title: "Started", cell: (r) => when(r.started_at) },
      { title: "Cost", num: true, cell: (r) => usd(r.summary && r.summary.total_cost_usd) },
      { title: "Tools", num: true, cell: (r) => num(r.summary && r.summary.tool_calls), narrow: true },
    ], d.sessions, "No telemetry sessions yet.");
  }));
  return parts;
}

// Highlight offsets are UTF-8 byte offsets into the snippet: slice the encoded bytes, decode each piece.
function highlighted(snippet, highlights) {
  const bytes = new TextEncoder().encode(snippet);
  const dec = new TextDecoder();
  const out = [];
  let at = 0;
  for (const { start, end } of [...(highlights || [])].sort((a, b) => a.start - b.start)) {
    if (start < at || end > bytes.length || end <= start) continue;
    out.push(dec.decode(bytes.slice(at, start)), h("mark", {}, dec.decode(bytes.slice(start, end))));
    at = end;
  }
  out.push(dec.decode(bytes.slice(at)));
  return out;
}

function sessionPage({ id }) {
  const enc = encodeURIComponent(id);
  // A session may exist only in telemetry, only in the agent-session store (synced transcripts), or in both.
  const telemetry = api(`${API}/sessions/${enc}`).catch((err) => { if (err.status === 404) return null; throw err; });
  const head = section("", "the session", async () => {
    const sess = await telemetry;
    if (!sess) {
      const v = await api(`${V1}/sessions/${enc}`);
      return h("div", { class: "grid" }, [["Project", v.project_name || "–"], ["Agent", v.agent_type || "–"], ["Started", when(v.started_at)],
        ["Messages", num(v.message_count)], ["Output tokens", num(v.total_output_tokens)], ["Commits", num(v.commit_count)]]
        .map(([l, val]) => h("div", { class: "stat" }, h("div", { class: "label" }, l), h("div", { class: "value", style: "font-size:1rem" }, val))));
    }
    const m = sess.summary || {};
    return h("div", { class: "grid" },
      [["Source", sess.source_type], ["Workspace", sess.workspace || "–"], ["Models", (sess.models || []).join(", ") || "–"],
        ["Started", when(sess.started_at)], ["Cost", usd(m.total_cost_usd)], ["Tokens in / out", `${num(m.tokens_in)} / ${num(m.tokens_out)}`],
        ["Cache savings", usd(m.cache_savings_usd)], ["Tool calls", num(m.tool_calls)], ["Errors", num(m.error_count)]]
        .map(([l, v]) => h("div", { class: "stat" }, h("div", { class: "label" }, l), h("div", { class: "value", style: "font-size:1rem" }, v))));
  });
  const timeline = section("Timeline", "timeline", async () => {
    if (!(await telemetry)) return empty("No telemetry recorded for this session.");
    const [llm, tools, events] = await Promise.all([
      api(`${API}/sessions/${enc}/llm-calls`, { params: { limit: 1000 } }),
      api(`${API}/sessions/${enc}/tools`, { params: { limit: 1000 } }),
      api(`${API}/sessions/${enc}/events`, { params: { limit: 1000 } })]);
    const items = [];
    for (const e of events.events) {
      if (!/prompt/.test(e.name)) continue;
      const text = (e.attributes && (e.attributes.prompt || e.attributes["prompt.text"])) || e.body;
      const len = e.attributes && e.attributes.prompt_length;
      items.push({ t: e.time, el: h("li", { class: "prompt" }, h("div", { class: "when" }, when(e.time)), h("strong", {}, "Prompt"),
        text ? h("pre", {}, String(text)) : h("span", { class: "muted" }, len ? ` (${num(len)} characters, content not recorded)` : " (content not recorded)")) });
    }
    for (const c of llm.llm_calls) {
      items.push({ t: c.time, el: h("li", { class: `llm ${c.success === false ? "failed" : ""}` }, h("div", { class: "when" }, when(c.time)),
        h("strong", {}, "LLM call "), c.model || "?", h("span", { class: "muted" },
          ` · in ${num(c.tokens_in)} · out ${num(c.tokens_out)} · cache ${num(c.cache_read_tokens)} · ${usd(c.cost_usd)} · ${ms(c.duration_ms)}`),
        c.success === false ? badge("failed") : null) });
    }
    for (const t of tools.tools) {
      const status = t.success === true ? "ok" : t.success === false ? "failed" : "";
      items.push({ t: t.start_time, el: h("li", { class: `tool ${t.success === false ? "failed" : ""}` }, h("div", { class: "when" }, when(t.start_time)),
        h("strong", {}, "Tool "), t.tool_name, " ", status ? badge(status) : null,
        h("span", { class: "muted" }, ` · ${ms(t.duration_ms)}`),
        t.decision ? h("div", {}, "Approval: ", badge(t.decision), t.decision_source ? ` by ${t.decision_source}` : "", t.approval_wait_ms !== null ? ` · waited ${ms(t.approval_wait_ms)}` : "") : null,
        t.error ? h("div", { class: "tool-error" }, t.error) : null,
        t.tool_input ? h("details", {}, h("summary", {}, "Input"), h("pre", {}, typeof t.tool_input === "string" ? t.tool_input : JSON.stringify(t.tool_input, null, 2))) : null,
        t.tool_response ? h("details", {}, h("summary", {}, "Result"), h("pre", {}, typeof t.tool_response === "string" ? t.tool_response : JSON.stringify(t.tool_response, null, 2))) : null) });
    }
    if (!items.length) return null;
    items.sort((a, b) => new Date(a.t) - new Date(b.t));
    return h("ol", { class: "timeline" }, items.map((i) => i.el));
  });
  const traces = section("Traces (span waterfall)", "traces", async () => {
    const d = await api(`${API}/traces`, { params: { session_id: id, limit: 100 } });
    return traceTable(d.traces, "No spans recorded for this session.");
  });
  const git = section("Git links", "git links", async () => {
    const links = await api(`${V1}/sessions/${enc}/gitlinks`);
    if (!links.length) return null;
    return h("ul", {}, links.map((g) => h("li", {}, g.link_type === "pr" ? link(g.pr_url, g.pr_url) : h("code", {}, g.commit_sha), " ", badge(g.confidence))));
  }, { optional: true });
  const messages = section("Messages", "messages", async () => {
    const rows = await api(`${V1}/sessions/${enc}/messages`);
    const shown = rows.filter((m) => m.content || m.tool_calls.length);
    if (!shown.length) return rows.length ? empty(`${rows.length} messages, none with recorded content.`) : null;
    return h("ol", { class: "timeline" }, shown.map((m) => h("li", { class: m.role === "user" ? "prompt" : "llm" },
      h("div", { class: "when" }, `${when(m.timestamp)} · ${m.role}${m.model ? ` · ${m.model}` : ""}${m.output_tokens ? ` · out ${num(m.output_tokens)}` : ""}`),
      m.content ? h("pre", { class: "message" }, m.content) : null,
      m.tool_calls.map((t) => h("div", { class: `tool ${t.success === false ? "failed" : ""}` }, h("strong", {}, "Tool "), t.tool_name, " ",
        t.success === true ? badge("ok") : t.success === false ? badge("failed") : null,
        t.input_json ? h("details", {}, h("summary", {}, "Input"), h("pre", {}, t.input_json)) : null,
        t.result_content ? h("details", {}, h("summary", {}, "Result"), h("pre", {}, t.result_content)) : null)))));
  }, { optional: true });
  return [h("p", {}, link("#/sessions", "← Sessions")), h("h1", {}, `Session ${id}`), head, timeline, messages, traces, git];
}

function traceTable(traces, emptyText) {
  return table([
    { title: "Trace", cell: (t) => link(`#/traces/${encodeURIComponent(t.trace_id)}`, t.root_span_name || short(t.trace_id)) },
    { title: "Service", cell: (t) => t.service_name || "–", narrow: true }, { title: "Status", cell: (t) => badge(t.status) },
    { title: "Start", cell: (t) => when(t.start_time) }, { title: "Duration", num: true, cell: (t) => ms(t.duration_ms) },
    { title: "Spans", num: true, cell: (t) => num(t.span_count), narrow: true }, { title: "Cost", num: true, cell: (t) => usd(t.cost_usd) },
  ], traces, emptyText);
}

function tracesPage({ params }) {
  const filters = pick(params, ["start_date", "end_date", "session_id", "task_id"]);
  const offset = Number(params.get("offset") || 0);
  return [h("h1", {}, "Traces"),
    filterForm("traces", params, [{ name: "start_date", label: "From", type: "date" }, { name: "end_date", label: "To", type: "date" },
      { name: "session_id", label: "Session" }, { name: "task_id", label: "Task" }]),
    section("Traces", "traces", async () => {
      const d = await api(`${API}/traces`, { params: { start_time: filters.start_date ? `${filters.start_date}T00:00:00Z` : "",
        end_time: filters.end_date ? `${filters.end_date}T23:59:59Z` : "", session_id: filters.session_id, task_id: filters.task_id, limit: 50, offset } });
      const pager = h("div", { class: "pager" });
      if (offset > 0) pager.append(h("button", { type: "button", class: "secondary", onclick: () => go("traces", { ...filters, offset: Math.max(offset - 50, 0) }) }, "Previous"));
      if (d.traces.length === 50) pager.append(h("button", { type: "button", onclick: () => go("traces", { ...filters, offset: offset + 50 }) }, "Next"));
      return h("div", {}, (d.warnings || []).map((w) => h("p", { class: "state error" }, String(w.message || JSON.stringify(w)))),
        traceTable(d.traces, "No traces in this window."), pager);
    })];
}

function tracePage({ id }) {
  const detail = h("div", { class: "card", id: "span-detail", "aria-live": "polite" }, h("p", { class: "muted" }, "Select a span to see its attributes, events and status."));
  const wf = section("Waterfall", "the trace", async () => {
    const d = await api(`${API}/traces/${encodeURIComponent(id)}`);
    if (!d.spans.length) return null;
    return waterfall(d.spans, detail);
  });
  return [h("p", {}, link("#/traces", "← Traces")), h("h1", {}, `Trace ${id}`), wf, detail];
}

function waterfall(spans, detail) {
  const byId = new Map(spans.map((sp) => [sp.id, sp]));
  const children = new Map();
  const roots = [];
  for (const sp of spans) {
    if (sp.parent_span_id && byId.has(sp.parent_span_id)) {
      if (!children.has(sp.parent_span_id)) children.set(sp.parent_span_id, []);
      children.get(sp.parent_span_id).push(sp);
    } else roots.push(sp);
  }
  const t = (x) => new Date(x).getTime();
  const t0 = Math.min(...spans.map((sp) => t(sp.start_time)));
  const t1 = Math.max(...spans.map((sp) => (sp.end_time ? t(sp.end_time) : t(sp.start_time) + (sp.duration_ms || 0))));
  const total = Math.max(t1 - t0, 1);
  const ordered = [];
  const walk = (sp, depth) => {
    ordered.push([sp, depth]);
    for (const c of (children.get(sp.id) || []).sort((a, b) => t(a.start_time) - t(b.start_time))) walk(c, depth + 1);
  };
  roots.sort((a, b) => t(a.start_time) - t(b.start_time)).forEach((r) => walk(r, 0));
  const rows = ordered.map(([sp, depth]) => {
    const left = ((t(sp.start_time) - t0) / total) * 100;
    const width = Math.max(((sp.duration_ms || 0) / total) * 100, 0.3);
    const row = h("button", { type: "button", class: "wf-row", "aria-pressed": "false", "data-span": sp.id },
      h("span", { class: "wf-name", style: `padding-left:${depth * 0.9}rem`, title: sp.name }, sp.display_name || sp.name),
      h("span", { class: "wf-track" }, h("span", { class: `wf-bar ${sp.status}`, style: `left:${left}%;width:${Math.min(width, 100 - left)}%` })),
      h("span", { class: "wf-dur" }, ms(sp.duration_ms)));
    row.addEventListener("click", () => {
      for (const r of row.parentNode.children) r.setAttribute("aria-pressed", "false");
      row.setAttribute("aria-pressed", "true");
      detail.replaceChildren(spanDetail(sp));
    });
    return row;
  });
  return h("div", { class: "waterfall" }, h("p", { class: "muted" }, `${spans.length} spans over ${ms(total)}`), rows);
}

function spanDetail(sp) {
  const kv = (obj) => {
    const entries = Object.entries(obj || {});
    return entries.length ? table([{ title: "Key", cell: (e) => e[0] }, { title: "Value", cell: (e) => (typeof e[1] === "object" ? JSON.stringify(e[1]) : String(e[1])) }], entries, "") : empty("None.");
  };
  return h("div", {}, h("h2", {}, sp.name), h("p", {}, badge(sp.status), " ", sp.status_message || "", h("span", { class: "muted" },
    ` · ${sp.kind} · ${when(sp.start_time)} · ${ms(sp.duration_ms)}${sp.model ? ` · ${sp.model}` : ""}${sp.cost_usd ? ` · ${usd(sp.cost_usd)}` : ""}`)),
  sp.session_id ? h("p", {}, "Session ", link(`#/sessions/${encodeURIComponent(sp.session_id)}`, sp.session_id)) : null,
  h("h3", {}, "Attributes"), kv(sp.attributes), h("h3", {}, "Resource"), kv(sp.resource_attributes),
  h("h3", {}, "Events"), (sp.events || []).length ? h("ul", {}, sp.events.map((e) => h("li", {}, `${when(e.time || e.timestamp)} ${e.name}`, h("pre", {}, JSON.stringify(e.attributes || {}, null, 2))))) : empty("No events."));
}

// -- chains, approvals, live updates -----------------------------------------------------------------------
let live = null; // the poller of the page showing; stopped on every navigation
function startLive(onChange, statusEl) {
  let since = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      if (since === null) { // skip to the newest event: only what happens from now on matters
        since = 0;
        for (;;) {
          const d = await api(`${API}/events`, { params: { since, limit: 1000 } });
          since = d.next_since ?? since;
          if (d.count < 1000) break;
        }
      } else {
        const d = await api(`${API}/events`, { params: { since, limit: 200, types: "approval.requested,approval.decision,metrics.updated,task.updated,task.completed,agent.completed" } });
        since = d.next_since ?? since;
        if (d.count) onChange(d.events);
      }
      statusEl.textContent = `Live: checked ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      statusEl.textContent = `Live updates paused: ${err.message}`;
    }
    if (!stopped) setTimeout(tick, 4000);
  };
  tick();
  return () => { stopped = true; };
}

const drafts = new Map(); // stage id -> feedback typed but not yet sent
function approvalsSection(onDecided) {
  return section("Pending approvals", "pending approvals", async () => {
    const d = await api(`${API}/approvals/pending`, { params: { limit: 100 } });
    if (!d.approvals.length) return empty("No stage is waiting for approval.");
    return h("div", {}, d.approvals.map((a) => {
      const fid = `feedback-${a.stage_id}`;
      const feedback = h("textarea", { id: fid, name: "feedback", maxlength: "10000" });
      feedback.value = drafts.get(a.stage_id) || ""; // live refreshes rebuild the list: keep what was typed
      feedback.addEventListener("input", () => drafts.set(a.stage_id, feedback.value));
      const msg = h("p", { class: "muted", role: "status" });
      const decide = async (status, buttons) => {
        buttons.forEach((b) => { b.disabled = true; });
        msg.textContent = "Sending…";
        try {
          const body = { approval_status: status };
          if (feedback.value.trim()) body.feedback = feedback.value.trim();
          const stage = await api(`${API}/stages/${encodeURIComponent(a.stage_id)}/approval`, { method: "PUT", body, write: true });
          msg.textContent = `Stage ${stage.stage_number} ${stage.approval_status}.`;
          drafts.delete(a.stage_id);
          onDecided();
        } catch (err) {
          msg.textContent = `Could not ${status === "approved" ? "approve" : "reject"}: ${err.message}`;
          msg.className = "state error";
          buttons.forEach((b) => { b.disabled = false; });
        }
      };
      const approve = h("button", { type: "button", class: "approve" }, "Approve");
      const reject = h("button", { type: "button", class: "reject" }, "Reject");
      approve.addEventListener("click", () => decide("approved", [approve, reject]));
      reject.addEventListener("click", () => decide("rejected", [approve, reject]));
      return h("div", { class: "approval", "data-stage": a.stage_id },
        h("div", {}, link(`#/chains/${encodeURIComponent(a.chain_id)}`, `Chain ${short(a.chain_id)}`), ` · stage ${a.stage_number} · ${a.agent_id} · `,
          badge(a.approval_type || "approval"), h("span", { class: "muted" }, ` · ${usd(a.cost)} · since ${when(a.stage_created)}`)),
        h("label", { for: fid }, "Feedback (optional)"), feedback, h("div", { class: "actions" }, approve, reject), msg);
    }));
  });
}

function chainsPage({ params }) {
  const filters = pick(params, ["status", "source_type", "agent_id"]);
  const liveStatus = h("p", { class: "live", role: "status" }, "Live: starting…");
  const approvalsSlot = h("div", {});
  const listSlot = h("div", {});
  const render = () => {
    approvalsSlot.replaceChildren(approvalsSection(render));
    listSlot.replaceChildren(section("Chains", "chains", async () => {
      const d = await api(`${API}/chains`, { params: { ...filters, limit: 100 } });
      return table([
        { title: "Chain", cell: (c) => link(`#/chains/${encodeURIComponent(c.id)}`, c.github_repo ? `${c.github_repo}#${c.github_issue_number ?? ""}` : c.source_ref || short(c.id)) },
        { title: "Status", cell: (c) => badge(c.status) }, { title: "Agent flow", cell: (c) => h("span", { class: "flow" }, c.agent_flow || "–") },
        { title: "Stages", num: true, cell: (c) => `${c.stages_completed}/${c.stage_count}` }, { title: "Cost", num: true, cell: (c) => usd(c.total_cost) },
        { title: "Tokens", num: true, cell: (c) => num(c.total_tokens), narrow: true }, { title: "Created", cell: (c) => when(c.created_at), narrow: true },
      ], d.chains, "No chains match.");
    }));
  };
  render();
  live = startLive(render, liveStatus);
  return [h("h1", {}, "Chains"), liveStatus, approvalsSlot,
    filterForm("chains", params, [{ name: "status", label: "Status", options: ["active", "pending_approval", "completed", "failed"] },
      { name: "source_type", label: "Source", options: ["github_issue", "message", "manual", "eval_suite"] }, { name: "agent_id", label: "Agent" }]),
    listSlot];
}

function chainPage({ id }) {
  const enc = encodeURIComponent(id);
  const liveStatus = h("p", { class: "live", role: "status" }, "Live: starting…");
  const slot = h("div", {});
  const render = () => slot.replaceChildren(
    section("Journey", "the journey", async () => {
      const j = await api(`${API}/chains/${enc}/journey`);
      return h("div", {}, h("p", {}, j.summary), j.steps.length ? h("ol", { class: "timeline" }, j.steps.map((st) => h("li", { class: st.status === "failed" ? "failed" : "llm" },
        h("strong", {}, `${st.stage_number}. ${st.agent_id}`), ` ${st.action} `, badge(st.status), st.approval_status ? [" ", badge(st.approval_status)] : null,
        h("span", { class: "muted" }, ` · ${usd(st.cost)} · ${ms(st.duration_ms)}`), st.feedback ? h("div", {}, "Feedback: ", st.feedback) : null,
        st.error_excerpt ? h("div", { class: "tool-error" }, st.error_excerpt) : null))) : empty("No stages yet."));
    }),
    section("Stages", "stages", async () => {
      const c = await api(`${API}/chains/${enc}`);
      const stats = h("div", { class: "grid" }, [["Status", badge(c.status)], ["Cost", usd(c.total_cost)], ["Tokens", num(c.total_tokens)], ["Turns", num(c.total_turns)],
        ["Stages done", `${c.stages_completed}`]].map(([l, v]) => h("div", { class: "stat" }, h("div", { class: "label" }, l), h("div", { class: "value", style: "font-size:1rem" }, v))));
      return h("div", {}, stats, table([
        { title: "#", cell: (st) => st.stage_number }, { title: "Agent", cell: (st) => st.agent_id }, { title: "Status", cell: (st) => badge(st.status) },
        { title: "Approval", cell: (st) => (st.approval_status ? [badge(st.approval_status), st.human_feedback ? ` “${st.human_feedback}”` : ""] : "–") },
        { title: "Session", cell: (st) => (st.session_id ? link(`#/sessions/${encodeURIComponent(st.session_id)}`, short(st.session_id)) : "–"), narrow: true },
        { title: "Cost", num: true, cell: (st) => usd(st.cost) }, { title: "Tokens", num: true, cell: (st) => num(st.tokens_in + st.tokens_out), narrow: true },
        { title: "Duration", num: true, cell: (st) => ms(st.duration_ms) },
      ], c.stages || [], "No stages yet."));
    }));
  render();
  live = startLive(render, liveStatus);
  return [h("p", {}, link("#/chains", "← Chains")), h("h1", {}, `Chain ${id}`), liveStatus, slot];
}

// -- tasks and workspaces ----------------------------------------------------------------------------------
function tasksPage({ params }) {
  const filters = pick(params, ["workspace_id", "status"]);
  return [h("h1", {}, "Tasks"),
    filterForm("tasks", params, [{ name: "workspace_id", label: "Workspace id" },
      { name: "status", label: "Status", options: ["pending", "in_progress", "completed", "failed", "cancelled"] }]),
    section("Tasks", "tasks", async () => {
      const d = await api(`${API}/tasks`, { params: { ...filters, limit: 200 } });
      return table([
        { title: "Task", cell: (t) => link(`#/tasks/${encodeURIComponent(t.id)}`, t.title || t.id) }, { title: "Status", cell: (t) => badge(t.status) },
        { title: "Source", cell: (t) => `${t.source_type}${t.source_ref ? ` ${t.source_ref}` : ""}`, narrow: true },
        { title: "Parent", cell: (t) => (t.parent_task_id ? link(`#/tasks/${encodeURIComponent(t.parent_task_id)}`, short(t.parent_task_id)) : "–"), narrow: true },
        { title: "Agents", num: true, cell: (t) => num(t.agent_count), narrow: true }, { title: "Spans", num: true, cell: (t) => num(t.span_count), narrow: true },
        { title: "Cost", num: true, cell: (t) => usd(t.total_cost_usd) }, { title: "Duration", num: true, cell: (t) => ms(t.total_duration_ms) },
      ], d.tasks, "No tasks match.");
    })];
}

function spanTree(node) {
  if (!node) return null;
  const sp = node.span || node;
  return h("li", {}, h("span", {}, sp.display_name || sp.name), " ", badge(sp.status), h("span", { class: "muted" }, ` ${ms(sp.duration_ms)}${sp.cost_usd ? ` · ${usd(sp.cost_usd)}` : ""}`),
    (node.children || []).length ? h("ul", { class: "tree" }, node.children.map(spanTree)) : null);
}

function taskPage({ id }) {
  const enc = encodeURIComponent(id);
  return [h("p", {}, link("#/tasks", "← Tasks")), h("h1", {}, `Task ${id}`),
    section("Hierarchy", "the hierarchy", async () => {
      const d = await api(`${API}/tasks/${enc}/hierarchy`);
      const t = d.task || {};
      return h("div", {}, t.title ? h("p", {}, h("strong", {}, t.title), " ", badge(t.status), h("span", { class: "muted" }, ` · ${usd(t.total_cost_usd)} · ${num(t.span_count)} spans`)) : null,
        (d.agents || []).length ? h("ul", { class: "tree" }, d.agents.map((a) => h("li", {}, h("strong", {}, a.agent.agent_id), " ", badge(a.agent.status),
          h("span", { class: "muted" }, ` · ${usd(a.agent.cost_usd)} · ${num(a.agent.turns)} turns`),
          h("ul", { class: "tree" }, (a.traces || []).map((tr) => h("li", {}, link(`#/traces/${encodeURIComponent(tr.trace_id)}`, `trace ${short(tr.trace_id)}`),
            h("ul", { class: "tree" }, spanTree(tr.root_span)))))))) : empty("No agents assigned."));
    }),
    section("Outliers", "outliers", async () => {
      const d = await api(`${API}/tasks/${enc}/outliers`);
      return h("div", {}, h("p", { class: "muted" }, `Spans more than ${d.threshold} standard deviations from the task's mean.`), table([
        { title: "Span", cell: (o) => link(`#/traces/${encodeURIComponent(o.span.trace_id)}`, o.span.name) }, { title: "Metric", cell: (o) => o.metric },
        { title: "Value", num: true, cell: (o) => (o.metric === "cost_usd" ? usd(o.value) : o.metric === "duration_ms" ? ms(o.value) : num(o.value)) },
        { title: "z", num: true, cell: (o) => o.z_score.toFixed(2) }, { title: "% of total", num: true, cell: (o) => `${o.percent_of_total.toFixed(1)}%`, narrow: true },
      ], d.outliers, "No outliers."));
    })];
}

function workspacesPage() {
  return [h("h1", {}, "Workspaces"), section("Workspaces", "workspaces", async () => {
    const d = await api(`${API}/workspaces`, { params: { limit: 200 } });
    return table([
      { title: "Name", cell: (w) => w.name }, { title: "Path", cell: (w) => w.path || "–", narrow: true },
      { title: "Tasks", cell: (w) => link(`#/tasks?workspace_id=${encodeURIComponent(w.id)}`, "tasks") },
      { title: "Overview", cell: (w) => link(`#/overview?workspace=${encodeURIComponent(w.id)}`, "spend") },
      { title: "Remote", cell: (w) => w.git_remote || "–", narrow: true },
    ], d.workspaces, "No workspaces yet.");
  })];
}

// -- the shell ----------------------------------------------------------------------------------------------
const PAGES = {
  overview: [overview, null], sessions: [sessionsPage, sessionPage], traces: [tracesPage, tracePage],
  chains: [chainsPage, chainPage], tasks: [tasksPage, taskPage], workspaces: [workspacesPage, null],
};

function render() {
  if (live) { live(); live = null; }
  const route = current();
  const main = document.getElementById("main");
  const entry = PAGES[route.page];
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === route.page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  let content;
  try {
    const view = entry && (route.id ? entry[1] : entry[0]);
    content = view ? view(route) : [h("h1", {}, "Not found"), empty(`No page “${route.page}”.`), link("#/overview", "Go to the overview")];
  } catch (err) {
    content = failure(err, "this page");
  }
  main.replaceChildren(...[content].flat());
  main.dataset.route = window.location.hash; // which view is showing (tests and scripts wait on it)
  document.title = `Observatory · ${route.page}`;
}

function init() {
  document.getElementById("keys-button").addEventListener("click", () => askKeys());
  // Saved on submit (not on close): a late answer reopening the dialog must not lose what was typed.
  document.getElementById("keys-form").addEventListener("submit", (ev) => {
    if (!ev.submitter || ev.submitter.value !== "save") return;
    store.set("read", document.getElementById("read-key").value.trim());
    store.set("write", document.getElementById("write-key").value.trim());
    store.set("base", document.getElementById("api-base").value.trim().replace(/\/$/, ""));
    setTimeout(render, 0);
  });
  window.addEventListener("hashchange", () => { render(); document.getElementById("main").focus({ preventScroll: true }); });
  render();
}

init();
