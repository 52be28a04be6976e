// The status page's live updates: /events sends the view as JSON; each
// message redraws the sections in place. Everything the bus said goes in
// with textContent, never as markup. page.html draws the same on load.
"use strict";
(function () {
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (kids || []).forEach(function (k) {
      e.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
    });
    return e;
  }
  function clock(t, short) {
    var s = new Date(t).toISOString();
    return short ? s.slice(11, 19) : s.slice(0, 10) + " " + s.slice(11, 19) + " UTC";
  }
  function stateClass(s) {
    if (s.indexOf("FAILED") === 0) return "failed";
    if (s === "Started" || s === "Promoted" || s === "Unpromoted") return "started";
    if (s === "Starting" || s === "Stopping") return "moving";
    return "stopped";
  }
  function replace(id, node) {
    var old = document.getElementById(id);
    node.id = id;
    old.parentNode.replaceChild(node, old);
  }
  function tbody(id, rows) {
    var t = document.getElementById(id);
    var b = el("tbody", {}, rows);
    t.replaceChild(b, t.tBodies[0]);
  }
  function summary(st) {
    var li = [];
    li.push(el("li", {}, ["Last updated: ", el("span", { id: "updated" }, [clock(st.last_updated)])]));
    li.push(el("li", {}, ["Quorum: ",
      el("span", { id: "quorum", "class": st.quorum ? "ok" : "bad" },
        [st.quorum ? "partition with quorum" : "partition WITHOUT quorum"]),
      " (" + st.voters_up + " of " + st.voters + " voters online)"]));
    li.push(el("li", {}, ["Current coordinator: ", el("span", { id: "coordinator" }, [st.coordinator || "none"])]));
    var lc = st.live_config;
    if (lc) {
      var k = ["Live configuration: revision " + lc.revision];
      if (lc.differs_from_file) { k.push(" ", el("span", { "class": "warn" }, ["(differs from " + lc.file + ")"])); }
      if (lc.invalid_revision) { k.push(" ", el("span", { "class": "bad" }, ["revision " + lc.invalid_revision + " is invalid: " + lc.invalid])); }
      li.push(el("li", {}, k));
    }
    if (st.maintenance_mode) li.push(el("li", { "class": "warn" }, ["Resource management is DISABLED (maintenance-mode)"]));
    if (st.credentials_refused) li.push(el("li", { "class": "bad" }, ["Credentials refused: " + st.credentials_refused]));
    if (st.unreachable) li.push(el("li", { "class": "bad" }, ["Unreachable: " + st.unreachable]));
    var sec = document.getElementById("summary");
    sec.replaceChild(el("ul", {}, li), sec.getElementsByTagName("ul")[0]);
  }
  function nodeState(n) {
    if (n.stopped) return "OFFLINE (cluster stopped)";
    if (!n.online) return "OFFLINE";
    if (n.standby) return "standby";
    if (n.maintenance) return "maintenance";
    return "Online";
  }
  function render(v) {
    var st = v.status;
    document.getElementById("cluster").textContent = st.cluster;
    document.getElementById("member").textContent = v.member;
    summary(st);
    var nodes = (st.nodes || []).map(function (n) { return n.name; });
    var rows = (st.nodes || []).map(function (n) {
      return el("tr", { "data-node": n.name }, [el("td", {}, [n.name]),
        el("td", { "class": n.online ? "started" : "failed" }, [nodeState(n)])]);
    });
    if (st.witness) {
      var w = st.witness;
      rows.push(el("tr", { "data-node": w.name }, [el("td", {}, [w.name + " (witness)"]),
        el("td", { "class": w.online ? "started" : "failed" }, [w.online ? "Online" : "OFFLINE"])]));
    }
    tbody("nodes", rows);
    var head = [el("th", {}, ["Resource"]), el("th", {}, ["Agent"])].concat(nodes.map(function (n) { return el("th", {}, [n]); }));
    var t = document.getElementById("resources");
    t.replaceChild(el("thead", {}, [el("tr", {}, head)]), t.tHead);
    tbody("resources", (st.resources || []).map(function (r) {
      var name = [r.id];
      if (r.clone) name.push(" ", el("small", {}, ["(clone " + r.clone + ")"]));
      if (r.group) name.push(" ", el("small", {}, ["(group " + r.group + ")"]));
      if (r.disabled) name.push(" ", el("small", { "class": "warn" }, ["(disabled)"]));
      var cells = [el("td", {}, name), el("td", {}, [r.agent])];
      nodes.forEach(function (n) {
        var s = (r.nodes && r.nodes[n]) || "Stopped";
        var kids = [s];
        var warn = r.warnings && r.warnings[n];
        if (warn) kids.push(" ", el("small", { "class": "warn", title: warn }, ["\u26a0"]));
        cells.push(el("td", { "data-node": n, "class": stateClass(s) }, kids));
      });
      return el("tr", { "data-resource": r.id }, cells);
    }));
    tbody("failures", (st.failures || []).map(function (f) {
      return el("tr", {}, [el("td", {}, [f.resource]), el("td", {}, [f.node]),
        el("td", {}, [f.op + (f.blocked ? " (blocked)" : "")]), el("td", {}, [String(f.count)]),
        el("td", {}, [clock(f.last)]), el("td", {}, [f.message || ""])]);
    }));
    replace("events", el("ol", {}, (v.events || []).map(function (e) {
      return el("li", {}, [el("time", {}, [clock(e.time, true)]), " ", el("b", {}, [e.source]), " ",
        el("i", {}, [e.kind]), " " + e.text]);
    })));
    document.body.setAttribute("data-updates", String(Number(document.body.getAttribute("data-updates") || 0) + 1));
  }
  if (!window.EventSource) return;
  var live = document.getElementById("live");
  var es = new EventSource("events");
  es.addEventListener("status", function (m) {
    render(JSON.parse(m.data));
    document.body.setAttribute("data-live", "1");
    live.textContent = "live";
  });
  es.onerror = function () {
    document.body.removeAttribute("data-live");
    live.textContent = "reconnecting\u2026";
  };
})();
