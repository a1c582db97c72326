/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.incoming.IncomingStats;
import dev.ferry.incoming.MigrationAbortedException;
import dev.ferry.incoming.StreamLoader;
import dev.ferry.snapshot.SnapshotFormatException.Problem;
import dev.ferry.stream.FrameReader;
import dev.ferry.stream.StreamFormat;
import dev.ferry.stream.StreamFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/** Snapshot files of either format: which one a file is, and restoring it. */
public final class Snapshots {
    /** The two formats a save writes. */
    public enum Format {
        /** Fixed page slots ({@link MappedRamFormat}). */
        MAPPED_RAM("mapped-ram"),
        /** The migration stream, written to a file (docs/formats/migration-stream.md). */
        STREAM("stream");

        public final String label;

        Format(String label) {
            this.label = label;
        }
    }

    private static final byte[] STREAM_MAGIC = ByteBuffer.allocate(8).putLong(StreamFormat.MAGIC).array();

    private Snapshots() {
    }

    /** The format of {@code file}, from its first eight bytes. */
    public static Format detect(Path file) throws IOException {
        requireRegular(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // read on
            }
            if (b.position() == 0) {
                throw new SnapshotFormatException(Problem.TRUNCATED, 0, "snapshot " + file + " is empty: no"
                        + " snapshot header (a save interrupted as it started leaves such a file; it is incomplete)");
            }
            byte[] magic = Arrays.copyOf(b.array(), b.position());
            if (Arrays.equals(magic, MappedRamFormat.MAGIC)) {
                return Format.MAPPED_RAM;
            }
            if (Arrays.equals(magic, STREAM_MAGIC)) {
                return Format.STREAM;
            }
            StringBuilder hex = new StringBuilder();
            for (byte x : magic) {
                hex.append(String.format("%02x", x));
            }
            throw new SnapshotFormatException(magic.length < 8 ? Problem.TRUNCATED : Problem.BAD_MAGIC, 0, "snapshot "
                    + file + " is not a Ferry snapshot: " + (magic.length < 8 ? magic.length + " bytes, " : "")
                    + "magic 0x" + hex + " at byte 0 (expected \"FERRYRAM\" or \"FERRYMIG\")");
        }
    }

    static void requireRegular(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file");
        }
        String kind = SaveTarget.kindOf(file);
        if (kind != null) {
            throw new SaveTarget.RefusedException("cannot read " + file + ": it is " + kind
                    + "; a snapshot is a regular file");
        }
    }

    /**
     * The guest RAM a snapshot holds, in bytes, read from its metadata (a mapped-ram header and block table, or a
     * stream's SETUP record) without loading it: what a restore will map. A mapped-ram file must be complete (its
     * footer and metadata checksum vouch for the block table); a stream's SETUP record has its own CRC, the rest of
     * the stream is not checked here. Either way a size beyond this machine's RAM is refused.
     */
    public static long ramSize(Path file) throws IOException {
        Format format = detect(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (format == Format.MAPPED_RAM) {
                String name = "snapshot " + file;
                // a size only a complete file vouches for
                return MappedRamLoader.requireFits(MappedRamFile.read(ch, name, true), name);
            }
            FrameReader in = new FrameReader(ch, "snapshot file " + file);
            in.readHeader();
            for (int i = 0; i < 2; i++) {
                dev.ferry.stream.FrameType t = in.next();
                if (t == dev.ferry.stream.FrameType.SETUP) {
                    dev.ferry.stream.Records.Setup setup = dev.ferry.stream.Records.Setup.read(in.payload());
                    dev.ferry.incoming.StreamLoader.requireFits(setup, in);
                    return setup.ramBytes();
                }
            }
            throw new StreamFormatException(StreamFormatException.Problem.UNEXPECTED_FRAME, in.offset(), "snapshot"
                    + " file " + file + ": no SETUP record after the stream header");
        }
    }

    /**
     * Restores the snapshot in {@code file}, of either format. Returns a paused guest whose RAM and execution state
     * have been verified, ready to resume; or throws, with nothing started.
     *
     * @param directIo read a mapped-ram file's page areas with O_DIRECT
     */
    public static Guest restore(Path file, boolean directIo, RestoreStats stats) throws IOException, GuestException {
        Format format = detect(file);
        if (format == Format.MAPPED_RAM) {
            return new MappedRamLoader(file, directIo, stats).load();
        }
        if (directIo) {
            throw new SaveTarget.RefusedException("--direct-io reads mapped-ram snapshots; " + file
                    + " is a sequential stream");
        }
        stats.format = Format.STREAM.label;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            stats.fileSize = ch.size();
            IncomingStats in = new IncomingStats();
            FrameReader reader = new FrameReader(ch, "snapshot file " + file);
            try {
                Guest g = new StreamLoader(reader, null, StreamFormat.KNOWN_CAPABILITIES, in).load();
                stats.ramSize = g.ramSize();
                stats.bytesRead = reader.offset();
                stats.stream = in.toMap();
                stats.loaded();
                return g;
            } catch (MigrationAbortedException e) {
                throw new StreamFormatException(StreamFormatException.Problem.INCOMPLETE, reader.offset(), "snapshot"
                        + " file " + file + " is incomplete: the save was aborted (" + e.getMessage() + ")");
            } catch (StreamFormatException e) {
                if (e.problem() == StreamFormatException.Problem.TRUNCATED && !e.getMessage().contains("incomplete")) {
                    throw new StreamFormatException(e.problem(), e.offset(), e.getMessage()
                            + ": the file is incomplete (the save did not finish)");
                }
                throw e;
            }
        }
    }
}
