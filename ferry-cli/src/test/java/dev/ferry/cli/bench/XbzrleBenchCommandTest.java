/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class XbzrleBenchCommandTest {
    private static final int PAGE = 4096;

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return run(new XbzrleBenchCommand(), args);
    }

    private int run(XbzrleBenchCommand command, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** Three pairs: first byte changed, unchanged, every byte changed (overflow). */
    private Path corpus() throws IOException {
        byte[] data = new byte[3 * 2 * PAGE];
        data[PAGE] = 1;
        for (int i = 0; i < PAGE; i++) {
            data[5 * PAGE + i] = (byte) (i % 255 + 1);
        }
        Path p = dir.resolve("pairs.bin");
        Files.write(p, data);
        return p;
    }

    @Test
    void printsOneLineInTheReferenceFormatAndWritesEncodings() throws IOException {
        Path enc = dir.resolve("enc.bin");
        int code = run("--pairs", corpus().toString(), "--seconds", "0.05", "--warmup", "0",
                "--write-encodings", enc.toString());
        assertThat(code).isZero();
        assertThat(err.toString()).isEmpty();
        assertThat(out.toString()).matches("pairs=3 encode_MBps=\\d+ decode_MBps=\\d+ mean_encoded=3\\.0 "
                + "overflow=1 unchanged=1\\R");
        try (DataInputStream in = new DataInputStream(Files.newInputStream(enc))) {
            assertThat(in.readInt()).isEqualTo(3);
            assertThat(in.readNBytes(3)).containsExactly(0, 1, 1);
            assertThat(in.readInt()).isZero();
            assertThat(in.readInt()).isEqualTo(-1);
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    @Test
    void missingFileIsAOneLineError() {
        int code = run("--pairs", dir.resolve("nope.bin").toString());
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("no such file").doesNotContain("Exception").hasLineCount(1);
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void sizeNotAMultipleOfAPairIsAOneLineError() throws IOException {
        Path p = dir.resolve("odd.bin");
        Files.write(p, new byte[2 * PAGE + 1]);
        assertThat(run("--pairs", p.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("not a multiple of 8192").hasLineCount(1);
    }

    @Test
    void emptyFileIsAOneLineError() throws IOException {
        Path p = dir.resolve("empty.bin");
        Files.write(p, new byte[0]);
        assertThat(run("--pairs", p.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("empty").hasLineCount(1);
    }

    @Test
    void aDirectoryIsAOneLineError() {
        assertThat(run("--pairs", dir.toString())).isEqualTo(2);
        // Not "size 4096 is not a multiple of 8192", the size of a directory entry.
        assertThat(err.toString()).contains("is a directory").doesNotContain("Exception").hasLineCount(1);
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void secondsTooLargeToCountIsRefusedNotRunForever() throws IOException {
        // 1e300 s is past Long.MAX_VALUE nanoseconds: the timed loop's budget saturated and it never ended.
        assertThat(run("--pairs", corpus().toString(), "--seconds", "1e300", "--warmup", "0")).isEqualTo(2);
        assertThat(err.toString()).contains("--seconds must be more than 0 and at most 3600").hasLineCount(1);
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void warmupTooLargeToCountIsRefusedNotSkipped() throws IOException {
        // Infinity overflowed the warm-up's end time, which was then in the past: no warm-up at all, exit 0.
        assertThat(run("--pairs", corpus().toString(), "--seconds", "0.05", "--warmup", "Infinity")).isEqualTo(2);
        assertThat(err.toString()).contains("--warmup must be 0 to 3600").hasLineCount(1);
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void encodingsInAMissingDirectorySayWhyTheyCannotBeWritten() throws IOException {
        Path enc = dir.resolve("no-such-dir").resolve("enc.bin");
        assertThat(run("--pairs", corpus().toString(), "--seconds", "0.05", "--warmup", "0",
                "--write-encodings", enc.toString())).isEqualTo(2);
        // It said only "ferry bench xbzrle: DIR/no-such-dir/enc.bin".
        assertThat(err.toString()).isEqualTo("ferry bench xbzrle: cannot write encodings to " + enc
                + ": no such file or directory" + System.lineSeparator());
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void encodingsToADirectoryAreRefusedBeforeTheRun() throws IOException {
        assertThat(run("--pairs", corpus().toString(), "--seconds", "0.05", "--warmup", "0",
                "--write-encodings", dir.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("cannot write encodings to " + dir + ": is a directory").hasLineCount(1);
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void encodingsOverTheCorpusAreRefusedAndTheCorpusIsKept() throws IOException {
        Path p = corpus();
        byte[] before = Files.readAllBytes(p);
        assertThat(run("--pairs", p.toString(), "--seconds", "0.05", "--warmup", "0",
                "--write-encodings", dir.resolve(".").resolve("pairs.bin").toString())).isEqualTo(2);
        assertThat(err.toString()).contains("is the corpus itself").hasLineCount(1);
        assertThat(Files.readAllBytes(p)).isEqualTo(before);
    }

    @Test
    void aCorpusLargerThanTheMachinesMemoryIsRefusedBeforeAllocating() throws IOException {
        XbzrleBenchCommand command = new XbzrleBenchCommand();
        command.memoryLimit = 4 * 2 * PAGE; // the three pairs fit, with their encodings they do not
        assertThat(run(command, "--pairs", corpus().toString(), "--seconds", "0.05", "--warmup", "0"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("3 pairs need 36864 bytes (36.0 KiB) of memory with their encodings, "
                + "more than this machine's 32768").hasLineCount(1);
        assertThat(out.toString()).isEmpty();
    }
}
