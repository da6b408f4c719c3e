/* CreditRisk shared chart drawer (needs the vendored Chart.js loaded first).

   Markup on a full page:
            {{ spec|json_script:"aging-data" }}
            <div class="chart-box"><canvas data-chart="aging-data" aria-label="…" role="img"></canvas></div>
   Markup inside content that htmx swaps in (htmx, with allowScriptTags off, drops every <script>
   element of a response, json_script ones included), put the spec in an attribute instead:
            <canvas data-chart="aging" data-chart-spec="{{ spec|chart_json }}"></canvas>
   (chart_json is in customers/templatetags/credit.py: {% load credit %}; autoescaping makes it a safe
   attribute value.)

   Spec (JSON, no functions):
     { "type": "bar" | "line" | "doughnut" | "pie",
       "labels": [...],
       "datasets": [{ "label": "...", "data": [...], "color": "#hex" (optional),
                      "colors": ["#hex", ...] (optional, per point), "dashed": true, "fill": false,
                      "type": "line" (optional mixed chart), "stack": "s" (optional) }],
       "format": "money" | "percent" | "number" (value axis and tooltips; optional),
       "stacked": true, "horizontal": true, "legend": false,
       "options": { ...plain Chart.js options merged over the defaults... } }

   Charts are (re)drawn on page load and after every htmx swap, so tabs loaded with htmx work too. */
(function () {
  "use strict";

  var PALETTE = ["#1d4e89", "#2f7dd1", "#1f7a4d", "#a86400", "#b3261e", "#6b4fa3", "#0f8b8d", "#8a5a00", "#5d6b7e"];

  function isObject(value) {
    return value && typeof value === "object" && !Array.isArray(value);
  }

  function merge(target, source) {
    Object.keys(source || {}).forEach(function (key) {
      if (isObject(source[key]) && isObject(target[key])) {
        merge(target[key], source[key]);
      } else {
        target[key] = source[key];
      }
    });
    return target;
  }

  function formatter(kind) {
    var lang = document.documentElement.lang || undefined;
    if (kind === "money") {
      var money = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
      return function (v) { return money.format(v); };
    }
    if (kind === "percent") {
      var pct = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
      return function (v) { return pct.format(v); };
    }
    var num = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
    return function (v) { return num.format(v); };
  }

  // Axis ticks: as many decimals as the tick step needs (0.005 steps show 0.005, not 0.01 twice).
  function tickFormatter(kind) {
    var lang = document.documentElement.lang || undefined;
    return function (value, index, ticks) {
      var step = ticks && ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : 1;
      if (kind === "percent") step *= 100;
      var decimals = step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
      if (kind === "percent") {
        return new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: decimals,
                                             maximumFractionDigits: decimals }).format(value);
      }
      return new Intl.NumberFormat(lang, { minimumFractionDigits: 0, maximumFractionDigits: decimals }).format(value);
    };
  }

  function allIntegers(datasets) {
    return datasets.every(function (ds) {
      return (ds.data || []).every(function (v) { return v === null || v === undefined || Number.isInteger(v); });
    });
  }

  function buildConfig(spec) {
    var type = spec.type || "bar";
    var round = type === "doughnut" || type === "pie";
    var fmt = formatter(spec.format);
    var datasets = (spec.datasets || []).map(function (ds, i) {
      var color = ds.color || PALETTE[i % PALETTE.length];
      var out = { label: ds.label, data: ds.data || [] };
      if (round) {
        out.backgroundColor = ds.colors || (ds.data || []).map(function (_, j) { return PALETTE[j % PALETTE.length]; });
        out.borderColor = "#fff";
      } else {
        out.backgroundColor = ds.colors || color;
        out.borderColor = ds.colors || color;
      }
      if (ds.type) out.type = ds.type;
      if (ds.stack) out.stack = ds.stack;
      if ((ds.type || type) === "line") {
        out.tension = ds.tension === undefined ? 0 : ds.tension;  // straight segments: ROC curves must not loop
        out.fill = !!ds.fill;
        out.pointRadius = ds.pointRadius === undefined ? 3 : ds.pointRadius;
        out.spanGaps = true;
        if (ds.dashed) out.borderDash = [6, 4];
      }
      return out;
    });

    var valueAxis = spec.horizontal ? "x" : "y";
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { display: spec.legend === undefined ? (round || datasets.length > 1) : !!spec.legend,
                  position: round ? "right" : "top" },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var value = round ? ctx.parsed : ctx.parsed[valueAxis];
              var name = ctx.dataset.label || ctx.label || "";
              if (round) name = ctx.label || name;
              return (name ? name + ": " : "") + (value === null || value === undefined ? "—" : fmt(value));
            }
          }
        }
      }
    };
    if (!round) {
      var scales = { x: { stacked: !!spec.stacked, grid: { display: false } },
                     y: { stacked: !!spec.stacked, beginAtZero: type === "bar" } };
      scales[valueAxis].ticks = { callback: tickFormatter(spec.format) };
      if (spec.format !== "percent" && allIntegers(spec.datasets || [])) {
        scales[valueAxis].ticks.precision = 0;  // counts: no 0.5 customers
      }
      if (spec.horizontal) {
        options.indexAxis = "y";
        scales.x.grid = { display: true };
        scales.y.grid = { display: false };
      }
      options.scales = scales;
    }
    merge(options, spec.options || {});
    return { type: type, data: { labels: spec.labels || [], datasets: datasets }, options: options };
  }

  function readSpec(canvas) {
    var text = canvas.getAttribute("data-chart-spec");
    if (!text) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      text = source ? source.textContent : "";
    }
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function draw(canvas) {
    if (typeof window.Chart === "undefined") return;
    var spec = readSpec(canvas);
    if (!spec) return;
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    new window.Chart(canvas, buildConfig(spec));
  }

  function drawAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var selector = "canvas[data-chart], canvas[data-chart-spec]";
    if (scope.matches && scope.matches(selector)) draw(scope);
    scope.querySelectorAll(selector).forEach(draw);
  }

  window.creditriskCharts = { draw: draw, drawAll: drawAll, buildConfig: buildConfig };

  // htmx:load fires on every piece of content htmx swaps in (and bubbles from it), so charts inside
  // tabs and partials loaded later are drawn too; DOMContentLoaded covers pages loaded without htmx.
  document.addEventListener("htmx:load", function (event) {
    drawAll(event.detail && event.detail.elt ? event.detail.elt : document);
  });
  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
  });
})();
