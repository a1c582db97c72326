/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest;

import java.util.ServiceLoader;

/**
 * Creates guests of one kind (the in-process guest, later KVM) from a {@link GuestDescriptor}. Found with
 * {@link ServiceLoader}, so the engine never names a backend.
 */
public interface GuestBackend {
    /** The name descriptors carry, e.g. {@code inprocess}. */
    String name();

    /** Creates a paused guest with zeroed RAM, ready to receive pages and execution state. */
    Guest create(GuestDescriptor descriptor) throws GuestException;

    /** The backend for {@code descriptor}, or a {@link GuestException} naming the missing backend. */
    static Guest createGuest(GuestDescriptor descriptor) throws GuestException {
        for (GuestBackend backend : ServiceLoader.load(GuestBackend.class)) {
            if (backend.name().equals(descriptor.backend())) {
                return backend.create(descriptor);
            }
        }
        throw new GuestException("no guest backend named '" + descriptor.backend() + "' in this Ferry");
    }
}
