/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess;

import dev.ferry.guest.Guest;
import dev.ferry.guest.GuestBackend;
import dev.ferry.guest.GuestDescriptor;
import dev.ferry.guest.GuestException;

/** Registers the in-process guest with {@link GuestBackend}'s service lookup. */
public final class InProcessBackend implements GuestBackend {
    @Override
    public String name() {
        return InProcessGuest.BACKEND;
    }

    @Override
    public Guest create(GuestDescriptor descriptor) throws GuestException {
        try {
            return InProcessGuest.create(InProcessConfig.fromDescriptor(descriptor));
        } catch (IllegalArgumentException | OutOfMemoryError e) {
            throw new GuestException("cannot create in-process guest: " + e.getMessage(), e);
        }
    }
}
