// Draws the pages' charts with the vendored ECharts (/static/echarts/echarts.min.js).
// Each chart is a <div data-chart data-source="ID"> next to <script type="application/json" id="ID">
// holding its data (survey/reports/charts.py); no script runs inline, as the CSP requires.
(function () {
  "use strict";

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function interval(low, high) { return low === null || low === undefined ? "—" : pct(low) + " – " + pct(high); }
  function rateLines(name, n, rate, low, high) {
    return "<b>" + esc(name) + "</b><br>n = " + n + "<br>满意度 " + pct(rate) + "<br>95% 区间 " + interval(low, high);
  }
  var percentAxis = {type: "value", axisLabel: {formatter: function (v) { return (v * 100).toFixed(0) + "%"; }}};

  function funnel(d) {
    var ns = d.limits.map(function (l) { return l.n; });
    function limit(key, name, style) {
      return {name: name, type: "line", showSymbol: false, silent: true, lineStyle: style,
              data: d.limits.map(function (l) { return [l.n, l[key]]; }), tooltip: {show: false}};
    }
    var dashed = {type: "dashed", color: "#e07b39"}, dotted = {type: "dotted", color: "#b00020"};
    return {
      tooltip: {trigger: "item", formatter: function (p) {
        var q = p.data.point;
        return rateLines(q.name, q.n, q.rate, q.low, q.high) + (q.flagged ? "<br><b>短板</b>" : "");
      }},
      legend: {top: 0},
      grid: {left: 60, right: 30, top: 40, bottom: 50},
      xAxis: {type: "log", name: "n（有效回复）", nameLocation: "middle", nameGap: 30,
              min: ns.length ? ns[0] : 1, max: ns.length ? ns[ns.length - 1] : 10},
      yAxis: Object.assign({name: d.adjusted ? "满意度（调整后）" : "满意度", scale: true}, percentAxis),
      series: [
        {name: "分组", type: "scatter", symbolSize: 9,
         data: d.points.map(function (p) {
           return {value: [p.n, p.rate], point: p, url: p.url,
                   itemStyle: {color: p.flagged ? "#b00020" : "#1d3557"}};
         })},
        limit("low95", "95% 控制限", dashed), limit("high95", "95% 控制限", dashed),
        limit("low998", "99.8% 控制限", dotted), limit("high998", "99.8% 控制限", dotted),
        {name: "总体", type: "line", showSymbol: false, silent: true, lineStyle: {color: "#2a9d8f"},
         data: d.limits.map(function (l) { return [l.n, d.target]; }), tooltip: {show: false}}
      ]
    };
  }

  function trend(d) {
    return {
      tooltip: {trigger: "axis", formatter: function (items) {
        var lines = ["<b>" + esc(items.length ? items[0].axisValue : "") + "</b>"];
        items.forEach(function (it) {
          var s = d.series[it.seriesIndex], i = it.dataIndex;
          if (s.rate[i] === null) { return; }
          lines.push(esc(s.name) + "：" + pct(s.rate[i]) + "（" + interval(s.low[i], s.high[i]) + "，n = " + s.n[i] + "）");
        });
        return lines.join("<br>");
      }},
      legend: {top: 0, type: "scroll"},
      grid: {left: 60, right: 30, top: 40, bottom: 40},
      xAxis: {type: "category", data: d.periods},
      yAxis: Object.assign({scale: true, name: "满意度"}, percentAxis),
      series: d.series.map(function (s) {
        return {name: s.name, type: "line", connectNulls: false, data: s.rate};
      })
    };
  }

  function per10k(d) {
    return {
      tooltip: {trigger: "axis", formatter: function (items) {
        var i = items[0].dataIndex;
        return "<b>" + esc(d.periods[i]) + "</b><br>万人不满意数 " + d.value[i] + "<br>不满意 " + d.dissatisfied[i] +
          " / 接触 n = " + d.interactions[i];
      }},
      grid: {left: 60, right: 30, top: 20, bottom: 40},
      xAxis: {type: "category", data: d.periods},
      yAxis: {type: "value", name: "每万次接触"},
      series: [{type: "bar", data: d.value, itemStyle: {color: "#e07b39"}}]
    };
  }

  function pareto(d) {
    return {
      tooltip: {trigger: "axis", formatter: function (items) {
        var r = d.items[items[0].dataIndex];
        return "<b>" + esc(r.name) + "</b><br>提及 " + r.count + "（" + pct(r.share) + "）<br>累计 " + pct(r.cumulative) +
          "<br>n = " + d.n + "（给出原因的答复）";
      }},
      grid: {left: 60, right: 60, top: 30, bottom: 60},
      xAxis: {type: "category", data: d.items.map(function (r) { return r.name; }), axisLabel: {interval: 0, rotate: 30}},
      yAxis: [{type: "value", name: "提及次数"}, Object.assign({max: 1, name: "累计"}, percentAxis)],
      series: [
        {type: "bar", data: d.items.map(function (r) { return r.count; }), itemStyle: {color: "#1d3557"}},
        {type: "line", yAxisIndex: 1, data: d.items.map(function (r) { return r.cumulative; }), itemStyle: {color: "#b00020"}}
      ]
    };
  }

  function groups(d) {
    return {
      tooltip: {trigger: "item", formatter: function (p) {
        var r = d.items[p.dataIndex];
        return rateLines(r.name, r.n, r.rate, r.low, r.high) + (r.url ? "<br>点击查看下一级" : "");
      }},
      grid: {left: 60, right: 30, top: 20, bottom: 80},
      xAxis: {type: "category", data: d.items.map(function (r) { return r.name; }), axisLabel: {interval: 0, rotate: 30}},
      yAxis: Object.assign({scale: true, name: "满意度"}, percentAxis),
      series: [{type: "bar", data: d.items.map(function (r) { return {value: r.rate, url: r.url}; }),
                itemStyle: {color: "#1d3557"}, cursor: "pointer"}]
    };
  }

  function channels(d) {
    return {
      tooltip: {trigger: "item", formatter: function (p) {
        var r = d.items[p.dataIndex];
        return p.seriesIndex === 0 ? rateLines(r.name + "（本期）", r.n, r.rate, r.low, r.high)
                                   : rateLines(r.name + "（上期）", r.prev_n, r.prev_rate, r.prev_low, r.prev_high);
      }},
      legend: {top: 0},
      grid: {left: 60, right: 30, top: 40, bottom: 40},
      xAxis: {type: "category", data: d.items.map(function (r) { return r.name; })},
      yAxis: Object.assign({scale: true, name: "满意度"}, percentAxis),
      series: [
        {name: "本期", type: "bar", data: d.items.map(function (r) { return r.rate; }), itemStyle: {color: "#1d3557"}},
        {name: "上期", type: "bar", data: d.items.map(function (r) { return r.prev_rate; }), itemStyle: {color: "#a8b8cc"}}
      ]
    };
  }

  var builders = {funnel: funnel, trend: trend, per10k: per10k, pareto: pareto, groups: groups, channels: channels};

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-source"));
    if (!source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var build = builders[data.type];
    if (!build) { return; }
    var chart = echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(build(data));
    chart.on("click", function (p) {
      var url = p.data && p.data.url;
      // Only a path on this site: the URLs come from our own url_for, never from data a user typed.
      if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") { window.location.href = url; }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "true");
  }

  function start() { Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
