/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.xbzrle;

/**
 * An XBZRLE delta that QEMU's {@code xbzrle_decode_buffer} would reject.
 *
 * <p>Unchecked on purpose: a receiver decodes deltas deep inside its stream loop and turns any
 * malformed page into a stream error there; callers that decode untrusted input must catch it.
 * The message names the {@linkplain #reason() reason} and the {@linkplain #deltaOffset() delta
 * offset} (relative to the start of the delta) of the length field or data that is wrong.
 */
public final class XbzrleFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What is wrong with a delta. */
    public enum Reason {
        /** A length field starts where fewer than two bytes of the delta remain (QEMU needs two). */
        TRUNCATED_LENGTH("truncated run length (fewer than 2 bytes left)"),
        /** A ULEB128 length whose second byte has its continuation bit set (more than 14 bits). */
        LENGTH_TOO_LONG("run length longer than 2 ULEB128 bytes"),
        /** A zero run of length 0 that is not the first run of the delta. */
        EMPTY_ZERO_RUN("empty zero run after the first"),
        /** A non-zero run of length 0. */
        EMPTY_NONZERO_RUN("empty non-zero run"),
        /** A zero or non-zero run that ends past the end of the page. */
        RUN_PAST_PAGE_END("run past the end of the page"),
        /** A non-zero run whose bytes extend past the end of the delta. */
        TRUNCATED_DATA("non-zero run data past the end of the delta");

        private final String text;

        Reason(String text) {
            this.text = text;
        }

        /** A short human description. */
        public String text() {
            return text;
        }
    }

    private final Reason reason;
    private final int deltaOffset;

    /**
     * @param reason      what is wrong
     * @param deltaOffset offset, from the start of the delta, of the offending length field or data
     * @param detail      extra detail for the message (may be empty)
     */
    public XbzrleFormatException(Reason reason, int deltaOffset, String detail) {
        super("invalid XBZRLE delta: " + reason.text() + " at delta offset " + deltaOffset
                + (detail.isEmpty() ? "" : " (" + detail + ")"));
        this.reason = reason;
        this.deltaOffset = deltaOffset;
    }

    /** What is wrong. */
    public Reason reason() {
        return reason;
    }

    /** Offset, from the start of the delta, of the offending length field or data. */
    public int deltaOffset() {
        return deltaOffset;
    }
}
