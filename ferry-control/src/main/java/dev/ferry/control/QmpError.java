/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.control;

/** A command refused or failed, answered as {@code {"error": {"class": ..., "desc": ...}}}, as QMP does. */
public final class QmpError extends Exception {
    private final String errorClass;

    public QmpError(String errorClass, String desc) {
        super(desc, null, false, false);
        this.errorClass = errorClass;
    }

    /** QMP's class for most errors. */
    public static QmpError generic(String desc) {
        return new QmpError("GenericError", desc);
    }

    public static QmpError commandNotFound(String desc) {
        return new QmpError("CommandNotFound", desc);
    }

    public String errorClass() {
        return errorClass;
    }
}
