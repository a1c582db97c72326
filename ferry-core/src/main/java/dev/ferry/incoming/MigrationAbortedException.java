/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.incoming;

import java.io.IOException;

/** The source abandoned the migration; the destination starts nothing. */
public final class MigrationAbortedException extends IOException {
    public MigrationAbortedException(String message) {
        super(message);
    }
}
