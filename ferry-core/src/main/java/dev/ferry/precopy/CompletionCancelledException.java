/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.precopy;

import java.io.IOException;

/**
 * The wait for the target's verification was cancelled (the migration was cancelled, the process is exiting) before
 * it answered. Nothing was handed over: the source aborts and its guest resumes.
 */
public final class CompletionCancelledException extends IOException {
    private final String reason;

    public CompletionCancelledException(String reason) {
        super(reason);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
