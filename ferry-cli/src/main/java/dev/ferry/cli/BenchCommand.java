/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.cli.bench.PipelineBenchCommand;
import dev.ferry.cli.bench.XbzrleBenchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ferry bench}: measurements that compare Ferry's pieces with references on this machine. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks of Ferry's parts (for whole migrations see scripts/bench-*.sh).",
        subcommands = {XbzrleBenchCommand.class, PipelineBenchCommand.class})
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
