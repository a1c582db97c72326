/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import java.io.IOException;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The report as one self-contained HTML page: the outcome, the key figures, the charts (SVG documents inlined as
 * data: URIs, so each keeps its own ids), the rounds and every final statistic. It loads nothing from anywhere.
 */
final class Html {
    /** What each of QEMU's query-migrate fields means, as Ferry fills it. */
    private static final Map<String, String> MEANING = Map.ofEntries(
            Map.entry("status", "how the migration ended"),
            Map.entry("total-time", "from the start of setup to the end"),
            Map.entry("downtime", "how long the guest was paused (stop-and-copy and handover)"),
            Map.entry("downtime-precise-ms", "the same, to the microsecond"),
            Map.entry("expected-downtime", "the engine's last estimate of the downtime (-1: unknown)"),
            Map.entry("setup-time", "from the start until the first page was sent"),
            Map.entry("cpu-throttle-percentage", "the auto-converge vCPU throttle at the end"),
            Map.entry("error-desc", "why the migration failed or was aborted"),
            Map.entry("policy", "the precopy policy that decided when to stop copying"),
            Map.entry("ram.transferred", "bytes put on the wire: pages, headers and control records"),
            Map.entry("ram.remaining", "bytes still to send at the last estimate"),
            Map.entry("ram.total", "the guest's RAM"),
            Map.entry("ram.duplicate", "zero pages, sent as a marker only"),
            Map.entry("ram.normal", "pages sent in full"),
            Map.entry("ram.normal-bytes", "the bytes of those pages"),
            Map.entry("ram.dirty-pages-rate", "pages dirtied per second, at the last dirty-log sync"),
            Map.entry("ram.mbps", "average throughput over the whole migration, in megabits per second"),
            Map.entry("ram.dirty-sync-count", "dirty-log syncs (one before each round after the first)"),
            Map.entry("ram.page-size", "the guest's page size"),
            Map.entry("ram.precopy-bytes", "bytes sent while the guest ran"),
            Map.entry("ram.downtime-bytes", "bytes sent while the guest was paused"),
            Map.entry("xbzrle-cache.cache-size", "the XBZRLE cache's size"),
            Map.entry("xbzrle-cache.bytes", "bytes of XBZRLE deltas, plus a page per overflow (QEMU's count)"),
            Map.entry("xbzrle-cache.pages", "pages found in the cache: deltas, unchanged, overflows (QEMU's count)"),
            Map.entry("xbzrle-cache.cache-miss", "pages not in the cache when re-sent"),
            Map.entry("xbzrle-cache.cache-miss-rate", "the last round's misses over the pages it sent"),
            Map.entry("xbzrle-cache.encoding-rate", "the last round's cache hits x page size over their bytes"),
            Map.entry("xbzrle-cache.overflow", "deltas larger than a page, sent as normal pages"));

    /** Fields that count bytes: shown in KiB/MiB/GiB beside the exact count. */
    private static final java.util.Set<String> BYTES = java.util.Set.of("ram.transferred", "ram.remaining",
            "ram.total", "ram.normal-bytes", "ram.page-size", "ram.precopy-bytes", "ram.downtime-bytes",
            "xbzrle-cache.cache-size", "xbzrle-cache.bytes");
    private static final java.util.Set<String> MILLIS = java.util.Set.of("total-time", "downtime",
            "downtime-precise-ms", "expected-downtime", "setup-time");
    private static final Map<String, String> UNITS = Map.of("cpu-throttle-percentage", "%", "ram.mbps", "Mbit/s",
            "ram.dirty-pages-rate", "pages/s");

    private Html() {
    }

    static String render(Stats s) throws IOException {
        Summary summary = new Summary(s);
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>Ferry migration report: ").append(esc(summary.headline.toLowerCase(
                        java.util.Locale.ROOT))).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n")
                .append("<body>\n<main>\n");

        h.append("<header>\n<h1>Ferry migration report <span class=\"badge ").append(summary.cssClass)
                .append("\">").append(esc(summary.headline)).append("</span></h1>\n");
        h.append("<p class=\"sentence\">").append(esc(summary.sentence)).append("</p>\n");
        if (s.policy != null && !s.policy.isEmpty()) {
            h.append("<p class=\"policy\">Policy: <code>").append(esc(s.policy)).append("</code></p>\n");
        }
        h.append("</header>\n");

        h.append("<section class=\"figures\">\n");
        for (Summary.Figure f : summary.figures) {
            h.append("<div class=\"figure\"><div class=\"label\">").append(esc(f.label()))
                    .append("</div><div class=\"value\">").append(esc(f.value())).append("</div><div class=\"note\">")
                    .append(esc(f.note())).append("</div></div>\n");
        }
        h.append("</section>\n");

        List<Charts.Figure> charts = Charts.of(s);
        h.append("<section class=\"charts\">\n<h2>Charts</h2>\n");
        if (charts.isEmpty()) {
            h.append("<p class=\"empty\">No rounds and no timeline were recorded: the migration ended before its"
                    + " first round.</p>\n");
        }
        for (Charts.Figure f : charts) {
            String svg = Base64.getEncoder().encodeToString(Sheet.svg(f));
            h.append("<figure id=\"").append(f.id()).append("\">\n<img class=\"chart\" width=\"").append(f.width())
                    .append("\" height=\"").append(f.height()).append("\" alt=\"").append(esc(f.chart().getTitle()))
                    .append("\" src=\"data:image/svg+xml;base64,").append(svg).append("\">\n<figcaption>")
                    .append(esc(f.caption())).append("</figcaption>\n</figure>\n");
        }
        h.append("</section>\n");

        if (!s.rounds.isEmpty()) {
            rounds(h, s);
        }
        finalStatistics(h, s);
        if (!s.xbzrle.isEmpty()) {
            h.append("<section>\n<h2>XBZRLE cache</h2>\n");
            table(h, "xbzrle-cache.", s.xbzrle);
            h.append("</section>\n");
        }
        for (var e : s.others().entrySet()) {
            if (e.getValue() instanceof Map<?, ?> m) {
                h.append("<section>\n<h2>").append(esc(e.getKey())).append("</h2>\n");
                @SuppressWarnings("unchecked")
                Map<String, Object> section = (Map<String, Object>) m;
                table(h, e.getKey() + ".", section);
                h.append("</section>\n");
            }
        }
        h.append("<footer>Made by <code>ferry report</code>. Field names are those of QEMU's"
                + " <code>query-migrate</code>; MiB = 2<sup>20</sup> bytes.</footer>\n</main>\n</body>\n</html>\n");
        return h.toString();
    }

    private static void rounds(StringBuilder h, Stats s) {
        h.append("<section>\n<h2>Rounds</h2>\n<table class=\"numbers\">\n<thead><tr><th>round</th><th>phase</th>")
                .append("<th>dirty pages</th><th>pages sent</th><th>zero pages</th><th>sent</th><th>duration</th>")
                .append("<th>rate</th><th>policy's decision</th></tr></thead>\n<tbody>\n");
        for (Stats.Round r : s.rounds) {
            double rate = r.durationMillis() > 0 ? r.bytesSent() / (r.durationMillis() / 1000) : 0;
            h.append("<tr><td>").append(r.iteration()).append("</td><td class=\"text\">").append(esc(r.phase()))
                    .append("</td><td>").append(Fmt.count(r.dirtyPages())).append("</td><td>")
                    .append(Fmt.count(r.pagesSent())).append("</td><td>").append(Fmt.count(r.zeroPages()))
                    .append("</td><td>").append(esc(Fmt.bytes(r.bytesSent()))).append("</td><td>")
                    .append(esc(Fmt.millis(r.durationMillis()))).append("</td><td>")
                    .append(rate > 0 ? esc(Fmt.rate(rate)) : "").append("</td><td class=\"text\">")
                    .append(esc(r.decision())).append("</td></tr>\n");
        }
        h.append("</tbody>\n</table>\n</section>\n");
    }

    private static void finalStatistics(StringBuilder h, Stats s) {
        h.append("<section>\n<h2>Final statistics</h2>\n<table class=\"stats\">\n")
                .append("<thead><tr><th>field</th><th>value</th><th>meaning</th></tr></thead>\n<tbody>\n");
        for (var e : s.raw.entrySet()) {
            String key = e.getKey();
            Object v = e.getValue();
            if (v instanceof Map<?, ?> || v instanceof List<?> || v == null) {
                continue;
            }
            row(h, "", key, v);
        }
        for (var e : s.ram.entrySet()) {
            row(h, "ram.", e.getKey(), e.getValue());
        }
        h.append("</tbody>\n</table>\n</section>\n");
    }

    private static void table(StringBuilder h, String prefix, Map<String, Object> m) {
        h.append("<table class=\"stats\">\n<thead><tr><th>field</th><th>value</th><th>meaning</th></tr></thead>\n")
                .append("<tbody>\n");
        for (var e : m.entrySet()) {
            row(h, prefix, e.getKey(), e.getValue());
        }
        h.append("</tbody>\n</table>\n");
    }

    private static void row(StringBuilder h, String prefix, String key, Object v) {
        String name = prefix + key;
        String value = Fmt.raw(v);
        if (v instanceof Number n && BYTES.contains(name) && n.longValue() >= 1024) {
            value = Fmt.bytes(n.longValue()) + " <span class=\"exact\">(" + esc(value) + " B)</span>";
        } else if (v instanceof Number n && MILLIS.contains(name)) {
            value = n.doubleValue() < 0 ? esc(value) + " <span class=\"exact\">(unknown)</span>"
                    : esc(value) + " ms" + (n.doubleValue() >= 1000 ? " <span class=\"exact\">("
                            + esc(Fmt.millis(n.doubleValue())) + ")</span>" : "");
        } else if (v instanceof Number && UNITS.containsKey(name)) {
            value = esc(value) + " " + UNITS.get(name);
        } else if (v instanceof Map<?, ?> || v instanceof List<?>) {
            value = "<span class=\"exact\">" + (v instanceof Map<?, ?> m ? m.size() + " fields"
                    : ((List<?>) v).size() + " items") + "</span>";
        } else {
            value = esc(value);
        }
        h.append("<tr><th scope=\"row\"><code>").append(esc(name)).append("</code></th><td>").append(value)
                .append("</td><td class=\"meaning\">").append(esc(MEANING.getOrDefault(name, ""))).append("</td></tr>\n");
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            :root { color-scheme: light; --ink: #2b2b2b; --muted: #6b6b6b; --line: #e3e6ea; --panel: #f4f6f8; }
            * { box-sizing: border-box; }
            body { margin: 0; background: #fff; color: var(--ink);
                   font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
            main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
            h1 { font-size: 28px; margin: 0 0 6px; display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
            h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
            .badge { font-size: 15px; color: #fff; border-radius: 14px; padding: 3px 12px; font-weight: 600; }
            .badge.completed { background: #2e7d32; } .badge.aborted { background: #b26a00; }
            .badge.failed { background: #c62828; } .badge.active { background: #1565c0; }
            .sentence { font-size: 17px; margin: 6px 0; }
            .policy { margin: 4px 0; color: var(--muted); }
            code { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 0.92em; }
            .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px;
                       margin: 18px 0 6px; }
            .figure { background: var(--panel); border-radius: 10px; padding: 10px 14px; }
            .figure .label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
            .figure .value { font-size: 21px; font-weight: 650; white-space: nowrap; }
            .figure .note { font-size: 12px; color: var(--muted); }
            figure { margin: 0 0 22px; }
            img.chart { display: block; width: 100%; height: auto; max-width: 1100px; }
            figcaption { color: var(--muted); font-size: 14px; margin: 2px 14px 0; }
            .empty { color: var(--muted); font-style: italic; }
            table { border-collapse: collapse; width: 100%; font-size: 14px; }
            th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
            thead th { background: var(--panel); font-weight: 600; }
            table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
            table.numbers td.text { text-align: left; }
            table.stats td { font-variant-numeric: tabular-nums; white-space: nowrap; }
            table.stats td.meaning { color: var(--muted); white-space: normal; }
            table.stats th[scope=row] { font-weight: normal; white-space: nowrap; }
            .exact { color: var(--muted); }
            footer { margin-top: 36px; color: var(--muted); font-size: 13px; }
            """;
}
