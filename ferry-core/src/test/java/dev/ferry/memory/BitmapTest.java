/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class BitmapTest {
    @ParameterizedTest
    @ValueSource(longs = {1, 63, 64, 65, 1000, 4096})
    void setAllSetsExactlySizeBits(long size) {
        Bitmap b = new Bitmap(size);
        b.setAll();
        assertThat(b.cardinality()).isEqualTo(size);
        assertThat(b.nextSetBit(size - 1)).isEqualTo(size - 1);
        assertThat(b.nextClearBit(0)).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void agreesWithBitSetOnRandomOperations(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int size = 1 + r.nextInt(5000);
        Bitmap b = new Bitmap(size);
        BitSet ref = new BitSet(size);
        for (int i = 0; i < 3000; i++) {
            int bit = r.nextInt(size);
            if (r.nextBoolean()) {
                b.set(bit);
                ref.set(bit);
            } else {
                b.clear(bit);
                ref.clear(bit);
            }
        }
        assertThat(b.cardinality()).isEqualTo(ref.cardinality());
        for (int from = 0; from < size; from += 1 + r.nextInt(50)) {
            assertThat(b.nextSetBit(from)).isEqualTo(ref.nextSetBit(from));
            int clear = ref.nextClearBit(from);
            assertThat(b.nextClearBit(from)).isEqualTo(clear >= size ? -1 : clear);
            assertThat(b.get(from)).isEqualTo(ref.get(from));
        }
    }

    @Test
    void testAndSetReportsWhetherTheBitWasClear() {
        Bitmap b = new Bitmap(100);
        assertThat(b.testAndSet(70)).isTrue();
        assertThat(b.testAndSet(70)).isFalse();
        assertThat(b.get(70)).isTrue();
    }

    @Test
    void drainMovesBitsAndCountsOnlyNewOnes() {
        DirtyBitmap d = new DirtyBitmap(200);
        d.mark(3);
        d.mark(150);
        Bitmap into = new Bitmap(200);
        into.set(3);
        assertThat(d.drainInto(into)).isEqualTo(1);
        assertThat(into.get(150)).isTrue();
        assertThat(d.drainInto(new Bitmap(200))).isZero();
    }
}
