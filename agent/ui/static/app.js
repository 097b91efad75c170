// A running run's page follows it: the server sends "changed" when a step lands, and the timeline is fetched again.
"use strict";
(function () {
  const box = document.querySelector("#timeline[data-live]");
  if (!box || !window.EventSource) return;
  const base = box.dataset.live;
  const status = document.getElementById("run-status");
  const stream = new EventSource(base + "/events");
  async function refresh() {
    const reply = await fetch(base + "/timeline", { headers: { Accept: "text/html" } });
    if (reply.ok) box.innerHTML = await reply.text();
  }
  stream.addEventListener("changed", (event) => {
    const facts = JSON.parse(event.data);
    if (status) { status.textContent = facts.status; status.className = "status " + facts.status; }
    refresh();
  });
  stream.addEventListener("finished", () => { stream.close(); window.location.reload(); });
})();
