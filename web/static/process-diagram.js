// Draws an application's process with bpmn-js (NavigatedViewer, global BpmnJS) and marks where it
// stands. Progressive: without JavaScript or without the viewer the page shows the step list only.
(function () {
  "use strict";
  var container = document.getElementById("process-diagram");
  if (!container || typeof window.BpmnJS !== "function") {
    return;
  }
  var status = document.getElementById("process-diagram-status");
  function say(text) {
    if (status) { status.textContent = text; }
  }
  fetch(container.dataset.src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (position) {
      var viewer = new window.BpmnJS({ container: container });
      return viewer.importXML(position.xml).then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        function mark(ids, marker) {
          ids.forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, marker); }
          });
        }
        mark(position.completed, "position-done");
        mark(position.fired_timers, "position-fired");
        mark(position.end_event ? [position.end_event] : [], "position-end");
        mark(position.active, "position-active");
        canvas.zoom("fit-viewport");
        container.dataset.rendered = "true";
        container.dataset.active = position.active.join(" ");
        say("");
      });
    })
    .catch(function () {
      say(container.dataset.failed);
    });
})();
