/* Device search of a quarter page: looks ids up in window.DANGKE_DEVICES (devices.js),
   no network. Row: [township, village, group, dialect, planned, hours, bytes_to_write,
   problems, township page]. */
function dangkeSearch(quarter) {
  var input = document.getElementById("device-id");
  var out = document.getElementById("device-result");
  var index = window.DANGKE_DEVICES || {};
  function show() {
    var id = input.value.trim().toUpperCase();
    out.textContent = "";
    if (!id) { return; }
    var row = index[id];
    if (!row) {
      out.textContent = "找不到設備 " + id + "（not found）";
      return;
    }
    var a = document.createElement("a");
    a.href = quarter + "/" + row[8] + ".html#" + encodeURIComponent(id);
    a.textContent = id + " · " + row[0] + " " + row[1];
    var p = document.createElement("p");
    p.appendChild(a);
    p.appendChild(document.createTextNode(
      (row[4] ? " · 已安排 planned · " + row[5] + " 小時 h · 寫入 " + (row[6] / 1e6).toFixed(1) + " MB"
              : " · 未安排 not planned") + (row[7] ? " · 問題 problems: " + row[7] : "")));
    out.appendChild(p);
  }
  input.addEventListener("input", show);
  show();
}
