/* The gallery's filters: by worst keypoint and by group. Without a filter the overall worst are shown;
   with one, every case of the page that matches, worst first. Plain DOM, no library. */
(function () {
  "use strict";
  var gallery = document.getElementById("gallery");
  if (!gallery) { return; }
  var kpt = document.getElementById("kpt-filter");
  var group = document.getElementById("group-filter");
  var count = document.getElementById("case-count");
  var none = document.getElementById("no-case");
  var form = document.getElementById("filters");
  var cases = Array.prototype.slice.call(gallery.children);
  var total = count.getAttribute("data-total");

  function apply() {
    var k = kpt ? kpt.value : "";
    var g = group ? group.value : "";
    var shown = 0;
    cases.forEach(function (li) {
      var groups = li.getAttribute("data-groups").split("|");
      var match = k || g
        ? (!k || li.getAttribute("data-keypoint") === k) && (!g || groups.indexOf(g) >= 0)
        : li.hasAttribute("data-top");
      li.hidden = !match;
      if (match) { shown += 1; }
    });
    var what = [k && "worst keypoint " + k, g && "group " + g].filter(Boolean).join(" and ");
    var one = k && !g ? kpt : (g && !k ? group : null);  /* one filter: how many instances it has in all */
    var of = one ? " of the " + one.options[one.selectedIndex].getAttribute("data-count") : "";
    count.textContent = what
      ? shown + of + " instances with " + what + " shown, the worst first."
      : shown + " of " + total + " instances shown, the worst first.";
    none.hidden = shown > 0;
  }

  [kpt, group].forEach(function (select) {
    if (select) { select.addEventListener("change", apply); }
  });
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  apply();
}());
