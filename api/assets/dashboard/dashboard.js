// The egov-kpi dashboard: one GraphQL query to the public API, drawn as SVG, and refreshed as
// soon as a figure changes (a subscription).
// Values arrive as exact decimal strings and are formatted as strings; floats only place marks.

const REFRESH_SECONDS = 60;
const SVG = "http://www.w3.org/2000/svg";

const TEXT = {
  vi: {
    title: "Chỉ số Chính phủ điện tử quốc gia",
    subtitle: "Kết quả các nền tảng do Văn phòng Chính phủ vận hành, kèm nguồn và trích dẫn",
    savingsTitle: "Chi phí tiết kiệm mỗi năm theo nền tảng",
    savingsNote: "Mỗi con số là ước tính tiết kiệm trong một năm, tại thời điểm được công bố.",
    growthTitle: "Văn bản và hồ sơ theo thời gian",
    growthNote: "Số lũy kế theo quý: mỗi điểm là số liệu gần nhất trong quý.",
    targetsTitle: "Mục tiêu năm 2021",
    target: "Mục tiêu",
    latest: "Số liệu gần nhất",
    progress: "Tiến độ",
    status: "Trạng thái",
    citationsTitle: "Số liệu và trích dẫn",
    sourcesTitle: "Nguồn",
    graphiql: "GraphQL API",
    updated: "Cập nhật lúc",
    live: "trực tiếp",
    loading: "Đang tải…",
    failed: "Không tải được số liệu",
    noData: "chưa có số liệu",
    inferred: "suy luận",
    source: "nguồn",
    statuses: { MET: "Đạt", NOT_MET: "Chưa đạt", INCONCLUSIVE: "Chưa kết luận được", NO_DATA: "Chưa có số liệu" },
    qualifiers: { EXACT: "", MORE_THAN: "trên ", AT_LEAST: "ít nhất ", ABOUT: "khoảng ", NEARLY: "gần ", LESS_THAN: "dưới " },
    comparators: { AT_LEAST: "≥", AT_MOST: "≤", EQUAL: "=" },
    rankingTitle: "Xếp hạng các tỉnh, thành phố",
    rankingNote: (metric, month) => `${metric}, tháng ${month}.`,
    boundaries: "Ranh giới:",
    asRecorded: "như khi ghi nhận",
    current: "hiện nay",
    unit: "Đơn vị",
    value: "Giá trị",
    share: "Tỷ trọng",
    composedOf: "Gồm",
    total: "Tổng",
    missingTitle: (missing, expected) => `Chưa báo cáo: ${missing} trên ${expected} đơn vị`,
    reportingTitle: "Tình hình báo cáo",
    reportingNote: (due, onTime, late, missing) => `Hạn nộp ${due}: ${onTime} đúng hạn, ${late} trễ hạn, ${missing} chưa báo cáo.`,
    noCalendar: "Chỉ số này không có lịch báo cáo.",
    firstRecorded: "Ghi nhận lần đầu",
    reports: { ON_TIME: "Đúng hạn", LATE: "Trễ hạn", MISSING: "Chưa báo cáo" },
    locale: "vi-VN",
  },
  en: {
    title: "Vietnam's national e-government indicators",
    subtitle: "Results of the platforms run by the Government Office, with sources and quotes",
    savingsTitle: "Cost saved per year, by platform",
    savingsNote: "Each figure is an estimate of savings per year, as reported at one moment.",
    growthTitle: "Documents and dossiers over time",
    growthNote: "Cumulative counts per quarter: each point is the latest reading in the quarter.",
    targetsTitle: "Targets for 2021",
    target: "Target",
    latest: "Latest reading",
    progress: "Progress",
    status: "Status",
    citationsTitle: "Figures and quotes",
    sourcesTitle: "Sources",
    graphiql: "GraphQL API",
    updated: "Updated at",
    live: "live",
    loading: "Loading…",
    failed: "The figures could not be loaded",
    noData: "no data yet",
    inferred: "inferred",
    source: "source",
    statuses: { MET: "Met", NOT_MET: "Not met", INCONCLUSIVE: "Inconclusive", NO_DATA: "No data" },
    qualifiers: { EXACT: "", MORE_THAN: "more than ", AT_LEAST: "at least ", ABOUT: "about ", NEARLY: "nearly ", LESS_THAN: "less than " },
    comparators: { AT_LEAST: "≥", AT_MOST: "≤", EQUAL: "=" },
    rankingTitle: "Provinces ranked",
    rankingNote: (metric, month) => `${metric}, ${month}.`,
    boundaries: "Boundaries:",
    asRecorded: "as recorded",
    current: "today's",
    unit: "Unit",
    value: "Value",
    share: "Share",
    composedOf: "Made of",
    total: "Total",
    missingTitle: (missing, expected) => `Not reported: ${missing} of ${expected} units`,
    reportingTitle: "Reporting status",
    reportingNote: (due, onTime, late, missing) => `Due ${due}: ${onTime} on time, ${late} late, ${missing} missing.`,
    noCalendar: "This metric has no reporting calendar.",
    firstRecorded: "First recorded",
    reports: { ON_TIME: "On time", LATE: "Late", MISSING: "Missing" },
    locale: "en-GB",
  },
};

const GROWTH_METRICS = [
  "document-exchange-axis.documents-exchanged",
  "public-service-portal.dossiers-synchronised",
  "public-service-portal.dossiers-filed-online",
];

const QUERY = `
query Dashboard($lang: Lang!, $from: NaiveDate!, $to: NaiveDate!, $year: Int!) {
  savings: savingsComparison {
    unitLabel(lang: $lang) total totalQualifier totalLabel(lang: $lang)
    entries { rank value qualifier platform { code name(lang: $lang) } observation { ...figure } }
  }
  ${GROWTH_METRICS.map((code, i) => `
  growth${i}: timeSeries(metric: "${code}", from: $from, to: $to, bucket: QUARTER) {
    metric { code name(lang: $lang) }
    points { label isEmpty isOpen value qualifier observations { ...figure } }
  }`).join("")}
  targets: targetProgress(year: $year) {
    status progress latest { ...figure }
    target { code comparator value description(lang: $lang) quote source { code } metric { unit } }
  }
  sources { code title outlet outletInferred publishedOn publishedOnInferred fileName }
}
fragment figure on Observation {
  id value qualifier observedAt quote note denominator
  metric { code name(lang: $lang) unit scale platform { name(lang: $lang) } }
  source { code }
}`;

const params = new URLSearchParams(location.search);
const lang = params.get("lang") === "en" ? "en" : "vi";
const t = TEXT[lang];

// The ranking: a metric for one month by province, in the boundaries asked for.
const RANKING = {
  metric: params.get("metric") ?? "demo.public-service-portal.dossiers-filed-per-month",
  month: /^\d{4}-\d{2}$/.test(params.get("month") ?? "") ? params.get("month") : "2025-06",
  boundaries: params.get("boundaries") === "CURRENT" ? "CURRENT" : "AS_RECORDED",
};

const RANKING_QUERY = `
query Ranking($lang: Lang!, $metric: String!, $from: NaiveDate!, $to: NaiveDate!, $boundaries: Boundaries!) {
  ranking: breakdown(metric: $metric, from: $from, to: $to, of: PROVINCES, boundaries: $boundaries, includeSynthetic: true) {
    metric { name(lang: $lang) } expectedCount reportedCount total totalQualifier totalRule
    entries { rank value qualifier share agency { code name(lang: $lang) } composedOf { agency { code name(lang: $lang) } } }
    missing { code name(lang: $lang) }
  }
  reporting: reportingStatus(metric: $metric, period: $from, of: PROVINCES, includeSynthetic: true) {
    due onTimeCount lateCount missingCount
    reports { status firstRecordedAt agency { code name(lang: $lang) } }
  }
}`;

/** Groups the digits of an exact decimal string: "3700000" → "3.700.000" (vi) or "3,700,000". */
function formatDecimal(value) {
  const [whole, fraction] = value.replace("-", "").split(".");
  const group = lang === "vi" ? "." : ",";
  const point = lang === "vi" ? "," : ".";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  return (value.startsWith("-") ? "-" : "") + grouped + (fraction ? point + fraction : "");
}

function figureText(value, qualifier, suffix = "") {
  return `${t.qualifiers[qualifier] ?? ""}${formatDecimal(value)}${suffix}`;
}

function element(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function figureLink(observation, text) {
  return element("a", { href: `#figure-${observation.id}` }, text);
}

function drawSavings(savings) {
  const entries = savings.entries;
  const width = 760, rowHeight = 58, valueRoom = 250;
  const height = entries.length * rowHeight + 6;
  const largest = Math.max(...entries.map((e) => parseFloat(e.value)), 1);
  const svg = element("svg:svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": t.savingsTitle,
  });
  entries.forEach((entry, i) => {
    const y = i * rowHeight + 4;
    const barWidth = Math.max(((width - valueRoom) * parseFloat(entry.value)) / largest, 2);
    const text = figureText(entry.value, entry.qualifier, ` ${savings.unitLabel}`);
    const bar = element("svg:g", {
      class: "bar",
      "data-platform": entry.platform.code,
      "data-value": entry.value,
      "data-qualifier": entry.qualifier,
    });
    bar.append(
      element("svg:title", {}, `${entry.platform.name}: ${text}`),
      element("svg:text", { x: 0, y: y + 14 }, `${entry.rank}. ${entry.platform.name}`),
      element("svg:rect", { x: 0, y: y + 22, width: barWidth.toFixed(1), height: 24, rx: 3 }),
    );
    const link = element("svg:a", { href: `#figure-${entry.observation.id}` });
    link.append(element("svg:text", { x: barWidth + 8, y: y + 39, class: "value" }, text));
    bar.append(link);
    svg.append(bar);
  });
  const chart = document.getElementById("savings-chart");
  chart.replaceChildren(svg);
  // No estimate yet is no data, never "0".
  document.getElementById("savings-total").textContent = savings.total === null
    ? t.noData
    : `${figureText(savings.total, savings.totalQualifier, ` ${savings.unitLabel}`)} — ${savings.totalLabel}`;
}

function drawSeries(series) {
  const width = 360, height = 200, left = 12, right = 12, top = 34, bottom = 30;
  const points = series.points;
  const readings = points.filter((p) => !p.isEmpty);
  const largest = Math.max(...readings.map((p) => parseFloat(p.value)), 1);
  const step = (width - left - right) / Math.max(points.length, 1);
  const x = (i) => left + step * (i + 0.5);
  const y = (value) => top + (height - top - bottom) * (1 - parseFloat(value) / largest);

  const svg = element("svg:svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": series.metric.name,
    "data-metric": series.metric.code,
  });
  points.forEach((point, i) => {
    if (point.isOpen) {
      svg.append(element("svg:g", { class: "open" },
        element("svg:rect", { x: x(i) - step / 2, y: top, width: step, height: height - top - bottom })));
    }
  });
  const grid = element("svg:g", { class: "grid" });
  grid.append(element("svg:line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  svg.append(grid);
  const axis = element("svg:g", { class: "axis" });
  points.forEach((point, i) => {
    if (point.label.endsWith("Q1")) {
      axis.append(element("svg:text", { x: x(i), y: height - 10, "text-anchor": "middle" }, point.label.slice(0, 4)));
    }
  });
  svg.append(axis);
  const path = readings.map((p, n) => `${n ? "L" : "M"}${x(points.indexOf(p)).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  svg.append(element("svg:g", { class: "series" }, element("svg:path", { d: path })));
  readings.forEach((point) => {
    const i = points.indexOf(point);
    const observation = point.observations[point.observations.length - 1];
    const text = figureText(point.value, point.qualifier);
    const mark = element("svg:g", { class: "reading", "data-label": point.label, "data-value": point.value, "data-qualifier": point.qualifier });
    mark.append(
      element("svg:title", {}, `${point.label}: ${text}`),
      element("svg:circle", { cx: x(i), cy: y(point.value), r: 4.5 }),
    );
    const link = element("svg:a", { href: `#figure-${observation.id}` });
    link.append(element("svg:text", { x: Math.min(x(i), width - 90), y: y(point.value) - 10, "text-anchor": "middle" }, text));
    mark.append(link);
    svg.append(mark);
  });
  return element("figure", {}, element("figcaption", {}, series.metric.name), svg);
}

function drawTargets(targets) {
  const body = document.querySelector("#targets-table tbody");
  body.replaceChildren(...targets.map((entry) => {
    const target = entry.target;
    const unit = target.metric.unit === "PERCENT" ? "%" : "";
    const latest = entry.latest
      ? figureLink(entry.latest, figureText(entry.latest.value, entry.latest.qualifier, unit))
      : t.noData;
    const progress = entry.progress === null
      ? "—"
      : element("meter", { min: 0, max: 1, value: Math.min(parseFloat(entry.progress), 1) }, entry.progress);
    return element("tr", { "data-target": target.code, "data-status": entry.status },
      element("td", {},
        element("div", {}, `${target.description} (${t.comparators[target.comparator]} ${formatDecimal(target.value)}${unit})`),
        element("blockquote", {}, `“${target.quote}” `, element("a", { href: `#source-${target.source.code}` }, t.source))),
      element("td", {}, latest),
      element("td", {}, progress),
      element("td", {}, element("span", { class: `status status-${entry.status}` }, t.statuses[entry.status])));
  }));
}

function drawCitations(figures, sources) {
  const list = document.getElementById("figures");
  list.replaceChildren(...figures.map((figure) => element("li", { id: `figure-${figure.id}` },
    element("strong", {}, `${figure.metric.platform.name} — ${figure.metric.name}: ${figureText(figure.value, figure.qualifier)}`),
    figure.denominator ? ` / ${formatDecimal(figure.denominator)}` : "",
    ` (${new Date(figure.observedAt).toLocaleDateString(t.locale, { timeZone: "Asia/Ho_Chi_Minh" })}) `,
    element("a", { href: `#source-${figure.source.code}` }, t.source),
    element("blockquote", { lang: "vi" }, `“${figure.quote}”`),
    figure.note ? element("div", { class: "note" }, figure.note) : "")));
  document.getElementById("sources").replaceChildren(...sources.map((source) => element("li", { id: `source-${source.code}` },
    element("strong", {}, source.title ?? source.fileName),
    ` — ${source.outlet}${source.outletInferred ? ` (${t.inferred})` : ""}`,
    source.publishedOn ? `, ${source.publishedOn}${source.publishedOnInferred ? ` (${t.inferred})` : ""}` : "",
    element("div", { class: "note" }, source.fileName))));
}

/** The month's ranking and reporting status; the reporting part is absent without a calendar. */
async function loadRanking() {
  const [year, month] = RANKING.month.split("-").map(Number);
  const last = new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10);
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", "accept-language": lang },
    body: JSON.stringify({
      query: RANKING_QUERY,
      variables: { lang: lang.toUpperCase(), metric: RANKING.metric, from: `${RANKING.month}-01`, to: last, boundaries: RANKING.boundaries },
    }),
  });
  const body = await response.json();
  if (!body.data?.ranking) throw new Error((body.errors ?? []).map((e) => e.message).join("; "));
  return body.data;
}

function drawRanking(data) {
  const ranking = data.ranking;
  document.getElementById("ranking").dataset.state = ranking ? "ready" : "unavailable";
  if (!ranking) {
    document.getElementById("ranking-note").textContent = `${t.noData}: ${data.error.message}`;
    return;
  }
  document.getElementById("ranking-note").textContent = t.rankingNote(ranking.metric.name, RANKING.month);
  for (const choice of ["AS_RECORDED", "CURRENT"]) {
    const link = document.getElementById(`boundaries-${choice}`);
    const target = new URLSearchParams(params);
    target.set("boundaries", choice);
    link.setAttribute("href", `?${target}`);
    link.setAttribute("aria-current", String(choice === RANKING.boundaries));
  }
  document.querySelector("#ranking-table tbody").replaceChildren(...ranking.entries.map((entry) =>
    element("tr", { "data-agency": entry.agency.code, "data-rank": entry.rank, "data-value": entry.value },
      element("td", {}, entry.rank),
      element("td", {}, entry.agency.name),
      element("td", {}, figureText(entry.value, entry.qualifier)),
      element("td", {}, entry.share === null ? "—" : `${(parseFloat(entry.share) * 100).toFixed(1)}%`),
      element("td", { "data-parts": entry.composedOf.length }, entry.composedOf.length > 1
        ? entry.composedOf.map((part) => part.agency.name).join(", ")
        : ""))));
  document.getElementById("ranking-total").textContent = ranking.total === null
    ? t.noData
    : `${t.total}: ${figureText(ranking.total, ranking.totalQualifier)}`;
  document.getElementById("ranking-missing-title").textContent = t.missingTitle(ranking.missing.length, ranking.expectedCount);
  document.getElementById("ranking-missing").replaceChildren(...ranking.missing.map((unit) =>
    element("li", { "data-missing": unit.code }, unit.name)));

  const reporting = data.reporting;
  const rows = document.querySelector("#reporting-table tbody");
  if (!reporting) {
    document.getElementById("reporting-note").textContent = t.noCalendar;
    rows.replaceChildren();
    return;
  }
  const due = new Date(reporting.due).toLocaleDateString(t.locale, { timeZone: "Asia/Ho_Chi_Minh" });
  document.getElementById("reporting-note").textContent =
    t.reportingNote(due, reporting.onTimeCount, reporting.lateCount, reporting.missingCount);
  rows.replaceChildren(...reporting.reports.map((report) =>
    element("tr", { "data-agency": report.agency.code, "data-report-status": report.status },
      element("td", {}, report.agency.name),
      element("td", {}, element("span", { class: `status status-${report.status}` }, t.reports[report.status])),
      element("td", {}, report.firstRecordedAt
        ? new Date(report.firstRecordedAt).toLocaleString(t.locale, { timeZone: "Asia/Ho_Chi_Minh" })
        : "—"))));
}

async function load() {
  const today = new Date().toISOString().slice(0, 10);
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", "accept-language": lang },
    body: JSON.stringify({
      query: QUERY,
      variables: { lang: lang.toUpperCase(), from: "2019-01-01", to: today, year: 2021 },
    }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

function render(data) {
  drawSavings(data.savings);
  const growth = GROWTH_METRICS.map((_, i) => data[`growth${i}`]);
  document.getElementById("growth-charts").replaceChildren(...growth.map(drawSeries));
  drawTargets(data.targets);

  const figures = new Map();
  const cite = (figure) => figure && figures.set(figure.id, figure);
  data.savings.entries.forEach((e) => cite(e.observation));
  growth.forEach((s) => s.points.forEach((p) => p.observations.forEach(cite)));
  data.targets.forEach((e) => cite(e.latest));
  drawCitations([...figures.values()], data.sources);
}

async function refresh() {
  try {
    // The ranking needs figures by province, which a server may not have: the rest stands.
    const [data, ranking] = await Promise.all([load(), loadRanking().catch((error) => ({ error }))]);
    render(data);
    drawRanking(ranking);
    document.getElementById("status").textContent = "";
    document.getElementById("updated").textContent =
      `${t.updated} ${new Date().toLocaleString(t.locale, { timeZone: "Asia/Ho_Chi_Minh" })}` +
      (document.body.dataset.live === "on" ? ` · ● ${t.live}` : "");
    document.body.dataset.state = "ready";
  } catch (error) {
    document.getElementById("status").textContent = `${t.failed}: ${error.message}`;
    document.body.dataset.state = "error";
  }
}

/** Refreshes the figures whenever one changes: a GraphQL subscription over graphql-transport-ws. */
let liveUpdates = 0;
let pendingRefresh = null;
function followChanges() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/graphql/ws`, "graphql-transport-ws");
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "connection_ack") {
      socket.send(JSON.stringify({
        id: "changes",
        type: "subscribe",
        payload: { query: "subscription { observationRecorded { sequence } }" },
      }));
      document.body.dataset.live = "on";
    } else if (data.type === "next") {
      liveUpdates += 1;
      document.body.dataset.liveUpdates = String(liveUpdates);
      clearTimeout(pendingRefresh);
      pendingRefresh = setTimeout(refresh, 200);
    } else if (data.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    }
  };
  socket.onclose = () => {
    document.body.dataset.live = "off";
    setTimeout(followChanges, 5000);
  };
}

document.documentElement.lang = lang;
document.querySelectorAll("[data-text]").forEach((node) => (node.textContent = t[node.dataset.text]));
document.querySelectorAll("nav a").forEach((a) => {
  const target = new URLSearchParams(params);
  target.set("lang", a.dataset.lang);
  a.setAttribute("href", `?${target}`);
});
document.querySelectorAll("nav a").forEach((a) => a.setAttribute("aria-current", String(a.dataset.lang === lang)));
document.title = t.title;
document.getElementById("status").textContent = t.loading;
refresh();
followChanges();
// In case the socket is down: the figures are still reloaded now and then.
setInterval(refresh, REFRESH_SECONDS * 1000);
