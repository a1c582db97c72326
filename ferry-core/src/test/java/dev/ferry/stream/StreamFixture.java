/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.inprocess.InProcessConfig;
import dev.ferry.guest.inprocess.InProcessGuest;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.policy.XenPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.precopy.StreamSink;
import dev.ferry.stats.MigrationStats;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Builds real migration streams in memory, takes them apart into frames, and puts edited frames back together. */
public final class StreamFixture {
    /** One frame: its type code and payload. */
    public record Frame(int type, byte[] payload) {
        public ByteBuffer payloadBuffer() {
            return ByteBuffer.wrap(payload);
        }
    }

    private StreamFixture() {
    }

    /** A small two-block idle guest, filled, ready to migrate. */
    public static InProcessGuest idleGuest() throws InterruptedException {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {1L << 20, 512L << 10}, 1,
                "idle,zero=0.4,text=0.3", 42, 0));
        g.resume();
        while (!Boolean.TRUE.equals(g.counters().get("fill-complete"))) {
            Thread.sleep(5);
        }
        return g;
    }

    /** The stream of a complete migration of {@code guest} (as a file target would receive it). */
    public static byte[] migrate(Guest guest) {
        return migrate(guest, 0);
    }

    /** A memory-test guest that rewrites the first byte of 256 pages: re-sent pages make XBZRLE records. */
    public static InProcessGuest memtestGuest() throws InterruptedException {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {2L << 20}, 1,
                "memtest,start=0,end=1M", 42, 0));
        g.resume();
        Thread.sleep(20);
        return g;
    }

    /** The stream of a migration that asked for {@code capabilities} (always at least three rounds). */
    public static byte[] migrate(Guest guest, int capabilities) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (StreamSink sink = new StreamSink(Channels.newChannel(bytes), null, "memory")) {
            MigrationStats stats = new MigrationStats(guest.ramSize(), 4096);
            // As in a file (StreamFileSink): nothing follows COMPLETE, no HANDOVER.
            PrecopyLoop.Outcome o = new PrecopyLoop(guest, sink, new XenPolicy(0, 3), new MigrationParameters(),
                    stats, null, capabilities, Duration.ofSeconds(5)).switchover((g, s) -> false).run();
            if (!o.completed()) {
                throw new AssertionError("fixture migration failed: " + o.message());
            }
        }
        return bytes.toByteArray();
    }

    /** Loads a stream as a file destination does; returns the loaded (paused) guest. */
    public static Guest load(byte[] stream) throws IOException, GuestException {
        FrameReader reader = new FrameReader(Channels.newChannel(new ByteArrayInputStream(stream)), "test stream");
        return new StreamLoader(reader, null, StreamFormat.KNOWN_CAPABILITIES, new IncomingStats()).load();
    }

    /** The frames of a stream (after its 16-byte header). */
    public static List<Frame> frames(byte[] stream) {
        ByteBuffer b = ByteBuffer.wrap(stream);
        b.position(StreamFormat.HEADER_SIZE);
        List<Frame> frames = new ArrayList<>();
        while (b.remaining() >= StreamFormat.FRAME_OVERHEAD) {
            int type = Byte.toUnsignedInt(b.get(b.position()));
            int length = b.getInt(b.position() + StreamFormat.LENGTH_OFFSET);
            byte[] payload = new byte[length];
            b.position(b.position() + StreamFormat.FRAME_HEADER);
            b.get(payload);
            b.position(b.position() + StreamFormat.FRAME_TRAILER);
            frames.add(new Frame(type, payload));
        }
        return frames;
    }

    /** A stream made of a valid header and {@code frames}, each with a correct CRC. */
    public static byte[] assemble(List<Frame> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer header = StreamHeader.encode();
        out.write(header.array(), 0, header.remaining());
        for (Frame f : frames) {
            ByteBuffer b = ByteBuffer.allocate(StreamFormat.FRAME_OVERHEAD + f.payload().length);
            b.put((byte) f.type()).put((byte) 0).putShort((short) 0).putInt(f.payload().length).put(f.payload());
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(b.array(), 0, b.position());
            b.putInt((int) crc.getValue());
            out.write(b.array(), 0, b.position());
        }
        return out.toByteArray();
    }

    /** The frame a finished {@link FrameBuffer} holds. */
    public static Frame frameOf(FrameBuffer f) {
        ByteBuffer b = f.finish();
        byte[] payload = new byte[b.remaining() - StreamFormat.FRAME_OVERHEAD];
        b.get(StreamFormat.FRAME_HEADER, payload);
        return new Frame(f.type().code, payload);
    }

    /**
     * A SETUP frame for an in-process idle guest whose descriptor says {@code memory} bytes of RAM in one block and
     * {@code vcpus} vCPUs, listing blocks of {@code blockLengths} (ids ram, or ram0, ram1, ... as the guest names them).
     */
    public static Frame setup(long memory, int vcpus, long... blockLengths) {
        java.util.Map<String, String> p = new java.util.LinkedHashMap<>();
        p.put("memory", Long.toString(memory));
        p.put("vcpus", Integer.toString(vcpus));
        p.put("workload", "idle");
        p.put("seed", "1");
        p.put("rate", "0");
        List<Records.BlockInfo> blocks = new ArrayList<>();
        long gpa = 0;
        for (int i = 0; i < blockLengths.length; i++) {
            blocks.add(new Records.BlockInfo(blockLengths.length == 1 ? "ram" : "ram" + i, gpa, blockLengths[i],
                    4096));
            gpa += blockLengths[i];
        }
        Records.Setup setup = new Records.Setup(new dev.ferry.guest.GuestDescriptor("inprocess", p), blocks);
        FrameBuffer f = new FrameBuffer(setup.size());
        setup.write(f);
        return frameOf(f);
    }

    /** Index of the first frame of {@code type}. */
    public static int indexOf(List<Frame> frames, FrameType type) {
        for (int i = 0; i < frames.size(); i++) {
            if (frames.get(i).type() == type.code) {
                return i;
            }
        }
        throw new AssertionError("no " + type + " frame");
    }

    /** Byte offset in the stream of frame {@code index}. */
    public static int offsetOf(List<Frame> frames, int index) {
        int off = StreamFormat.HEADER_SIZE;
        for (int i = 0; i < index; i++) {
            off += StreamFormat.FRAME_OVERHEAD + frames.get(i).payload().length;
        }
        return off;
    }
}
