/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import de.erichseifert.vectorgraphics2d.VectorGraphics2D;
import de.erichseifert.vectorgraphics2d.svg.SVGProcessor;
import de.erichseifert.vectorgraphics2d.util.PageSize;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * Draws a report as one image: a header with the outcome and the key figures, then the charts one under the other.
 * The same drawing goes to a bitmap (PNG) or to a vector page (SVG).
 */
final class Sheet {
    static final int MARGIN = 24;
    private static final int GAP = 12;

    private final Summary summary;
    private final Stats stats;
    private final List<Charts.Figure> figures;
    private final int width;

    Sheet(Stats stats) {
        this.stats = stats;
        this.summary = new Summary(stats);
        this.figures = Charts.of(stats);
        this.width = Charts.WIDTH + 2 * MARGIN;
    }

    int width() {
        return width;
    }

    int height() {
        int h = headerHeight() + MARGIN - GAP;
        for (Charts.Figure f : figures) {
            h += f.height() + GAP;
        }
        if (figures.isEmpty()) {
            h += 40;
        }
        return h;
    }

    void writePng(OutputStream out) throws IOException {
        BufferedImage image = new BufferedImage(width(), height(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_FRACTIONALMETRICS, RenderingHints.VALUE_FRACTIONALMETRICS_ON);
            paint(g);
        } finally {
            g.dispose();
        }
        if (!ImageIO.write(image, "png", out)) {
            throw new IOException("no PNG writer in this JDK");
        }
    }

    void writeSvg(OutputStream out) throws IOException {
        VectorGraphics2D g = new VectorGraphics2D();
        paint(g);
        out.write(svg(g, width(), height()));
    }

    /** One chart alone as an SVG document (for the HTML page). */
    static byte[] svg(Charts.Figure f) throws IOException {
        VectorGraphics2D g = new VectorGraphics2D();
        f.chart().paint(g, f.width(), f.height());
        return svg(g, f.width(), f.height());
    }

    private static byte[] svg(VectorGraphics2D g, int w, int h) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new SVGProcessor().getDocument(g.getCommands(), new PageSize(0, 0, w, h)).writeTo(bytes);
        return tidy(bytes.toString(StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
    }

    private static final Pattern ATTRIBUTE = Pattern.compile("=\"([^\"]*)\"");
    private static final Pattern LONG_DECIMAL = Pattern.compile("(\\d\\.\\d{2})\\d+");
    private static final Pattern FONT_FAMILY =
            Pattern.compile("font-family:(&quot;[^&]*?&quot;|[A-Za-z][^;\"&,]*);");

    /**
     * Makes VectorGraphics2D's SVG smaller and portable: no DOCTYPE naming a DTD on the web (a reader should never
     * need the network), coordinates to 1/100 pixel (it writes up to 17 digits, and XChart draws its labels as glyph
     * outlines, so this halves the file), a generic font family after the physical one it names, and the font size
     * it leaves out when it is Java's default of 12 (a browser's is 16).
     */
    static String tidy(String svg) {
        String s = svg.replaceFirst("<!DOCTYPE[^>]*>\\s*", "");
        Matcher m = ATTRIBUTE.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        while (m.find()) {
            String value = LONG_DECIMAL.matcher(m.group(1)).replaceAll("$1");
            value = FONT_FAMILY.matcher(value).replaceAll("font-family:$1,sans-serif;");
            if (value.contains("font-family:") && !value.contains("font-size:")) {
                value += (value.endsWith(";") ? "" : ";") + "font-size:12px;"; // Java's default, left out
            }
            m.appendReplacement(out, Matcher.quoteReplacement("=\"" + value + "\""));
        }
        m.appendTail(out);
        return out.toString();
    }

    private void paint(Graphics2D g) {
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width(), height());
        int y = paintHeader(g);
        if (figures.isEmpty()) {
            g.setColor(Charts.GREY);
            g.setFont(new Font(Charts.FONT, Font.ITALIC, 15));
            g.drawString("No rounds and no timeline were recorded: the migration ended before its first round.",
                    MARGIN, y + 24);
            return;
        }
        for (Charts.Figure f : figures) {
            AffineTransform saved = g.getTransform();
            g.translate(MARGIN, y);
            f.chart().paint(g, f.width(), f.height());
            g.setTransform(saved);
            g.setClip(null);
            y += f.height() + GAP;
        }
    }

    private static final Font TITLE = new Font(Charts.FONT, Font.BOLD, 26);
    private static final Font BADGE = new Font(Charts.FONT, Font.BOLD, 16);
    private static final Font TEXT = new Font(Charts.FONT, Font.PLAIN, 15);
    private static final Font LABEL = new Font(Charts.FONT, Font.PLAIN, 12);
    private static final Font VALUE = new Font(Charts.FONT, Font.BOLD, 17);
    private static final Font NOTE = new Font(Charts.FONT, Font.PLAIN, 11);
    private static final int LINE = 22;
    private static final int BOX_H = 62;
    private static final int BOX_GAP = 8;
    private static final int MAX_PER_ROW = 6;

    /** Where {@link #paintHeader} ends: title, the detail lines, the rows of key figures. */
    private int headerHeight() {
        return MARGIN + 26 + 30 + LINE * detailLines().size() + 8 + boxRows() * (BOX_H + BOX_GAP) + 14;
    }

    private int boxRows() {
        int n = summary.figures.size();
        return (n + MAX_PER_ROW - 1) / MAX_PER_ROW;
    }

    /** The outcome sentence and the policy, wrapped to the page's width. */
    private List<String> detailLines() {
        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        try {
            g.setFont(TEXT);
            List<String> lines = new ArrayList<>(wrap(g, summary.sentence, width() - 2 * MARGIN));
            if (stats.policy != null && !stats.policy.isEmpty()) {
                lines.addAll(wrap(g, "Policy: " + stats.policy, width() - 2 * MARGIN));
            }
            return lines;
        } finally {
            g.dispose();
        }
    }

    /** Draws the header and returns where the charts start. */
    private int paintHeader(Graphics2D g) {
        List<String> lines = detailLines();
        int x = MARGIN;
        int y = MARGIN + 26;
        g.setColor(Charts.INK);
        g.setFont(TITLE);
        String title = "Ferry migration report";
        g.drawString(title, x, y);
        int badgeX = x + g.getFontMetrics().stringWidth(title) + 16;
        g.setFont(BADGE);
        int badgeW = g.getFontMetrics().stringWidth(summary.headline) + 24;
        g.setColor(summary.color);
        g.fillRoundRect(badgeX, y - 22, badgeW, 28, 14, 14);
        g.setColor(Color.WHITE);
        g.drawString(summary.headline, badgeX + 12, y - 3);

        y += 30;
        g.setFont(TEXT);
        g.setColor(Charts.INK);
        for (String line : lines) {
            g.drawString(line, x, y);
            y += LINE;
        }

        // Key figures in rows of boxes, at most MAX_PER_ROW a row, rows equally filled.
        y += 8 - LINE + 12;
        int n = summary.figures.size();
        int rows = boxRows();
        int perRow = (n + rows - 1) / rows;
        int boxW = (width() - 2 * MARGIN - (perRow - 1) * BOX_GAP) / perRow;
        for (int i = 0; i < n; i++) {
            Summary.Figure f = summary.figures.get(i);
            int bx = x + (i % perRow) * (boxW + BOX_GAP);
            int by = y + (i / perRow) * (BOX_H + BOX_GAP);
            g.setColor(new Color(0xF4F6F8));
            g.fillRoundRect(bx, by, boxW, BOX_H, 10, 10);
            g.setColor(new Color(0x7A7A7A));
            g.setFont(LABEL);
            g.drawString(fit(g, f.label().toUpperCase(java.util.Locale.ROOT), boxW - 16), bx + 10, by + 17);
            g.setColor(Charts.INK);
            g.setFont(VALUE);
            g.drawString(fit(g, f.value(), boxW - 16), bx + 10, by + 38);
            g.setColor(new Color(0x6B6B6B));
            g.setFont(NOTE);
            g.drawString(fit(g, f.note(), boxW - 16), bx + 10, by + 54);
        }
        return y + rows * (BOX_H + BOX_GAP) + 14;
    }

    /** Splits {@code text} into lines of at most {@code width} pixels, at spaces. */
    private static List<String> wrap(Graphics2D g, String text, int width) {
        FontMetrics fm = g.getFontMetrics();
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ")) {
            if (line.length() > 0 && fm.stringWidth(line + " " + word) > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(word);
        }
        if (line.length() > 0) {
            lines.add(fit(g, line.toString(), width));
        }
        return lines;
    }

    /** Shortens {@code text} with an ellipsis to fit {@code width} pixels in the current font. */
    private static String fit(Graphics2D g, String text, int width) {
        FontMetrics fm = g.getFontMetrics();
        if (fm.stringWidth(text) <= width) {
            return text;
        }
        String t = text;
        while (!t.isEmpty() && fm.stringWidth(t + "…") > width) {
            t = t.substring(0, t.length() - 1);
        }
        return t + "…";
    }
}
