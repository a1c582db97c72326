/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.cli;

import dev.ferry.control.GuestController;
import dev.ferry.guest.Guest;
import dev.ferry.precopy.MigrationParameters;
import dev.ferry.precopy.PageSink;
import dev.ferry.precopy.StreamSink;
import dev.ferry.snapshot.MappedRamSink;
import dev.ferry.snapshot.SaveTarget;
import dev.ferry.snapshot.StreamFileSink;
import dev.ferry.transport.HostPort;
import dev.ferry.transport.Tcp;
import dev.ferry.transport.WatchedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** Opens what a migration URI names: {@code tcp:HOST:PORT} a destination, {@code file:PATH} a snapshot file. */
final class CliTargets implements GuestController.Targets {
    private final Guest guest;
    private final BooleanSupplier directIo;
    /** For each file: URI opened, the file the snapshot ends up in (a link, or /dev/stdout, resolved when opened). */
    private final Map<String, Path> savedFiles = new java.util.concurrent.ConcurrentHashMap<>();

    CliTargets(Guest guest, BooleanSupplier directIo) {
        this.guest = guest;
        this.directIo = directIo;
    }

    @Override
    public PageSink open(String uri, Map<String, Boolean> caps, MigrationParameters params) throws IOException {
        if (uri.startsWith("tcp:")) {
            HostPort target = HostPort.parse(uri.substring(4));
            WatchedChannel channel = new WatchedChannel(Tcp.connect(target, RunCommand.CONNECT_TIMEOUT),
                    "destination " + target, RunCommand.PEER_TIMEOUT).watchReads(false);
            return new StreamSink(channel, channel, "destination " + target);
        }
        Path file = Path.of(uri.substring(5));
        boolean mapped = caps.getOrDefault("mapped-ram", false);
        boolean direct = directIo.getAsBoolean();
        if (direct && !mapped) {
            throw new IOException("direct-io needs the mapped-ram capability");
        }
        SaveTarget target = SaveTarget.of(file, mapped);
        if (direct) {
            target.probeDirect();
        }
        savedFiles.put(uri, target.target());
        return mapped ? new MappedRamSink(file, direct, guest.ramBlocks()) : new StreamFileSink(file);
    }

    /**
     * The file a save to {@code uri} wrote: {@code /dev/stdout} redirected to a file, or a symbolic link, names it
     * only until the rename replaces it, so the summary looks at what the save resolved when it started.
     */
    Path savedFile(String uri) {
        return savedFiles.getOrDefault(uri, Path.of(uri.substring(5)));
    }
}
