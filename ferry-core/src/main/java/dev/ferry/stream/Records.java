/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Pages;
import dev.ferry.stream.StreamFormatException.Problem;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The payloads of the control frames, written into a {@link FrameBuffer} and read back with a
 * {@link PayloadReader} that validates every field. Layouts are in docs/formats/migration-stream.md.
 */
public final class Records {
    public static final int MAX_TEXT = 4096;
    public static final int MAX_PROPERTIES = 256;
    public static final int MAX_PROPERTY_VALUE = 65536;
    public static final int MAX_BLOCKS = 1024;
    public static final int MAX_BLOCK_ID = 255;
    /** Largest RAM block a stream may describe (a bound, so a corrupt size is refused before any allocation). */
    public static final long MAX_BLOCK_LENGTH = 1L << 40;

    private Records() {
    }

    /** HELLO: {@code u32 capabilities, u16 n, u8[n] software}. */
    public record Hello(int capabilities, String software) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.HELLO).putInt(capabilities);
            f.putString(software, MAX_TEXT);
        }

        public static Hello read(PayloadReader r) throws StreamFormatException {
            int caps = (int) r.u32("capabilities");
            String sw = r.string16("software", MAX_TEXT);
            r.expectEnd();
            return new Hello(caps, sw);
        }
    }

    /** HELLO_ACK: {@code u32 accepted capabilities}. */
    public record HelloAck(int capabilities) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.HELLO_ACK).putInt(capabilities);
        }

        public static HelloAck read(PayloadReader r) throws StreamFormatException {
            int caps = (int) r.u32("accepted capabilities");
            r.expectEnd();
            return new HelloAck(caps);
        }
    }

    /** One RAM block as the setup record describes it. */
    public record BlockInfo(String id, long guestAddress, long length, int pageSize) {
        public long pages() {
            return length / pageSize;
        }
    }

    /**
     * SETUP: the guest descriptor and the RAM block list.
     *
     * <pre>
     *   u16 n, u8[n] backend
     *   u16 properties; each: u16 n, u8[n] key, u32 m, u8[m] value
     *   u16 blocks;     each: u16 n, u8[n] id, u64 guest address, u64 length, u32 page size
     * </pre>
     */
    public record Setup(GuestDescriptor descriptor, List<BlockInfo> blocks) {
        /** The guest RAM the block list declares (at most 1024 blocks of at most 1 TiB: no overflow). */
        public long ramBytes() {
            long n = 0;
            for (BlockInfo b : blocks) {
                n += b.length();
            }
            return n;
        }

        /** The payload's size in bytes: a frame buffer of this size holds it (a 16 MiB one costs 8 ms to zero). */
        public int size() {
            long n = 2 + utf8(descriptor.backend()) + 2 + 2;
            for (Map.Entry<String, String> e : descriptor.properties().entrySet()) {
                n += 2 + utf8(e.getKey()) + 4 + utf8(e.getValue());
            }
            for (BlockInfo bi : blocks) {
                n += 2 + utf8(bi.id()) + 8 + 8 + 4;
            }
            return (int) Math.min(n, StreamFormat.MAX_PAYLOAD);
        }

        private static long utf8(String s) {
            return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }

        public void write(FrameBuffer f) {
            ByteBuffer b = f.begin(FrameType.SETUP);
            f.putString(descriptor.backend(), MAX_TEXT);
            b.putShort((short) descriptor.properties().size());
            for (Map.Entry<String, String> e : descriptor.properties().entrySet()) {
                f.putString(e.getKey(), MAX_TEXT);
                f.putString(e.getValue(), MAX_PROPERTY_VALUE);
            }
            b.putShort((short) blocks.size());
            for (BlockInfo bi : blocks) {
                f.putString(bi.id(), MAX_BLOCK_ID);
                b.putLong(bi.guestAddress()).putLong(bi.length()).putInt(bi.pageSize());
            }
        }

        public static Setup read(PayloadReader r) throws StreamFormatException {
            String backend = r.string16("backend name", MAX_TEXT);
            int np = r.u16("property count");
            if (np > MAX_PROPERTIES) {
                throw r.error(Problem.IMPOSSIBLE_SIZE, "property count " + np + " exceeds " + MAX_PROPERTIES);
            }
            Map<String, String> props = new LinkedHashMap<>();
            for (int i = 0; i < np; i++) {
                String key = r.string16("property key", MAX_TEXT);
                String value = r.string32("property value", MAX_PROPERTY_VALUE);
                if (props.put(key, value) != null) {
                    throw r.malformed("property '" + key + "' given twice");
                }
            }
            int nb = r.u16("block count");
            if (nb == 0 || nb > MAX_BLOCKS) {
                throw r.error(Problem.IMPOSSIBLE_SIZE, "block count " + nb + " is outside [1, " + MAX_BLOCKS + "]");
            }
            List<BlockInfo> blocks = new ArrayList<>();
            for (int i = 0; i < nb; i++) {
                String id = r.string16("block id", MAX_BLOCK_ID);
                long gpa = r.u64("guest address");
                long length = r.u64("block length", Pages.SIZE, MAX_BLOCK_LENGTH);
                long pageSize = r.u32("page size", Pages.SIZE, Pages.SIZE);
                if (length % pageSize != 0) {
                    throw r.error(Problem.IMPOSSIBLE_SIZE, "block " + id + " length " + length
                            + " is not a multiple of the page size");
                }
                blocks.add(new BlockInfo(id, gpa, length, (int) pageSize));
            }
            r.expectEnd();
            return new Setup(new GuestDescriptor(backend, props), List.copyOf(blocks));
        }
    }

    /** END_OF_ROUND: {@code u32 iteration, u64 pages sent in the round}. */
    public record EndOfRound(int iteration, long pages) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.END_OF_ROUND).putInt(iteration).putLong(pages);
        }

        public static EndOfRound read(PayloadReader r) throws StreamFormatException {
            int it = (int) r.u32("iteration");
            long pages = r.u64("pages in round");
            r.expectEnd();
            return new EndOfRound(it, pages);
        }
    }

    /**
     * COMPLETE: {@code u64 page records sent, u64 frames sent before this one, u32 RAM digest}. The digest is the
     * CRC32C of every page's CRC32C (little-endian u32) in block and page order.
     */
    public record Complete(long pageRecords, long framesBefore, int ramDigest) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.COMPLETE).putLong(pageRecords).putLong(framesBefore).putInt(ramDigest);
        }

        public static Complete read(PayloadReader r) throws StreamFormatException {
            long records = r.u64("page record count");
            long frames = r.u64("frame count");
            int digest = (int) r.u32("RAM digest");
            r.expectEnd();
            return new Complete(records, frames, digest);
        }
    }

    /** COMPLETE_ACK: {@code u32 RAM digest the destination verified}. */
    public record CompleteAck(int ramDigest) {
        public void write(FrameBuffer f) {
            f.begin(FrameType.COMPLETE_ACK).putInt(ramDigest);
        }

        public static CompleteAck read(PayloadReader r) throws StreamFormatException {
            int digest = (int) r.u32("RAM digest");
            r.expectEnd();
            return new CompleteAck(digest);
        }
    }

    /** At most this many characters of a peer's reason are shown. */
    public static final int MAX_REASON_SHOWN = 300;

    /**
     * ABORT and ERROR: {@code u16 n, u8[n] reason}. The reason read is {@link #printable}: it comes from the peer and
     * goes into messages on a terminal.
     */
    public record Reason(String text) {
        public void write(FrameBuffer f, FrameType type) {
            f.begin(type);
            String t = text.length() > MAX_TEXT / 4 ? text.substring(0, MAX_TEXT / 4) : text;
            f.putString(t, MAX_TEXT);
        }

        public static Reason read(PayloadReader r) throws StreamFormatException {
            String t = r.string16("reason", MAX_TEXT);
            r.expectEnd();
            return new Reason(printable(t));
        }
    }

    /**
     * Text from a peer made safe to print on one line: control and format characters (escape sequences, newlines,
     * bidirectional overrides) become '?', and beyond {@link #MAX_REASON_SHOWN} characters it is cut, saying how much.
     */
    public static String printable(String text) {
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_REASON_SHOWN + 40));
        int shown = 0;
        int i = 0;
        while (i < text.length() && shown < MAX_REASON_SHOWN) {
            int c = text.codePointAt(i);
            int type = Character.getType(c);
            boolean unsafe = Character.isISOControl(c) || type == Character.FORMAT
                    || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR;
            b.append(unsafe ? "?" : Character.toString(c));
            i += Character.charCount(c);
            shown++;
        }
        if (i < text.length()) {
            b.append("... (").append(text.codePointCount(i, text.length())).append(" more characters)");
        }
        return b.toString();
    }
}
