/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vector page encoder at each vector width a processor may have: 512 bits (AVX-512), 256 (AVX2: two compares
 * a block), and 128, where the codec keeps to the scalar path. Each width in a JVM of its own, whose widest
 * vectors are capped by {@code -XX:MaxVectorSize}; the encodings must all be the naive encoder's.
 */
class VectorWidthsTest {
    @ParameterizedTest(name = "MaxVectorSize={0}")
    @CsvSource({"64, vector 512 bits", "32, vector 256 bits", "16, scalar"})
    void encodesAsTheNaiveEncoderAtEveryWidth(int maxVectorBytes, String path) throws Exception {
        Assumptions.assumeTrue(XbzrleCodec.VECTOR_PAGES, "the Vector API is not usable in this JVM");
        Assumptions.assumeTrue(maxVectorBytes * 8 <= VectorPageEncoder.bits(),
                "this processor's vectors are narrower than " + maxVectorBytes * 8 + " bits");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-XX:MaxVectorSize=" + maxVectorBytes,
                "-cp", System.getProperty("java.class.path"), VectorPathCheck.class.getName())).redirectErrorStream(true).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains(path + ": 4000 pages identical");
    }
}
