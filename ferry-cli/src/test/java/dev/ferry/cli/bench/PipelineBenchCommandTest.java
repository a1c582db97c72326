/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PipelineBenchCommandTest {
    private final StringWriter receiverOut = new StringWriter();
    private final StringWriter receiverErr = new StringWriter();

    private static int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cl = new CommandLine(new PipelineBenchCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** Starts a receiver on a free port; returns its exit status to come and the port it listens on. */
    private CompletableFuture<Integer> receiver(String... extra) throws Exception {
        String[] args = new String[2 + extra.length];
        args[0] = "--listen";
        args[1] = "127.0.0.1:0";
        System.arraycopy(extra, 0, args, 2, extra.length);
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> run(receiverOut, receiverErr, args));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!receiverOut.toString().contains("listening on") && !exit.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return exit;
    }

    private int port() {
        Matcher m = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)").matcher(receiverOut.toString());
        assertThat(m.find()).as(receiverOut + " / " + receiverErr).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void sendsEveryPassAndReportsTheLastOne() throws Exception {
        CompletableFuture<Integer> exit = receiver("--memory", "8M", "--passes", "2");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = run(out, err, "--send-to", "127.0.0.1:" + port(), "--memory", "8M", "--passes", "2");
        assertThat(code).as(err.toString()).isZero();
        assertThat(exit.get(20, TimeUnit.SECONDS)).as(receiverErr.toString()).isZero();
        // The idle guest's 8 MiB: about 30% zero pages, sent as 5-byte records; the rest as whole pages.
        Matcher m = Pattern.compile("warm-up pass 1: \\d+ MiB in \\d+ ms = \\d+ MB/s\\Rlast pass 2: (\\d+) MiB in \\d+ ms"
                + " = \\d+ MB/s\\R").matcher(out.toString());
        assertThat(m.matches()).as(out.toString()).isTrue();
        assertThat(Integer.parseInt(m.group(1))).isBetween(4, 7);
    }

    @Test
    void aCorruptPageFailsTheReceiverWithOneLine() throws Exception {
        CompletableFuture<Integer> exit = receiver("--memory", "8M", "--passes", "1");
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port()))) {
            ByteBuffer b = ByteBuffer.allocate(8 + 5 + 4096 + 4).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(5 + 4096 + 4).putInt(1).putInt(3).put((byte) 1).put(new byte[4096]).putInt(12345).flip();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            assertThat(exit.get(20, TimeUnit.SECONDS)).isEqualTo(1);
        }
        assertThat(receiverErr.toString()).isEqualTo("ferry bench pipeline: CRC32C mismatch in page 3"
                + System.lineSeparator());
    }

    @Test
    void aFrameOfImpossibleSizeIsRefusedBeforeItIsRead() throws Exception {
        CompletableFuture<Integer> exit = receiver("--memory", "8M", "--passes", "1");
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port()))) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MAX_VALUE).putInt(1)
                    .flip();
            ch.write(b);
            assertThat(exit.get(20, TimeUnit.SECONDS)).isEqualTo(1);
        }
        assertThat(receiverErr.toString()).contains("out of range").doesNotContain("Exception");
    }

    @Test
    void badArgumentsExitTwo() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertThat(run(out, err, "--memory", "8M")).isEqualTo(2); // neither --listen nor --send-to
        assertThat(run(out, err, "--listen", "127.0.0.1:0", "--send-to", "127.0.0.1:1")).isEqualTo(2);
        assertThat(run(out, err, "--send-to", "127.0.0.1:1", "--memory", "5000")).isEqualTo(2);
        assertThat(err.toString()).contains("--memory must be a multiple of 4 KiB");
        assertThat(run(out, err, "--send-to", "127.0.0.1:1", "--passes", "0")).isEqualTo(2);
        assertThat(run(out, err, "--send-to", "nowhere")).isEqualTo(2);
    }
}
