/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry report} on a real migration's statistics file, and its errors: one line, a status, no trace. */
class ReportCommandTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void reportsOnARealMigrationInEachFormat() throws Exception {
        Path stats = dir.resolve("src.json");
        try (FerryProcess dst = FerryProcess.start("incoming", "--listen", "127.0.0.1:0", "--run-for", "200ms")) {
            int port = dst.listeningPort();
            // A bulk round of 1.6 s (64 MiB at 40 MiB/s) for the timeline, then a small dirty set that converges.
            try (FerryProcess src = FerryProcess.start("run", "--memory", "64M", "--workload", "memtest,end=4M",
                    "--migrate-to", "127.0.0.1:" + port, "--migrate-after", "500ms", "--max-bandwidth", "40M",
                    "--policy", "downtime,timeout=10s,on-timeout=force", "--stats-json", stats.toString())) {
                assertThat(src.exit(LONG)).as(src.output()).isZero();
            }
            assertThat(dst.exit(LONG)).as(dst.output()).isZero();
        }

        Path html = dir.resolve("report.html");
        Path png = dir.resolve("report.png");
        Path svg = dir.resolve("report.svg");
        for (Path out : new Path[] {html, png, svg}) {
            try (FerryProcess p = FerryProcess.start("report", stats.toString(), "--out", out.toString())) {
                assertThat(p.exit(LONG)).as(p.output()).isZero();
                String ext = out.getFileName().toString().substring(7);
                assertThat(p.output()).isEqualTo("wrote " + ext + " report " + out);
            }
        }
        assertThat(Files.readString(html)).contains("Ferry migration report").contains(">Completed<")
                .contains("data:image/svg+xml;base64,");
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isGreaterThan(1000);
        assertThat(image.getHeight()).isGreaterThan(1000);
        assertThat(Files.readString(svg)).startsWith("<?xml").contains("<svg").contains("Completed");
    }

    @Test
    void takesTheMigrationMapAloneToo() throws Exception {
        Map<String, Object> whole = Map.of("migration", Map.of("status", "failed", "total-time", 12,
                "error-desc", "cannot connect to 127.0.0.1:9: Connection refused", "ram", Map.of("total", 1 << 26)));
        Path bare = dir.resolve("bare.json");
        Json.write(bare, whole.get("migration"));
        Path out = dir.resolve("bare.html");
        try (FerryProcess p = FerryProcess.start("report", bare.toString(), "-o", out.toString())) {
            assertThat(p.exit(LONG)).as(p.output()).isZero();
        }
        assertThat(Files.readString(out)).contains(">Failed<").contains("Connection refused");
    }

    @Test
    void badInputIsOneClearLine() throws Exception {
        Path notJson = Files.writeString(dir.resolve("notes.json"), "migration went fine\n");
        Path list = Files.writeString(dir.resolve("list.json"), "[1, 2, 3]\n");
        Path other = Files.writeString(dir.resolve("other.json"), "{\"name\": \"ferry\", \"version\": 3}\n");
        Path incoming = Files.writeString(dir.resolve("dst.json"), "{\"incoming\": {\"status\": \"running\"}}\n");
        Path wrongType = Files.writeString(dir.resolve("wrong.json"),
                "{\"migration\": {\"status\": \"completed\", \"ram\": {}, \"total-time\": \"ten seconds\"}}\n");
        Path good = Files.writeString(dir.resolve("good.json"),
                "{\"migration\": {\"status\": \"completed\", \"ram\": {}}}\n");
        String out = dir.resolve("r.html").toString();

        expect(2, "is not JSON: Unrecognized token 'migration'", "report", notJson.toString(), "--out", out);
        expect(2, "holds a list, not an object", "report", list.toString(), "--out", out);
        expect(2, "not Ferry migration statistics: no 'migration' section", "report", other.toString(), "--out",
                out);
        expect(2, "a destination's statistics ('ferry incoming')", "report", incoming.toString(), "--out", out);
        expect(2, "'total-time' is \"ten seconds\", not a number", "report", wrongType.toString(), "--out", out);
        expect(1, "cannot read " + dir.resolve("missing.json") + ": no such file", "report",
                dir.resolve("missing.json").toString(), "--out", out);
        expect(2, "cannot tell the report's format from", "report", good.toString(), "--out",
                dir.resolve("r.pdf").toString());
        expect(1, "no directory", "report", good.toString(), "--out", dir.resolve("no/such/dir/r.png").toString());
        expect(2, "Missing required option: '--out=FILE'", "report", good.toString());
        assertThat(dir.resolve("r.html")).doesNotExist();
    }

    private static void expect(int status, String message, String... args) throws Exception {
        try (FerryProcess p = FerryProcess.start(args)) {
            assertThat(p.exit(LONG)).as(p.output()).isEqualTo(status);
            assertThat(p.output()).startsWith("ferry report: ").contains(message).doesNotContain("\tat ")
                    .doesNotContain("Exception");
            assertThat(p.output().lines().count()).as(p.output()).isEqualTo(1);
        }
    }
}
