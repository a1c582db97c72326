/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import dev.ferry.report.MigrationReport;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ferry report}: a migration's statistics as an HTML page, a PNG or an SVG, with charts. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Make a report on a migration from its statistics: a whole 'ferry run --migrate-to ..."
                + " --stats-json' file, or the migration's statistics alone. The output's extension picks the format:"
                + " .html (one self-contained page: outcome, key figures, charts, every statistic), .png or .svg (the"
                + " charts in one image).",
                "Exit status: 0 written; 1 a file could not be read or written; 2 bad arguments or input that is not"
                        + " a migration's statistics."})
public final class ReportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "STATS.json", description = "Statistics written by --stats-json.")
    Path stats;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE",
            description = "Where to write the report: FILE.html, FILE.png or FILE.svg.")
    Path out;

    @Override
    public Integer call() throws IOException {
        MigrationReport.Format format = MigrationReport.Format.of(out); // before any work: a bad name is a usage error
        Map<String, Object> migration = MigrationReport.migrationOf(read(stats));
        MigrationReport.write(migration, out);
        System.out.println("wrote " + format.extension + " report " + out);
        return Main.OK;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> read(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IOException("cannot read " + file + ": it is a directory");
        }
        Object json;
        try {
            json = Json.MAPPER.readValue(file.toFile(), Object.class);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new IllegalArgumentException(file + " is not JSON: " + e.getOriginalMessage().lines().findFirst()
                    .orElse("") + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr()
                            + ")"), e);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new IOException("cannot read " + file + ": " + (Files.exists(file) ? "permission denied"
                    : "no such file"), e);
        } catch (AccessDeniedException e) {
            throw new IOException("cannot read " + file + ": permission denied", e);
        }
        if (!(json instanceof Map)) {
            throw new IllegalArgumentException("not Ferry statistics: " + file + " holds "
                    + (json == null ? "null" : json instanceof java.util.List ? "a list" : "a single value")
                    + ", not an object");
        }
        return (Map<String, Object>) json;
    }
}
