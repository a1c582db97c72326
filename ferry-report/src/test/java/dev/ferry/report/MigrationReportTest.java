/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.report.MigrationReport.Format;
import dev.ferry.stats.IterationStats;
import dev.ferry.stats.MigrationStats;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** Reports from recorded statistics, in each format, and what happens with incomplete or wrong input. */
class MigrationReportTest {
    private static final Pattern EMBEDDED_SVG = Pattern.compile("src=\"data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)\"");

    @TempDir
    Path dir;

    @Test
    void htmlHasTheOutcomeTheKeyFiguresAndEveryChart() throws Exception {
        Path out = dir.resolve("report.html");
        MigrationReport.write(Fixtures.migration("completed-forced"), out);
        String html = Files.readString(out);

        assertThat(html).startsWith("<!DOCTYPE html>").contains("<title>Ferry migration report: completed</title>")
                .contains("Completed").contains("Migrated in 10.0 s over 6 rounds, with 2.0 s of downtime.")
                .contains("downtime + timeout(after=8000ms, on-timeout=force)")
                .contains("1,988.9 ms") // the measured downtime
                .contains("500 MiB") // sent
                .contains("418.6 Mbit/s")
                .contains("127,744 normal, 40,192 zero");
        // The rounds table: every round with the policy's decision.
        assertThat(html).contains("<h2>Rounds</h2>").contains("stop-and-copy").contains(">continue<");
        // The final statistics under QEMU's names, with exact values.
        assertThat(html).contains("ram.transferred").contains("524,092,431 B").contains("ram.dirty-sync-count");
        // Five charts, each an SVG document that parses, with its title in it.
        List<byte[]> charts = embeddedSvgs(html);
        assertThat(charts).hasSize(5);
        for (byte[] svg : charts) {
            assertThat(Fixtures.parseXml(svg).getDocumentElement().getLocalName()).isEqualTo("svg");
        }
        assertThat(html).contains("alt=\"Pages per round\"").contains("alt=\"Bytes sent and duration per round\"")
                .contains("alt=\"Bandwidth and expected downtime\"").contains("alt=\"Transferred and remaining\"")
                .contains("alt=\"Dirty-page rate\"");
        // Self-contained: nothing is fetched.
        assertThat(html).doesNotContainPattern("(src|href)=\"(https?:)?//").doesNotContain("<script")
                .doesNotContain("<link").doesNotContain("@import").doesNotContain("url(http");
        for (byte[] svg : charts) {
            assertThat(new String(svg, StandardCharsets.UTF_8)).doesNotContain("<!DOCTYPE")
                    .doesNotContain("xlink:href=\"http");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"completed-forced", "converged", "aborted", "auto-converge-bare", "failed-to-connect"})
    void everyRecordedMigrationInEveryFormat(String name) throws Exception {
        Map<String, Object> stats = Fixtures.migration(name);
        int charts = Charts.of(Stats.of(stats)).size();
        assertThat(charts).isEqualTo(name.equals("failed-to-connect") ? 0 : 5);

        assertThat(embeddedSvgs(html(stats))).hasSize(charts);
        BufferedImage png = ImageIO.read(new java.io.ByteArrayInputStream(render(stats, Format.PNG)));
        Sheet sheet = new Sheet(Stats.of(stats));
        assertThat(png.getWidth()).isEqualTo(sheet.width());
        assertThat(png.getHeight()).isEqualTo(sheet.height());
        Document svg = Fixtures.parseXml(render(stats, Format.SVG));
        assertThat(svg.getDocumentElement().getAttribute("viewBox"))
                .isEqualTo("0 0 " + sheet.width() + " " + sheet.height());
    }

    @Test
    void pngHasTheHeaderAndEveryChartAtTheExpectedSize() throws Exception {
        Map<String, Object> stats = Fixtures.migration("completed-forced");
        Path out = dir.resolve("report.png");
        MigrationReport.write(stats, out);

        BufferedImage image = ImageIO.read(out.toFile());
        assertThat(image).as("a PNG that decodes").isNotNull();
        Sheet sheet = new Sheet(Stats.of(stats));
        assertThat(image.getWidth()).isEqualTo(sheet.width()).isEqualTo(Charts.WIDTH + 2 * Sheet.MARGIN);
        assertThat(image.getHeight()).isEqualTo(sheet.height()).isGreaterThan(5 * Charts.HEIGHT);
        assertThat(Fixtures.distinctColours(image)).as("anti-aliased charts in several colours").isGreaterThan(500);
        // The bars of the first chart are filled with the report's blue; the badge with its green.
        assertThat(Fixtures.pixelsOf(image, Charts.BLUE.getRGB() & 0xFFFFFF)).isGreaterThan(5_000);
        assertThat(Fixtures.pixelsOf(image, 0x2E7D32)).as("the 'Completed' badge").isGreaterThan(500);
    }

    @Test
    void svgIsOneXmlDocumentWithTheHeaderAndEveryChart() throws Exception {
        Path out = dir.resolve("report.svg");
        MigrationReport.write(Fixtures.migration("completed-forced"), out);
        byte[] bytes = Files.readAllBytes(out);

        Document doc = Fixtures.parseXml(bytes);
        Element root = doc.getDocumentElement();
        assertThat(root.getLocalName()).isEqualTo("svg");
        assertThat(root.getNamespaceURI()).isEqualTo("http://www.w3.org/2000/svg");
        assertThat(root.getAttribute("viewBox")).startsWith("0 0 " + (Charts.WIDTH + 2 * Sheet.MARGIN) + " ");
        assertThat(texts(doc)).contains("Ferry migration report", "Completed",
                "Policy: downtime + timeout(after=8000ms, on-timeout=force)");
        // XChart draws its labels as outlines: many paths, five plots' clip areas.
        assertThat(doc.getElementsByTagNameNS("*", "path").getLength()).isGreaterThan(100);
        assertThat(doc.getElementsByTagNameNS("*", "clipPath").getLength()).isEqualTo(5);
        String svg = new String(bytes, StandardCharsets.UTF_8);
        assertThat(svg).doesNotContain("<!DOCTYPE").doesNotContainPattern("\\d\\.\\d{3}");
        // Every text says its size and falls back to a font every reader has.
        NodeList nodes = doc.getElementsByTagNameNS("*", "text");
        for (int i = 0; i < nodes.getLength(); i++) {
            assertThat(((Element) nodes.item(i)).getAttribute("style")).contains("font-size:")
                    .contains(",sans-serif;");
        }
    }

    @Test
    void abortedMigrationSaysWhyAndHasNoPause() throws Exception {
        Map<String, Object> stats = Fixtures.migration("aborted");
        String html = html(stats);
        assertThat(html).contains(">Aborted<")
                .contains("Aborted after 5.0 s: precopy policy downtime + timeout(after=5000ms, on-timeout=abort)"
                        + " decided to abort. The guest kept running on the source.")
                .contains("99.1 MiB") // remaining when it ended
                .contains(">abort<");
        assertThat(embeddedSvgs(html)).hasSize(5);
        assertThat(new String(render(stats, Format.SVG), StandardCharsets.UTF_8)).doesNotContain("guest paused");
        assertThat(ImageIO.read(new java.io.ByteArrayInputStream(render(stats, Format.PNG)))).isNotNull();
    }

    @Test
    void failedBeforeTheFirstRoundStillMakesAReport() throws Exception {
        Map<String, Object> stats = Fixtures.migration("failed-to-connect");
        String html = html(stats);
        assertThat(html).contains(">Failed<").contains("cannot connect to 127.0.0.1:6009: Connection refused")
                .contains("No rounds and no timeline were recorded").doesNotContain("<h2>Rounds</h2>");
        assertThat(embeddedSvgs(html)).isEmpty();

        BufferedImage png = ImageIO.read(new java.io.ByteArrayInputStream(render(stats, Format.PNG)));
        assertThat(png.getWidth()).isEqualTo(Charts.WIDTH + 2 * Sheet.MARGIN);
        assertThat(png.getHeight()).isBetween(150, 400);
        Document svg = Fixtures.parseXml(render(stats, Format.SVG));
        assertThat(texts(svg)).anyMatch(t -> t.startsWith("No rounds and no timeline were recorded"));
    }

    @Test
    void autoConvergeShowsTheThrottle() throws Exception {
        Map<String, Object> stats = MigrationReport.migrationOf(Fixtures.file("auto-converge-bare"));
        String html = html(stats);
        assertThat(html).contains("alt=\"Dirty-page rate and vCPU throttle\"").contains(">vCPU throttle<")
                .contains("60 %");
        assertThat(Charts.of(Stats.of(stats))).extracting(f -> f.chart().getTitle())
                .contains("Dirty-page rate and vCPU throttle");
        // Without throttling, the chart is about the dirty-page rate alone.
        assertThat(Charts.of(Stats.of(Fixtures.migration("completed-forced")))).extracting(f -> f.chart().getTitle())
                .contains("Dirty-page rate").doesNotContain("Dirty-page rate and vCPU throttle");
    }

    @Test
    void xbzrleSectionIsShownOnlyWhenPresent() throws Exception {
        Map<String, Object> stats = new LinkedHashMap<>(Fixtures.migration("completed-forced"));
        assertThat(html(stats)).doesNotContain("XBZRLE");
        // QEMU's xbzrle-cache fields, as a migration with XBZRLE reports them.
        Map<String, Object> xbzrle = new LinkedHashMap<>();
        xbzrle.put("cache-size", 67_108_864L);
        xbzrle.put("bytes", 3_276_800L);
        xbzrle.put("pages", 51_200L);
        xbzrle.put("cache-miss", 12_800L);
        xbzrle.put("cache-miss-rate", 0.2);
        xbzrle.put("encoding-rate", 64.0);
        xbzrle.put("overflow", 17L);
        stats.put("xbzrle-cache", xbzrle);
        String html = html(stats);
        assertThat(html).contains("<h2>XBZRLE cache</h2>").contains("xbzrle-cache.cache-miss-rate")
                .contains("64.0 MiB").contains("51,200 cache hits").contains("cache miss rate 20.0 %");
    }

    @Test
    void missingSectionsLeaveTheirChartsOut() throws Exception {
        Map<String, Object> noTimeline = new LinkedHashMap<>(Fixtures.migration("completed-forced"));
        noTimeline.remove("timeline");
        assertThat(Charts.of(Stats.of(noTimeline))).extracting(Charts.Figure::id)
                .containsExactly("pages-per-round", "bytes-per-round");
        assertThat(embeddedSvgs(html(noTimeline))).hasSize(2);

        Map<String, Object> noRounds = new LinkedHashMap<>(Fixtures.migration("completed-forced"));
        noRounds.put("iterations", List.of());
        assertThat(Charts.of(Stats.of(noRounds))).extracting(Charts.Figure::id)
                .containsExactly("bandwidth", "transferred", "dirty-rate");
        assertThat(ImageIO.read(new java.io.ByteArrayInputStream(render(noRounds, Format.PNG)))).isNotNull();

        // The least a migration's statistics hold.
        Map<String, Object> bare = Map.of("status", "setup", "ram", Map.of());
        assertThat(html(bare)).contains("Status: setup").contains("No rounds and no timeline");
        assertThat(Fixtures.parseXml(render(bare, Format.SVG))).isNotNull();
    }

    @Test
    void anHourLongMigrationStaysAReadableSize() throws Exception {
        // 36,000 samples (the timeline's limit, an hour at one per 100 ms) and 40 rounds.
        Map<String, Object> stats = new LinkedHashMap<>(Fixtures.migration("completed-forced"));
        List<Object> timeline = new ArrayList<>();
        java.util.Random random = new java.util.Random(1);
        for (int i = 0; i < 36_000; i++) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("t-ms", 20L + i * 100L);
            s.put("transferred", i * 30_000_000L);
            s.put("remaining", 8L << 30);
            s.put("bandwidth", 300_000_000L + random.nextInt(10_000_000));
            s.put("expected-downtime", i % 500 == 0 ? -1 : 2000 + random.nextInt(100));
            s.put("dirty-pages-rate", 50_000 + random.nextInt(1000));
            s.put("cpu-throttle-percentage", 0);
            s.put("iteration", 1 + i / 900);
            timeline.add(s);
        }
        List<Object> rounds = new ArrayList<>();
        for (int i = 1; i <= 40; i++) {
            rounds.add(Map.of("iteration", i, "phase", i == 1 ? "bulk" : i == 40 ? "stop-and-copy" : "precopy",
                    "dirty-pages", 100_000 - i * 1000, "pages-sent", 100_000 - i * 1000, "zero-pages", 10,
                    "bytes-sent", (100_000L - i * 1000) * 4096, "duration-ms", 89_999.5, "decision", "continue"));
        }
        stats.put("timeline", timeline);
        stats.put("iterations", rounds);
        stats.put("total-time", 3_600_000L);

        assertThat(render(stats, Format.HTML).length).isLessThan(4_000_000);
        assertThat(render(stats, Format.SVG).length).isLessThan(3_000_000);
        assertThat(ImageIO.read(new java.io.ByteArrayInputStream(render(stats, Format.PNG)))).isNotNull();
    }

    @Test
    void decimationKeepsPeaksDipsAndGaps() {
        int n = 10_000;
        double[] x = new double[n];
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = i / 10.0;
            y[i] = 100 + (i % 7);
        }
        y[4321] = 1_000; // a spike
        y[8765] = -5; // a dip
        y[1234] = Double.NaN; // an unknown estimate
        double[][] xy = Charts.decimate(x, y, 600);
        assertThat(xy[0].length).isEqualTo(xy[1].length).isLessThanOrEqualTo(3 * 600).isGreaterThan(600);
        assertThat(xy[1]).contains(1_000.0, -5.0, 100.0, 106.0);
        assertThat(java.util.Arrays.stream(xy[1]).filter(Double::isNaN).count()).isEqualTo(1);
        for (int i = 1; i < xy[0].length; i++) {
            assertThat(xy[0][i]).as("x in order").isGreaterThan(xy[0][i - 1]);
        }
        // Short series are drawn as they are.
        double[][] small = Charts.decimate(new double[] {0, 1, 2}, new double[] {5, 6, 7}, 600);
        assertThat(small[1]).containsExactly(5, 6, 7);
    }

    @Test
    void reportFromLiveStatisticsObjects() throws Exception {
        // The map as MigrationStats.toMap() makes it (ints, longs, doubles), not read back from JSON.
        MigrationStats stats = new MigrationStats(64L << 20, 4096);
        stats.policy("downtime");
        stats.status(MigrationStats.Status.ACTIVE);
        stats.estimate(64L << 20, -1, 100e6);
        stats.batch(1000, 15_384, 15_384 * 4096L, 63_100_000L, false);
        stats.iteration(new IterationStats(1, "bulk", 16_384, 16_384, 1000, 63_100_000L, 640.5, "continue"));
        stats.dirtySync(2000);
        stats.estimate(4L << 20, 40, 100e6);
        stats.status(MigrationStats.Status.DEVICE);
        stats.batch(0, 1024, 1024 * 4096L, 4_200_000L, true);
        stats.iteration(new IterationStats(2, "stop-and-copy", 1024, 1024, 0, 4_200_000L, 41.25, "stop-and-copy"));
        stats.downtime(43_500_000L);
        stats.status(MigrationStats.Status.COMPLETED);
        Map<String, Object> map = stats.toMap();

        for (Format f : Format.values()) {
            Path out = dir.resolve("live." + f.extension);
            MigrationReport.write(map, out);
            assertThat(out).isNotEmptyFile();
        }
        assertThat(Files.readString(dir.resolve("live.html"))).contains("Completed").contains("43.5 ms")
                .contains("2 rounds");
    }

    @ParameterizedTest
    @ValueSource(strings = {"r.html", "r.HTM", "r.png", "r.svg"})
    void formatFollowsTheExtension(String name) throws Exception {
        Path out = dir.resolve(name);
        MigrationReport.write(Fixtures.migration("aborted"), out);
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(out), 16);
        String start = new String(head, StandardCharsets.ISO_8859_1);
        switch (Format.of(out)) {
            case HTML -> assertThat(start).startsWith("<!DOCTYPE html>");
            case PNG -> assertThat(start).startsWith("\u0089PNG");
            case SVG -> assertThat(start).startsWith("<?xml");
        }
        // Written whole under a temporary name, then moved: nothing else is left in the directory.
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(out);
        }
        // As readable as any file made here (a private temporary file would leave it 0600).
        if (Files.getFileStore(dir).supportsFileAttributeView("posix")) {
            Path plain = Files.createFile(dir.resolve("plain"));
            assertThat(Files.getPosixFilePermissions(out)).isEqualTo(Files.getPosixFilePermissions(plain));
        }
    }

    @Test
    void unknownExtensionIsAClearError() {
        assertThatThrownBy(() -> MigrationReport.write(Fixtures.migration("aborted"), dir.resolve("report.pdf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot tell the report's format from '" + dir.resolve("report.pdf")
                        + "': name it .html, .png or .svg");
        assertThat(dir.resolve("report.pdf")).doesNotExist();
    }

    @Test
    void wholeFileOrBareMapGiveTheSameStatistics() {
        Map<String, Object> whole = Fixtures.file("completed-forced");
        assertThat(MigrationReport.migrationOf(whole)).isSameAs(whole.get("migration"));
        Map<String, Object> bare = Fixtures.file("auto-converge-bare");
        assertThat(MigrationReport.migrationOf(bare)).isSameAs(bare);
    }

    @Test
    void filesThatAreNotAMigrationsStatisticsAreNamed() {
        assertThatThrownBy(() -> MigrationReport.migrationOf(Map.of("incoming", Map.of("status", "running"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a destination's statistics");
        assertThatThrownBy(() -> MigrationReport.migrationOf(Map.of("replication", Map.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("replication statistics");
        assertThatThrownBy(() -> MigrationReport.migrationOf(Map.of("name", "ferry", "version", 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("not Ferry migration statistics: no 'migration' section");
        assertThatThrownBy(() -> MigrationReport.migrationOf(Map.of("migration", Map.of("status", "completed"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("not Ferry migration statistics: expected a map with 'status' and 'ram'");
    }

    @Test
    void fieldsOfTheWrongTypeAreOneLineErrors() {
        Map<String, Object> good = Fixtures.migration("completed-forced");
        assertBad(with(good, "ram", "lots"), "not Ferry migration statistics: expected a map with 'status' and 'ram'");
        assertBad(with(good, "total-time", "10s"), "bad Ferry statistics: 'total-time' is \"10s\", not a number");
        assertBad(with(good, "iterations", "six"), "bad Ferry statistics: 'iterations' is \"six\", not a list");
        assertBad(with(good, "timeline", List.of(Map.of("t-ms", 0), 7)),
                "bad Ferry statistics: timeline[1] is 7, not an object");
        assertBad(with(good, "timeline", List.of(Map.of("bandwidth", 5))),
                "bad Ferry statistics: timeline[0] has no number 't-ms'");
        List<Object> rounds = new ArrayList<>((List<?>) good.get("iterations"));
        Map<String, Object> round = new LinkedHashMap<>(castMap(rounds.get(2)));
        round.put("bytes-sent", List.of(1, 2));
        rounds.set(2, round);
        assertBad(with(good, "iterations", rounds),
                "bad Ferry statistics: 'iterations[2].bytes-sent' is a list, not a number");
        assertBad(with(good, "xbzrle-cache", 12), "bad Ferry statistics: 'xbzrle-cache' is 12, not an object");
    }

    private static void assertBad(Map<String, Object> stats, String message) {
        for (Format f : Format.values()) {
            assertThatThrownBy(() -> MigrationReport.write(stats, f, new ByteArrayOutputStream()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(message);
        }
        assertThat(message).doesNotContain("\n");
    }

    private static Map<String, Object> with(Map<String, Object> m, String key, Object value) {
        Map<String, Object> copy = new LinkedHashMap<>(m);
        copy.put(key, value);
        return copy;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        return (Map<String, Object>) o;
    }

    private static String html(Map<String, Object> stats) throws Exception {
        return new String(render(stats, Format.HTML), StandardCharsets.UTF_8);
    }

    private static byte[] render(Map<String, Object> stats, Format format) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MigrationReport.write(stats, format, out);
        return out.toByteArray();
    }

    private static List<byte[]> embeddedSvgs(String html) {
        List<byte[]> svgs = new ArrayList<>();
        Matcher m = EMBEDDED_SVG.matcher(html);
        while (m.find()) {
            svgs.add(Base64.getDecoder().decode(m.group(1)));
        }
        return svgs;
    }

    private static List<String> texts(Document doc) {
        NodeList nodes = doc.getElementsByTagNameNS("*", "text");
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            texts.add(nodes.item(i).getTextContent());
        }
        return texts;
    }
}
