/*
 * Copyright 2026 The Ferry Authors. Licensed under the Apache License, Version 2.0.
 */
package dev.ferry.guest.inprocess.device;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The Redis serialization protocol (RESP 2): an incremental parser of requests (arrays of bulk strings, or inline
 * commands as redis-cli and telnet send them) and encoders for replies. Limits keep a hostile client from making
 * the parser allocate without bound.
 */
public final class Resp {
    public static final int MAX_ARGS = 1024;
    public static final int MAX_BULK = 1 << 20;
    private static final int MAX_LINE = 64 * 1024;

    private Resp() {
    }

    /** A malformed request; the connection is answered with an error and closed. */
    public static final class ProtocolException extends Exception {
        public ProtocolException(String message) {
            super(message);
        }
    }

    /**
     * Parses one complete request from {@code in} (position..limit). Returns the arguments and advances the
     * position past the request, or returns null (position unchanged) when the request is not complete yet.
     */
    public static byte[][] parse(ByteBuffer in) throws ProtocolException {
        int start = in.position();
        if (!in.hasRemaining()) {
            return null;
        }
        if (in.get(start) != '*') {
            return parseInline(in);
        }
        int lineEnd = findCrlf(in, start);
        if (lineEnd < 0) {
            return null;
        }
        long n = parseLong(in, start + 1, lineEnd, "array length");
        if (n < 0 || n > MAX_ARGS) {
            throw new ProtocolException("array length " + n + " outside [0, " + MAX_ARGS + "]");
        }
        int pos = lineEnd + 2;
        byte[][] args = new byte[(int) n][];
        for (int i = 0; i < n; i++) {
            if (pos >= in.limit()) {
                return null;
            }
            if (in.get(pos) != '$') {
                throw new ProtocolException("expected '$', got '" + (char) in.get(pos) + "'");
            }
            int e = findCrlf(in, pos);
            if (e < 0) {
                return null;
            }
            long len = parseLong(in, pos + 1, e, "bulk length");
            if (len < 0 || len > MAX_BULK) {
                throw new ProtocolException("bulk length " + len + " outside [0, " + MAX_BULK + "]");
            }
            pos = e + 2;
            if (in.limit() - pos < len + 2) {
                return null;
            }
            args[i] = new byte[(int) len];
            in.get(pos, args[i]);
            pos += (int) len;
            if (in.get(pos) != '\r' || in.get(pos + 1) != '\n') {
                throw new ProtocolException("bulk string not followed by CRLF");
            }
            pos += 2;
        }
        in.position(pos);
        return args;
    }

    private static byte[][] parseInline(ByteBuffer in) throws ProtocolException {
        int start = in.position();
        int end = -1;
        for (int i = start; i < in.limit(); i++) {
            if (in.get(i) == '\n') {
                end = i;
                break;
            }
        }
        if (end < 0) {
            if (in.remaining() > MAX_LINE) {
                throw new ProtocolException("inline request longer than " + MAX_LINE + " bytes");
            }
            return null;
        }
        int lineEnd = end > start && in.get(end - 1) == '\r' ? end - 1 : end;
        byte[] line = new byte[lineEnd - start];
        in.get(start, line);
        in.position(end + 1);
        List<byte[]> args = new ArrayList<>();
        for (String word : new String(line, StandardCharsets.UTF_8).trim().split("\\s+")) {
            if (!word.isEmpty()) {
                args.add(word.getBytes(StandardCharsets.UTF_8));
            }
        }
        return args.toArray(new byte[0][]);
    }

    private static int findCrlf(ByteBuffer in, int from) throws ProtocolException {
        for (int i = from; i + 1 < in.limit(); i++) {
            if (in.get(i) == '\r' && in.get(i + 1) == '\n') {
                return i;
            }
            if (i - from > 32) {
                throw new ProtocolException("header line too long");
            }
        }
        return -1;
    }

    private static long parseLong(ByteBuffer in, int from, int to, String what) throws ProtocolException {
        if (to <= from || to - from > 19) {
            throw new ProtocolException("bad " + what);
        }
        long v = 0;
        boolean negative = in.get(from) == '-';
        for (int i = negative ? from + 1 : from; i < to; i++) {
            int d = in.get(i) - '0';
            if (d < 0 || d > 9) {
                throw new ProtocolException("bad " + what);
            }
            v = v * 10 + d;
        }
        return negative ? -v : v;
    }

    public static byte[] simple(String s) {
        return ("+" + s + "\r\n").getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] error(String s) {
        return ("-" + s + "\r\n").getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] integer(long v) {
        return (":" + v + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    public static final byte[] NULL_BULK = "$-1\r\n".getBytes(StandardCharsets.US_ASCII);
    public static final byte[] EMPTY_ARRAY = "*0\r\n".getBytes(StandardCharsets.US_ASCII);
    public static final byte[] OK = simple("OK");

    public static byte[] bulk(byte[] value) {
        byte[] head = ("$" + value.length + "\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[head.length + value.length + 2];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(value, 0, out, head.length, value.length);
        out[out.length - 2] = '\r';
        out[out.length - 1] = '\n';
        return out;
    }
}
