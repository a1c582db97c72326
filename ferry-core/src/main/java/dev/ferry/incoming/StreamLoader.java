/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.incoming;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestBackend;
import dev.ferry.guest.GuestException;
import dev.ferry.guest.RamBlock;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.MachineMemory;
import dev.ferry.memory.PageDigest;
import dev.ferry.memory.Pages;
import dev.ferry.stream.FrameBuffer;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PageKind;
import dev.ferry.stream.PayloadReader;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import dev.ferry.stream.StreamFormatException;
import dev.ferry.stream.StreamFormatException.Problem;
import dev.ferry.stream.StreamHeader;
import dev.ferry.util.Units;
import dev.ferry.xbzrle.XbzrleCodec;
import dev.ferry.xbzrle.XbzrleFormatException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The destination side of a migration stream: reads it frame by frame, validates every field before using it,
 * writes pages straight into a new guest's RAM, and returns the guest only when the stream is complete and
 * verified: every page received, the record and frame counts and the RAM digest equal to the source's, the
 * execution state loaded, and (on a connection) the source's handover received. On any failure the new guest is
 * closed and nothing starts.
 */
public final class StreamLoader {
    /** What a file must end with, in the message when it does not. */
    public static final String COMPLETE_RECORD = "the COMPLETE record";

    private final FrameReader in;
    private final WritableByteChannel returnPath;
    private final int supportedCapabilities;
    private final IncomingStats stats;
    private final boolean awaitHandover;
    private final CRC32C crc = new CRC32C();
    private final FrameBuffer reply = new FrameBuffer(Records.MAX_TEXT + 16);
    private final MemorySegment scratch = java.lang.foreign.Arena.ofAuto().allocate(Pages.SIZE, Pages.SIZE);
    private final ByteBuffer scratchBuffer = scratch.asByteBuffer();

    private Guest guest;
    private List<RamBlock> blocks;
    private Bitmap[] received;
    private PageDigest digest;
    private int capabilities;
    private long pageRecords;
    private byte[] executionState;
    private long framesBeforeComplete;
    /** KEEPALIVE frames seen: the source does not count them in COMPLETE's frame count. */
    private long keepalives;
    /** Whether this side's stream header went out on the return path: an ERROR must come after it. */
    private boolean headerSent;

    /**
     * @param in the stream
     * @param returnPath where replies go (the source's connection), or null when reading a file: then the stream
     *     ends with COMPLETE and no handover is expected
     * @param supportedCapabilities the capabilities this destination accepts
     */
    public StreamLoader(FrameReader in, WritableByteChannel returnPath, int supportedCapabilities,
            IncomingStats stats) {
        this(in, returnPath, supportedCapabilities, stats, returnPath != null);
    }

    /**
     * @param awaitHandover whether the guest is returned only after the source's HANDOVER (a migration) or as soon as
     *     completion is verified and acknowledged (a standby seeded by replication, which goes on reading checkpoints
     *     from the same reader; a file)
     */
    public StreamLoader(FrameReader in, WritableByteChannel returnPath, int supportedCapabilities,
            IncomingStats stats, boolean awaitHandover) {
        this.in = in;
        this.returnPath = returnPath;
        this.supportedCapabilities = supportedCapabilities;
        this.stats = stats;
        this.awaitHandover = awaitHandover;
    }

    /**
     * Loads the whole stream. Returns a paused guest holding the source's RAM and execution state, ready to resume;
     * or throws, with the guest closed and (on a connection) the reason sent to the source.
     */
    public Guest load() throws IOException, GuestException {
        try {
            Guest g = loadStream();
            stats.handedOver();
            return g;
        } catch (MigrationAbortedException e) {
            stats.error(e.getMessage());
            discard();
            throw e;
        } catch (IOException | GuestException | RuntimeException e) {
            String message = e.getMessage() != null ? e.getMessage() : e.toString();
            stats.error(message);
            sendError(message);
            discard();
            throw e;
        } finally {
            if (digest != null) {
                digest.close();
            }
        }
    }

    private Guest loadStream() throws IOException, GuestException {
        in.readHeader();
        stats.started();
        if (returnPath != null) {
            sendHeader();
        }
        expect(FrameType.HELLO);
        Records.Hello hello = Records.Hello.read(in.payload());
        int unsupported = hello.capabilities() & ~supportedCapabilities;
        if (unsupported != 0) {
            throw new CapabilityException("the source asks for " + capabilityNames(unsupported)
                    + ", which this destination does not support");
        }
        capabilities = hello.capabilities();
        stats.capabilities(capabilities);
        if (returnPath != null) {
            new Records.HelloAck(capabilities).write(reply);
            write(reply.finish());
        }
        expect(FrameType.SETUP);
        Records.Setup setup = Records.Setup.read(in.payload());
        createGuest(setup);
        while (true) {
            FrameType t = in.next();
            stats.progress(in.offset(), in.frames());
            if (t == null) {
                throw new StreamFormatException(Problem.TRUNCATED, in.offset(), in.name() + (returnPath == null
                        ? " is incomplete: it" : "") + " ended at byte " + in.offset() + " before the migration"
                        + " completed (" + pageRecords + " page records received)");
            }
            switch (t) {
                case PAGES -> applyPages(in.payload());
                case END_OF_ROUND -> {
                    Records.EndOfRound.read(in.payload());
                    stats.round();
                }
                case EXEC_STATE -> {
                    if (executionState != null) {
                        throw unexpected(t, "the execution state was already received");
                    }
                    executionState = in.payload().rest();
                }
                case KEEPALIVE -> {
                    in.payload().expectEnd();
                    keepalives++;
                }
                case ABORT -> throw new MigrationAbortedException("migration aborted by the source: "
                        + Records.Reason.read(in.payload()).text());
                case COMPLETE -> {
                    framesBeforeComplete = in.frames() - 1;
                    Records.Complete complete = Records.Complete.read(in.payload());
                    if (returnPath == null) {
                        in.expectEnd(COMPLETE_RECORD); // a file ends with its COMPLETE record
                    }
                    verifyAndLoad(complete);
                    if (awaitHandover) {
                        awaitHandover();
                    }
                    return guest;
                }
                default -> throw unexpected(t, "it is not part of a migration stream's body");
            }
        }
    }

    /**
     * Refuses a SETUP (just read from {@code in}) that declares more guest RAM than this machine has. Nothing vouches
     * for the size until every page has arrived: a SETUP of a few hundred bytes must not make this process allocate
     * (bookkeeping, guest RAM) for more memory than the machine has.
     */
    public static void requireFits(Records.Setup setup, FrameReader in) throws StreamFormatException {
        String tooMuch = MachineMemory.excess(setup.ramBytes());
        if (tooMuch != null) {
            throw new StreamFormatException(Problem.IMPOSSIBLE_SIZE, in.frameOffset(), in.name() + ": SETUP at byte "
                    + in.frameOffset() + " declares " + tooMuch);
        }
    }

    private void createGuest(Records.Setup setup) throws IOException, GuestException {
        List<Records.BlockInfo> wire = setup.blocks();
        requireFits(setup, in);
        guest = GuestBackend.createGuest(setup.descriptor());
        blocks = guest.ramBlocks();
        if (wire.size() != blocks.size()) {
            throw new StreamFormatException(Problem.MALFORMED_PAYLOAD, in.frameOffset(), "setup lists " + wire.size()
                    + " RAM blocks, but the guest it describes has " + blocks.size());
        }
        received = new Bitmap[blocks.size()];
        long[] pages = new long[blocks.size()];
        for (int i = 0; i < blocks.size(); i++) {
            RamBlock b = blocks.get(i);
            Records.BlockInfo w = wire.get(i);
            if (!w.id().equals(b.id()) || w.length() != b.length()) {
                throw new StreamFormatException(Problem.MALFORMED_PAYLOAD, in.frameOffset(), "setup block " + i + " is "
                        + w.id() + " of " + w.length() + " bytes, but the guest's is " + b.id() + " of "
                        + b.length() + " bytes");
            }
            received[i] = new Bitmap(b.pages());
            pages[i] = b.pages();
        }
        digest = new PageDigest(pages);
        stats.ramSize(guest.ramSize());
    }

    private void applyPages(PayloadReader r) throws StreamFormatException {
        long blockIndex = r.u32("block index", 0, blocks.size() - 1);
        long count = r.u32("record count", 1, StreamFormat.MAX_RECORDS);
        int b = (int) blockIndex;
        RamBlock block = blocks.get(b);
        MemorySegment memory = block.memory();
        MemorySegment frame = in.frameSegment();
        ByteBuffer buffer = r.buffer();
        Bitmap got = received[b];
        long maxPage = block.pages() - 1;
        long zero = 0;
        long normal = 0;
        long xbzrle = 0;
        for (int i = 0; i < count; i++) {
            long page = r.u32("page index", 0, maxPage);
            int code = r.u8("page kind");
            PageKind kind = PageKind.of(code);
            if (kind == null || (kind == PageKind.XBZRLE && (capabilities & StreamFormat.CAP_XBZRLE) == 0)) {
                throw r.error(Problem.MALFORMED_PAYLOAD, "page kind " + code + " is unknown or was not negotiated");
            }
            long offset = page << Pages.SHIFT;
            if (kind == PageKind.XBZRLE) {
                long at = r.offset();
                int length = r.u16("XBZRLE delta length");
                if (length < 1 || length > Pages.SIZE) {
                    throw new StreamFormatException(Problem.OUT_OF_RANGE, at, in.name() + " at byte " + at
                            + ": XBZRLE delta length " + length + " is outside [1, 4096]");
                }
                if (!got.get(page)) {
                    throw r.error(Problem.MALFORMED_PAYLOAD, "XBZRLE delta for page " + page + " of block "
                            + block.id() + ", which was never sent whole");
                }
                int data = buffer.position();
                r.skip(length, "XBZRLE delta");
                try {
                    XbzrleCodec.decode(frame, data, length, memory, offset, Pages.SIZE);
                } catch (XbzrleFormatException e) {
                    // Located as every payload error is (frame, byte), at the delta's offending byte: the reader is
                    // past the delta, whose first byte is at r.offset() - length.
                    long bad = r.offset() - length + e.deltaOffset();
                    throw new StreamFormatException(Problem.MALFORMED_PAYLOAD, bad, in.name() + ": frame "
                            + (in.frames() - 1) + " (" + in.type() + ") at byte " + bad + ": page " + page
                            + " of block " + block.id() + ": " + e.getMessage());
                }
                digest.set(b, page, Pages.crc(crc, memory, offset, scratch, scratchBuffer));
                xbzrle++;
            } else if (kind == PageKind.ZERO) {
                // Fresh guest memory is zero: only a page written earlier in the stream needs clearing.
                if (got.get(page)) {
                    MemorySegment.copy(Pages.ZERO_PAGE, 0, memory, offset, Pages.SIZE);
                }
                digest.set(b, page, Pages.ZERO_PAGE_CRC);
                zero++;
            } else {
                int at = buffer.position();
                r.skip(Pages.SIZE, "page data");
                MemorySegment.copy(frame, at, memory, offset, Pages.SIZE);
                // The reader computed the page's CRC while it checked the frame's.
                digest.set(b, page, in.hasPageCrcs() ? in.pageCrc(i) : Pages.crc(crc, buffer, at));
                normal++;
            }
            got.set(page);
        }
        r.expectEnd();
        pageRecords += count;
        stats.pages(zero, normal, xbzrle);
    }

    private void verifyAndLoad(Records.Complete c) throws IOException, GuestException {
        for (int b = 0; b < blocks.size(); b++) {
            long missing = received[b].nextClearBit(0);
            if (missing >= 0) {
                throw new StreamFormatException(Problem.INCOMPLETE, in.frameOffset(), "migration incomplete: page "
                        + missing + " of RAM block " + blocks.get(b).id() + " was never received");
            }
        }
        if (c.pageRecords() != pageRecords) {
            throw new StreamFormatException(Problem.INCOMPLETE, in.frameOffset(), "the source sent "
                    + c.pageRecords() + " page records, " + pageRecords + " arrived");
        }
        if (c.framesBefore() != framesBeforeComplete - keepalives) {
            throw new StreamFormatException(Problem.INCOMPLETE, in.frameOffset(), "the source sent "
                    + c.framesBefore() + " frames before completion, " + (framesBeforeComplete - keepalives)
                    + " arrived");
        }
        if (executionState == null) {
            throw new StreamFormatException(Problem.INCOMPLETE, in.frameOffset(),
                    "migration completed without execution state");
        }
        int mine = digest.digest();
        if (mine != c.ramDigest()) {
            throw new StreamFormatException(Problem.DIGEST_MISMATCH, in.frameOffset(), "RAM digest mismatch: the"
                    + " source's is 0x" + Integer.toHexString(c.ramDigest()) + ", the loaded RAM's 0x"
                    + Integer.toHexString(mine));
        }
        guest.loadState(executionState);
        stats.completed();
        if (returnPath != null) {
            new Records.CompleteAck(mine).write(reply);
            write(reply.finish());
        }
    }

    private void awaitHandover() throws IOException {
        while (true) {
            FrameType t = in.next();
            if (t == null) {
                throw new StreamFormatException(Problem.TRUNCATED, in.offset(), "the source closed the connection"
                        + " after the destination verified the migration but before it handed the guest over; the"
                        + " guest is not started here (the source may still run it)");
            }
            switch (t) {
                case HANDOVER -> {
                    in.payload().expectEnd();
                    if ((capabilities & StreamFormat.CAP_HANDOVER_ACK) != 0) {
                        confirmHandover();
                    }
                    return;
                }
                case KEEPALIVE -> in.payload().expectEnd();
                case ABORT -> throw new MigrationAbortedException("migration aborted by the source after"
                        + " verification: " + Records.Reason.read(in.payload()).text());
                default -> throw unexpected(t, "only HANDOVER may follow completion");
            }
        }
    }

    /**
     * Tells the source that the guest is taken over here, so that it can let its copy go. The handover happened when
     * HANDOVER was read: if the confirmation cannot be sent, the guest starts here all the same, and the source,
     * not knowing, keeps its copy paused rather than resuming it.
     */
    private void confirmHandover() {
        try {
            FrameBuffer ack = new FrameBuffer(0);
            ack.begin(FrameType.HANDOVER_ACK);
            write(ack.finish());
        } catch (IOException | RuntimeException e) {
            stats.handoverAckFailed(e.getMessage() != null ? e.getMessage() : e.toString());
        }
    }

    private void expect(FrameType type) throws IOException {
        FrameType t = in.next();
        if (t == null) {
            throw new StreamFormatException(Problem.TRUNCATED, in.offset(), in.name() + " ended at byte "
                    + in.offset() + " where a " + type + " frame was expected");
        }
        if (t == FrameType.KEEPALIVE) {
            keepalives++;
            expect(type);
            return;
        }
        if (t != type) {
            throw unexpected(t, type + " was expected");
        }
    }

    /** The execution state the stream carried (after a successful load). */
    public byte[] executionState() {
        return executionState;
    }

    private StreamFormatException unexpected(FrameType t, String why) {
        return new StreamFormatException(Problem.UNEXPECTED_FRAME, in.frameOffset(), in.name() + ": unexpected "
                + t + " frame at byte " + in.frameOffset() + " (frame " + (in.frames() - 1) + "): " + why);
    }

    private void sendHeader() throws IOException {
        headerSent = true;
        write(StreamHeader.encode());
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            returnPath.write(b);
        }
    }

    private void sendError(String message) {
        if (returnPath == null) {
            return;
        }
        try {
            if (!headerSent) {
                // The source's header was refused (version, flags): the source reads a return path like any stream,
                // header first, and only then can it read why.
                sendHeader();
            }
            new Records.Reason(message).write(reply, FrameType.ERROR);
            write(reply.finish());
        } catch (IOException | RuntimeException ignored) {
            // the source may be gone: that may be why we fail
        }
    }

    private void discard() {
        if (guest != null) {
            guest.close();
            guest = null;
        }
    }

    private static String capabilityNames(int caps) {
        StringBuilder s = new StringBuilder();
        if ((caps & StreamFormat.CAP_XBZRLE) != 0) {
            s.append("xbzrle");
        }
        if ((caps & StreamFormat.CAP_HANDOVER_ACK) != 0) {
            s.append(s.isEmpty() ? "" : ", ").append("handover-ack");
        }
        int unknown = caps & ~StreamFormat.KNOWN_CAPABILITIES;
        if (unknown != 0) {
            s.append(s.isEmpty() ? "" : ", ").append("unknown capabilities 0x").append(Integer.toHexString(unknown));
        }
        return s.toString();
    }

    /** The source asked for a capability this destination lacks. */
    public static final class CapabilityException extends IOException {
        public CapabilityException(String message) {
            super(message);
        }
    }
}
