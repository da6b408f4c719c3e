/* CreditRisk page behaviour: navigation toggle, language switch, toasts and the shared modal.
   No inline scripts anywhere: everything hangs off data- attributes and htmx events. */
(function () {
  "use strict";

  function toast(message, level) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var el = document.createElement("div");
    el.className = "toast toast-" + (level || "info");
    el.setAttribute("role", "status");
    el.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Close");
    close.setAttribute("data-dismiss", "");
    close.textContent = "×";
    el.appendChild(close);
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }
  window.creditriskToast = toast;

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-dismiss]")) {
      target.closest(".toast").remove();
    }
    if (target.closest("[data-toggle-nav]")) {
      var nav = document.getElementById("mainnav");
      var open = nav.classList.toggle("open");
      target.closest("[data-toggle-nav]").setAttribute("aria-expanded", open ? "true" : "false");
    }
    if (target.closest("[data-close-modal]")) {
      document.getElementById("modal").close();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toasts .toast").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 8000);
    });
  });

  // Server-sent events through HX-Trigger: {"toast": {"message": "...", "level": "success"}}, "closeModal".
  document.body && init();
  document.addEventListener("DOMContentLoaded", init);
  var initialised = false;
  function init() {
    if (initialised || !document.body) return;
    initialised = true;
    document.body.addEventListener("toast", function (event) {
      toast(event.detail.message, event.detail.level);
    });
    document.body.addEventListener("closeModal", function () {
      var modal = document.getElementById("modal");
      if (modal && modal.open) modal.close();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target && event.detail.target.id === "modal-body") {
        var modal = document.getElementById("modal");
        if (!modal.open) modal.showModal();
      }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      var status = event.detail.xhr.status;
      var text = document.documentElement.lang.indexOf("zh") === 0
        ? "请求失败（" + status + "）。"
        : "The request failed (" + status + ").";
      toast(text, "error");
    });
  }
})();
