// The inspector page: connections polled from api/connections, events
// streamed from api/events (Server-Sent Events), an invocation's JSON
// from api/invocations/{id}. User data is only ever set as textContent.

const MAX_EVENTS = 1000; // rows kept on the page
const POLL_MS = 2000;
// At most one listing is asked for at a time, and the next one this long
// after it: connects and disconnects ask for one each, and a burst of them
// must not become a burst of listings (each walks every connection).
const POLL_GAP_MS = 500;
const RETRY_MS = 2000; // before opening the stream again after an error answer

const $ = (id) => document.getElementById(id);
const events = []; // newest last
let lastSeq = 0;
let server = ""; // the server process whose events these are (event: hello)
let selected = ""; // the connection the form acts on
let shown = 0; // the invocation shown in the detail panel

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtBytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
  return (n / 1024 / 1024).toFixed(1) + " MB";
}

function fmtTime(t) {
  const d = new Date(t);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function identityText(c) {
  if (!c.identity) return "";
  return Object.entries(c.identity).map(([k, v]) => k + "=" + v).join(" ");
}

// --- Connections ---

let polling = false; // a listing is under way (or was, less than POLL_GAP_MS ago)
let pollAgain = false; // another was asked for meanwhile

async function pollConnections() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  try {
    const r = await fetch("api/connections", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    renderConnections(await r.json());
  } catch (e) {
    $("status").textContent = "cannot list connections: " + e.message;
  } finally {
    setTimeout(() => {
      polling = false;
      if (pollAgain) {
        pollAgain = false;
        pollConnections();
      }
    }, POLL_GAP_MS);
  }
}

function renderConnections(data) {
  const list = $("connections");
  list.replaceChildren();
  $("conn-count").textContent = String(data.total);
  $("conn-empty").hidden = data.total > 0;
  for (const c of data.connections) {
    const li = el("li", "conn" + (c.id === selected ? " selected" : ""));
    li.dataset.id = c.id;
    li.tabIndex = 0;
    li.append(el("code", "conn-id", c.id));
    const dl = el("dl");
    const field = (k, v) => { if (v) { dl.append(el("dt", "", k), el("dd", "", v)); } };
    field("identity", identityText(c));
    for (const [k, v] of Object.entries(c.annotations || {})) field(k, v || "—");
    field("since", fmtTime(c.connectedAt));
    field("in / out", fmtBytes(c.bytesIn) + " / " + fmtBytes(c.bytesOut));
    field("source", c.sourceIp);
    li.append(dl);
    li.addEventListener("click", () => select(c.id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") select(c.id); });
    list.append(li);
  }
  if (selected && !data.connections.some((c) => c.id === selected) && !$("act-result").textContent) {
    $("act-result").textContent = "connection " + selected + " is gone";
  }
}

function select(id) {
  selected = id;
  $("act").hidden = false;
  $("act-id").textContent = id;
  $("act-result").textContent = "";
  $("f-conn").value = id;
  for (const li of $("connections").children) li.classList.toggle("selected", li.dataset.id === id);
  renderEvents();
}

async function act(method, url, body) {
  const res = $("act-result");
  res.textContent = "…";
  try {
    // Not text/plain: the server takes a message only with a Content-Type
    // that no form of another site can send.
    const r = await fetch(url, { method, body, headers: method === "POST" ? { "Content-Type": "application/octet-stream" } : {} });
    if (r.ok) {
      res.textContent = method === "POST" ? "posted" : "disconnected";
    } else {
      const j = await r.json().catch(() => ({}));
      res.textContent = "failed: " + (j.message || "HTTP " + r.status);
    }
  } catch (e) {
    res.textContent = "failed: " + e.message;
  }
  pollConnections();
}

$("act").addEventListener("submit", (e) => {
  e.preventDefault();
  act("POST", "api/connections/" + encodeURIComponent(selected) + "/messages", $("act-message").value);
});
$("act-disconnect").addEventListener("click", () => {
  act("DELETE", "api/connections/" + encodeURIComponent(selected));
});

// --- Events ---

function failed(e) {
  // 1005: a client's close without a code (a browser's ws.close()).
  if (e.kind === "disconnect") return e.code !== 1000 && e.code !== 1001 && e.code !== 1005;
  return !!e.outcome && e.outcome !== "ok";
}

function matches(e) {
  const conn = $("f-conn").value.trim();
  const route = $("f-route").value.trim();
  if (conn && !(e.connectionId || "").includes(conn)) return false;
  if (route && !(e.route || "").includes(route)) return false;
  if ($("f-errors").checked && !failed(e)) return false;
  return true;
}

function summary(e) {
  switch (e.kind) {
    case "connect":
      return (e.outcome === "ok" ? "connected" : "refused " + e.code + (e.error ? " (" + e.error + ")" : "")) +
        " · " + (e.durationMs || 0).toFixed(1) + " ms";
    case "disconnect":
      return "closed " + e.code + (e.reason ? " " + e.reason : "");
    case "invocation":
      return e.route + " → " + e.integration + (e.function ? " " + e.function : "") + " · " +
        e.outcome + " · " + (e.durationMs || 0).toFixed(1) + " ms" + (e.error ? " · " + e.error : "");
    default:
      return e.preview;
  }
}

const KIND_LABEL = { connect: "connect", disconnect: "close", frameIn: "in", frameOut: "out", invocation: "invoke" };

function row(e) {
  const li = el("li", "ev ev-" + e.kind + (failed(e) ? " failed" : ""));
  li.append(el("time", "", fmtTime(e.time)));
  li.append(el("span", "kind", KIND_LABEL[e.kind] || e.kind));
  li.append(el("code", "cid", e.connectionId || ""));
  const text = el("span", "text", summary(e));
  li.append(text);
  if (e.kind === "frameIn" || e.kind === "frameOut") li.append(el("span", "size", fmtBytes(e.bytes || 0)));
  if (e.requestId) li.title = "requestId " + e.requestId;
  if (e.invocation) {
    li.classList.add("clickable");
    li.tabIndex = 0;
    li.title = "show the event and response JSON" + (e.requestId ? " (requestId " + e.requestId + ")" : "");
    if (e.invocation === shown) li.classList.add("active");
    li.addEventListener("click", () => {
      for (const r of $("events").querySelectorAll(".ev.active")) r.classList.remove("active");
      li.classList.add("active");
      shown = e.invocation;
      showInvocation(e);
    });
    li.addEventListener("keydown", (k) => { if (k.key === "Enter") li.click(); });
  }
  return li;
}

function renderEvents() {
  const ol = $("events");
  ol.replaceChildren(...events.filter(matches).map(row).reverse());
}

function addEvent(e) {
  if (e.seq <= lastSeq) return; // sent again after a reconnect
  lastSeq = e.seq;
  events.push(e);
  const ol = $("events");
  if (events.length > MAX_EVENTS) {
    events.shift();
  }
  if (matches(e)) ol.prepend(row(e));
  while (ol.children.length > MAX_EVENTS) ol.lastChild.remove();
  if (e.kind === "connect" || e.kind === "disconnect") pollConnections();
}

async function showInvocation(e) {
  const panel = $("detail-panel");
  panel.hidden = false;
  $("detail-meta").textContent = e.route + " · " + e.connectionId;
  $("detail-event").textContent = "loading…";
  $("detail-response").textContent = "";
  try {
    const r = await fetch("api/invocations/" + e.invocation, { cache: "no-store" });
    const j = await r.json();
    if (!r.ok) throw new Error(j.message || "HTTP " + r.status);
    if (j.requestId) $("detail-meta").textContent += " · requestId " + j.requestId;
    $("detail-event").textContent = JSON.stringify(j.event, null, 2);
    $("detail-response").textContent = j.error ? "error: " + j.error
      : (j.response ? JSON.stringify(j.response, null, 2) : "(none)");
    if (j.truncated) $("detail-meta").textContent += " · truncated";
  } catch (err) {
    $("detail-event").textContent = "not available: " + err.message;
  }
  panel.scrollIntoView({ block: "nearest" });
}

for (const id of ["f-conn", "f-route", "f-errors"]) $(id).addEventListener("input", renderEvents);
$("clear").addEventListener("click", () => { events.length = 0; renderEvents(); });

function stream() {
  const src = new EventSource("api/events");
  src.onopen = () => { $("status").textContent = "live"; $("status").className = "status live"; pollConnections(); };
  src.addEventListener("hello", (m) => {
    const s = JSON.parse(m.data).server;
    // A restarted server numbers its events from 1 again.
    if (s !== server) lastSeq = 0;
    server = s;
  });
  src.onerror = () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "status";
    // EventSource retries a lost connection by itself, but gives up on an
    // answer other than 200 (a server shutting down answers 503, as does
    // one watched by DefaultInspectSubscribers pages already): try again.
    if (src.readyState === EventSource.CLOSED) setTimeout(stream, RETRY_MS);
  };
  src.onmessage = (m) => addEvent(JSON.parse(m.data));
  src.addEventListener("dropped", (m) => {
    const d = $("dropped");
    d.hidden = false;
    d.textContent = JSON.parse(m.data).dropped + " events were dropped: the page fell behind";
  });
}

stream();
pollConnections();
setInterval(pollConnections, POLL_MS);
