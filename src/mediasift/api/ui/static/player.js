"use strict";
// Seeking a <video>/<audio>: waits for its metadata when it has none yet, then sets the time and,
// when asked, plays (a click is the user's gesture that lets a page play sound).
window.msPlayer = {
  seek(media, seconds, play) {
    const go = () => {
      media.currentTime = seconds;
      media.dataset.seekedTo = String(seconds);
      if (play) {
        const started = media.play();
        if (started) started.catch(() => {});
      }
    };
    if (media.readyState >= 1) go();
    else media.addEventListener("loadedmetadata", go, { once: true });
  },
  clock(seconds) {
    const s = Math.max(0, seconds);
    const m = Math.floor(s / 60);
    const rest = s - m * 60;
    return `${m}:${rest < 10 ? "0" : ""}${rest.toFixed(1)}`;
  },
};
