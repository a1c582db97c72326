/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RespTest {
    private static ByteBuffer buf(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String[] strings(byte[][] args) {
        return Arrays.stream(args).map(a -> new String(a, StandardCharsets.UTF_8)).toArray(String[]::new);
    }

    @Test
    void parsesArraysOfBulkStringsOneAtATime() throws Exception {
        ByteBuffer b = buf("*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n");
        assertThat(strings(Resp.parse(b))).containsExactly("SET", "foo", "");
        assertThat(strings(Resp.parse(b))).containsExactly("PING");
        assertThat(b.hasRemaining()).isFalse();
    }

    @Test
    void incompleteRequestsWaitForMoreBytes() throws Exception {
        String full = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
        for (int cut = 0; cut < full.length(); cut++) {
            ByteBuffer b = buf(full.substring(0, cut));
            assertThat(Resp.parse(b)).as("cut at " + cut).isNull();
            assertThat(b.position()).isZero();
        }
    }

    @Test
    void parsesInlineCommands() throws Exception {
        assertThat(strings(Resp.parse(buf("set  a 1\r\n")))).containsExactly("set", "a", "1");
        assertThat(strings(Resp.parse(buf("PING\n")))).containsExactly("PING");
    }

    @Test
    void refusesWhatWouldAllocateWithoutBound() {
        assertThatThrownBy(() -> Resp.parse(buf("*99999999\r\n"))).hasMessageContaining("array length");
        assertThatThrownBy(() -> Resp.parse(buf("*1\r\n$2000000000\r\n"))).hasMessageContaining("bulk length");
        assertThatThrownBy(() -> Resp.parse(buf("*1\r\n:5\r\n"))).hasMessageContaining("expected '$'");
        assertThatThrownBy(() -> Resp.parse(buf("*1\r\n$1\r\nab\r\n"))).hasMessageContaining("CRLF");
        assertThatThrownBy(() -> Resp.parse(buf("*x\r\n"))).hasMessageContaining("bad array length");
    }

    @Test
    void encodesReplies() {
        assertThat(new String(Resp.bulk("bar".getBytes()))).isEqualTo("$3\r\nbar\r\n");
        assertThat(new String(Resp.integer(-4))).isEqualTo(":-4\r\n");
        assertThat(new String(Resp.error("ERR x"))).isEqualTo("-ERR x\r\n");
    }
}
