// The board's script: refresh rows without reloading, filters, and the countdown of the
// service time left. The server sends each tier's service hours as intervals of epoch
// milliseconds, so the countdown runs only while they run; no calendar logic lives here.
"use strict";

(function () {
  let section = document.getElementById("board");
  if (!section) return;
  let state = null;

  function read(el) {
    const served = Number(el.dataset.served);
    return {
      asOf: Number(el.dataset.asOf),
      // The server's clock, seen from here: the countdown follows it, not this machine's.
      offset: served - Date.now(),
      schedules: JSON.parse(el.dataset.schedules || "{}"),
      until: Number(el.dataset.until),
      refresh: Number(el.dataset.refresh) * 1000,
      endpoint: el.dataset.endpoint,
    };
  }

  // Service milliseconds between two instants, from the tier's intervals; null beyond the
  // time the server sent them for (then nobody here knows whether the clock runs).
  function served(intervals, from, to) {
    if (to > state.until) return null;
    let total = 0;
    for (const [start, end] of intervals) {
      const a = Math.max(start, from), b = Math.min(end, to);
      if (b > a) total += b - a;
    }
    return total;
  }

  function isOpen(intervals, at) {
    return intervals.some(([start, end]) => start <= at && at < end);
  }

  function format(ms) {
    const sign = ms < 0 ? "-" : "";
    let s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return `${sign}${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
  }

  function tick() {
    const now = Date.now() + state.offset;
    for (const cell of section.querySelectorAll("td.left.ticking")) {
      const intervals = state.schedules[cell.dataset.tier] || [];
      const spent = served(intervals, state.asOf, now);
      if (spent === null) { cell.textContent = "?"; continue; }
      cell.textContent = format(Number(cell.dataset.leftMs) - spent);
      const open = isOpen(intervals, now);
      cell.classList.toggle("idle", !open);
      cell.title = open ? "service hours: the clock runs"
        : "outside service hours: the clock stands still";
    }
  }

  function adopt(el) {
    section = el;
    state = read(el);
    tick();
  }

  async function load(url, push) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" },
                                           credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      const holder = document.createElement("div");
      holder.innerHTML = data.html;
      const fresh = holder.firstElementChild;
      section.replaceWith(fresh);
      adopt(fresh);
      if (push !== undefined) history.replaceState(null, "", push);
    } catch (error) {
      const stale = section.querySelector(".stale");
      if (stale) stale.hidden = false;
    }
  }

  function query(form, page) {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
    if (page && page > 1) params.set("page", String(page));
    return params.toString();
  }

  const form = document.getElementById("filters");
  if (form) {
    form.addEventListener("change", () => {
      const q = query(form);
      load("/board.json" + (q ? "?" + q : ""), location.pathname + (q ? "?" + q : ""));
    });
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.page-link");
    if (!link || !section.contains(link)) return;
    event.preventDefault();
    const q = link.getAttribute("href").replace(/^\?/, "");
    const base = section.dataset.endpoint.split("?")[0];
    load(base + "?" + q, form ? location.pathname + "?" + q : undefined);
  });

  adopt(section);
  setInterval(tick, 1000);
  setInterval(() => load(section.dataset.endpoint), state.refresh);
})();
