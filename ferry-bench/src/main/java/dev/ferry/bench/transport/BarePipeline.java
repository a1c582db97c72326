/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.bench.transport;

import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.memory.AnonymousMemory;
import dev.ferry.memory.Pages;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * How fast can the work a migration cannot avoid go, on this machine? The floor Ferry's idle-guest throughput is
 * measured against (issue 2), next to iperf3: the same guest RAM as {@code ferry run --workload idle} (an idle guest's
 * filled memory), sent over one loopback connection with only what any checked page stream must do, and nothing
 * else (no stream header, setup, policy, dirty log, statistics or RAM digest):
 *
 * <ul>
 *   <li>source: for each page, the zero test ({@link Pages#isZero}); a normal page is copied into a frame of 256
 *       pages after a 5-byte record header, with its CRC32C; each frame goes out in one write;
 *   <li>destination (RAM preallocated as {@code ferry incoming --prealloc} does): each frame read whole, each page's
 *       CRC32C checked, the page copied into RAM.
 * </ul>
 *
 * <p>Each pass is a fresh connection, timed by the source from connecting to the destination's reply that it has
 * applied everything; the passes before the last warm the JIT, so the last pass is the figure (printed last).
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ferry-bench/target/ferry-benchmarks.jar \
 *     dev.ferry.bench.transport.BarePipeline receive PORT MEMORY PASSES
 * java --enable-native-access=ALL-UNNAMED -cp ferry-bench/target/ferry-benchmarks.jar \
 *     dev.ferry.bench.transport.BarePipeline send HOST:PORT MEMORY PASSES</pre>
 *
 * The frame layout is this program's own (little-endian): {@code u32 payload length, u32 record count}, then per page
 * {@code u32 page index, u8 kind (0 zero, 1 normal)} and for a normal page its 4096 bytes and {@code u32 CRC32C}; a
 * payload length of 0 ends a pass.
 */
public final class BarePipeline {
    private static final int BATCH = 256;
    private static final int HEADER = 8;
    private static final int RECORD = 5;
    private static final int FRAME_MAX = HEADER + BATCH * (RECORD + Pages.SIZE + 4);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BarePipeline() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !(args[0].equals("send") || args[0].equals("receive"))
                || !args[3].matches("[1-9][0-9]{0,2}") || !args[2].matches("[1-9][0-9]{0,5}[MG]")) {
            usage("usage: BarePipeline send HOST:PORT MEMORY PASSES | receive PORT MEMORY PASSES"
                    + " (MEMORY like 1G or 512M, PASSES 1-999)");
        }
        long size = Long.parseLong(args[2].substring(0, args[2].length() - 1)) << (args[2].endsWith("G") ? 30 : 20);
        int passes = Integer.parseInt(args[3]);
        try {
            if (args[0].equals("send")) {
                send(HostPort.parse(args[1]), size, passes);
            } else {
                if (!args[1].matches("[1-9][0-9]{0,4}") || Integer.parseInt(args[1]) > 65535) {
                    usage("BarePipeline: PORT must be 1-65535, not '" + args[1] + "'");
                }
                receive(Integer.parseInt(args[1]), size, passes);
            }
        } catch (IOException | IllegalStateException | IllegalArgumentException e) {
            usage("BarePipeline " + args[0] + ": " + e.getMessage());
        }
    }

    private static void send(HostPort to, long size, int passes) throws IOException, InterruptedException {
        // An idle guest as `ferry run --workload idle --vcpus 2` makes it (seed 1), filled, then paused.
        try (InProcessGuest guest = InProcessGuest.create(new InProcessConfig(new long[] {size}, 2, "idle", 1, 0))) {
            guest.resume();
            while (!Boolean.TRUE.equals(guest.counters().get("fill-complete"))) {
                Thread.sleep(10);
            }
            guest.pause();
            MemorySegment ram = guest.ramBlocks().get(0).memory();
            ByteBuffer frame = ByteBuffer.allocateDirect(FRAME_MAX).order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment fs = MemorySegment.ofBuffer(frame);
            ByteBuffer reply = ByteBuffer.allocateDirect(1);
            CRC32C crc = new CRC32C();
            long pages = size >>> Pages.SHIFT;
            for (int pass = 1; pass <= passes; pass++) {
                long start = System.nanoTime();
                long bytes = 0;
                try (SocketChannel ch = Tcp.connect(to, Duration.ofSeconds(10))) {
                    for (long first = 0; first < pages; first += BATCH) {
                        int pos = HEADER;
                        long end = Math.min(pages, first + BATCH);
                        for (long p = first; p < end; p++) {
                            long at = p << Pages.SHIFT;
                            boolean zero = Pages.isZero(ram, at);
                            fs.set(INT, pos, (int) p);
                            fs.set(ValueLayout.JAVA_BYTE, pos + 4, (byte) (zero ? 0 : 1));
                            pos += RECORD;
                            if (!zero) {
                                MemorySegment.copy(ram, at, fs, pos, Pages.SIZE);
                                crc.reset();
                                crc.update(frame.limit(pos + Pages.SIZE).position(pos));
                                fs.set(INT, pos + Pages.SIZE, (int) crc.getValue());
                                pos += Pages.SIZE + 4;
                            }
                        }
                        fs.set(INT, 0, pos - HEADER);
                        fs.set(INT, 4, (int) (end - first));
                        bytes += write(ch, frame.limit(pos).position(0));
                    }
                    fs.set(INT, 0, 0);
                    fs.set(INT, 4, 0);
                    bytes += write(ch, frame.limit(HEADER).position(0));
                    if (ch.read(reply.clear()) != 1) {
                        throw new IllegalStateException("the receiver closed the connection before replying");
                    }
                }
                double ms = (System.nanoTime() - start) / 1e6;
                System.out.printf(Locale.ROOT, "%s pass %d: %d MiB in %.0f ms = %.0f MB/s%n",
                        pass == passes ? "bare pipeline, last" : "bare pipeline, warm-up", pass, bytes >>> 20, ms,
                        bytes / ms / 1e3);
            }
        }
    }

    private static long write(SocketChannel ch, ByteBuffer b) throws IOException {
        int n = b.remaining();
        while (b.hasRemaining()) {
            ch.write(b);
        }
        return n;
    }

    private static void receive(int port, long size, int passes) throws IOException {
        AnonymousMemory.preallocate(size, 2);
        MemorySegment ram = AnonymousMemory.map(size, Arena.global());
        long pages = size >>> Pages.SHIFT;
        ByteBuffer frame = ByteBuffer.allocateDirect(FRAME_MAX).order(ByteOrder.LITTLE_ENDIAN);
        MemorySegment fs = MemorySegment.ofBuffer(frame);
        CRC32C crc = new CRC32C();
        try (ServerSocketChannel server = Tcp.listen(new HostPort("127.0.0.1", port))) {
            System.out.println("listening on 127.0.0.1:" + port);
            for (int pass = 1; pass <= passes; pass++) {
                try (SocketChannel ch = Tcp.accept(server)) {
                    while (true) {
                        readFully(ch, frame.clear().limit(HEADER));
                        int length = fs.get(INT, 0);
                        int count = fs.get(INT, 4);
                        if (length == 0) {
                            break;
                        }
                        if (length < 0 || length > FRAME_MAX - HEADER || count < 1 || count > BATCH) {
                            throw new IllegalStateException("frame of " + length + " bytes, " + count + " pages");
                        }
                        readFully(ch, frame.limit(HEADER + length));
                        int pos = HEADER;
                        for (int i = 0; i < count; i++) {
                            if (pos + RECORD > HEADER + length) {
                                throw new IllegalStateException("record " + i + " runs past its frame");
                            }
                            long p = fs.get(INT, pos) & 0xffffffffL;
                            int kind = fs.get(ValueLayout.JAVA_BYTE, pos + 4);
                            pos += RECORD;
                            if (p >= pages || kind < 0 || kind > 1
                                    || (kind == 1 && pos + Pages.SIZE + 4 > HEADER + length)) {
                                throw new IllegalStateException("bad record " + i + ": page " + p + ", kind " + kind);
                            }
                            long at = p << Pages.SHIFT;
                            if (kind == 0) {
                                continue; // preallocated memory is zero
                            }
                            crc.reset();
                            crc.update(frame.limit(pos + Pages.SIZE).position(pos));
                            frame.limit(HEADER + length);
                            if ((int) crc.getValue() != fs.get(INT, pos + Pages.SIZE)) {
                                throw new IllegalStateException("CRC32C mismatch of page " + p);
                            }
                            MemorySegment.copy(fs, pos, ram, at, Pages.SIZE);
                            pos += Pages.SIZE + 4;
                        }
                    }
                    ByteBuffer done = ByteBuffer.allocateDirect(1);
                    while (done.hasRemaining()) {
                        ch.write(done);
                    }
                }
            }
        }
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("the sender closed the connection mid-frame");
            }
        }
    }

    private static void usage(String line) {
        System.err.println(line);
        System.exit(2);
    }
}
