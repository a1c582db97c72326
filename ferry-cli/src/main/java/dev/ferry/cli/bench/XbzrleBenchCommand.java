/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli.bench;

import dev.ferry.memory.MachineMemory;
import dev.ferry.util.FileErrors;
import dev.ferry.util.Units;
import dev.ferry.xbzrle.XbzrleCodec;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry bench xbzrle}: the XBZRLE codec's speed on a corpus of page pairs, measured the way
 * the C reference's {@code bench.c} measures it, and printed in its one-line format.
 *
 * <p>A corpus holds COUNT records of {@code old page (4096 bytes) | new page (4096 bytes)}. The
 * command encodes every pair (one page of output room each, as QEMU), checks that every encoded
 * pair decodes back to the new page, warms the JIT, then times repeated passes of encode over all
 * pairs for {@code --seconds}, then repeated passes of decode over the pairs that encoded to a
 * delta. Throughput is MB/s (10^6 bytes) of 4 KiB pages processed.
 *
 * <p>Exit codes: 0 success, 1 round-trip failure, 2 bad input or I/O error (one line naming the file and what is
 * wrong). {@code --seconds} and {@code --warmup} are at most an hour; a corpus whose pairs and encodings would not
 * fit in this machine's RAM is refused before anything is allocated.
 */
@Command(name = "xbzrle", mixinStandardHelpOptions = true,
        description = "Measure XBZRLE encode/decode throughput on a corpus of 4 KiB page pairs.")
public final class XbzrleBenchCommand implements Callable<Integer> {
    static final int PAGE = 4096;
    private static final int RECORD = 2 * PAGE;

    @Option(names = "--pairs", required = true, paramLabel = "FILE",
            description = "Corpus: COUNT records of old page (4096 bytes) | new page (4096 bytes).")
    Path pairs;

    @Option(names = "--seconds", defaultValue = "1", paramLabel = "S",
            description = "Seconds to time encode, then decode (default ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "S",
            description = "Seconds of untimed encode passes, then of decode passes, before timing each, "
                    + "so that the JIT has compiled them (default ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--write-encodings", paramLabel = "OUT",
            description = "Write, per pair, a big-endian int32 length (-1 overflow, 0 unchanged) and the encoded bytes.")
    Path writeEncodings;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The longest --seconds and --warmup: an hour each. */
    static final double MAX_SECONDS = 3600;

    /** The memory a corpus may take, in bytes; negative for this machine's RAM (tests set a smaller one). */
    long memoryLimit = -1;

    private static volatile long sink;

    @Override
    public Integer call() {
        PrintWriter err = spec != null ? spec.commandLine().getErr() : new PrintWriter(System.err, true);
        PrintWriter out = spec != null ? spec.commandLine().getOut() : new PrintWriter(System.out, true);
        // Bounded: a time in nanoseconds past Long.MAX_VALUE would never end (--seconds) or end at once (--warmup).
        if (!(seconds > 0 && seconds <= MAX_SECONDS)) {
            err.println("ferry bench xbzrle: --seconds must be more than 0 and at most " + (int) MAX_SECONDS
                    + ", not " + seconds);
            return 2;
        }
        if (!(warmup >= 0 && warmup <= MAX_SECONDS)) {
            err.println("ferry bench xbzrle: --warmup must be 0 to " + (int) MAX_SECONDS + ", not " + warmup);
            return 2;
        }
        if (Files.isDirectory(pairs)) {
            err.println("ferry bench xbzrle: " + pairs + ": is a directory, not a corpus file");
            return 2;
        }
        if (writeEncodings != null && Files.exists(pairs)) {
            String problem = null;
            try {
                if (Files.isDirectory(writeEncodings)) {
                    problem = "is a directory";
                } else if (Files.exists(writeEncodings) && Files.isSameFile(pairs, writeEncodings)) {
                    problem = "is the corpus itself (it would be overwritten)";
                }
            } catch (IOException e) {
                problem = reason(e);
            }
            if (problem != null) {
                err.println("ferry bench xbzrle: cannot write encodings to " + writeEncodings + ": " + problem);
                return 2;
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            long size;
            try {
                size = Files.size(pairs);
            } catch (NoSuchFileException e) {
                err.println("ferry bench xbzrle: " + pairs + ": no such file");
                return 2;
            } catch (IOException e) {
                err.println("ferry bench xbzrle: cannot read " + pairs + ": " + reason(e));
                return 2;
            }
            if (!Files.isRegularFile(pairs)) {
                err.println("ferry bench xbzrle: " + pairs + ": is not a regular file");
                return 2;
            }
            if (size == 0) {
                err.println("ferry bench xbzrle: " + pairs + ": empty corpus");
                return 2;
            }
            if (size % RECORD != 0) {
                err.println("ferry bench xbzrle: " + pairs + ": size " + size + " is not a multiple of "
                        + RECORD + " (old page | new page records)");
                return 2;
            }
            if (size / RECORD > Integer.MAX_VALUE / PAGE) {
                err.println("ferry bench xbzrle: " + pairs + ": too many pairs (" + size / RECORD + ")");
                return 2;
            }
            int n = (int) (size / RECORD);
            // The pairs and a page of encoding room per pair, checked before any is allocated.
            long needed = size + (long) n * PAGE;
            long machine = memoryLimit >= 0 ? memoryLimit : MachineMemory.physicalBytes();
            if (needed > machine) {
                err.println("ferry bench xbzrle: " + pairs + ": " + n + " pairs need " + needed + " bytes ("
                        + Units.bytes(needed) + ") of memory with their encodings, more than this machine's "
                        + machine + " (" + Units.bytes(machine) + ")");
                return 2;
            }
            MemorySegment buf;
            MemorySegment enc;
            try {
                buf = arena.allocate(size, 64);
                enc = arena.allocate((long) n * PAGE, 64);
            } catch (OutOfMemoryError e) {
                err.println("ferry bench xbzrle: " + pairs + ": not enough memory for " + n + " pairs and their "
                        + "encodings (" + Units.bytes(needed) + ")");
                return 2;
            }
            try (FileChannel ch = FileChannel.open(pairs, StandardOpenOption.READ)) {
                for (long at = 0; at < size; at += 1 << 30) { // ByteBuffers stop at 2 GiB
                    var bb = buf.asSlice(at, Math.min(1L << 30, size - at)).asByteBuffer();
                    while (bb.hasRemaining()) {
                        if (ch.read(bb) < 0) {
                            err.println("ferry bench xbzrle: " + pairs + ": file shrank while reading");
                            return 2;
                        }
                    }
                }
            } catch (IOException e) {
                err.println("ferry bench xbzrle: cannot read " + pairs + ": " + reason(e));
                return 2;
            }
            MemorySegment page = arena.allocate(PAGE, 64);
            XbzrleCodec codec = new XbzrleCodec();
            int[] len = new int[n];
            long total = 0;
            int overflow = 0;
            int unchanged = 0;
            for (int i = 0; i < n; i++) {
                len[i] = codec.encode(buf, (long) i * RECORD, buf, (long) i * RECORD + PAGE, PAGE,
                        enc, (long) i * PAGE, PAGE);
                if (len[i] < 0) {
                    overflow++;
                } else if (len[i] == 0) {
                    unchanged++;
                } else {
                    total += len[i];
                }
            }
            for (int i = 0; i < n; i++) {
                if (len[i] > 0) {
                    MemorySegment.copy(buf, (long) i * RECORD, page, 0, PAGE);
                    XbzrleCodec.decode(enc, (long) i * PAGE, len[i], page, 0, PAGE);
                    if (page.mismatch(buf.asSlice((long) i * RECORD + PAGE, PAGE)) >= 0) {
                        err.println("ferry bench xbzrle: round trip failed at pair " + i);
                        return 1;
                    }
                }
            }
            if (writeEncodings != null) {
                try {
                    writeEncodings(writeEncodings, enc, len);
                } catch (IOException e) {
                    err.println("ferry bench xbzrle: cannot write encodings to " + writeEncodings + ": " + reason(e));
                    return 2;
                }
            }

            // Warm each timed loop on its own for --warmup seconds, so that the JIT has compiled it
            // (decode passes are short: warmed together with encode, they may not be).
            long warmEnd = System.nanoTime() + (long) (warmup * 1e9);
            do {
                sink += encodePass(codec, buf, enc, n);
            } while (System.nanoTime() < warmEnd);
            warmEnd = System.nanoTime() + (long) (warmup * 1e9);
            do {
                sink += decodePass(enc, len, page, n);
            } while (System.nanoTime() < warmEnd);

            long budget = (long) (seconds * 1e9);
            long reps = 0;
            long t0 = System.nanoTime();
            long t;
            do {
                sink += encodePass(codec, buf, enc, n);
                reps++;
            } while ((t = System.nanoTime()) - t0 < budget);
            double encMBps = (double) reps * n * PAGE / ((t - t0) / 1e9) / 1e6;

            reps = 0;
            t0 = System.nanoTime();
            do {
                sink += decodePass(enc, len, page, n);
                reps++;
            } while ((t = System.nanoTime()) - t0 < budget);
            int decodable = n - overflow - unchanged;
            double decMBps = decodable > 0 ? (double) reps * decodable * PAGE / ((t - t0) / 1e9) / 1e6 : 0.0;

            out.println(String.format(Locale.ROOT,
                    "pairs=%d encode_MBps=%.0f decode_MBps=%.0f mean_encoded=%.1f overflow=%d unchanged=%d",
                    n, encMBps, decMBps, decodable > 0 ? (double) total / decodable : 0.0, overflow, unchanged));
            out.flush();
            return 0;
        }
    }

    /** What went wrong, for a line that already names the file (a file-system exception's message is the path). */
    static String reason(IOException e) {
        if (e instanceof FileSystemException f) {
            return FileErrors.reason(f);
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /** Encodes every pair once (the timed unit of work); returns a checksum to keep it alive. */
    static long encodePass(XbzrleCodec codec, MemorySegment buf, MemorySegment enc, int n) {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += codec.encode(buf, (long) i * RECORD, buf, (long) i * RECORD + PAGE, PAGE,
                    enc, (long) i * PAGE, PAGE);
        }
        return s;
    }

    /** Decodes every pair that encoded to a delta into one scratch page, as bench.c does. */
    static long decodePass(MemorySegment enc, int[] len, MemorySegment page, int n) {
        long s = 0;
        for (int i = 0; i < n; i++) {
            int l = len[i];
            if (l > 0) {
                s += XbzrleCodec.decode(enc, (long) i * PAGE, l, page, 0, PAGE);
            }
        }
        return s;
    }

    private static void writeEncodings(Path file, MemorySegment enc, int[] len) throws IOException {
        try (OutputStream os = Files.newOutputStream(file);
             DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os, 1 << 16))) {
            byte[] tmp = new byte[PAGE];
            for (int i = 0; i < len.length; i++) {
                out.writeInt(len[i]);
                if (len[i] > 0) {
                    MemorySegment.copy(enc, ValueLayout.JAVA_BYTE, (long) i * PAGE, tmp, 0, len[i]);
                    out.write(tmp, 0, len[i]);
                }
            }
        }
    }
}
