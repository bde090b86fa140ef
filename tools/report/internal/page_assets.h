// The inline style and scripts of the HTML report. Kept here, as plain
// text, so that html_report.cc reads as the page's structure. Nothing here
// loads anything: the page works from disk with no network.

#ifndef SLABTRACE_TOOLS_REPORT_INTERNAL_PAGE_ASSETS_H_
#define SLABTRACE_TOOLS_REPORT_INTERNAL_PAGE_ASSETS_H_

namespace slabtrace {

// Runs first, in <head>: records uncaught errors and console.error calls in
// the `data-console-errors` attribute of <html>, so that a headless browser's
// --dump-dom shows them (the browser test asserts there are none).
inline constexpr char kErrorCaptureScript[] = R"js(
(function () {
  var seen = [];
  function record(text) {
    seen.push(String(text));
    document.documentElement.setAttribute('data-console-errors', seen.join(' | '));
  }
  window.addEventListener('error', function (e) { record(e.message || 'error'); });
  window.addEventListener('unhandledrejection', function () { record('unhandled rejection'); });
  var original = console.error;
  console.error = function () {
    record(Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
)js";

inline constexpr char kPageStyle[] = R"css(
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1d1d1f;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 18px 20px 40px; }
header, section { background: #fff; border-radius: 8px; padding: 14px 20px 18px;
  margin: 0 0 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h1 { font-size: 22px; margin: 0 0 10px; }
h1 .file { font-family: ui-monospace, "DejaVu Sans Mono", monospace; color: #0072B2; }
h2 { font-size: 17px; margin: 0 0 4px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
h3 .when { font-weight: normal; color: #666; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 26px; margin: 0; }
.facts div { min-width: 90px; }
.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: #777; }
.facts dd { margin: 0; font-weight: 600; }
.facts dd.program { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-weight: normal;
  max-width: 1080px; overflow-wrap: anywhere; }
.headline { font-size: 16px; margin: 14px 0 0; padding: 10px 14px; background: #eef5fb;
  border-left: 4px solid #0072B2; border-radius: 4px; }
.caption, figcaption { color: #444; margin: 0 0 8px; max-width: 980px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg.chart .tick { fill: #555; }
svg.chart .axis-title { fill: #333; font-size: 12.5px; }
svg.chart .legend text { fill: #222; font-size: 12.5px; }
svg.chart .marker-label { fill: #444; font-size: 11.5px; font-weight: 600; }
svg.chart .no-data { fill: #999; font-size: 16px; }
table { border-collapse: collapse; margin: 4px 0 8px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; white-space: nowrap; }
th { font-size: 12px; color: #555; font-weight: 600; background: #fafafa; }
td.num { text-align: right; }
td.dsr { min-width: 90px; font-weight: 600; }
tr.chosen td { background: #fff8e1; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin: 0 5px 0 2px; vertical-align: -1px; }
.swatch.empty { background: #e3e3e3; }
.maplegend { font-size: 12px; color: #444; margin: 6px 0 4px; }
.picker { font-weight: 600; }
.picker select { font: inherit; margin-left: 6px; }
figure.slabmap { margin: 6px 0 12px; }
figure.slabmap svg { display: block; max-width: 100%; height: auto; background: #fff; }
figure[hidden] { display: none; }
details summary { cursor: pointer; font-weight: 600; margin: 8px 0 4px; }
.none { color: #777; font-style: italic; }
footer { color: #777; font-size: 12px; text-align: center; }
#tooltip { position: absolute; display: none; pointer-events: none; background: #222; color: #fff;
  padding: 4px 8px; border-radius: 4px; font-size: 12px; white-space: nowrap; z-index: 10; }
)css";

// Runs last: the slab-map tooltip (which slabs a cell stands for and how
// full they are), the size-class selector, a ready flag for tests and the
// layout time for the render-time script.
inline constexpr char kPageScript[] = R"js(
(function () {
  var tip = document.getElementById('tooltip');
  function show(ev, text) {
    tip.textContent = text;
    tip.style.display = 'block';
    tip.style.left = (ev.pageX + 14) + 'px';
    tip.style.top = (ev.pageY + 14) + 'px';
  }
  function hide() { tip.style.display = 'none'; }
  Array.prototype.forEach.call(document.querySelectorAll('svg.cellmap'), function (svg) {
    var cells = svg.getAttribute('data-cells') || '';
    var columns = +svg.getAttribute('data-columns') || 1;
    var rows = Math.max(1, Math.ceil(cells.length / columns));
    var group = +svg.getAttribute('data-group') || 1;
    var slabs = +svg.getAttribute('data-slabs') || cells.length;
    var nregs = +svg.getAttribute('data-nregs') || 0;
    svg.addEventListener('mousemove', function (ev) {
      var box = svg.getBoundingClientRect();
      var col = Math.floor((ev.clientX - box.left) / box.width * columns);
      var row = Math.floor((ev.clientY - box.top) / box.height * rows);
      var i = row * columns + col;
      if (col < 0 || col >= columns || row < 0 || i >= cells.length) { hide(); return; }
      var fill = (cells.charCodeAt(i) - 65) * 5;
      var first = i * group + 1, last = Math.min(slabs, (i + 1) * group);
      var which = group > 1 ? 'slabs ' + first + '\u2013' + last : 'slab ' + first;
      var how = fill === 0 ? 'empty (drainable)' :
          (group > 1 ? 'mean ' : '') + '\u2248' + fill + ' % full' +
          (group === 1 && nregs ? ' (\u2248' + Math.round(fill * nregs / 100) + ' of ' + nregs + ' regions)' : '');
      show(ev, which + ' of ' + slabs + ' by address: ' + how);
    });
    svg.addEventListener('mouseleave', hide);
  });
  var select = document.getElementById('class-select');
  function pick() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-map-class]'), function (el) {
      el.hidden = el.getAttribute('data-map-class') !== select.value;
    });
  }
  if (select) { select.addEventListener('change', pick); pick(); }
  // Time from navigation to a laid-out page, for measure_render_time.sh:
  // reading offsetHeight forces style and layout to finish now.
  window.addEventListener('load', function () {
    var height = document.body.offsetHeight;
    document.documentElement.setAttribute('data-layout-ms',
        String(Math.round(performance.now())) + (height > 0 ? '' : '?'));
  });
  document.documentElement.setAttribute('data-report-ready', '1');
})();
)js";

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_INTERNAL_PAGE_ASSETS_H_
