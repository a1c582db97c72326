/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Crc32cAlgebraTest {
    private static int jdk(ByteBuffer b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().limit(to).position(from));
        return (int) c.getValue();
    }

    private static ByteBuffer random(SplittableRandom r, int size) {
        byte[] bytes = new byte[size];
        r.nextBytes(bytes);
        return ByteBuffer.wrap(bytes);
    }

    @Test
    void byteUpdateIsTheStandardCrc32c() {
        ByteBuffer b = ByteBuffer.wrap("123456789".getBytes());
        // The CRC32C check value of "123456789".
        assertThat(~Crc32cAlgebra.update(-1, b, 0, 9)).isEqualTo(0xE3069283);
        assertThat(~Crc32cAlgebra.update(-1, b, 0, 9)).isEqualTo(jdk(b, 0, 9));
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 5, 16, 4095, 4096, 4097, 1 << 20})
    void shiftIsFeedingZeroBytes(long n) {
        SplittableRandom r = new SplittableRandom(n);
        ByteBuffer zeros = ByteBuffer.allocate((int) n);
        for (int i = 0; i < 20; i++) {
            int s = r.nextInt();
            assertThat(Crc32cAlgebra.shift(s, n)).isEqualTo(Crc32cAlgebra.update(s, zeros, 0, (int) n));
        }
    }

    @Test
    void shiftPageIsShiftByAPage() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 1000; i++) {
            int s = r.nextInt();
            assertThat(Crc32cAlgebra.shiftPage(s)).isEqualTo(Crc32cAlgebra.shift(s, Pages.SIZE));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void framesOfHeadersAndPagesHashAsTheirBytes(long seed) {
        // A frame as the stream lays it out: a 16-byte prefix, then records of a 5-byte header and 0 or 1 page.
        SplittableRandom r = new SplittableRandom(seed);
        int records = 1 + r.nextInt(40);
        boolean[] withPage = new boolean[records];
        int size = 16;
        for (int i = 0; i < records; i++) {
            withPage[i] = r.nextBoolean();
            size += 5 + (withPage[i] ? Pages.SIZE : 0);
        }
        ByteBuffer frame = random(r, size);
        int register = 0;
        int at = 16;
        for (int i = 0; i < records; i++) {
            register = Crc32cAlgebra.update(register, frame, at, at + 5);
            at += 5;
            if (withPage[i]) {
                register = Crc32cAlgebra.appendPage(register, jdk(frame, at, at + Pages.SIZE));
                at += Pages.SIZE;
            }
        }
        int prefix = Crc32cAlgebra.update(-1, frame, 0, 16);
        assertThat(Crc32cAlgebra.crc(prefix, register, size - 16)).isEqualTo(jdk(frame, 0, size));
    }

    @Test
    void aChangedByteChangesTheCombinedCrc() {
        SplittableRandom r = new SplittableRandom(3);
        ByteBuffer page = random(r, Pages.SIZE);
        int before = Crc32cAlgebra.appendPage(0, jdk(page, 0, Pages.SIZE));
        page.put(1234, (byte) (page.get(1234) ^ 1));
        assertThat(Crc32cAlgebra.appendPage(0, jdk(page, 0, Pages.SIZE))).isNotEqualTo(before);
    }
}
