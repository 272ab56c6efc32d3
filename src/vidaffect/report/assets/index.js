/* vidaffect index: click a column header to sort the table by it (again to reverse). */
(function () {
  "use strict";
  var table = document.getElementById("videos");
  if (!table) { return; }
  var heads = table.querySelectorAll("th"), dir = {};
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      dir[col] = -(dir[col] || -1);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v") || a.cells[col].textContent;
        var y = b.cells[col].getAttribute("data-v") || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return c * dir[col];
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
