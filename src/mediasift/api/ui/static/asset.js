"use strict";
// The asset page: shots and transcript words seek the player; the word being said is highlighted;
// on-screen text, faces and objects are drawn over the picture at their times.
(() => {
  const data = JSON.parse(document.getElementById("asset-data").textContent);
  const player = document.getElementById("player");
  const overlay = document.getElementById("overlay");
  const caption = document.getElementById("now-playing");
  const words = Array.from(document.querySelectorAll("#transcript .word"));
  const shown = { text: true, face: true, object: true };
  let current = null;

  document.querySelectorAll("button.seek, button.word").forEach((button) => {
    button.addEventListener("click", () => {
      if (!player) return;
      const start = Number(button.dataset.start) || 0;
      window.msPlayer.seek(player, start, true);
      if (caption) caption.textContent = `Playing from ${window.msPlayer.clock(start)}`;
    });
  });

  // One tab stop for the whole transcript (the word last focused); arrows, Home and End move between words.
  words.forEach((word, i) => word.setAttribute("tabindex", i === 0 ? "0" : "-1"));
  const transcript = document.getElementById("transcript");
  if (transcript) {
    transcript.addEventListener("keydown", (event) => {
      const at = words.indexOf(document.activeElement);
      if (at < 0) return;
      const moves = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: words.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = words[Math.max(0, Math.min(words.length - 1, moves[event.key]))];
      words[at].setAttribute("tabindex", "-1");
      next.setAttribute("tabindex", "0");
      next.focus();
    });
  }

  function highlight(t) {
    let found = null;
    for (const word of words) {
      if (Number(word.dataset.start) <= t && t < Number(word.dataset.end)) { found = word; break; }
    }
    if (found === current) return;
    if (current) { current.classList.remove("now"); current.removeAttribute("aria-current"); }
    if (found) { found.classList.add("now"); found.setAttribute("aria-current", "true"); }
    current = found;
  }

  function draw(t) {
    if (!overlay) return;
    overlay.replaceChildren();
    for (const box of data.boxes) {
      const always = data.kind === "image";
      if (!shown[box.kind] || (!always && !(box.start <= t && t < box.end))) continue;
      const el = document.createElement("div");
      // a label above a box at the picture's top edge would be cut off: it goes inside the box
      const inside = box.y * overlay.clientHeight < 22;
      el.className = `box box-${box.kind}${inside ? " label-inside" : ""}`;
      el.style.left = `${box.x * 100}%`;
      el.style.top = `${box.y * 100}%`;
      el.style.width = `${box.w * 100}%`;
      el.style.height = `${box.h * 100}%`;
      const label = document.createElement("span");
      label.textContent = box.label;
      el.appendChild(label);
      overlay.appendChild(el);
    }
  }

  document.querySelectorAll("input[data-box-kind]").forEach((toggle) => {
    toggle.addEventListener("change", () => {
      shown[toggle.dataset.boxKind] = toggle.checked;
      draw(player ? player.currentTime : 0);
    });
  });

  let frame = 0;
  function tick() {
    highlight(player.currentTime);
    draw(player.currentTime);
    frame = player.paused ? 0 : requestAnimationFrame(tick);
  }
  if (player) {
    ["timeupdate", "seeked", "loadedmetadata"].forEach((name) => player.addEventListener(name, () => {
      highlight(player.currentTime);
      draw(player.currentTime);
    }));
    player.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
    // A codec the browser lacks (HEVC, WMV, AC-3 in Chromium): the source fails, or a video's sound
    // plays with no picture. Either way the page says so and offers the original.
    const unplayable = document.getElementById("unplayable");
    const cannot = () => {
      if (unplayable) unplayable.hidden = false;
      player.controls = false; // no spinner waiting for what will not come: a video keeps its poster
    };
    player.addEventListener("error", cannot);
    player.addEventListener("loadedmetadata", () => { if (player.tagName === "VIDEO" && !player.videoWidth) cannot(); });
    if (player.error || (player.tagName === "VIDEO" && player.readyState >= 1 && !player.videoWidth)) cannot();
  }
  draw(0);

  // A link to a moment (/assets/ID?t=12.5, as the people pages make) opens the player there.
  const at = Number(new URLSearchParams(window.location.search).get("t"));
  if (player && at > 0) {
    window.msPlayer.seek(player, at, false);
    if (caption) caption.textContent = `From ${window.msPlayer.clock(at)}`;
  }
})();
