/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.snapshot.SnapshotInspector;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ferry inspect}: describes a snapshot file. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Describe a snapshot file (mapped-ram or sequential stream): format, version, complete or"
                + " not, guest, blocks with pages present and zero pages, file size and disk usage, execution state,"
                + " and for a stream its frames and rounds.",
                "Exit status: 0 a complete snapshot; 1 a damaged or incomplete file (described as far as it can be"
                        + " read), or no file."})
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "The snapshot file.")
    Path file;

    @Option(names = "--json", description = "Print the description as JSON.")
    boolean json;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (!java.nio.file.Files.exists(file)) {
            throw new java.io.FileNotFoundException(file + ": no such file");
        }
        SnapshotInspector s = SnapshotInspector.inspect(file);
        if (json) {
            out.println(Json.MAPPER.writeValueAsString(s.toMap()));
        } else {
            out.print(s.text());
        }
        return s.complete() ? Main.OK : Main.ERROR;
    }
}
