"use strict";
// A moment's card plays its asset from the moment's start in the page's player.
(() => {
  const panel = document.getElementById("player-panel");
  const player = document.getElementById("player");
  const caption = document.getElementById("now-playing");
  if (!panel || !player) return;
  document.querySelectorAll("button.play").forEach((button) => {
    button.addEventListener("click", () => {
      const start = Number(button.dataset.start) || 0;
      const src = button.dataset.src;
      panel.hidden = false;
      if (player.getAttribute("src") !== src) {
        player.setAttribute("src", src);
        player.load();
      }
      window.msPlayer.seek(player, start, true);
      caption.textContent = `Playing ${button.dataset.title} from ${window.msPlayer.clock(start)}`;
      document.querySelectorAll("button.play[aria-pressed]").forEach((b) => b.removeAttribute("aria-pressed"));
      button.setAttribute("aria-pressed", "true");
      panel.scrollIntoView({ block: "nearest" });
    });
  });
})();
