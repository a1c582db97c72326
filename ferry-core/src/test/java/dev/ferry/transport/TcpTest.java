/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.transport;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TcpTest {
    /** Listening on a host that does not resolve threw java.nio.channels.UnresolvedAddressException, naming nothing. */
    @Test
    void listeningOnAHostThatDoesNotResolveNamesIt() {
        assertThatThrownBy(() -> Tcp.listen(HostPort.parse("no.such.host.invalid:4444")))
                .isInstanceOf(IOException.class)
                .hasMessage("cannot listen on no.such.host.invalid:4444: unknown host no.such.host.invalid");
    }

    @Test
    void connectingToAHostThatDoesNotResolveNamesIt() {
        assertThatThrownBy(() -> Tcp.connect(HostPort.parse("no.such.host.invalid:4444"), Duration.ofSeconds(5)))
                .isInstanceOf(IOException.class)
                .hasMessage("cannot connect to no.such.host.invalid:4444: unknown host no.such.host.invalid");
    }
}
