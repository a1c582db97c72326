/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli.bench;

import dev.ferry.cli.Converters;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.memory.AnonymousMemory;
import dev.ferry.memory.Pages;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.zip.CRC32C;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench pipeline}: how fast the work a migration cannot avoid goes on this machine, the yardstick that
 * {@code scripts/bench-throughput.sh} puts next to iperf3 and to Ferry's idle-guest migration (issue 2). The same RAM
 * as {@code ferry run --workload idle --vcpus 2} (the idle guest's filled memory) goes over one connection with only
 * what any checked page stream must do, and nothing else (no stream header, setup, policy, dirty log, statistics or
 * RAM digest):
 *
 * <ul>
 *   <li>sender: each page's zero test ({@link Pages#isZero}); a normal page copied into a frame of 256 pages after a
 *       5-byte record header, with its CRC32C; each frame in one write;
 *   <li>receiver (RAM preallocated as {@code ferry incoming --prealloc} does): each frame read whole, each page's
 *       CRC32C checked, the page copied into RAM.
 * </ul>
 *
 * <p>Each pass is a fresh connection, timed by the sender from connecting to the receiver's reply that it has applied
 * everything; the passes before the last warm the JIT, so the last pass is the figure.
 *
 * <p>The frame layout is this benchmark's own (little-endian): {@code u32 payload length, u32 record count}, then
 * per page {@code u32 page index, u8 kind (0 zero, 1 normal)} and for a normal page its 4096 bytes and
 * {@code u32 CRC32C}; a payload length of 0 ends a pass, and the receiver answers it with one byte.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = {"Send an idle guest's RAM over TCP doing only the work no checked page stream can avoid"
                + " (zero test, copy, CRC32C; read, check, copy), as a yardstick for migration throughput.",
                "Start the receiver first; the sender prints one line per pass, the last pass being the figure.",
                "Exit status: 0 done, 1 a connection or a frame failed, 2 bad arguments."})
public final class PipelineBenchCommand implements Callable<Integer> {
    private static final int BATCH = 256;
    private static final int HEADER = 8;
    private static final int RECORD = 5;
    private static final int FRAME_MAX = HEADER + BATCH * (RECORD + Pages.SIZE + 4);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final class Role {
        @Option(names = "--listen", paramLabel = "HOST:PORT", converter = Converters.Address.class, required = true,
                description = "Receive: accept the passes on this address (port 0: any free port).")
        HostPort listen;

        @Option(names = "--send-to", paramLabel = "HOST:PORT", converter = Converters.Address.class, required = true,
                description = "Send: connect to a receiver at this address.")
        HostPort sendTo;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Role role;

    @Option(names = "--memory", paramLabel = "SIZE", converter = Converters.Size.class, defaultValue = "1G",
            description = "Guest RAM sent each pass; the same on both ends (default ${DEFAULT-VALUE}).")
    long memory;

    @Option(names = "--passes", paramLabel = "N", defaultValue = "4",
            description = "Passes, each on a fresh connection; all but the last warm the JIT (default"
                    + " ${DEFAULT-VALUE}).")
    int passes;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (memory < Pages.SIZE || memory % Pages.SIZE != 0 || memory > InProcessConfig.MAX_RAM) {
            err.println("ferry bench pipeline: --memory must be a multiple of 4 KiB from 4 KiB to 1 TiB: " + memory);
            return 2;
        }
        if (passes < 1 || passes > 999) {
            err.println("ferry bench pipeline: --passes must be 1 to 999: " + passes);
            return 2;
        }
        try {
            if (role.sendTo != null) {
                send(role.sendTo, out);
            } else {
                receive(role.listen, out);
            }
            return 0;
        } catch (IOException e) {
            err.println("ferry bench pipeline: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("ferry bench pipeline: interrupted");
            return 1;
        }
    }

    private void send(HostPort to, PrintWriter out) throws IOException, InterruptedException {
        // The idle guest `ferry run --workload idle --vcpus 2` makes (seed 1), filled, then paused.
        try (InProcessGuest guest = InProcessGuest.create(new InProcessConfig(new long[] {memory}, 2, "idle", 1, 0))) {
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
            long pages = memory >>> Pages.SHIFT;
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
                                fs.set(INT, pos + Pages.SIZE, Pages.crc(crc, frame, pos));
                                pos += Pages.SIZE + 4;
                            }
                        }
                        bytes += writeFrame(ch, frame, fs, pos - HEADER, (int) (end - first));
                    }
                    bytes += writeFrame(ch, frame, fs, 0, 0);
                    if (ch.read(reply.clear()) != 1) {
                        throw new EOFException("the receiver closed the connection before confirming pass " + pass);
                    }
                }
                double ms = (System.nanoTime() - start) / 1e6;
                out.printf(Locale.ROOT, "%s pass %d: %d MiB in %.0f ms = %.0f MB/s%n",
                        pass == passes ? "last" : "warm-up", pass, bytes >>> 20, ms, bytes / ms / 1e3);
                out.flush();
            }
        }
    }

    /** Writes the frame whose payload (after the header) is {@code length} bytes of {@code count} records. */
    private static long writeFrame(SocketChannel ch, ByteBuffer frame, MemorySegment fs, int length, int count)
            throws IOException {
        fs.set(INT, 0, length);
        fs.set(INT, 4, count);
        writeFully(ch, frame.limit(HEADER + length).position(0));
        return HEADER + length;
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private void receive(HostPort address, PrintWriter out) throws IOException {
        AnonymousMemory.preallocate(memory, 2);
        MemorySegment ram = AnonymousMemory.map(memory, Arena.global());
        long pages = memory >>> Pages.SHIFT;
        ByteBuffer frame = ByteBuffer.allocateDirect(FRAME_MAX).order(ByteOrder.LITTLE_ENDIAN);
        MemorySegment fs = MemorySegment.ofBuffer(frame);
        ByteBuffer done = ByteBuffer.allocateDirect(1);
        CRC32C crc = new CRC32C();
        try (ServerSocketChannel server = Tcp.listen(address)) {
            InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
            out.println("listening on " + address.host() + ":" + bound.getPort());
            out.flush();
            for (int pass = 1; pass <= passes; pass++) {
                try (SocketChannel ch = Tcp.accept(server)) {
                    while (receiveFrame(ch, frame, fs, crc, ram, pages)) {
                        // frame applied
                    }
                    writeFully(ch, done.clear());
                }
            }
        }
    }

    /** Reads, checks and applies one frame; false for the end of a pass. Every length and index is checked first. */
    private static boolean receiveFrame(SocketChannel ch, ByteBuffer frame, MemorySegment fs, CRC32C crc,
                                        MemorySegment ram, long pages) throws IOException {
        readFully(ch, frame.clear().limit(HEADER));
        int length = fs.get(INT, 0);
        int count = fs.get(INT, 4);
        if (length == 0 && count == 0) {
            return false;
        }
        if (length < 0 || length > FRAME_MAX - HEADER || count < 1 || count > BATCH) {
            throw new IOException("frame of " + length + " bytes and " + count + " records is out of range");
        }
        int end = HEADER + length;
        readFully(ch, frame.limit(end));
        int pos = HEADER;
        for (int i = 0; i < count; i++) {
            if (pos + RECORD > end) {
                throw new IOException("record " + i + " of a frame of " + count + " runs past its end");
            }
            long p = Integer.toUnsignedLong(fs.get(INT, pos));
            int kind = fs.get(ValueLayout.JAVA_BYTE, pos + 4);
            pos += RECORD;
            if (p >= pages || kind < 0 || kind > 1 || (kind == 1 && pos + Pages.SIZE + 4 > end)) {
                throw new IOException("record " + i + " (page " + p + ", kind " + kind + ") is out of range");
            }
            if (kind == 0) {
                continue; // preallocated memory is zero, and every pass sends the same pages
            }
            if (Pages.crc(crc, frame, pos) != fs.get(INT, pos + Pages.SIZE)) {
                throw new IOException("CRC32C mismatch in page " + p);
            }
            MemorySegment.copy(fs, pos, ram, p << Pages.SHIFT, Pages.SIZE);
            pos += Pages.SIZE + 4;
        }
        if (pos != end) {
            throw new IOException("a frame of " + length + " bytes holds " + (pos - HEADER) + " bytes of records");
        }
        return true;
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("the sender closed the connection inside a frame");
            }
        }
    }
}
