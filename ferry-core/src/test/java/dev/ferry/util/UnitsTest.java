/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UnitsTest {
    @Test
    void sizes() {
        assertThat(Units.parseSize("4096")).isEqualTo(4096);
        assertThat(Units.parseSize("64M")).isEqualTo(64L << 20);
        assertThat(Units.parseSize("1G")).isEqualTo(1L << 30);
        assertThat(Units.parseSize("256MiB")).isEqualTo(256L << 20);
        assertThat(Units.parseSize("1.5k")).isEqualTo(1536);
        assertThatThrownBy(() -> Units.parseSize("lots")).hasMessageContaining("not a size: 'lots'");
        assertThatThrownBy(() -> Units.parseSize("3Q")).hasMessageContaining("unknown size unit");
        assertThatThrownBy(() -> Units.parseSize("99999999T")).hasMessageContaining("too large");
    }

    @Test
    void durations() {
        assertThat(Units.parseDuration("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Units.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Units.parseDuration("1.5m")).isEqualTo(Duration.ofSeconds(90));
        assertThat(Units.parseDuration("2")).isEqualTo(Duration.ofSeconds(2));
        assertThatThrownBy(() -> Units.parseDuration("soon")).hasMessageContaining("not a duration");
        assertThatThrownBy(() -> Units.parseDuration("3 weeks")).hasMessageContaining("unknown duration unit");
    }

    @Test
    void optionsMustAllBeRead() {
        Options o = Options.parse("memtest,start=1M,ned=100M");
        assertThat(o.size("start", 0)).isEqualTo(1L << 20);
        assertThatThrownBy(() -> o.requireAllUsed("start, end")).hasMessageContaining("unknown option ned for"
                + " 'memtest' (known: start, end)");
        assertThatThrownBy(() -> Options.parse("x,a")).hasMessageContaining("is not key=value");
        assertThatThrownBy(() -> Options.parse("x,a=1,a=2")).hasMessageContaining("given twice");
        assertThatThrownBy(() -> Options.parse("x,f=2").fraction("f", 0)).hasMessageContaining("between 0 and 1");
        assertThat(Options.parse("x,f=10%").fraction("f", 0)).isEqualTo(0.1);
    }
}
