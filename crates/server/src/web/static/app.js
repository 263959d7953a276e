// The dashboard's one script. Pages work without it; it adds two things:
// - live refresh: an element with data-refresh="N" is fetched again every N seconds and
//   replaced, unless the person is typing in a form;
// - times in the viewer's own zone beside the UTC ones;
// - copy buttons: a <button data-copy="…" hidden> is shown and copies its value when clicked.
"use strict";

function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) continue;
    t.dataset.local = d.toLocaleString([], { dateStyle: "short", timeStyle: "short" }) + " your time";
  }
}

function liveRefresh() {
  const live = document.getElementById("live");
  if (!live || !live.dataset.refresh) return;
  const seconds = Math.max(2, parseInt(live.dataset.refresh, 10) || 30);
  setInterval(async () => {
    const typing = document.activeElement && document.activeElement.closest("form");
    if (document.visibilityState !== "visible" || typing) return;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (!res.ok || res.redirected) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.getElementById("live");
      if (fresh) {
        live.replaceChildren(...fresh.childNodes);
        localTimes(live);
      }
    } catch (_) {
      // The server is away for a moment; the next round tries again.
    }
  }, seconds * 1000);
}

// Upload with progress: the file goes as the request body, and the browser follows the
// server's answer to the report's page. Dropping a file on the form picks it.
function uploads() {
  const form = document.querySelector("form[data-upload]");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const bar = form.querySelector("progress");
  const status = form.querySelector("[role=status]");
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; status.textContent = input.files[0].name; }
  });
  form.addEventListener("submit", (e) => {
    const file = input.files[0];
    if (!file) return;
    e.preventDefault();
    const action = new URL(form.action, location.href);
    const room = form.querySelector("select[name=room]").value;
    if (room) action.searchParams.set("room", room);
    action.searchParams.set("name", file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", action);
    xhr.setRequestHeader("x-csrf-token", action.searchParams.get("csrf") || "");
    bar.hidden = false;
    xhr.upload.addEventListener("progress", (p) => {
      if (p.lengthComputable) { bar.value = Math.round((p.loaded / p.total) * 100); status.textContent = "Uploading… " + bar.value + "%"; }
    });
    xhr.addEventListener("load", () => {
      if (xhr.status < 400 && xhr.responseURL) { location.assign(xhr.responseURL); return; }
      const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const why = doc.querySelector("main p");
      status.textContent = "The upload was refused: " + (why ? why.textContent : xhr.status);
    });
    xhr.addEventListener("error", () => { status.textContent = "The upload failed: the server could not be reached."; });
    xhr.send(file);
  });
}

// Copy buttons: a <button data-copy="…" hidden> is shown and copies its value when clicked
// (without the script the value stays in a readonly field to select).
function copyButtons(root) {
  if (!navigator.clipboard) return;
  for (const b of root.querySelectorAll("button[data-copy]")) {
    const label = b.textContent;
    b.hidden = false;
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(b.dataset.copy);
        b.textContent = "Copied";
      } catch (_) {
        b.textContent = "Select the text and copy it";
      }
      setTimeout(() => { b.textContent = label; }, 3000);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  liveRefresh();
  uploads();
  copyButtons(document);
});
