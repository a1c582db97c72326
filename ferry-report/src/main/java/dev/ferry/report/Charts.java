/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report's charts, built with XChart from a migration's statistics: pages and bytes per round, and, over time,
 * bandwidth against the expected downtime, transferred against remaining, and the dirty-page rate (with the vCPU
 * throttle when auto-converge throttled). A chart whose data the statistics lack is left out.
 */
final class Charts {
    /** One chart, with what it shows in words (the HTML page prints it under the chart). */
    record Figure(String id, String caption, Chart<?, ?> chart) {
        int width() {
            return chart.getWidth();
        }

        int height() {
            return chart.getHeight();
        }
    }

    static final int WIDTH = 1100;
    static final int HEIGHT = 400;

    static final Color BLUE = new Color(0x4E79A7);
    static final Color ORANGE = new Color(0xF28E2B);
    static final Color RED = new Color(0xE15759);
    static final Color TEAL = new Color(0x76B7B2);
    static final Color GREEN = new Color(0x59A14F);
    static final Color PURPLE = new Color(0xB07AA1);
    static final Color GREY = new Color(0x9C9C9C);
    static final Color INK = new Color(0x2B2B2B);
    static final Color GRID = new Color(0xE6E6E6);
    static final Color PAUSED = new Color(0xEDEDED);
    static final String FONT = Font.SANS_SERIF;

    private Charts() {
    }

    static List<Figure> of(Stats s) {
        List<Figure> figures = new ArrayList<>();
        if (!s.rounds.isEmpty()) {
            figures.add(pagesPerRound(s));
            figures.add(bytesPerRound(s));
        }
        if (s.timeline.size() > 0) {
            figures.add(bandwidthAndDowntime(s));
            figures.add(transferredAndRemaining(s));
            figures.add(dirtyRateAndThrottle(s));
        }
        return figures;
    }

    private static Figure pagesPerRound(Stats s) {
        CategoryChart c = new CategoryChart(WIDTH, HEIGHT);
        c.setTitle("Pages per round");
        c.setXAxisTitle("round");
        c.setYAxisTitle("pages (" + Fmt.bytes(s.pageSize()) + " each)");
        style(c.getStyler());
        c.getStyler().setAvailableSpaceFill(0.8).setOverlapped(false);
        c.getStyler().setSeriesColors(new Color[] {BLUE, TEAL, GREY});
        List<String> labels = roundLabels(s);
        List<Long> dirty = new ArrayList<>();
        List<Long> sent = new ArrayList<>();
        List<Long> zero = new ArrayList<>();
        for (Stats.Round r : s.rounds) {
            dirty.add(r.dirtyPages());
            sent.add(r.pagesSent());
            zero.add(r.zeroPages());
        }
        c.addSeries("dirty pages (to send)", labels, dirty);
        c.addSeries("pages sent", labels, sent);
        c.addSeries("of which zero pages", labels, zero);
        return new Figure("pages-per-round", "Each round sets out to send the pages dirty at its start (all of RAM in"
                + " the bulk round); it may end early when the policy stops it. Zero pages cost a marker only.", c);
    }

    private static Figure bytesPerRound(Stats s) {
        CategoryChart c = new CategoryChart(WIDTH, HEIGHT);
        c.setTitle("Bytes sent and duration per round");
        c.setXAxisTitle("round");
        c.setYAxisGroupTitle(0, "sent (MiB)");
        c.setYAxisGroupTitle(1, "duration (s)");
        style(c.getStyler());
        c.getStyler().setAvailableSpaceFill(0.6).setOverlapped(true);
        c.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
        c.getStyler().setYAxisMin(0, 0.0).setYAxisMin(1, 0.0);
        c.getStyler().setYAxisGroupTitleColor(0, BLUE).setYAxisGroupTitleColor(1, ORANGE);
        List<String> labels = roundLabels(s);
        List<Double> mib = new ArrayList<>();
        List<Double> seconds = new ArrayList<>();
        for (Stats.Round r : s.rounds) {
            mib.add(r.bytesSent() / Fmt.MIB);
            seconds.add(r.durationMillis() / 1000);
        }
        CategorySeries bytes = c.addSeries("sent (MiB)", labels, mib);
        bytes.setFillColor(BLUE);
        CategorySeries duration = c.addSeries("duration (s)", labels, seconds);
        duration.setChartCategorySeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Line);
        duration.setYAxisGroup(1);
        duration.setLineColor(ORANGE);
        duration.setLineWidth(2.5f);
        duration.setMarker(SeriesMarkers.CIRCLE);
        duration.setMarkerColor(ORANGE);
        return new Figure("bytes-per-round", "Bytes put on the wire in each round (left axis) and how long the round"
                + " took (right axis). The stop-and-copy round's duration is most of the downtime.", c);
    }

    private static Figure bandwidthAndDowntime(Stats s) {
        Stats.Timeline t = s.timeline;
        XYChart c = timeChart("Bandwidth and expected downtime");
        c.setYAxisGroupTitle(0, "bandwidth (MiB/s)");
        c.setYAxisGroupTitle(1, "expected downtime (ms)");
        c.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
        c.getStyler().setYAxisMin(0, 0.0).setYAxisMin(1, 0.0);
        c.getStyler().setYAxisGroupTitleColor(0, BLUE).setYAxisGroupTitleColor(1, RED);
        double[] mibs = Arrays.stream(t.bandwidth()).map(b -> b / Fmt.MIB).toArray();
        paused(c, s, max(mibs));
        line(series(c, "bandwidth (MiB/s)", t.seconds(), mibs), BLUE, 2f, 0);
        boolean anyEstimate = Arrays.stream(t.expectedDowntime()).anyMatch(v -> !Double.isNaN(v));
        if (anyEstimate) {
            line(series(c, "expected downtime (ms)", t.seconds(), t.expectedDowntime()), RED, 2f, 1);
        }
        if (s.downtimeMillis >= 0) {
            double[] xs = {t.seconds()[0], t.seconds()[t.size() - 1]};
            double[] ys = {s.downtimeMillis, s.downtimeMillis};
            XYSeries real = c.addSeries("measured downtime (" + Fmt.millis(s.downtimeMillis) + ")", xs, ys);
            line(real, RED, 1.5f, 1).setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
                    10f, new float[] {6f, 4f}, 0f));
        }
        roundStarts(c, s);
        return new Figure("bandwidth", "The bandwidth the engine measured (left axis) and the downtime it expected if"
                + " it stopped the guest then (right axis); the dashed line is the downtime measured at the end."
                + " Dotted lines mark the start of each round; the shaded band is stop-and-copy, the guest paused.",
                c);
    }

    private static Figure transferredAndRemaining(Stats s) {
        Stats.Timeline t = s.timeline;
        XYChart c = timeChart("Transferred and remaining");
        c.setYAxisTitle("MiB");
        c.getStyler().setYAxisMin(0.0);
        long total = s.ram("total");
        paused(c, s, Math.max(total / Fmt.MIB, Math.max(max(t.transferred()), max(t.remaining())) / Fmt.MIB));
        line(series(c, "transferred (MiB)", t.seconds(), scale(t.transferred(), 1 / Fmt.MIB)), BLUE, 2f, 0);
        line(series(c, "remaining (MiB)", t.seconds(), scale(t.remaining(), 1 / Fmt.MIB)), ORANGE, 2f, 0);
        if (total > 0) {
            double[] xs = {t.seconds()[0], t.seconds()[t.size() - 1]};
            double[] ys = {total / Fmt.MIB, total / Fmt.MIB};
            line(c.addSeries("guest RAM (" + Fmt.bytes(total) + ")", xs, ys), GREY, 1.5f, 0)
                    .setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                            new float[] {6f, 4f}, 0f));
        }
        roundStarts(c, s);
        return new Figure("transferred", "Bytes sent so far and the engine's estimate of what is left to send."
                + " Transferred grows past the guest's RAM when pages are dirtied again and re-sent.", c);
    }

    private static Figure dirtyRateAndThrottle(Stats s) {
        Stats.Timeline t = s.timeline;
        boolean throttled = Arrays.stream(t.cpuThrottle()).anyMatch(v -> v > 0) || s.cpuThrottle > 0;
        XYChart c = timeChart(throttled ? "Dirty-page rate and vCPU throttle" : "Dirty-page rate");
        c.setYAxisGroupTitle(0, "dirty pages per second");
        c.getStyler().setYAxisMin(0, 0.0);
        c.getStyler().setYAxisGroupTitleColor(0, PURPLE);
        paused(c, s, max(t.dirtyPagesRate()));
        line(series(c, "dirty pages / s", t.seconds(), t.dirtyPagesRate()), PURPLE, 2f, 0)
                .setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step);
        String caption = "Pages the guest dirtied per second, measured at each dirty-log sync (0 until the first"
                + " sync, after the bulk round).";
        if (throttled) {
            c.setYAxisGroupTitle(1, "vCPU throttle (%)");
            c.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
            c.getStyler().setYAxisMin(1, 0.0).setYAxisMax(1, 100.0);
            c.getStyler().setYAxisGroupTitleColor(1, GREEN);
            line(series(c, "vCPU throttle (%)", t.seconds(), t.cpuThrottle()), GREEN, 2.5f, 1)
                    .setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step);
            caption += " Auto-converge throttled the vCPUs by the percentage on the right axis.";
        }
        roundStarts(c, s);
        return new Figure("dirty-rate", caption, c);
    }

    private static XYChart timeChart(String title) {
        XYChart c = new XYChart(WIDTH, HEIGHT);
        c.setTitle(title);
        c.setXAxisTitle("time since the migration started (s)");
        style(c.getStyler());
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        c.getStyler().setXAxisDecimalPattern("0.#");
        c.getStyler().setXAxisMin(0.0);
        c.getStyler().setMarkerSize(0);
        return c;
    }

    /** At most this many buckets of samples per series: about one per pixel of plot. */
    static final int BUCKETS = 600;

    /** Adds a timeline series, thinned to at most {@link #BUCKETS} buckets (an hour has 36,000 samples). */
    private static XYSeries series(XYChart c, String name, double[] x, double[] y) {
        double[][] xy = decimate(x, y, BUCKETS);
        return c.addSeries(name, xy[0], xy[1]);
    }

    /**
     * Thins {@code (x, y)} to the lowest and the highest point of each of {@code buckets} equal runs of samples, in
     * their order, so that peaks and dips survive. NaN (unknown) stays a gap. Short series are returned as they are.
     */
    static double[][] decimate(double[] x, double[] y, int buckets) {
        int n = x.length;
        if (n <= 2 * buckets) {
            return new double[][] {x, y};
        }
        double[] xs = new double[3 * buckets];
        double[] ys = new double[3 * buckets];
        int k = 0;
        for (int b = 0; b < buckets; b++) {
            int from = (int) ((long) b * n / buckets);
            int to = (int) ((long) (b + 1) * n / buckets);
            int lo = -1;
            int hi = -1;
            int unknown = -1;
            for (int i = from; i < to; i++) {
                if (Double.isNaN(y[i])) {
                    unknown = unknown < 0 ? i : unknown;
                } else {
                    lo = lo < 0 || y[i] < y[lo] ? i : lo;
                    hi = hi < 0 || y[i] > y[hi] ? i : hi;
                }
            }
            // The bucket's lowest, highest and first unknown sample, in their order.
            int[] keep = {lo, hi, unknown};
            Arrays.sort(keep);
            int last = -1;
            for (int i : keep) {
                if (i >= 0 && i != last) {
                    xs[k] = x[i];
                    ys[k++] = y[i];
                    last = i;
                }
            }
        }
        return new double[][] {Arrays.copyOf(xs, k), Arrays.copyOf(ys, k)};
    }

    private static XYSeries line(XYSeries series, Color color, float width, int axis) {
        series.setLineColor(color);
        series.setLineWidth(width);
        series.setMarker(SeriesMarkers.NONE);
        series.setYAxisGroup(axis);
        return series;
    }

    /**
     * When each round started and ended, in seconds since the migration started: rounds follow one another from the
     * end of setup, each as long as its recorded duration. Index i is round i's start; the last entry is the end.
     */
    static double[] roundBounds(Stats s) {
        double[] b = new double[s.rounds.size() + 1];
        double at = s.setupTimeMillis;
        for (int i = 0; i < s.rounds.size(); i++) {
            b[i] = at / 1000;
            at += s.rounds.get(i).durationMillis();
        }
        b[s.rounds.size()] = at / 1000;
        return b;
    }

    /** A dotted vertical line where each round after the first starts (stop-and-copy has its band). */
    private static void roundStarts(XYChart c, Stats s) {
        double[] b = roundBounds(s);
        for (int i = 1; i < s.rounds.size(); i++) {
            if (!"stop-and-copy".equals(s.rounds.get(i).phase())) {
                c.addAnnotation(new AnnotationLine(b[i], true, false));
            }
        }
    }

    /**
     * A shaded band over the stop-and-copy round (the guest paused), as high as the left axis: the axis is fixed to
     * a round value above {@code dataMax} so that the band fills it.
     */
    private static void paused(XYChart c, Stats s, double dataMax) {
        double[] b = roundBounds(s);
        for (int i = 0; i < s.rounds.size(); i++) {
            if ("stop-and-copy".equals(s.rounds.get(i).phase())) {
                double top = niceCeiling(dataMax);
                c.getStyler().setYAxisMax(0, top);
                XYSeries band = c.addSeries("guest paused (stop-and-copy)", new double[] {b[i], b[i + 1]},
                        new double[] {top, top});
                band.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Area);
                band.setFillColor(PAUSED);
                band.setLineColor(PAUSED);
                band.setLineWidth(0.1f);
                band.setMarker(SeriesMarkers.NONE);
                band.setYAxisGroup(0);
                band.setShowInLegend(false);
                c.addAnnotation(new AnnotationText("guest paused", (b[i] + b[i + 1]) / 2, top * 0.95, false));
                return;
            }
        }
    }

    /** The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k at least 5 % above {@code v} (1 for nothing). */
    static double niceCeiling(double v) {
        if (!(v > 0)) {
            return 1;
        }
        double target = v * 1.05;
        double p = Math.pow(10, Math.floor(Math.log10(target)));
        for (double m : new double[] {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) {
            if (m * p >= target) {
                return m * p;
            }
        }
        return 10 * p;
    }

    private static double max(double[] v) {
        double m = 0;
        for (double x : v) {
            if (!Double.isNaN(x)) {
                m = Math.max(m, x);
            }
        }
        return m;
    }

    /** Round labels: the number, with the phase for the first and last kinds of round. */
    private static List<String> roundLabels(Stats s) {
        boolean many = s.rounds.size() > 16;
        List<String> labels = new ArrayList<>();
        for (Stats.Round r : s.rounds) {
            String n = Integer.toString(r.iteration());
            labels.add(many ? n : switch (r.phase()) {
                case "bulk" -> n + " bulk";
                case "stop-and-copy" -> n + " stop-and-copy";
                default -> n;
            });
        }
        return labels;
    }

    private static double[] scale(double[] v, double factor) {
        return Arrays.stream(v).map(x -> x * factor).toArray();
    }

    private static void style(AxesChartStyler st) {
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setPlotBorderVisible(false);
        st.setPlotGridLinesColor(GRID);
        st.setPlotGridLinesStroke(new BasicStroke(1f));
        st.setPlotGridVerticalLinesVisible(false);
        st.setChartFontColor(INK);
        st.setAxisTickLabelsColor(INK);
        st.setAxisTickMarksColor(GREY);
        st.setChartTitleFont(new Font(FONT, Font.BOLD, 17));
        st.setChartTitleBoxVisible(false);
        st.setChartTitlePadding(10);
        st.setAxisTitleFont(new Font(FONT, Font.PLAIN, 13));
        st.setAxisTickLabelsFont(new Font(FONT, Font.PLAIN, 12));
        st.setLegendFont(new Font(FONT, Font.PLAIN, 13));
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
        st.setLegendLayout(Styler.LegendLayout.Horizontal);
        st.setLegendBorderColor(Color.WHITE);
        st.setLegendBackgroundColor(Color.WHITE);
        st.setChartPadding(14);
        st.setAnnotationLineColor(new Color(0xC8C8C8));
        st.setAnnotationLineStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                new float[] {2f, 3f}, 0f));
        st.setAnnotationTextFont(new Font(FONT, Font.ITALIC, 13));
        st.setAnnotationTextFontColor(new Color(0x6B6B6B));
        st.setYAxisDecimalPattern("#,##0.##");
        st.setLocale(java.util.Locale.ROOT);
        st.setToolTipsEnabled(false);
        st.setAntiAlias(true);
    }
}
