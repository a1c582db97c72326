/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

import dev.ferry.transport.HostPort;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/** Where a control socket listens: {@code unix:PATH} or {@code tcp:HOST:PORT}. */
public record ControlAddress(Path unixPath, HostPort tcp) {
    public static ControlAddress parse(String text) {
        if (text.startsWith("unix:")) {
            String path = text.substring(5);
            if (path.isEmpty()) {
                throw new IllegalArgumentException("control address unix: needs a path");
            }
            return new ControlAddress(Path.of(path), null);
        }
        if (text.startsWith("tcp:")) {
            return new ControlAddress(null, HostPort.parse(text.substring(4)));
        }
        throw new IllegalArgumentException("control address must be unix:PATH or tcp:HOST:PORT, not '" + text + "'");
    }

    public boolean isUnix() {
        return unixPath != null;
    }

    public StandardProtocolFamily family() {
        return isUnix() ? StandardProtocolFamily.UNIX : StandardProtocolFamily.INET;
    }

    public SocketAddress socketAddress() {
        return isUnix() ? UnixDomainSocketAddress.of(unixPath) : tcp.address();
    }

    @Override
    public String toString() {
        return isUnix() ? "unix:" + unixPath : "tcp:" + tcp;
    }
}
