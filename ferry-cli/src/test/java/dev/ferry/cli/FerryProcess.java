/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A {@code ferry} command in a JVM of its own, as a user runs it; its output is collected line by line. */
final class FerryProcess implements AutoCloseable {
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread pump;

    private FerryProcess(List<String> wrapper, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.addAll(command(args.toArray(String[]::new)));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        pump = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.equals(INCUBATOR_NOTICE)) {
                        continue; // the JVM's, dropped by the ferry launcher too
                    }
                    synchronized (lines) {
                        lines.add(line);
                        lines.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
    }

    /**
     * What the JVM prints first when it is given the incubating Vector API module; the {@code ferry} launcher keeps
     * it from users (see {@link LauncherStderr}), so the output collected here leaves it out too.
     */
    static final String INCUBATOR_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector";

    /** The command line that runs {@code ferry ARGS} in a JVM of its own, with the launcher's JVM options. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-Xmx512m", "-cp",
                System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    static FerryProcess start(String... args) throws IOException {
        return new FerryProcess(List.of(), List.of(args));
    }

    /**
     * Starts the command through a shell snippet that ends by running it, e.g. {@code ulimit -f 1024} or a private
     * mount: {@code sh -c 'SNIPPET && exec "$@"' sh java ...}. The process is the JVM itself (exec).
     */
    static FerryProcess startVia(String snippet, String... args) throws IOException {
        return new FerryProcess(List.of("sh", "-c", snippet + " && exec \"$@\"", "sh"), List.of(args));
    }

    /** Starts the command as the last arguments of {@code wrapper} (e.g. {@code unshare -m sh -c ... sh}). */
    static FerryProcess startWrapped(List<String> wrapper, String... args) throws IOException {
        return new FerryProcess(wrapper, List.of(args));
    }

    /** SIGKILL, as a crash or {@code kill -9} would, and waits for the process to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
        pump.join(5000);
    }

    /** Sends {@code kill -SIGNAL} (e.g. STOP, CONT) to the process: SIGSTOP freezes it as a long pause would. */
    void signal(String signal) throws IOException, InterruptedException {
        int status = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start()
                .waitFor();
        if (status != 0) {
            throw new IOException("kill -" + signal + " " + process.pid() + " exited with " + status);
        }
    }

    /** Waits for a line matching {@code regex} and returns its first group (or the whole line). */
    String await(String regex, Duration timeout) throws InterruptedException {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lines) {
            int seen = 0;
            while (true) {
                for (; seen < lines.size(); seen++) {
                    Matcher m = p.matcher(lines.get(seen));
                    if (m.find()) {
                        return m.groupCount() > 0 ? m.group(1) : lines.get(seen);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !pump.isAlive())) {
                    throw new AssertionError("no line matching " + regex + " in:\n" + output());
                }
                lines.wait(Math.max(1, Math.min(100, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
    }

    /** For {@code incoming --listen 127.0.0.1:0}: the port it listens on. */
    int listeningPort() throws InterruptedException {
        return Integer.parseInt(await("listening on .*:(\\d+)$", Duration.ofSeconds(60)));
    }

    /** Waits for the exit and returns the status. */
    int exit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("still running after " + timeout + ":\n" + output());
        }
        pump.join(5000);
        return process.exitValue();
    }

    String output() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
