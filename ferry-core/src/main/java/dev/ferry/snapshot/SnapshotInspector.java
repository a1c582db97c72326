/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.FrameType;
import dev.ferry.stream.PageKind;
import dev.ferry.stream.PayloadReader;
import dev.ferry.stream.Records;
import dev.ferry.stream.StreamFormat;
import dev.ferry.util.Units;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Describes a snapshot file of either format for people ({@link #text}) and tools ({@link #toMap}): format,
 * version, whether it is complete, the guest, its blocks with the pages present and the zero pages, sizes (file size
 * and disk space used), the execution state, and for a stream its frames and rounds. A damaged or incomplete file is
 * described as far as it can be read, with what is wrong. Like QEMU's analyze-migration.py, but readable.
 */
public final class SnapshotInspector {
    private final Path file;
    private final Map<String, Object> info = new LinkedHashMap<>();
    private final List<Map<String, Object>> blocks = new ArrayList<>();
    private boolean complete;
    private String problem;

    private SnapshotInspector(Path file) {
        this.file = file;
    }

    /** Reads {@code file}; never throws for a damaged file (the description says what is wrong). */
    public static SnapshotInspector inspect(Path file) throws IOException {
        SnapshotInspector s = new SnapshotInspector(file);
        s.run();
        return s;
    }

    private void run() throws IOException {
        info.put("file", file.toString());
        Snapshots.Format format;
        try {
            format = Snapshots.detect(file);
        } catch (SnapshotFormatException e) {
            info.put("format", "unknown");
            problem = e.getMessage();
            sizes();
            finish();
            return;
        }
        info.put("format", format.label);
        if (format == Snapshots.Format.MAPPED_RAM) {
            mappedRam();
        } else {
            stream();
        }
        finish();
    }

    private void finish() {
        info.put("complete", complete);
        if (problem != null) {
            info.put("problem", problem);
        }
        info.put("blocks", blocks);
    }

    private void sizes() throws IOException {
        long size = java.nio.file.Files.size(file);
        info.put("file-size", size);
        long allocated = FileSpace.allocated(file);
        if (allocated >= 0) {
            info.put("allocated-bytes", allocated);
        }
    }

    private void guest(GuestDescriptor d) {
        if (d != null) {
            Map<String, Object> g = new LinkedHashMap<>();
            g.put("backend", d.backend());
            g.put("properties", d.properties());
            info.put("guest", g);
        }
    }

    private void mappedRam() throws IOException {
        MappedRamFile f;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            f = MappedRamFile.read(ch, "snapshot " + file, false);
        } catch (SnapshotFormatException e) {
            problem = e.getMessage();
            sizes();
            return;
        }
        complete = f.complete();
        problem = f.incompleteReason();
        info.put("version", f.version());
        sizes();
        guest(f.descriptor());
        long ram = 0;
        long present = 0;
        for (MappedRamFile.Block b : f.blocks()) {
            ram += b.length();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", b.index());
            m.put("id", b.id());
            m.put("guest-address", b.guestAddress());
            m.put("length", b.length());
            m.put("pages", b.pages());
            if (b.present() != null) {
                long p = b.pagesPresent();
                present += p;
                m.put("pages-present", p);
                m.put("zero-pages", b.pages() - p);
            }
            m.put("bitmap-offset", b.bitmapOffset());
            m.put("bitmap-length", b.bitmapLength());
            m.put("pages-offset", b.pagesOffset());
            blocks.add(m);
        }
        info.put("ram-size", ram);
        info.put("pages", ram / Pages.SIZE);
        if (complete) {
            info.put("pages-present", present);
            info.put("zero-pages", ram / Pages.SIZE - present);
            info.put("page-data-bytes", present * Pages.SIZE);
            info.put("exec-state-bytes", f.execLength());
        }
        Map<String, Object> layout = new LinkedHashMap<>();
        layout.put("metadata-length", f.metadataLength());
        layout.put("page-area-alignment", MappedRamFormat.PAGE_AREA_ALIGNMENT);
        layout.put("page-areas-end", f.pageAreasEnd());
        if (complete) {
            layout.put("exec-state-offset", f.execOffset());
            layout.put("footer-offset", f.fileSize() - MappedRamFormat.FOOTER_SIZE);
            layout.put("ram-digest", String.format("0x%08x", f.ramDigest()));
            layout.put("metadata-crc32c", String.format("0x%08x", f.metadataCrc()));
            layout.put("saved-at", Instant.ofEpochMilli(f.savedAtMillis()).toString());
        }
        info.put("mapped-ram", layout);
    }

    private void stream() throws IOException {
        info.put("version", StreamFormat.VERSION);
        sizes();
        long frames = 0;
        long rounds = 0;
        long zero = 0;
        long normal = 0;
        long xbzrle = 0;
        long keepalives = 0;
        long execBytes = -1;
        Records.Setup setup = null;
        Bitmap[] received = null;
        Bitmap[] zeroNow = null;
        Map<String, Object> s = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FrameReader in = new FrameReader(ch, "snapshot file " + file);
            try {
                in.readHeader();
                FrameType t;
                while ((t = in.next()) != null) {
                    frames = in.frames();
                    switch (t) {
                        case HELLO -> s.put("capabilities", Records.Hello.read(in.payload()).capabilities());
                        case SETUP -> {
                            if (setup != null) {
                                throw new IOException("a second SETUP frame at byte " + in.frameOffset());
                            }
                            setup = Records.Setup.read(in.payload());
                            requireSpareMemoryForBitmaps(setup, in.frameOffset());
                            received = new Bitmap[setup.blocks().size()];
                            zeroNow = new Bitmap[setup.blocks().size()];
                            for (int b = 0; b < received.length; b++) {
                                received[b] = new Bitmap(setup.blocks().get(b).pages());
                                zeroNow[b] = new Bitmap(setup.blocks().get(b).pages());
                            }
                        }
                        case PAGES -> {
                            if (setup == null) {
                                throw new IOException("PAGES before SETUP at byte " + in.frameOffset());
                            }
                            PayloadReader r = in.payload();
                            int b = (int) r.u32("block index", 0, received.length - 1);
                            long count = r.u32("record count", 1, StreamFormat.MAX_RECORDS);
                            long max = received[b].size() - 1;
                            for (long i = 0; i < count; i++) {
                                long page = r.u32("page index", 0, max);
                                int code = r.u8("page kind");
                                PageKind kind = PageKind.of(code);
                                if (kind == null) {
                                    throw r.malformed("page kind " + code + " is unknown");
                                }
                                received[b].set(page);
                                switch (kind) {
                                    case ZERO -> {
                                        zero++;
                                        zeroNow[b].set(page);
                                    }
                                    case NORMAL -> {
                                        normal++;
                                        zeroNow[b].clear(page);
                                        r.skip(Pages.SIZE, "page data");
                                    }
                                    case XBZRLE -> {
                                        xbzrle++;
                                        zeroNow[b].clear(page);
                                        r.skip(r.u16("delta length"), "delta");
                                    }
                                }
                            }
                            r.expectEnd();
                        }
                        case END_OF_ROUND -> rounds++;
                        case EXEC_STATE -> execBytes = in.payloadLength();
                        case KEEPALIVE -> keepalives++;
                        case COMPLETE -> {
                            Records.Complete.read(in.payload());
                            // As restore does: a file ends with its COMPLETE record.
                            in.expectEnd(dev.ferry.incoming.StreamLoader.COMPLETE_RECORD);
                            complete = true;
                        }
                        case ABORT -> s.put("aborted", Records.Reason.read(in.payload()).text());
                        default -> {
                            // HANDOVER and replies carry nothing to describe
                        }
                    }
                }
                if (!complete) {
                    problem = "snapshot file " + file + " is incomplete: it ends at byte " + in.offset()
                            + " without a COMPLETE record (the save did not finish"
                            + (s.containsKey("aborted") ? ": it was aborted" : "") + ")";
                }
            } catch (IOException e) {
                complete = false;
                problem = e.getMessage() + (e.getMessage() != null && e.getMessage().contains(" ends ")
                        ? ": the file is incomplete" : "");
            }
            s.put("bytes", in.offset());
        }
        if (setup != null) {
            guest(setup.descriptor());
            long ram = 0;
            long present = 0;
            long zeroPages = 0;
            for (int b = 0; b < setup.blocks().size(); b++) {
                Records.BlockInfo bi = setup.blocks().get(b);
                ram += bi.length();
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("index", b);
                m.put("id", bi.id());
                m.put("guest-address", bi.guestAddress());
                m.put("length", bi.length());
                m.put("pages", bi.pages());
                if (received != null) {
                    long got = received[b].cardinality();
                    long z = zeroNow[b].cardinality();
                    present += got - z;
                    zeroPages += z;
                    m.put("pages-present", got - z);
                    m.put("zero-pages", z);
                    m.put("pages-missing", bi.pages() - got);
                }
                blocks.add(m);
            }
            info.put("ram-size", ram);
            info.put("pages", ram / Pages.SIZE);
            if (received != null) {
                info.put("pages-present", present);
                info.put("zero-pages", zeroPages);
            }
            info.put("page-data-bytes", normal * Pages.SIZE);
        }
        if (execBytes >= 0) {
            info.put("exec-state-bytes", execBytes);
        }
        s.put("frames", frames);
        s.put("rounds", rounds);
        s.put("page-records", zero + normal + xbzrle);
        s.put("normal-records", normal);
        s.put("zero-records", zero);
        s.put("xbzrle-records", xbzrle);
        s.put("keepalives", keepalives);
        info.put("stream", s);
    }

    /**
     * Inspection counts the pages of each block in two bitmaps, a bit per page each: sized by the SETUP record, which
     * nothing vouches for. A SETUP of a few bytes may declare a petabyte (1024 blocks of 1 TiB); it is described,
     * not obeyed: the bitmaps must fit in half of what the heap has left.
     */
    private void requireSpareMemoryForBitmaps(Records.Setup setup, long at) throws IOException {
        long pages = 0;
        for (Records.BlockInfo bi : setup.blocks()) {
            pages += bi.pages();
        }
        long need = 2 * ((pages + 63) / 64 * 8 + 64L * setup.blocks().size());
        Runtime rt = Runtime.getRuntime();
        long spare = (rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) / 2;
        if (need > spare) {
            throw new IOException("snapshot file " + file + ": SETUP at byte " + at + " declares "
                    + Units.bytes(pages * Pages.SIZE) + " of guest RAM in " + setup.blocks().size() + " block"
                    + (setup.blocks().size() == 1 ? "" : "s") + "; counting its pages would take "
                    + Units.bytes(need) + " of memory, more than this process can spare (" + Units.bytes(spare) + ")");
        }
    }

    public boolean complete() {
        return complete;
    }

    /** What is wrong with the file (null when it is complete and sound). */
    public String problem() {
        return problem;
    }

    /** The description as nested maps and lists, for JSON. */
    public Map<String, Object> toMap() {
        return info;
    }

    /** The description for people. */
    @SuppressWarnings("unchecked")
    public String text() {
        StringBuilder t = new StringBuilder();
        t.append(file).append('\n');
        line(t, "format", info.get("format") + (info.containsKey("version") ? ", version " + info.get("version") : "")
                + ("stream".equals(info.get("format")) ? " (the migration stream in a file)" : ""));
        String state;
        if (complete) {
            state = "mapped-ram".equals(info.get("format"))
                    ? "complete: footer and metadata CRC32C verified (the RAM digest is checked on restore)"
                    : "complete: ends with a COMPLETE record (pages and RAM digest are checked on restore)";
        } else {
            state = "NOT restorable: " + problem;
        }
        line(t, "state", state);
        if (info.get("guest") instanceof Map<?, ?> g) {
            line(t, "guest", g.get("backend") + " " + g.get("properties"));
        }
        if (info.get("file-size") instanceof Long size) {
            String disk = info.get("allocated-bytes") instanceof Long a ? "; " + Units.bytes(a) + " on disk" : "";
            line(t, "file size", Units.bytes(size) + " (" + size + " bytes)" + disk);
        }
        if (info.get("ram-size") instanceof Long ram) {
            String pages = info.containsKey("pages-present") ? ": " + info.get("pages-present") + " pages present ("
                    + Units.bytes((Long) info.get("pages-present") * Pages.SIZE) + "), " + info.get("zero-pages")
                    + " zero pages" : "";
            line(t, "RAM", Units.bytes(ram) + " in " + blocks.size() + " block" + (blocks.size() == 1 ? "" : "s")
                    + pages);
        }
        if (info.get("exec-state-bytes") != null) {
            line(t, "execution state", info.get("exec-state-bytes") + " bytes");
        }
        if (info.get("mapped-ram") instanceof Map<?, ?> m) {
            line(t, "layout", "metadata [0, " + m.get("metadata-length") + "), page areas aligned to 1 MiB, ending at"
                    + " byte " + m.get("page-areas-end")
                    + (m.containsKey("footer-offset") ? ", footer at byte " + m.get("footer-offset") : ""));
            if (m.containsKey("ram-digest")) {
                line(t, "footer", "RAM digest " + m.get("ram-digest") + ", metadata CRC32C " + m.get("metadata-crc32c")
                        + ", saved at " + m.get("saved-at"));
            }
        }
        if (info.get("stream") instanceof Map<?, ?> s) {
            line(t, "frames", s.get("frames") + " frames, " + s.get("rounds") + " rounds, " + Units.bytes((Long) s.get("bytes")));
            line(t, "page records", s.get("page-records") + " (" + s.get("normal-records") + " normal, "
                    + s.get("zero-records") + " zero, " + s.get("xbzrle-records") + " xbzrle)"
                    + (info.get("pages") instanceof Long p && (Long) s.get("page-records") > p
                            ? ": " + ((Long) s.get("page-records") - p) + " more than the guest's pages (re-sent)" : ""));
            if (s.containsKey("aborted")) {
                line(t, "aborted", String.valueOf(s.get("aborted")));
            }
        }
        if (!blocks.isEmpty()) {
            boolean mapped = "mapped-ram".equals(info.get("format"));
            t.append(String.format(Locale.ROOT, "%n  %-5s %-16s %-14s %-10s %-9s %-9s %-9s %s%n", "block", "id",
                    "guest address", "length", "pages", "present", "zero", mapped ? "bitmap at / pages at" : "missing"));
            for (Map<String, Object> b : blocks) {
                String last = mapped ? b.get("bitmap-offset") + " / " + b.get("pages-offset")
                        : String.valueOf(b.getOrDefault("pages-missing", "?"));
                t.append(String.format(Locale.ROOT, "  %-5s %-16s %-14s %-10s %-9s %-9s %-9s %s%n", b.get("index"),
                        b.get("id"), "0x" + Long.toHexString((Long) b.get("guest-address")),
                        Units.bytes((Long) b.get("length")), b.get("pages"),
                        b.getOrDefault("pages-present", "?"), b.getOrDefault("zero-pages", "?"), last));
            }
        }
        return t.toString();
    }

    private static void line(StringBuilder t, String key, String value) {
        t.append(String.format(Locale.ROOT, "  %-16s %s%n", key, value));
    }
}
