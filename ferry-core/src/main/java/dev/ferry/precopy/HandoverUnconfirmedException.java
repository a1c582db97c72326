/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import java.io.IOException;

/**
 * The handover was sent after the destination had verified the copy, but the destination did not confirm it: the
 * connection ended, or the confirmation did not come in time. The destination started the guest if it received the
 * handover, and not otherwise; this side cannot tell which. Resuming the guest here could run it twice, dropping it
 * could lose it: it is kept paused (QEMU's postmigrate) until someone who can look at the destination decides.
 */
public final class HandoverUnconfirmedException extends IOException {
    public HandoverUnconfirmedException(String message) {
        super(message);
    }
}
