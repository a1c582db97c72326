/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.snapshot;

import static dev.ferry.snapshot.MappedRamFormat.alignUp;

import dev.ferry.guest.GuestDescriptor;
import dev.ferry.memory.Bitmap;
import dev.ferry.memory.Pages;
import dev.ferry.stream.Records;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where everything of one guest goes in a mapped-ram file, computed by the writer from the guest's shape (see
 * {@link MappedRamFormat} for the diagram). The reader does not trust a layout: it checks each offset it reads.
 */
public record MappedRamLayout(GuestDescriptor descriptor, byte[] descriptorBytes, long descriptorOffset,
        List<Block> blocks, long metadataLength, long pageAreasEnd) {

    /** One RAM block's place in the file. */
    public record Block(int index, String id, long guestAddress, long length, long bitmapOffset, long bitmapLength,
            long pagesOffset) {
        public long pages() {
            return length >>> Pages.SHIFT;
        }

        /** File offset of page {@code page}'s slot. */
        public long slot(long page) {
            return pagesOffset + (page << Pages.SHIFT);
        }
    }

    /**
     * The layout for a guest of this shape.
     *
     * @throws IllegalArgumentException when the shape cannot be saved (a limit of the format, named)
     */
    public static MappedRamLayout of(Records.Setup setup) {
        List<Records.BlockInfo> infos = setup.blocks();
        if (infos.isEmpty() || infos.size() > MappedRamFormat.MAX_BLOCKS) {
            throw new IllegalArgumentException("a mapped-ram file holds 1 to " + MappedRamFormat.MAX_BLOCKS
                    + " RAM blocks, not " + infos.size());
        }
        byte[] descriptor = MappedRamFormat.encodeDescriptor(setup.descriptor());
        long descriptorOffset = MappedRamFormat.blockEntryOffset(infos.size());
        long at = alignUp(descriptorOffset + descriptor.length, 8);
        List<long[]> bitmaps = new ArrayList<>();
        for (Records.BlockInfo b : infos) {
            if (b.pageSize() != Pages.SIZE || b.length() < Pages.SIZE || b.length() > MappedRamFormat.MAX_BLOCK_LENGTH
                    || b.length() % Pages.SIZE != 0) {
                throw new IllegalArgumentException("RAM block " + b.id() + " of " + b.length() + " bytes in "
                        + b.pageSize() + "-byte pages cannot be saved to a mapped-ram file");
            }
            int idLength = b.id().getBytes(StandardCharsets.UTF_8).length;
            if (idLength < 1 || idLength > MappedRamFormat.MAX_BLOCK_ID) {
                throw new IllegalArgumentException("RAM block id '" + b.id() + "' must be 1 to "
                        + MappedRamFormat.MAX_BLOCK_ID + " bytes");
            }
            long n = MappedRamFormat.bitmapBytes(b.length() >>> Pages.SHIFT);
            bitmaps.add(new long[] {at, n});
            at += n;
        }
        long metadataLength = at;
        List<Block> blocks = new ArrayList<>();
        long pages = alignUp(metadataLength, MappedRamFormat.PAGE_AREA_ALIGNMENT);
        long end = 0;
        for (int i = 0; i < infos.size(); i++) {
            Records.BlockInfo b = infos.get(i);
            blocks.add(new Block(i, b.id(), b.guestAddress(), b.length(), bitmaps.get(i)[0], bitmaps.get(i)[1],
                    pages));
            end = pages + b.length();
            pages = alignUp(end, MappedRamFormat.PAGE_AREA_ALIGNMENT);
        }
        return new MappedRamLayout(setup.descriptor(), descriptor, descriptorOffset, List.copyOf(blocks),
                metadataLength, end);
    }

    /**
     * The metadata section, bytes [0, metadata length): header, block table, descriptor and the given bitmaps (null:
     * all clear, as written when a save starts).
     */
    public ByteBuffer metadata(Bitmap[] present) {
        if (metadataLength > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("mapped-ram metadata of " + metadataLength + " bytes is too large");
        }
        ByteBuffer m = MappedRamFormat.le((int) metadataLength);
        m.put(0, MappedRamFormat.encodeHeader(blocks.size(), descriptorOffset, descriptorBytes.length,
                metadataLength, pageAreasEnd), 0, MappedRamFormat.HEADER_SIZE);
        for (Block b : blocks) {
            int e = (int) MappedRamFormat.blockEntryOffset(b.index());
            byte[] id = b.id().getBytes(StandardCharsets.UTF_8);
            m.putLong(e + MappedRamFormat.BLOCK_LENGTH, b.length());
            m.putLong(e + MappedRamFormat.BLOCK_GUEST_ADDRESS, b.guestAddress());
            m.putLong(e + MappedRamFormat.BLOCK_BITMAP_OFFSET, b.bitmapOffset());
            m.putLong(e + MappedRamFormat.BLOCK_BITMAP_LENGTH, b.bitmapLength());
            m.putLong(e + MappedRamFormat.BLOCK_PAGES_OFFSET, b.pagesOffset());
            m.putInt(e + MappedRamFormat.BLOCK_PAGE_SIZE, Pages.SIZE);
            m.putShort(e + MappedRamFormat.BLOCK_ID_LENGTH, (short) id.length);
            m.put(e + MappedRamFormat.BLOCK_ID, id);
            if (present != null) {
                long[] words = present[b.index()].words();
                int at = (int) b.bitmapOffset();
                for (int w = 0; w < words.length; w++) {
                    m.putLong(at + (w << 3), words[w]);
                }
            }
        }
        m.put((int) descriptorOffset, descriptorBytes);
        return m;
    }

    /** Bytes of the header, block table and descriptor: what a save writes when it starts. */
    public int prologueLength() {
        return (int) (descriptorOffset + descriptorBytes.length);
    }
}
