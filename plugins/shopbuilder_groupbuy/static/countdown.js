/* Counts down every <time data-deadline="2026-11-28T03:00:00Z"> once a second.
   The deadline is absolute, not "seconds left", because the page may come from the
   storefront's page cache, drawn up to a minute ago: the time left is worked out here,
   on load and every second (it trusts the phone's clock). Without JS the server's text
   ("5 h 12 min left") stays. At the deadline the node says data-ended and the join
   links of its group (.gb-join inside [data-gb-group]) go; the server refuses a late
   join anyway. */
(function () {
  var nodes = document.querySelectorAll("time[data-deadline]");
  if (!nodes.length) return;
  var deadlines = [];
  for (var i = 0; i < nodes.length; i++) {
    deadlines.push(Date.parse(nodes[i].getAttribute("data-deadline")));
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function ended(node) {
    node.textContent = node.getAttribute("data-ended") || "0:00";
    var group = node.closest ? node.closest("[data-gb-group]") : null;
    if (!group) return;
    group.classList.add("gb-closed");
    var links = group.querySelectorAll(".gb-join");
    for (var j = 0; j < links.length; j++) links[j].parentNode.removeChild(links[j]);
  }
  function tick() {
    var now = Date.now();
    for (var i = 0; i < nodes.length; i++) {
      if (isNaN(deadlines[i])) continue;  // no deadline: keep the server's text
      var left = Math.max(0, Math.floor((deadlines[i] - now) / 1000));
      if (!left) { ended(nodes[i]); continue; }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      nodes[i].textContent = (h ? h + ":" : "") + pad(m) + ":" + pad(s);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
