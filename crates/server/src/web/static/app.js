// The dashboard's one script. Pages work without it; it adds two things:
// - live refresh: an element with data-refresh="N" is fetched again every N seconds and
//   replaced, unless the person is typing in a form;
// - times in the viewer's own zone beside the UTC ones.
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
  const seconds = Math.max(10, parseInt(live.dataset.refresh, 10) || 30);
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

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  liveRefresh();
});
