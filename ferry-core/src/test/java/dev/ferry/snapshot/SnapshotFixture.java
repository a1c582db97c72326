/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestException;
import dev.ferry.policy.PrecopyPolicy;
import dev.ferry.policy.XenPolicy;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.PrecopyLoop;
import dev.ferry.stats.MigrationStats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32C;

/** Saves guests to files with the real precopy loop, and edits mapped-ram files while keeping their CRCs valid. */
public final class SnapshotFixture {
    private SnapshotFixture() {
    }

    /** Saves {@code guest} live to {@code file} with {@code sink}; returns the outcome. */
    public static PrecopyLoop.Outcome save(Guest guest, PageSink sink, PrecopyPolicy policy, MigrationParameters params,
            MigrationStats stats) {
        try (sink) {
            return new PrecopyLoop(guest, sink, policy, params, stats, null, 0, Duration.ofSeconds(10)).run();
        }
    }

    /** A complete mapped-ram save of {@code guest} to {@code file}, written from guest memory as the CLI does. */
    public static void saveMappedRam(Guest guest, Path file) throws IOException {
        PrecopyLoop.Outcome o = save(guest, new MappedRamSink(file, false, guest.ramBlocks()), new XenPolicy(),
                new MigrationParameters(),
                new MigrationStats(guest.ramSize(), 4096));
        if (!o.completed()) {
            throw new AssertionError("fixture save failed: " + o.message());
        }
    }

    public static Guest restore(Path file) throws IOException, GuestException {
        return Snapshots.restore(file, false, new RestoreStats());
    }

    /** A mapped-ram file's bytes, little-endian. */
    public static ByteBuffer bytes(Path file) throws IOException {
        return ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Writes {@code b} to {@code file} after recomputing the header CRC, the metadata CRC and the footer CRC, so that
     * an edited field reaches the check that is about it rather than a checksum.
     */
    public static void reseal(ByteBuffer b, Path file) throws IOException {
        b.putInt(MappedRamFormat.HEADER_CRC, MappedRamFormat.Crc.of(b, 0, MappedRamFormat.HEADER_CRC));
        int footer = b.capacity() - MappedRamFormat.FOOTER_SIZE;
        long metadataLength = b.getLong(MappedRamFormat.HEADER_METADATA_LENGTH);
        long execOffset = b.getLong(footer + MappedRamFormat.FOOTER_EXEC_OFFSET);
        long execLength = Integer.toUnsignedLong(b.getInt(footer + MappedRamFormat.FOOTER_EXEC_LENGTH));
        if (metadataLength >= 0 && metadataLength <= footer && execOffset >= 0 && execOffset + execLength <= footer) {
            CRC32C crc = new CRC32C();
            crc.update(b.duplicate().position(0).limit((int) metadataLength));
            crc.update(b.duplicate().limit((int) (execOffset + execLength)).position((int) execOffset));
            b.putInt(footer + MappedRamFormat.FOOTER_METADATA_CRC, (int) crc.getValue());
        }
        b.putInt(footer + MappedRamFormat.FOOTER_CRC, MappedRamFormat.Crc.of(b, footer, footer + MappedRamFormat.FOOTER_CRC));
        Files.write(file, b.array());
    }
}
