/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ferry} command. */
@Command(name = "ferry",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Live migration, snapshots and replication of running guests.",
        subcommands = {RunCommand.class, IncomingCommand.class, StandbyCommand.class, RestoreCommand.class,
                InspectCommand.class, CtlCommand.class, DemoCommand.class, BenchCommand.class, ReportCommand.class})
public final class Main implements Runnable {
    /** Exit statuses shared by the commands. */
    public static final int OK = 0;
    public static final int ERROR = 1;
    public static final int USAGE = 2;
    /** A migration failed; the source guest kept running. */
    public static final int MIGRATION_FAILED = 3;
    /** A migration was aborted (policy, user, or the source); the source guest kept running. */
    public static final int MIGRATION_ABORTED = 4;
    /** The guest's check of its own memory failed. */
    public static final int CHECK_FAILED = 5;
    /**
     * A migration completed but the destination did not confirm the handover; the source guest was kept paused
     * (resumed only by 'cont' on the control socket).
     */
    public static final int HANDOVER_UNCONFIRMED = 6;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        LauncherStderr.restore();
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit status (tests call this in-process). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println(ex.getCommandLine().getCommandSpec().qualifiedName() + ": " + ex.getMessage()
                    + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            String message = ex instanceof java.nio.file.FileSystemException f
                    ? dev.ferry.util.FileErrors.describe(f) // its message is often the path alone
                    : ex.getMessage() != null ? ex.getMessage() : ex.toString();
            err.println(commandLine.getCommandSpec().qualifiedName() + ": " + message);
            if (System.getenv("FERRY_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            return ex instanceof IllegalArgumentException ? USAGE : ERROR;
        });
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ferry " + (v == null ? "development build" : v) + " on Java "
                    + Runtime.version()};
        }
    }
}
