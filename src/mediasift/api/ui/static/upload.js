"use strict";
// Uploads, one request per file so each has its own progress, then each asset's state until its
// analysis ends.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const list = document.getElementById("uploads");
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const POLL_MS = 1000;
  const FINISHED = new Set(["done", "failed", "partial"]);

  function row(name) {
    const li = document.createElement("li");
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${name}`);
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "waiting";
    li.append(title, bar, state);
    list.appendChild(li);
    return { li, bar, state };
  }

  function problem(xhrOrResponse, body) {
    try { return JSON.parse(body).detail || `error ${xhrOrResponse.status}`; } catch (e) { return `error ${xhrOrResponse.status}`; }
  }

  function follow(view, id) {
    const link = document.createElement("a");
    link.href = `/assets/${id}`;
    link.textContent = "open";
    link.setAttribute("aria-label", `Open ${view.li.querySelector(".name").textContent}`);
    view.li.appendChild(link);
    view.li.dataset.assetId = id;
    const poll = async () => {
      const answer = await fetch(`/assets/${id}/state.json`, { credentials: "same-origin" });
      if (!answer.ok) { view.state.textContent = `state unknown (${answer.status})`; return; }
      const state = await answer.json();
      const jobs = Object.values(state.jobs);
      const done = jobs.filter((j) => j === "done").length;
      view.state.textContent = `${state.status}${jobs.length ? ` · ${done}/${jobs.length} jobs done` : ""}`;
      view.li.dataset.status = state.status;
      view.bar.value = 100;
      if (!FINISHED.has(state.status)) setTimeout(poll, POLL_MS);
      else if (Object.keys(state.failed).length) view.state.textContent += ` · failed: ${Object.keys(state.failed).join(", ")}`;
    };
    poll();
  }

  function send(file) {
    const view = row(file.name);
    const body = new FormData();
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/upload");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        view.bar.value = Math.round((100 * event.loaded) / event.total);
        view.state.textContent = `uploading ${view.bar.value}%`;
      }
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) {
        const answer = JSON.parse(xhr.responseText);
        view.state.textContent = answer.duplicate ? "already here" : "queued";
        follow(view, answer.id);
      } else {
        view.state.textContent = `refused: ${problem(xhr, xhr.responseText)}`;
        view.li.dataset.status = "refused";
      }
    });
    xhr.addEventListener("error", () => { view.state.textContent = "the upload failed (network)"; });
    xhr.send(body);
  }

  input.addEventListener("change", () => { Array.from(input.files).forEach(send); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    Array.from(event.dataTransfer.files).forEach(send);
  });

  document.getElementById("url-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = document.getElementById("url");
    const view = row(field.value);
    view.state.textContent = "fetching";
    const answer = await fetch("/upload/url", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ url: field.value }),
    });
    const text = await answer.text();
    if (answer.status === 201) { view.bar.value = 100; follow(view, JSON.parse(text).id); field.value = ""; }
    else { view.state.textContent = `refused: ${problem(answer, text)}`; view.li.dataset.status = "refused"; }
  });
})();
