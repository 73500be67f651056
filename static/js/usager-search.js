// Search as you type on the authorization page. Without JavaScript the search form still works.
(function () {
  "use strict";
  var input = document.getElementById("usager-search");
  var results = document.getElementById("usager-results");
  var form = document.getElementById("usager-search-form");
  if (!input || !results || !form || !window.fetch) { return; }
  var timer = null;

  function params() {
    var data = new URLSearchParams(new FormData(form));
    data.delete("q");
    return data;
  }

  function render(usagers) {
    results.textContent = "";
    if (usagers.length === 0) {
      var empty = document.createElement("p");
      empty.textContent = "Aucun usager ne correspond à cette recherche parmi ceux qui ont un mandat actif.";
      results.appendChild(empty);
      return;
    }
    var list = document.createElement("ul");
    list.className = "fr-btns-group fr-btns-group--left";
    usagers.forEach(function (usager) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      var query = params();
      query.set("usager", usager.id);
      link.className = "fr-btn fr-btn--secondary usager-choice";
      link.href = form.getAttribute("action") + "?" + query.toString();
      link.textContent = usager.name + " — né(e) le " + usager.birthdate;
      item.appendChild(link);
      list.appendChild(item);
    });
    results.appendChild(list);
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var query = params();
      query.set("q", input.value);
      fetch(input.dataset.searchUrl + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(render)
        .catch(function () { /* the search button still works */ });
    }, 200);
  });
})();
