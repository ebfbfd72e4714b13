// The live view's few behaviours: apply server-sent changes, tick durations, submit actions in place.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf"]')?.content || "";

  function fragment(html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  function appendItems(list, html) {
    // Items carry their index; skip any this list already has (a late or repeated event).
    for (const item of Array.from(fragment(html).children)) {
      if (Number(item.dataset.index) >= list.children.length) list.appendChild(item);
    }
    list.scrollTop = list.scrollHeight;
  }

  function applyCard(html) {
    const incoming = fragment(html).firstElementChild;
    const existing = document.getElementById(incoming.id);
    if (!existing) {
      document.getElementById("calls").appendChild(incoming);
    } else {
      // Keep the action forms (and what the supervisor is typing); replace the rest.
      for (const sel of [".head", ".transcript", ".tools"]) existing.querySelector(sel).replaceWith(incoming.querySelector(sel));
      existing.className = incoming.className;
    }
    document.getElementById("no-calls").hidden = true;
  }

  const handlers = {
    card: (d) => applyCard(d.html),
    head: (d) => {
      const card = document.getElementById("call-" + d.call_id);
      if (!card) return;
      const head = card.querySelector(".head");
      head.innerHTML = d.html;
      card.classList.toggle("escalated", !!head.querySelector(".escalation, .approval"));
      const grade = head.querySelector(".latency")?.dataset.grade;
      card.classList.toggle("latency-amber", grade === "amber");
      card.classList.toggle("latency-red", grade === "red");
    },
    turns: (d) => {
      const card = document.getElementById("call-" + d.call_id);
      if (card) appendItems(card.querySelector(".transcript"), d.html);
    },
    tools: (d) => {
      const card = document.getElementById("call-" + d.call_id);
      if (card) appendItems(card.querySelector(".tools"), d.html);
    },
    ended: (d) => {
      const card = document.getElementById("call-" + d.call_id);
      if (!card) return;
      card.classList.add("ended");
      card.querySelectorAll("button, input").forEach((el) => (el.disabled = true));
      const note = card.querySelector(".actions .result");
      note.innerHTML = "";
      const link = document.createElement("a");
      link.href = "/review/" + encodeURIComponent(d.call_id);
      link.textContent = "Call ended: review it";
      note.appendChild(link);
    },
  };

  function tick() {
    for (const el of document.querySelectorAll(".duration[data-started]")) {
      const started = Date.parse(el.dataset.started);
      if (Number.isNaN(started)) continue;
      const s = Math.max(0, Math.floor((Date.now() - started) / 1000));
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }
  }

  if (document.getElementById("calls")) {
    const state = document.getElementById("stream-state");
    const stream = new EventSource("/live/stream");
    stream.addEventListener("hello", () => (state.textContent = "live"));
    stream.onerror = () => (state.textContent = "reconnecting…");
    for (const [name, fn] of Object.entries(handlers)) {
      stream.addEventListener(name, (e) => {
        fn(JSON.parse(e.data));
        tick();
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  // Actions: POST in place and show the workflow's answer (or its validator's refusal) beside the form.
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.classList.contains("action")) return;
    e.preventDefault();
    const body = new FormData(form);
    if (e.submitter && e.submitter.name) body.set(e.submitter.name, e.submitter.value);
    const out = form.closest(".actions, .toolbar, article")?.querySelector(".result");
    if (out) { out.className = "result"; out.textContent = "…"; }
    let message;
    let ok = false;
    try {
      const res = await fetch(form.action, { method: "POST", body, headers: { Accept: "application/json", "X-CSRF-Token": csrf } });
      const data = await res.json().catch(() => ({ ok: false, message: res.status + " " + res.statusText }));
      ok = !!data.ok;
      message = data.message;
    } catch (err) {
      message = "could not reach the dashboard: " + err;
    }
    if (out) { out.className = "result " + (ok ? "ok" : "error"); out.textContent = message; }
    if (ok) form.querySelectorAll('input[name="text"]').forEach((i) => (i.value = ""));
  });
})();
