/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTML report as a person sees it: headless Chromium opens the file (with every network feature off) and takes a
 * screenshot, which must show the page's colours and the charts' pixels, not a blank or broken page. Skipped, with a
 * message, where Chromium is not installed ({@code apt-get install chromium}; {@code scripts/test.sh} installs it).
 */
class ChromiumScreenshotTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final int WIDTH = 1280;
    static final int HEIGHT = 2000;

    @TempDir
    Path dir;

    @Test
    void htmlReportRendersInHeadlessChromium() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM),
                "skipped: " + CHROMIUM + " is not installed (apt-get install chromium, or run scripts/test.sh)");
        Path html = dir.resolve("report.html");
        MigrationReport.write(Fixtures.migration("auto-converge-bare"), html);

        BufferedImage shot = screenshot(html);

        assertThat(shot.getWidth()).isEqualTo(WIDTH);
        assertThat(shot.getHeight()).isEqualTo(HEIGHT);
        assertThat(Fixtures.distinctColours(shot)).as("a rendered page, not a blank one").isGreaterThan(1_000);
        long white = Fixtures.pixelsOf(shot, 0xFFFFFF);
        assertThat(white).as("mostly white page with content").isBetween(HEIGHT * (long) WIDTH / 3,
                HEIGHT * (long) WIDTH * 97 / 100);
        // The 'Completed' badge (CSS) and the bars of the first charts (SVG images) in their exact colours.
        assertThat(Fixtures.pixelsOf(shot, 0x2E7D32)).as("the green 'Completed' badge").isGreaterThan(300);
        assertThat(Fixtures.pixelsOf(shot, Charts.BLUE.getRGB() & 0xFFFFFF)).as("the charts' blue bars")
                .isGreaterThan(10_000);
        assertThat(Fixtures.pixelsOf(shot, Charts.TEAL.getRGB() & 0xFFFFFF)).as("the 'pages sent' bars")
                .isGreaterThan(2_000);
    }

    /** The command documented in docs/reports.md, with a fresh profile. */
    private BufferedImage screenshot(Path html) throws Exception {
        Path profile = Files.createDirectory(dir.resolve("profile"));
        Path png = dir.resolve("screenshot.png");
        Path log = dir.resolve("chromium.log");
        List<String> cmd = List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile, "--screenshot=" + png,
                "--window-size=" + WIDTH + "," + HEIGHT, html.toUri().toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                throw new AssertionError("chromium still running after 120 s:\n" + Files.readString(log));
            }
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        assertThat(png).as("chromium exited %d:%n%s", p.exitValue(), Files.readString(log)).isNotEmptyFile();
        assertThat(Files.size(png)).as("a plausible screenshot size").isBetween(20_000L, 10_000_000L);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).as("the screenshot decodes as a PNG").isNotNull();
        return image;
    }
}
