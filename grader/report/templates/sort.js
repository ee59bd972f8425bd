// Sorts the class table by the column named in the URL fragment (#sort=score, #sort=-score for
// descending). Header links set the fragment, so the table also reads fine without JavaScript.
(function () {
  var table = document.getElementById("class");
  if (!table) { return; }
  var body = table.tBodies[0];
  function sort(key, descending) {
    var th = table.querySelector('th[data-key="' + key + '"]');
    if (!th) { return; }
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-value") || "";
      var y = b.cells[index].getAttribute("data-value") || "";
      var order = numeric ? parseFloat(x || "0") - parseFloat(y || "0") : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    th.querySelector("a").setAttribute("href", "#sort=" + (descending ? "" : "-") + key);
  }
  function fromFragment() {
    var match = /sort=(-?)([a-z]+)/.exec(window.location.hash);
    if (match) { sort(match[2], match[1] === "-"); }
  }
  window.addEventListener("hashchange", fromFragment);
  fromFragment();
})();
