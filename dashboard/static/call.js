// The call page: a turn or event seeks the recording there; while it plays, the current turn is
// highlighted in the picture and the conversation, and a playhead moves over the picture.
"use strict";
(() => {
  const svg = document.querySelector("svg.picture");
  if (!svg) return;
  const audio = document.getElementById("recording");
  const detail = document.getElementById("marker-detail");
  const playhead = svg.querySelector(".playhead");
  const duration = Number(svg.dataset.duration) || 1;
  const turns = Array.from(svg.querySelectorAll("rect.turn")).map((el) => ({
    index: el.dataset.turn,
    start: Number(el.dataset.seek),
    end: Math.max(Number(el.dataset.end), Number(el.dataset.seek) + 0.3),
  }));
  let current = null;

  function seek(seconds) {
    if (!audio) return;
    audio.currentTime = Math.max(0, seconds);
    highlight(seconds);
  }

  function describe(el) {
    if (!detail) return;
    const text = el.dataset.detail;
    detail.textContent = (el.getAttribute("aria-label") || "") + (text ? ": " + text : "");
  }

  function highlight(t) {
    const turn = turns.find((x) => t >= x.start && t < x.end);
    const index = turn ? turn.index : null;
    if (playhead) {
      const x = Number(playhead.dataset.left) + (Number(playhead.dataset.span) * Math.min(t, duration)) / duration;
      playhead.setAttribute("x1", x);
      playhead.setAttribute("x2", x);
    }
    if (index === current) return;
    document.querySelectorAll(".current[data-turn]").forEach((el) => el.classList.remove("current"));
    if (index !== null) document.querySelectorAll(`[data-turn="${index}"]`).forEach((el) => el.classList.add("current"));
    current = index;
  }

  document.addEventListener("click", (e) => {
    const target = e.target.closest("[data-seek]");
    if (!target) return;
    seek(Number(target.dataset.seek));
    if (target.closest("svg")) describe(target);
  });
  // Keyboard: Enter or Space plays from a turn or event; the arrow keys move along the call in time.
  const stops = Array.from(svg.querySelectorAll("[data-seek][tabindex]")).sort(
    (a, b) => Number(a.dataset.seek) - Number(b.dataset.seek),
  );
  svg.addEventListener("keydown", (e) => {
    const target = e.target.closest("[data-seek]");
    if (!target) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      seek(Number(target.dataset.seek));
      describe(target);
    } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      const next = stops[stops.indexOf(target) + (e.key === "ArrowRight" ? 1 : -1)];
      if (next) next.focus();
    }
  });
  for (const el of svg.querySelectorAll(".marker, rect.turn")) {
    el.addEventListener("focus", () => describe(el));
    el.addEventListener("mouseenter", () => describe(el));
  }
  if (audio) {
    audio.addEventListener("timeupdate", () => highlight(audio.currentTime));
    audio.addEventListener("seeked", () => highlight(audio.currentTime));
  }
})();
