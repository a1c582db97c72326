/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.report;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;

/**
 * A report on one migration, made from its statistics ({@code MigrationStats.toMap()}, or the {@code migration}
 * section of a {@code --stats-json} file): an HTML page with the outcome, the key figures, the charts and every final
 * statistic, or the charts alone as one PNG or SVG image. Drawing needs no display: the JVM is put in headless mode.
 *
 * <pre>{@code
 * MigrationReport.write(stats.toMap(), Path.of("report.html"));
 * }</pre>
 */
public final class MigrationReport {
    static {
        // Charts are drawn into images, never onto a screen; set before any AWT class loads.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** The report's formats, chosen by the output file's extension. */
    public enum Format {
        /** A self-contained page: outcome, key figures, charts (inline SVG), tables. */
        HTML("html"),
        /** The header and every chart in one bitmap. */
        PNG("png"),
        /** The header and every chart in one vector image. */
        SVG("svg");

        public final String extension;

        Format(String extension) {
            this.extension = extension;
        }

        /**
         * The format named by {@code file}'s extension ({@code .html}, {@code .htm}, {@code .png}, {@code .svg}).
         *
         * @throws IllegalArgumentException for any other extension
         */
        public static Format of(Path file) {
            Path name = file.getFileName();
            String n = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
            int dot = n.lastIndexOf('.');
            String ext = dot < 0 ? "" : n.substring(dot + 1);
            return switch (ext) {
                case "html", "htm" -> HTML;
                case "png" -> PNG;
                case "svg" -> SVG;
                default -> throw new IllegalArgumentException("cannot tell the report's format from '" + file
                        + "': name it .html, .png or .svg");
            };
        }
    }

    private MigrationReport() {
    }

    /**
     * Writes the report on the migration whose statistics are {@code stats} to {@code out}, in the format its
     * extension names. The file is replaced whole: a reader never sees half a report.
     *
     * @param stats a migration's statistics: {@code MigrationStats.toMap()} or the same map read back from JSON
     * @throws IllegalArgumentException if {@code stats} is not a migration's statistics (the message is one line) or
     *     the extension names no format
     * @throws IOException if {@code out} cannot be written
     */
    public static void write(Map<String, Object> stats, Path out) throws IOException {
        Format format = Format.of(out);
        Stats s = Stats.of(stats);
        Path parent = out.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new IOException("cannot write " + out + ": no directory " + parent);
        }
        if (Files.isDirectory(out)) {
            throw new IOException("cannot write " + out + ": it is a directory");
        }
        // Not Files.createTempFile: its file is private (0600); a report is as readable as any file made here.
        Path tmp = parent.resolve("." + out.getFileName() + "." + ProcessHandle.current().pid() + "."
                + Long.toHexString(System.nanoTime()) + ".tmp");
        try {
            try (OutputStream o = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                write(s, format, o);
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IOException("cannot write " + out + ": " + reason(e), e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String reason(IOException e) {
        return switch (e) {
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.FileSystemException f when f.getReason() != null -> f.getReason();
            default -> String.valueOf(e.getMessage());
        };
    }

    /** Writes the report in {@code format} to {@code out} (left open). */
    public static void write(Map<String, Object> stats, Format format, OutputStream out) throws IOException {
        write(Stats.of(stats), format, out);
    }

    private static void write(Stats s, Format format, OutputStream out) throws IOException {
        switch (format) {
            case HTML -> out.write(Html.render(s).getBytes(StandardCharsets.UTF_8));
            case PNG -> new Sheet(s).writePng(out);
            case SVG -> new Sheet(s).writeSvg(out);
        }
    }

    /**
     * The migration's statistics in what a statistics file holds: the {@code migration} section of a whole
     * {@code ferry run --stats-json} file, or the map itself if it already is a migration's statistics.
     *
     * @throws IllegalArgumentException if neither holds a migration's statistics (one line: what was found)
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> migrationOf(Map<String, Object> json) {
        if (json == null) {
            throw new IllegalArgumentException("not Ferry statistics: empty");
        }
        Object m = json.get("migration");
        if (m instanceof Map<?, ?> section) {
            Stats.of((Map<String, Object>) section);
            return (Map<String, Object>) section;
        }
        if (json.containsKey("status") && json.containsKey("ram")) {
            Stats.of(json);
            return json;
        }
        if (json.containsKey("incoming")) {
            throw new IllegalArgumentException("these are a destination's statistics ('ferry incoming'): a report is"
                    + " made from the source's ('ferry run --migrate-to ... --stats-json FILE')");
        }
        if (json.containsKey("replication") || json.containsKey("standby")) {
            throw new IllegalArgumentException("these are replication statistics: a report is made from a migration's"
                    + " ('ferry run --migrate-to ... --stats-json FILE')");
        }
        throw new IllegalArgumentException("not Ferry migration statistics: no 'migration' section and no 'status'"
                + " and 'ram' (expected a file written by 'ferry run --migrate-to ... --stats-json FILE')");
    }
}
