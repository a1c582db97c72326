/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.guest.OutputGate;
import dev.ferry.guest.inprocess.device.RespClient;
import java.lang.foreign.ValueLayout;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The kv workload: a Redis-protocol service whose table lives in guest memory, behind the guest's output gate. */
class KeyValueTest {
    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static InProcessGuest start(int port) throws Exception {
        InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {16L << 20}, 2, "kv,port=" + port,
                1, 0));
        g.resume();
        assertThat(g.netDevice().awaitBound(10, TimeUnit.SECONDS)).isTrue();
        return g;
    }

    @Test
    void answersTheCommandsRedisClientsSend() throws Exception {
        int port = freePort();
        try (InProcessGuest g = start(port); RespClient c = new RespClient(port, 5000)) {
            assertThat(c.call("PING")).isEqualTo("+PONG");
            assertThat(c.call("SET", "foo", "bar")).isEqualTo("+OK");
            assertThat(c.call("GET", "foo")).isEqualTo("$bar");
            assertThat(c.call("GET", "nope")).isEqualTo("$nil");
            assertThat(c.call("SET", "foo", "baz")).isEqualTo("+OK");
            assertThat(c.call("GET", "foo")).isEqualTo("$baz");
            assertThat(c.call("INCR", "n")).isEqualTo(":1");
            assertThat(c.call("INCR", "n")).isEqualTo(":2");
            assertThat(c.call("INCR", "foo")).startsWith("-ERR value is not an integer");
            assertThat(c.call("EXISTS", "foo", "n", "zz")).isEqualTo(":2");
            assertThat(c.call("DBSIZE")).isEqualTo(":2");
            assertThat(c.call("DEL", "foo", "zz")).isEqualTo(":1");
            assertThat(c.call("GET", "foo")).isEqualTo("$nil");
            assertThat(c.call("DBSIZE")).isEqualTo(":1");
            assertThat(c.call("SET", "k")).startsWith("-ERR wrong number of arguments");
            assertThat(c.call("SET", "big", "x".repeat(600))).startsWith("-ERR key and value longer");
            assertThat(c.call("FROB")).isEqualTo("-ERR unknown command 'FROB'");
            assertThat(c.call("CONFIG", "GET", "save")).isEqualTo("*2");
            // Deleted slots are reused and probing skips them.
            for (int i = 0; i < 500; i++) {
                assertThat(c.call("SET", "key:" + i, Integer.toString(i))).isEqualTo("+OK");
            }
            for (int i = 0; i < 500; i += 2) {
                c.call("DEL", "key:" + i);
            }
            assertThat(c.call("GET", "key:301")).isEqualTo("$301");
            assertThat(c.call("DBSIZE")).isEqualTo(":251");
            g.pause();
            assertThat(g.check().passed()).as(g.check().detail()).isTrue();
            assertThat(g.counters().get("keys")).isEqualTo(251L);
        }
    }

    @Test
    void checkCatchesACorruptedTable() throws Exception {
        int port = freePort();
        try (InProcessGuest g = start(port); RespClient c = new RespClient(port, 5000)) {
            c.call("SET", "alpha", "1");
            g.pause();
            assertThat(g.check().passed()).isTrue();
            var mem = g.ramBlocks().get(0).memory();
            // The used-slot count in the table's header.
            mem.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 7);
            assertThat(g.check().detail()).contains("header counts 7 used");
        }
    }

    @Test
    void outputIsHeldUntilItsEpochIsReleased() throws Exception {
        int port = freePort();
        try (InProcessGuest g = start(port); RespClient c = new RespClient(port, 300)) {
            OutputGate gate = g.output().orElseThrow();
            gate.buffering(true);
            c.send("SET", "held", "1");
            assertThatThrownBy(c::read).isInstanceOf(SocketTimeoutException.class);
            assertThat(gate.heldBytes()).isEqualTo(5);
            g.pause();
            long epoch = gate.closeEpoch();
            g.resume();
            gate.release(epoch);
            assertThat(c.read()).isEqualTo("+OK");
            assertThat(gate.heldBytes()).isZero();
            assertThat(gate.releasedBytes()).isEqualTo(5);
        }
    }

    @Test
    void aGuestWithoutANetworkDeviceHasNoOutputToHold() {
        try (InProcessGuest g = InProcessGuest.create(new InProcessConfig(new long[] {16L << 20}, 1, "memtest", 1,
                0))) {
            assertThat(g.output()).isEmpty();
        }
    }
}
