/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import dev.ferry.memory.Pages;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of guest RAM: an id that names it across processes (as QEMU's RAMBlock idstr), the guest
 * physical address it starts at, its length (a multiple of 4 KiB pages) and its memory.
 *
 * @param index position in the guest's block list, the number the stream uses for it
 */
public record RamBlock(int index, String id, long guestAddress, long length, MemorySegment memory) {
    public RamBlock {
        Objects.requireNonNull(id, "id");
        if (length <= 0 || (length & (Pages.SIZE - 1)) != 0) {
            throw new IllegalArgumentException("RAM block " + id + ": length must be a positive multiple of 4 KiB");
        }
        if (memory.byteSize() != length) {
            throw new IllegalArgumentException("RAM block " + id + ": memory is " + memory.byteSize()
                    + " bytes, expected " + length);
        }
    }

    /** Number of 4 KiB pages in this block. */
    public long pages() {
        return length >>> Pages.SHIFT;
    }
}
