// The declaration's diagram with bpmn-js (NavigatedViewer): completed elements green, active ones
// amber, a waiting timer's due time beside its element. Data: the review's process view API,
// fetched through the console's same-origin proxy.
(function () {
  "use strict";
  var canvases = document.querySelectorAll(".canvas[data-process-url]");
  if (!canvases.length || !window.BpmnJS) { return; }
  var url = canvases[0].getAttribute("data-process-url");

  // A due time as Beijing time to the minute, as the table beside the diagram shows it.
  function beijing(value) {
    var when = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(value || "") ? value : value + "Z");
    if (isNaN(when.getTime())) { return String(value || ""); }
    return new Date(when.getTime() + 8 * 3600 * 1000).toISOString().replace("T", " ").slice(0, 16);
  }

  function show(container, processId, xml, active, completed, timers) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      canvas.zoom("fit-viewport");
      completed.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "state-done"); } });
      active.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "state-active"); } });
      timers.filter(function (timer) {
        return !timer.process_id || timer.process_id === processId;
      }).forEach(function (timer) {
        if (!timer.element || !registry.get(timer.element)) { return; }
        var note = document.createElement("div");
        note.className = "timer-due";
        note.textContent = "⏱ " + beijing(timer.due_at);
        overlays.add(timer.element, { position: { bottom: -4, left: 0 }, html: note });
      });
      container.setAttribute("data-rendered", "true");
    }).catch(function (error) {
      container.setAttribute("data-rendered", "error");
      container.textContent = "无法显示流程图 The diagram cannot be shown: " + error.message;
    });
  }

  fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("process view answered " + response.status); }
      return response.json();
    })
    .then(function (view) {
      var timers = view.timers || [];
      canvases.forEach(function (container) {
        var which = container.getAttribute("data-which");
        if (which === "main") {
          show(container, view.process_id, view.bpmn, view.active || [], view.completed || [], timers);
        } else {
          var called = (view.called || []).filter(function (c) { return c.process_id === which; })[0];
          if (called) { show(container, called.process_id, called.bpmn, called.active || [], called.completed || [], timers); }
        }
      });
    })
    .catch(function (error) {
      canvases.forEach(function (c) { c.setAttribute("data-rendered", "error"); c.textContent = error.message; });
    });
})();
