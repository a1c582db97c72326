/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.workload;

import dev.ferry.guest.GuestException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Reads execution state written by {@link StateWriter}. The bytes come from a stream or a file: every read checks
 * what is left first, and every failure is a {@link GuestException} that says where.
 */
public final class StateReader {
    private final ByteBuffer in;

    public StateReader(byte[] bytes) {
        this.in = ByteBuffer.wrap(bytes);
    }

    private void need(int n, String what) throws GuestException {
        if (in.remaining() < n) {
            throw new GuestException("execution state truncated: " + what + " at byte " + in.position()
                    + " needs " + n + " bytes, " + in.remaining() + " left");
        }
    }

    public long getLong(String what) throws GuestException {
        need(8, what);
        return in.getLong();
    }

    public int getInt(String what) throws GuestException {
        need(4, what);
        return in.getInt();
    }

    /** A long that must lie in {@code [min, max]}. */
    public long getLong(String what, long min, long max) throws GuestException {
        int at = in.position();
        long v = getLong(what);
        if (v < min || v > max) {
            throw new GuestException("execution state: " + what + " at byte " + at + " is " + v
                    + ", outside [" + min + ", " + max + "]");
        }
        return v;
    }

    public String getString(String what, int maxLength) throws GuestException {
        return new String(getBytes(what, maxLength), StandardCharsets.UTF_8);
    }

    public byte[] getBytes(String what, int maxLength) throws GuestException {
        int at = in.position();
        int n = getInt(what + " length");
        if (n < 0 || n > maxLength) {
            throw new GuestException("execution state: " + what + " length at byte " + at + " is " + n
                    + ", outside [0, " + maxLength + "]");
        }
        need(n, what);
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    /** Fails if bytes are left over: state of another shape was given. */
    public void expectEnd() throws GuestException {
        if (in.hasRemaining()) {
            throw new GuestException("execution state has " + in.remaining() + " unexpected trailing bytes at byte "
                    + in.position());
        }
    }
}
