/* Counts down every <time data-countdown="seconds"> once a second. Without JS the
   server-rendered text ("5 h 12 min left") stays, which is correct when the page loads. */
(function () {
  var nodes = document.querySelectorAll("[data-countdown]");
  if (!nodes.length) return;
  var start = Date.now();
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var gone = Math.floor((Date.now() - start) / 1000);
    for (var i = 0; i < nodes.length; i++) {
      var left = Math.max(0, parseInt(nodes[i].getAttribute("data-countdown"), 10) - gone);
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      nodes[i].textContent = (h ? h + ":" : "") + pad(m) + ":" + pad(s);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
