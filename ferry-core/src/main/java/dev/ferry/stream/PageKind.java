/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.stream;

/** How a page record carries its page. */
public enum PageKind {
    /** The page is all zeros; no data. */
    ZERO(0),
    /** The page's 4096 bytes. */
    NORMAL(1),
    /** An XBZRLE delta against the copy the receiver holds: u16 length, then the delta. */
    XBZRLE(2);

    public final int code;

    PageKind(int code) {
        this.code = code;
    }

    /** The kind with this code, or null. */
    public static PageKind of(int code) {
        return switch (code) {
            case 0 -> ZERO;
            case 1 -> NORMAL;
            case 2 -> XBZRLE;
            default -> null;
        };
    }
}
